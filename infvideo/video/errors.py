"""Exceptions of the video layer; every message names the file it is about."""

from __future__ import annotations


class VideoDecodeError(ValueError):
    """The file exists but cannot be read as a video: empty, truncated before any frame, corrupt,
    not a container FFmpeg knows, or a frame that the file promises but the decoder cannot produce.

    A ``ValueError`` so that callers treating "bad input" generically keep working."""


class NoVideoStreamError(VideoDecodeError):
    """The container opens but holds no video stream (an audio-only file, subtitles, ...)."""


class FrameIndexError(VideoDecodeError, IndexError):
    """A requested frame index is outside ``0 .. num_frames - 1`` of the decodable frames.

    Also an ``IndexError``, which is what an out-of-range lookup raises elsewhere in Python."""
