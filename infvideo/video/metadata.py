"""What a video file is before any requested frame is decoded, and what goes wrong with one.

``VideoMetadata`` (the facts every backend reports the same way), the exceptions of the video layer
(every message names the file it is about), and the checks every backend makes before handing a path
to a native decoder, so that the common mistakes get a Python exception naming the file instead of a
library-specific message.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from dataclasses import dataclass


class VideoDecodeError(ValueError):
    """The file exists but cannot be read as a video: empty, truncated before any frame, corrupt,
    not a container FFmpeg knows, or a frame that the file promises but the decoder cannot produce.

    A ``ValueError`` so that callers treating "bad input" generically keep working."""


class NoVideoStreamError(VideoDecodeError):
    """The container opens but holds no video stream (an audio-only file, subtitles, ...)."""


class FrameIndexError(VideoDecodeError, IndexError):
    """A requested frame index is outside ``0 .. num_frames - 1`` of the decodable frames.

    Also an ``IndexError``, which is what an out-of-range lookup raises elsewhere in Python."""


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


def checked_path(path: str | os.PathLike[str]) -> str:
    """The path as a string; ``FileNotFoundError`` if absent, ``VideoDecodeError`` if empty."""
    name = os.fspath(path)
    if not os.path.exists(name):
        raise FileNotFoundError(f"video file not found: {name}")
    if os.path.isdir(name):
        raise IsADirectoryError(f"expected a video file, got a directory: {name}")
    if os.path.getsize(name) == 0:
        raise VideoDecodeError(f"{name}: empty file (0 bytes)")
    return name
