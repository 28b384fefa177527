"""MovieChat-1K: a folder of per-video JSON files (one file may also be given on its own).

Each file: ``info`` {``video_path``, ``fps``, ``num_frame``, ...}, ``global`` [{question, answer}]
and ``breakpoint`` [{time, question, answer}], ``time`` being the frame index where the video is
"paused". ``mode="global"`` yields the global questions, ``mode="breakpoint"`` the breakpoint ones
(``time`` set); the reference evaluates global mode only. Ids are ``"{video}_{mode}_{k}"`` with k
the question's position in that list, so they stay put when another question is skipped.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal, get_args

from infvideo.data.record import BadReaderOption, QuestionRecord
from infvideo.data.rows import (
    BadField,
    OnError,
    ProblemLog,
    ReadResult,
    check_utf8,
    check_video_pattern,
    existing_folder,
    json_error_reason,
    optional,
    parse_int,
    read_text,
    required_text,
    video_path,
)

Mode = Literal["global", "breakpoint"]
INFO_KEPT = ("fps", "num_frame")  # the breakpoint "time" is in frames; fps turns it into seconds


def read_moviechat(
    annotation_path: str | os.PathLike[str],
    video_folder: str | os.PathLike[str],
    *,
    mode: Mode = "global",
    video_pattern: str | None = None,
    on_error: OnError = "raise",
) -> ReadResult:
    """``annotation_path``: the folder of per-video JSONs, or one such file.

    The video file is ``info.video_path`` inside ``video_folder`` (as the reference resolves it),
    or, with ``video_pattern`` given (e.g. ``"{video_id}/{video_id}.pt"``) or no ``info.video_path``
    in the file, the pattern (default ``"{video}.mp4"``) filled with the video id
    (``info.video_path``'s name without extension, else the JSON file's stem).
    """
    if mode not in get_args(Mode):
        raise BadReaderOption(f"MovieChat-1K mode must be one of {get_args(Mode)}, got {mode!r}")
    check_video_pattern(video_pattern)
    log = ProblemLog(on_error)
    files = _annotation_files(annotation_path)
    records: list[QuestionRecord] = []
    for file in files:
        records.extend(_read_video_file(file, video_folder, mode, video_pattern, log))
    return ReadResult.checked(records, log.problems, os.fspath(annotation_path))


def _annotation_files(annotation_path: str | os.PathLike[str]) -> list[Path]:
    path = Path(annotation_path)
    if path.is_file():
        return [path]
    folder = existing_folder(path, "MovieChat-1K annotation folder")
    files = sorted(folder.glob("*.json"), key=_natural_order)
    if not files:
        raise FileNotFoundError(f"no MovieChat-1K annotation files (*.json) in {folder}")
    return files


def _natural_order(file: Path) -> list[Any]:
    """ "2.json" before "10.json": the files are usually numbered; a stable order makes runs comparable."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", file.name)]


def _read_video_file(
    file: Path, video_folder: str | os.PathLike[str], mode: Mode, video_pattern: str | None, log: ProblemLog
) -> list[QuestionRecord]:
    """The file's questions of one mode; a broken file or question is reported through ``log``."""
    try:
        movie = json.loads(read_text(file))
    except json.JSONDecodeError as error:
        log.report(file, f"line {error.lineno}", json_error_reason(error))
        return []
    try:
        video_id, path, extra = _video_of(movie, file, video_folder, video_pattern)
        questions = movie.get(mode)
        if not isinstance(questions, list):
            raise BadField(f"expected a list under {mode!r}, got {type(questions).__name__}")
    except BadField as problem:
        log.report(file, "whole file", str(problem))
        return []

    records = []
    for k, item in enumerate(questions):
        try:
            if not isinstance(item, dict):
                raise BadField(f"expected a JSON object, got {type(item).__name__}")
            check_utf8(item)
            records.append(
                QuestionRecord(
                    id=f"{video_id}_{mode}_{k}",
                    dataset="moviechat",
                    video_id=video_id,
                    video_path=path,
                    question=required_text(item, "question"),
                    answer_text=required_text(item, "answer"),
                    mode=mode,
                    time=_breakpoint_time(item) if mode == "breakpoint" else None,
                    extra=dict(extra),  # one dict per record: a consumer editing one must not change the others
                )
            )
        except BadField as problem:
            log.report(file, f"{mode}[{k}]", str(problem))
    return records


def _video_of(movie: Any, file: Path, video_folder: str | os.PathLike[str], video_pattern: str | None) -> tuple[str, str, dict[str, Any]]:
    """The video id, its path, and what ``extra`` carries for every question of this video."""
    if not isinstance(movie, dict):
        raise BadField(f"expected a JSON object, got {type(movie).__name__}")
    info = movie.get("info") or {}
    if not isinstance(info, dict):
        raise BadField(f"'info' should be an object, got {type(info).__name__}")
    # info feeds every question of the file, so a bad byte there loses the file; fields no record
    # uses (the caption) are not checked
    check_utf8(info)
    video_file = optional(info, "video_path")
    if video_file is not None and not isinstance(video_file, str):
        raise BadField(f"'info.video_path' should be text, got {video_file!r}")
    video_id = Path(video_file).stem if video_file else file.stem
    if video_pattern is None and video_file:
        path = os.path.join(os.fspath(video_folder), video_file)
    else:
        path = video_path(video_folder, video_pattern, video_id)
    extra: dict[str, Any] = {"annotation_file": file.name}
    if video_file:
        extra["video_file"] = video_file  # the key of the reference's preds.json
    extra.update({key: info[key] for key in INFO_KEPT if info.get(key) is not None})
    return video_id, path, extra


def _breakpoint_time(item: dict[str, Any]) -> int:
    if item.get("time") is None:
        raise BadField("missing 'time' (the breakpoint frame index)")
    time = parse_int(item["time"], "time")
    if time < 0:
        raise BadField(f"time {time} is negative")
    return time
