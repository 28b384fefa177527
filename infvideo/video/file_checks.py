"""Checks every backend makes before handing a path to a native decoder, so that the common
mistakes get a Python exception naming the file instead of a library-specific message."""

from __future__ import annotations

import os

from infvideo.video.errors import VideoDecodeError


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
