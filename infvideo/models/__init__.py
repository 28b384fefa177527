"""Backbones on transformers classes and the memory-aware Q-former cross-attention."""
