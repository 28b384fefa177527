"""Where a question's video lives: a file-name pattern applied inside the video folder.

The pattern has one field, ``{video}``. The default ``"{video}.mp4"`` fits the raw benchmark
videos; the reference's Video-LLaMA scripts read pre-decoded tensors laid out as
``"{video}/{video}.pt"``.
"""

from __future__ import annotations

import os

DEFAULT_VIDEO_PATTERN = "{video}.mp4"


def check_video_pattern(pattern: str) -> str:
    """Fails early, before any row is read, on a pattern with unknown fields or no ``{video}``."""
    try:
        filled = pattern.format(video="\0")
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(f"video pattern {pattern!r} may only use the field {{video}} ({error})") from None
    if "\0" not in filled:
        raise ValueError(f"video pattern {pattern!r} does not use {{video}}; every question would get the same file")
    return pattern


def video_path(video_folder: str | os.PathLike[str], pattern: str, video: str) -> str:
    return os.path.join(os.fspath(video_folder), pattern.format(video=video))
