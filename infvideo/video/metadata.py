"""What a video source knows about its file before decoding any requested frame."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass


@dataclass(frozen=True)
class VideoMetadata:
    """Facts about one video stream, in the terms the frame-index rules use.

    ``num_frames`` counts the frames that can really be decoded, in presentation order (never the
    container's announced count, which a truncated file overstates). ``duration`` is the time those
    frames cover by their timestamps (first frame's start to last frame's end, in seconds) and
    ``fps`` is ``num_frames / duration``, their average rate, also for a variable-rate file.
    ``width`` and ``height`` are those of the frames returned (after the display matrix, when the
    source applies it).
    ``keyframes`` are presentation indices of the frames decoding can start from; the first entry
    is always 0, so every frame lies in the interval of exactly one keyframe.
    """

    path: str
    num_frames: int
    fps: float
    duration: float
    width: int
    height: int
    keyframes: tuple[int, ...]
    codec: str
    backend: str

    def keyframe_at_or_before(self, index: int) -> int:
        """The keyframe whose interval holds ``index`` (where decoding must start to reach it)."""
        return self.keyframes[bisect_right(self.keyframes, index) - 1]
