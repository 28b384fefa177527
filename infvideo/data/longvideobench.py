"""LongVideoBench validation set: ``lvb_val.json``, one JSON list of questions (docs/benchmarks.md).

A row: ``video_id`` (text), ``question``, ``candidates`` (a list of 2 to 5 texts), ``correct_choice``
(an int, the right candidate's index), ``duration_group`` (an int: 15, 60, 600 or 3600 seconds, the
upper end of the video's length class), ``question_category`` (one of 17 codes such as "S2E", "TAA"),
``duration`` (seconds), ``video_path`` (the file below the release's ``videos/`` folder), ``id``
(text, e.g. ``"<video_id>_0"``), and fields no record needs (``subtitle_path``, ``position``, ...).

Records: ``id`` and ``video_id`` as given, the candidates as given, ``answer`` = ``correct_choice``,
``question_type`` the question category, ``extra`` the ``duration_group`` and the ``duration``. The
test set's ``lvb_test_wo_gt.json`` has no ``correct_choice`` and is refused row by row: its answers
are scored by the benchmark's server, which this project does not submit to.
"""

from __future__ import annotations

import os
from typing import Any

from infvideo.data.record import MalformedRow, QuestionRecord
from infvideo.data.rows import (
    BadField,
    OnError,
    ProblemLog,
    ReadResult,
    bad_byte_reason,
    check_utf8,
    check_video_pattern,
    existing_file,
    load_json_file,
    option_list,
    optional,
    parse_index,
    parse_int,
    required,
    required_id,
    required_text,
    video_path,
)

# The metrics report accuracy per duration group; any other value would form a group of its own.
DURATION_GROUPS = (15, 60, 600, 3600)


def read_longvideobench(
    annotation_path: str | os.PathLike[str],
    video_folder: str | os.PathLike[str],
    *,
    video_pattern: str | None = None,
    on_error: OnError = "raise",
) -> ReadResult:
    """``annotation_path``: ``lvb_val.json``; ``video_folder``: the release's ``videos/`` folder. A
    video is the row's ``video_path`` inside it (as the benchmark's loader resolves it); with
    ``video_pattern`` (or a row without ``video_path``), the pattern (default ``"{video}.mp4"``)
    filled with ``{video_id}`` and ``{video}`` = ``video_path`` without extension (else the video id)."""
    check_video_pattern(video_pattern)
    log = ProblemLog(on_error)
    file = existing_file(annotation_path)
    rows = load_json_file(file)
    if not isinstance(rows, list):
        raise MalformedRow(f"{file}: expected a JSON list of questions (lvb_val.json), got {type(rows).__name__}")
    records: list[QuestionRecord] = []
    for position, row in enumerate(rows):
        try:
            records.append(_record(row, video_folder, video_pattern))
        except BadField as problem:
            log.report(file, _describe(position, row), str(problem))
    return ReadResult.checked(records, log.problems, str(file))


def _record(row: Any, video_folder: str | os.PathLike[str], video_pattern: str | None) -> QuestionRecord:
    if not isinstance(row, dict):
        raise BadField(f"expected a JSON object, got {type(row).__name__}")
    check_utf8(row)
    video_id = required_id(row, "video_id")
    options = option_list(row, "candidates")
    extra: dict[str, Any] = {"duration_group": _duration_group(row)}
    if optional(row, "duration") is not None:
        extra["duration"] = row["duration"]
    return QuestionRecord(
        id=required_id(row, "id"),
        dataset="longvideobench",
        video_id=video_id,
        video_path=_video_path(row, video_id, video_folder, video_pattern),
        question=required_text(row, "question"),
        options=options,
        answer=parse_index(required(row, "correct_choice"), "correct_choice", len(options)),
        question_type=optional(row, "question_category"),
        extra=extra,
    )


def _video_path(row: dict[str, Any], video_id: str, video_folder: str | os.PathLike[str], video_pattern: str | None) -> str:
    file = optional(row, "video_path")
    if file is not None and not isinstance(file, str):
        raise BadField(f"'video_path' should be text, got {file!r}")
    if video_pattern is None and file:
        return os.path.join(os.fspath(video_folder), file)
    location = os.path.splitext(file)[0] if file else None
    return video_path(video_folder, video_pattern, video_id, location=location)


def _duration_group(row: dict[str, Any]) -> int:
    group = parse_int(required(row, "duration_group"), "duration_group")
    if group not in DURATION_GROUPS:
        raise BadField(f"duration_group {group} should be one of {', '.join(map(str, DURATION_GROUPS))}")
    return group


def _describe(position: int, row: Any) -> str:
    qid = row.get("id") if isinstance(row, dict) else None
    if not isinstance(qid, str) or bad_byte_reason(qid) is not None:  # a bad byte cannot be printed
        return f"[{position}]"
    return f"[{position}] (id={qid})"
