"""Which frames to read, and in which chunks: the reference's frame-index rules by name (``RULES``).

A rule picks frame indices from a video of F frames and knows how its reference script cuts them into
the chunks the memory reads (``FrameRule.chunks``). The sampling rules return exactly the requested
number of indices (the reference's ``np.arange`` rule can return one more; its exact-count
replacement is ``frame_indices_uniform``); ``all_frames`` returns every frame whatever the count.
``numpy.round`` rounds halves to even, as the reference does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from infvideo.video.stream import split_like_torch_chunk, split_like_torch_split


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
    """Video-LLaMA ``load_video``: ``arange(0, F, F/T)`` truncated, T capped at F. The float step can
    give T + 1 indices for some lengths; kept only for reference compatibility."""
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


def frame_indices_all(num_frames: int, count: int | None = None) -> list[int]:
    """Every frame 0..F−1: the reference's Video-LLaMA NExT-QA / NExT-OE scripts split the whole frame
    tensor they load per video. ``count`` is not read (the video's length decides how many frames,
    hence how many chunks). The code that wrote those tensors is not in the reference repository; had
    it been ``inference.py``'s (``load_video(n_frms=max_int · n_samples)``, capped at the video's
    length) the tensors would hold every frame only up to 2048 frames, and 2048 sampled ones beyond."""
    _check(num_frames, 1)
    return list(range(num_frames))


@dataclass(frozen=True)
class FrameRule:
    """A frame-index rule and the way its reference script cuts the picked frames into chunks.

    * ``"count"``: pick T = frames_per_chunk · num_chunks frames, cut them with
      ``torch.chunk(frames, num_chunks)`` (the sampled-frame scripts);
    * ``"size"``: pick every frame, cut them with ``torch.split(frames, frames_per_chunk)`` —
      consecutive chunks of frames_per_chunk, the last one shorter and kept as it is, and as many
      chunks as the video needs (num_chunks is not read).
    """

    pick: Callable[..., list[int]]
    chunking: Literal["count", "size"] = "count"

    def __call__(self, num_frames: int, count: int, **options) -> list[int]:
        return self.pick(num_frames, count, **options)

    @property
    def reads_num_chunks(self) -> bool:
        return self.chunking == "count"

    def chunks(self, num_frames: int, frames_per_chunk: int, num_chunks: int) -> list[list[int]]:
        """The frame indices of a video of ``num_frames`` frames, in the chunks the memory reads in order."""
        if self.chunking == "size":
            return split_like_torch_split(self.pick(num_frames, num_frames), frames_per_chunk)
        return split_like_torch_chunk(self.pick(num_frames, frames_per_chunk * num_chunks), num_chunks)


RULES = {
    "uniform": FrameRule(frame_indices_uniform),
    "arange": FrameRule(frame_indices_arange),
    "segment_centres": FrameRule(frame_indices_segment_centres),
    "segment_midpoints": FrameRule(frame_indices_segment_midpoints),
    "all_frames": FrameRule(frame_indices_all, chunking="size"),
}
