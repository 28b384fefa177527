"""Self-contained demonstrations runnable without weights or data."""
