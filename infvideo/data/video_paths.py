"""Where a question's video lives: a file-name pattern applied inside the video folder.

Two placeholders: ``{video_id}`` is the record's video id (NExT-QA's ``video`` column, EgoSchema's
q_uid, Video-MME's ``videoID``, MovieChat-1K's video name); ``{video}`` is where that video lies
below the folder without extension, which is the video id too unless NExT-QA's ``video_map`` gives
a nested path. The default ``"{video}.mp4"`` fits the raw benchmark videos (MovieChat-1K instead
uses each file's ``info.video_path`` unless a pattern is given); other layouts are e.g.
``"{video_id}.mkv"``, ``"videos/{video_id}/video.mp4"`` or the pre-decoded tensors of the
Video-LLaMA scripts, ``"{video}/{video}.pt"``.
"""

from __future__ import annotations

import os
import string

from infvideo.data.record import BadReaderOption

DEFAULT_VIDEO_PATTERN = "{video}.mp4"
PLACEHOLDERS = ("video_id", "video")
_ALLOWED = " and ".join(f"{{{name}}}" for name in PLACEHOLDERS)


def check_video_pattern(pattern: str | None) -> str | None:
    """Fails early, before any row is read, on a pattern with unknown placeholders or none at all;
    None (the reader's default) passes."""
    if pattern is None:
        return None
    try:
        # only plain names: "{0}", "{}", "{video_id.stem}" or "{video_id[0]}" would also format, but
        # not as anyone meant
        used = {field for _, field, _, _ in string.Formatter().parse(pattern) if field is not None}
    except ValueError as error:  # an unmatched brace
        raise BadReaderOption(f"video pattern {pattern!r} is not a valid pattern ({error}); "
                              f"use the placeholders {_ALLOWED}") from None
    unknown = sorted(used - set(PLACEHOLDERS))
    if unknown:
        named = ", ".join(f"{{{field}}}" for field in unknown)
        raise BadReaderOption(f"video pattern {pattern!r} has unknown placeholder(s) {named}; "
                              f"the allowed placeholders are {_ALLOWED}")
    if not used:
        raise BadReaderOption(f"video pattern {pattern!r} uses neither {_ALLOWED}; every question would get "
                              f"the same file")
    return pattern


def video_path(video_folder: str | os.PathLike[str], pattern: str | None, video_id: str,
               location: str | None = None) -> str:
    """``pattern`` (None: the default) filled in and joined to the folder; ``location`` is what
    ``{video}`` stands for when it is not the video id."""
    pattern = DEFAULT_VIDEO_PATTERN if pattern is None else pattern
    filled = pattern.format(video_id=video_id, video=video_id if location is None else location)
    return os.path.join(os.fspath(video_folder), filled)
