"""Video decoding, the reference's frame-index rules, and chunked streaming."""
