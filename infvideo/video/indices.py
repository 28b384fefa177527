"""Which frames to read: the reference's frame-index rules as named functions (reference-spec §4).

Every rule returns exactly the requested number of indices (the reference's ``np.arange`` rule can
return one more; its exact-count replacement is ``frame_indices_uniform``). ``numpy.round`` rounds
halves to even, as the reference does.
"""

from __future__ import annotations

import numpy as np


def _check(num_frames: int, count: int) -> None:
    if num_frames < 1:
        raise ValueError(f"the video has no decodable frame (num_frames={num_frames})")
    if count < 1:
        raise ValueError(f"asked for {count} frames")


def frame_indices_uniform(num_frames: int, count: int) -> list[int]:
    """⌊k·F/T⌋, k = 0..T−1: evenly spread starts, exactly T indices (may repeat when T > F).

    Also the rule of the reference's (unused) JPEG extractor, ``extract_features.py``.
    """
    _check(num_frames, count)
    return [k * num_frames // count for k in range(count)]


def frame_indices_arange(num_frames: int, count: int) -> list[int]:
    """Video-LLaMA ``load_video``: ``arange(0, F, F/T)`` truncated, T capped at F. Float rounding can
    give T + 1 indices (quirk #22); kept only for reference compatibility."""
    _check(num_frames, count)
    count = min(count, num_frames)
    return np.arange(0, num_frames, num_frames / count).astype(int).tolist()


def frame_indices_segment_centres(num_frames: int, count: int) -> list[int]:
    """VideoChat2 NExT-QA / EgoSchema / MovieChat-1K ``get_index``: seg = (F − 1)/T,
    index_k = int(seg/2) + int(round(seg·k))."""
    _check(num_frames, count)
    seg = float(num_frames - 1) / count
    start = int(seg / 2)
    return [start + int(np.round(seg * k)) for k in range(count)]


def frame_indices_segment_midpoints(
    num_frames: int, count: int, fps: float | None = None, bound: tuple[float, float] | None = None, first_index: int = 0
) -> list[int]:
    """Video-MME and EgoSchema-full ``get_index``: over [start, end] (seconds, default the whole video,
    end = last frame), seg = (end − start)/T, index_k = int(start + seg/2 + round(seg·k))."""
    _check(num_frames, count)
    last = num_frames - 1
    if bound is None:
        start_index, end_index = first_index, last
    else:
        if fps is None or fps <= 0:
            raise ValueError("a time bound needs the video's fps")
        start_index = max(first_index, round(bound[0] * fps))
        end_index = min(round(bound[1] * fps), last)
    seg = float(end_index - start_index) / count
    return [int(start_index + seg / 2 + np.round(seg * k)) for k in range(count)]


RULES = {
    "uniform": frame_indices_uniform,
    "arange": frame_indices_arange,
    "segment_centres": frame_indices_segment_centres,
    "segment_midpoints": frame_indices_segment_midpoints,
}
