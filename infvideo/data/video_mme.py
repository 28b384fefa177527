"""Video-MME: the Hugging Face parquet file, JSONL with the same rows (what the Video-LLaMA reference
reads), or VideoChat2's JSON grouped by video (``video_mme_grouped``, flattened into such rows).

A row: ``video_id`` ("001"), ``duration`` (short | medium | long), ``domain``, ``sub_category``,
``url``, ``videoID`` (the YouTube id, also the video's file name), ``question_id`` ("001-1"),
``task_type``, ``question``, ``options`` ["A. ...", "B. ...", "C. ...", "D. ..."], ``answer`` (a letter).
Records keep the options as given (``options.option_texts`` strips the "A. "), ``answer`` is the
letter's index, ``question_type`` the task type, and ``extra`` carries ``duration``, ``domain``,
``sub_category``, ``url`` and Video-MME's own ``video_id`` as ``video_number``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

from infvideo.data.annotation_files import existing_file
from infvideo.data.fields import LETTERS, BadField, optional, parse_letter, required, required_id, required_text
from infvideo.data.options import option_letter
from infvideo.data.read_result import OnError, ProblemLog, ReadResult
from infvideo.data.record import MalformedRow, QuestionRecord
from infvideo.data.video_mme_grouped import grouped_rows
from infvideo.data.video_paths import DEFAULT_VIDEO_PATTERN, check_video_pattern, video_path

NUM_OPTIONS = 4
FileFormat = Literal["parquet", "jsonl", "grouped_json"]
_FORMAT_BY_SUFFIX: dict[str, FileFormat] = {".parquet": "parquet", ".jsonl": "jsonl", ".json": "grouped_json"}
# Video-MME field -> extra key; its "video_id" is renamed because QuestionRecord.video_id is the
# videoID (the file), and two different "video_id"s side by side would invite mix-ups.
EXTRA_FIELDS = {"duration": "duration", "domain": "domain", "sub_category": "sub_category",
                "url": "url", "video_id": "video_number"}


def read_video_mme(
    annotation_path: str | os.PathLike[str],
    video_folder: str | os.PathLike[str],
    *,
    file_format: FileFormat | None = None,
    video_pattern: str = DEFAULT_VIDEO_PATTERN,
    on_error: OnError = "raise",
) -> ReadResult:
    """``file_format`` defaults to the file's suffix (.parquet, .jsonl, or .json for the grouped
    JSON). Ids are ``question_id``; the video is ``video_pattern`` filled with ``videoID``."""
    log = ProblemLog(on_error)
    check_video_pattern(video_pattern)
    file = existing_file(annotation_path)
    rows = _ROW_READERS[_format_of(file, file_format)](file)
    records: list[QuestionRecord] = []
    for location, row in rows:
        try:
            if isinstance(row, BadField):  # a JSONL line that did not parse, a grouped video without a usable url
                raise row
            records.append(_record(row, video_folder, video_pattern))
        except BadField as problem:
            log.report(file, location, str(problem))
    return ReadResult.checked(records, log.problems, str(file))


def _record(row: Any, video_folder: str | os.PathLike[str], video_pattern: str) -> QuestionRecord:
    if not isinstance(row, dict):
        raise BadField(f"expected a JSON object, got {type(row).__name__}")
    video = required_id(row, "videoID")
    return QuestionRecord(
        id=required_id(row, "question_id"),
        dataset="video_mme",
        video_id=video,
        video_path=video_path(video_folder, video_pattern, video),
        question=required_text(row, "question"),
        options=_options(row),
        answer=parse_letter(required(row, "answer"), "answer", NUM_OPTIONS),
        question_type=optional(row, "task_type"),
        extra={name: row[field] for field, name in EXTRA_FIELDS.items() if optional(row, field) is not None},
    )


def _options(row: dict[str, Any]) -> tuple[str, ...]:
    options = required(row, "options")
    if not isinstance(options, (list, tuple)) or not all(isinstance(option, str) for option in options):
        raise BadField(f"'options' should be a list of strings, got {options!r}")
    if len(options) != NUM_OPTIONS:
        raise BadField(f"expected {NUM_OPTIONS} options, got {len(options)}")
    for expected, option in zip(LETTERS, options):
        # the answer is a letter, so an option list out of letter order would score the wrong text
        if option_letter(option) != expected:
            raise BadField(f"option {option!r} should start with '{expected}. '")
    return tuple(options)


def _format_of(file: os.PathLike[str], file_format: FileFormat | None) -> FileFormat:
    if file_format is not None:
        if file_format not in _ROW_READERS:
            raise ValueError(f"file_format must be one of {', '.join(map(repr, _ROW_READERS))}, got {file_format!r}")
        return file_format
    suffix = os.path.splitext(os.fspath(file))[1].lower()
    if suffix not in _FORMAT_BY_SUFFIX:
        raise ValueError(f"{os.fspath(file)}: cannot tell the format from the suffix {suffix!r}; "
                         f"pass file_format as one of {', '.join(map(repr, _ROW_READERS))}")
    return _FORMAT_BY_SUFFIX[suffix]


def _parquet_rows(file: os.PathLike[str]) -> list[tuple[str, Any]]:
    try:
        import pyarrow.parquet as parquet  # only this format needs pyarrow
    except ImportError as error:
        raise ImportError("reading Video-MME parquet needs pyarrow (pip install pyarrow), "
                          "or give the JSONL version") from error
    try:
        table = parquet.read_table(file)
    except Exception as error:  # pyarrow has no common base for "not a parquet file"
        raise MalformedRow(f"{os.fspath(file)}: not a readable parquet file ({error})") from error
    return [(f"row index {i}", row) for i, row in enumerate(table.to_pylist())]


def _jsonl_rows(file: os.PathLike[str]) -> Iterator[tuple[str, Any]]:
    """(location, row) per non-blank line; the row is a ``BadField`` when the line is not JSON, so
    that one broken line is one row problem rather than the end of the file."""
    with open(file, encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row: Any = json.loads(line)
            except json.JSONDecodeError as error:
                row = BadField(f"invalid JSON ({error.msg}, column {error.colno})")
            yield f"line {number}", row


_ROW_READERS: dict[FileFormat, Callable[[os.PathLike[str]], Iterable[tuple[str, Any]]]] = {
    "parquet": _parquet_rows, "jsonl": _jsonl_rows, "grouped_json": grouped_rows,
}
