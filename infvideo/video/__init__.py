"""Video decoding, the reference's frame-index rules, and chunked streaming.

Import from the modules (``infvideo.video.source.open_video``, ``infvideo.video.indices.RULES``, ...):
importing the package loads nothing, so code that needs only ``indices`` stays free of PyAV, and the
parallel decoder's worker processes do not import torch through ``preprocess``.
"""
