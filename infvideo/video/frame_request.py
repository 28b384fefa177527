"""Turning a caller's list of frame indices into the sorted, duplicate-free work a decoder does.

Decoders read forward, so every backend decodes ``unique`` (sorted, each frame once) and hands
back ``frames_unique[inverse]``: the requested order, duplicates included.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from infvideo.video.errors import FrameIndexError


def plan_request(indices: Sequence[int] | np.ndarray, num_frames: int, path: str) -> tuple[np.ndarray, np.ndarray]:
    """Check ``indices`` against ``0 .. num_frames - 1``; return ``(unique, inverse)`` with
    ``unique[inverse] == indices``. Raises ``FrameIndexError`` (naming ``path``) when out of range."""
    requested = np.asarray(indices)
    if requested.ndim != 1:
        raise FrameIndexError(f"{path}: frame indices must be a flat sequence, got shape {requested.shape}")
    if requested.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    if not np.issubdtype(requested.dtype, np.integer):
        raise FrameIndexError(f"{path}: frame indices must be integers, got dtype {requested.dtype}")
    requested = requested.astype(np.int64, copy=False)
    bad = requested[(requested < 0) | (requested >= num_frames)]
    if bad.size:
        raise FrameIndexError(
            f"{path}: frame index {int(bad[0])} out of range; the video has {num_frames} decodable frames "
            f"(valid indices 0..{num_frames - 1})"
        )
    unique, inverse = np.unique(requested, return_inverse=True)
    return unique, inverse.reshape(-1)
