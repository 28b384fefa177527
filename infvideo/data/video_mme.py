"""Video-MME: the Hugging Face parquet file; the same rows as JSON Lines (what the Video-LLaMA
reference reads, and what ``datasets``' ``to_json`` writes) or as one JSON list (pandas'
``to_json(orient="records")``); or VideoChat2's JSON grouped by video (flattened into such rows, see
"Grouped JSON" below).

A row: ``video_id`` ("001"), ``duration`` (short | medium | long), ``domain``, ``sub_category``,
``url``, ``videoID`` (the YouTube id, also the video's file name), ``question_id`` ("001-1"),
``task_type``, ``question``, ``options`` ["A. ...", "B. ...", "C. ...", "D. ..."], ``answer`` (a letter).
Records keep the options as given (``record.option_texts`` strips the "A. "), ``answer`` is the
letter's index, ``question_type`` the task type, and ``extra`` carries ``duration``, ``domain``,
``sub_category``, ``url`` and Video-MME's own ``video_id`` as ``video_number``.

A ``.json`` file is one of three layouts, told apart by content: a list of rows (objects with a
``question_id``), a list of videos (objects with a ``questions`` list), or JSON Lines of rows.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, get_args

from infvideo.data.record import OPTION_LETTERS, BadReaderOption, MalformedRow, QuestionRecord, option_letter
from infvideo.data.rows import (
    BadField,
    OnError,
    ProblemLog,
    ReadResult,
    check_utf8,
    check_video_pattern,
    existing_file,
    json_error_reason,
    load_json_file,
    open_text,
    optional,
    parse_json,
    parse_letter,
    read_text,
    required,
    required_id,
    required_text,
    video_path,
)

NUM_OPTIONS = 4
# the metrics report accuracy per duration; any other value would form a group of its own or none
DURATIONS = ("short", "medium", "long")
FileFormat = Literal["parquet", "jsonl", "grouped_json", "json_records"]
_FORMAT_BY_SUFFIX: dict[str, FileFormat | None] = {".parquet": "parquet", ".jsonl": "jsonl", ".json": None}  # None: by content
# Video-MME field -> extra key; its "video_id" is renamed because QuestionRecord.video_id is the
# videoID (the file), and two different "video_id"s side by side would invite mix-ups.
EXTRA_FIELDS = {"duration": "duration", "domain": "domain", "sub_category": "sub_category", "url": "url", "video_id": "video_number"}
Rows = Iterable[tuple[str, Any]]  # (location in the file, row dict or the BadField it is)


def read_video_mme(
    annotation_path: str | os.PathLike[str],
    video_folder: str | os.PathLike[str],
    *,
    file_format: FileFormat | None = None,
    video_pattern: str | None = None,
    on_error: OnError = "raise",
) -> ReadResult:
    """``file_format`` defaults to the file's suffix (.parquet, .jsonl; .json by its content).
    Ids are ``question_id``; the video is ``video_pattern`` (default ``"{video}.mp4"``) filled
    with ``videoID``."""
    log = ProblemLog(on_error)
    check_video_pattern(video_pattern)
    if file_format is not None and file_format not in get_args(FileFormat):
        raise BadReaderOption(f"file_format must be one of {', '.join(map(repr, get_args(FileFormat)))}, got {file_format!r}")
    file = existing_file(annotation_path)
    records: list[QuestionRecord] = []
    for location, row in _rows(file, file_format):
        try:
            if isinstance(row, BadField):  # a line that did not parse, a grouped video without a usable url, ...
                raise row
            records.append(_record(row, video_folder, video_pattern))
        except BadField as problem:
            log.report(file, location, str(problem))
    return ReadResult.checked(records, log.problems, str(file))


def _record(row: Any, video_folder: str | os.PathLike[str], video_pattern: str | None) -> QuestionRecord:
    if not isinstance(row, dict):
        raise BadField(f"expected a JSON object, got {type(row).__name__}")
    check_utf8(row)
    _check_duration(row)
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


def _check_duration(row: dict[str, Any]) -> None:
    duration = required(row, "duration")
    if duration not in DURATIONS:
        raise BadField(f"duration {duration!r} should be one of {', '.join(map(repr, DURATIONS))}")


def _options(row: dict[str, Any]) -> tuple[str, ...]:
    options = required(row, "options")
    if not isinstance(options, (list, tuple)) or not all(isinstance(option, str) for option in options):
        raise BadField(f"'options' should be a list of strings, got {options!r}")
    if len(options) != NUM_OPTIONS:
        raise BadField(f"expected {NUM_OPTIONS} options, got {len(options)}")
    for expected, option in zip(OPTION_LETTERS, options):
        # the answer is a letter, so an option list out of letter order would score the wrong text
        if option_letter(option) != expected:
            raise BadField(f"option {option!r} should start with '{expected}. '")
    return tuple(options)


def _rows(file: os.PathLike[str], file_format: FileFormat | None) -> Rows:
    if file_format is None:
        suffix = os.path.splitext(os.fspath(file))[1].lower()
        if suffix not in _FORMAT_BY_SUFFIX:
            # The suffix is the user's only handle (the run config has no format field): name the ones read.
            raise BadReaderOption(
                f"{os.fspath(file)}: cannot tell the Video-MME layout from the suffix {suffix!r}; "
                "give the annotations as .parquet, .jsonl or .json (flat rows or VideoChat2's grouped JSON)"
            )
        file_format = _FORMAT_BY_SUFFIX[suffix]
        if file_format is None:
            return _json_rows_by_content(file)
    return _ROW_READERS[file_format](file)


def _parquet_rows(file: os.PathLike[str]) -> Rows:
    try:
        import pyarrow.parquet as parquet  # only this format needs pyarrow
    except ImportError as error:
        raise ImportError("reading Video-MME parquet needs pyarrow (pip install pyarrow), or give the JSONL version") from error
    try:
        table = parquet.read_table(file)
    except Exception as error:  # pyarrow has no common base for "not a parquet file"
        raise MalformedRow(f"{os.fspath(file)}: not a readable parquet file ({error})") from error
    try:
        rows = table.to_pylist()
    except UnicodeDecodeError:
        # a text column holds bytes that are not UTF-8 (pyarrow does not check when reading);
        # row by row, so that only the rows holding them are lost
        return [(f"row index {i}", _parquet_row(table, i)) for i in range(table.num_rows)]
    return [(f"row index {i}", row) for i, row in enumerate(rows)]


def _parquet_row(table: Any, i: int) -> Any:
    try:
        return table.slice(i, 1).to_pylist()[0]
    except UnicodeDecodeError:
        pass
    for name in table.column_names:
        try:
            table.column(name)[i].as_py()
        except UnicodeDecodeError as error:
            try:  # the same reason as a bad byte in a text file gets
                check_utf8({name: error.object.decode("utf-8", errors="surrogateescape")})
            except BadField as problem:
                return problem
    # pyarrow failed on the row but on none of its values alone; the row is still the one to leave out
    return BadField("a text value is not valid UTF-8")


def _jsonl_rows(file: os.PathLike[str]) -> Iterator[tuple[str, Any]]:
    """(location, row) per non-blank line; the row is a ``BadField`` when the line is not JSON, so
    that one broken line is one row problem rather than the end of the file."""
    with open_text(file) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row: Any = json.loads(line)
            except json.JSONDecodeError as error:
                row = BadField(json_error_reason(error))
            yield f"line {number}", row


def _json_records_rows(file: os.PathLike[str]) -> Rows:
    return _listed_rows(parse_json(read_text(file), file), file)


def _listed_rows(rows: Any, file: os.PathLike[str]) -> Rows:
    if not isinstance(rows, list):
        raise MalformedRow(f"{os.fspath(file)}: expected a JSON list of rows, got {type(rows).__name__}")
    return [(f"[{i}]", row) for i, row in enumerate(rows)]


def _json_rows_by_content(file: os.PathLike[str]) -> Rows:
    """A ``.json`` file in whichever of the three layouts it holds. Each layout is recognised by
    rows that have its shape anywhere in the file, so that a broken first row is still one row
    problem; a file with neither shape (or both) is refused as a whole."""
    text = read_text(file)
    if text.lstrip().startswith("["):
        document = parse_json(text, file)
        flat = any(_is_flat_row(item) for item in document)
        grouped = any(_is_video(item) for item in document)
        if flat != grouped:
            return _listed_rows(document, file) if flat else _flatten_videos(document, file)
        if not document:
            return []
    elif text.lstrip().startswith("{"):
        lines = list(_jsonl_rows(file))
        if any(_is_flat_row(row) for _, row in lines):
            return lines
    raise MalformedRow(
        f"{os.fspath(file)}: not a Video-MME layout: expected a JSON list of rows with 'question_id' "
        f"(pandas' to_json(orient='records')), VideoChat2's JSON list of videos with 'questions', or "
        f"JSON Lines of rows (datasets' to_json); pass file_format to choose one"
    )


def _is_flat_row(item: Any) -> bool:
    # a single value: pandas' orient="columns" also has a "question_id" key, holding every row's id
    return isinstance(item, dict) and "question_id" in item and not isinstance(item["question_id"], (dict, list))


# ---- Grouped JSON
# Video-MME grouped by video, the JSON ∞-VideoChat2's ``run_videomme_mistral.py`` reads.
#
# A JSON list of videos ``{"url": "https://www.youtube.com/watch?v=<id>", "duration_category":
# "short" | "medium" | "long", "questions": [{"question", "options": ["A. ..", ..], "answer": "A"}]}``,
# possibly with ``video_id``, ``domain``, ``sub_category`` per video and ``question_id``,
# ``task_type`` per question. Each question is flattened into the row the parquet/JSONL files have,
# so ``_record`` turns all three formats into records by one rule.
#
# * ``videoID`` (the video's file name) is the text after ``watch?v=`` in the url, up to a ``&`` or
#   ``#`` if any: the reference keeps everything after ``watch?v=``, which only differs for urls with
#   more query parameters, where its file name could not exist anyway.
# * ``question_id`` is the question's own when given, else ``"<videoID>-<k>"`` with k its 1-based
#   position among that video's questions, after Video-MME's own ``"001-1"`` numbering. Those ids
#   are stable as long as the file is; a video listed twice gives repeated ids, which the reader
#   refuses (``DuplicateIdError``) rather than silently merging two questions' predictions.
# * ``duration_category`` becomes ``duration``, the name the flat rows (and the metrics) use; a video
#   without one is a problem at the video's place in the file.

WATCH = "watch?v="
# per-video keys copied into every question's row, under the flat format's names
VIDEO_FIELDS = {"duration_category": "duration", "domain": "domain", "sub_category": "sub_category", "video_id": "video_id"}
_END_OF_ID = re.compile(r"[&#]")


def _grouped_rows(file: str | os.PathLike[str]) -> Iterator[tuple[str, Any]]:
    return _flatten_videos(load_json_file(file), file)


def _is_video(item: Any) -> bool:
    """Whether ``item`` has this layout's shape (a video with its list of questions)."""
    return isinstance(item, dict) and isinstance(item.get("questions"), list)


def _flatten_videos(videos: Any, file: str | os.PathLike[str]) -> Iterator[tuple[str, Any]]:
    """(location, flat row) per question, locations as ``"[i]"`` (video) and ``"[i].questions[k]"``;
    the row is a ``BadField`` where a video or a question cannot be read, so that it is one problem
    and the rest of the file is still read."""
    if not isinstance(videos, list):
        raise MalformedRow(f"{os.fspath(file)}: expected a JSON list of videos, got {type(videos).__name__}")
    for i, video in enumerate(videos):
        try:
            shared, questions = _video_fields(video)
        except BadField as problem:
            yield f"[{i}]", problem
            continue
        for k, question in enumerate(questions):
            yield f"[{i}].questions[{k}]", _flat_row(shared, question, k)


def _video_id_from_url(url: str) -> str:
    _, found, rest = url.partition(WATCH)
    video = _END_OF_ID.split(rest, maxsplit=1)[0].strip()
    if not found or not video:
        raise BadField(f"url {url!r} has no YouTube id after {WATCH!r}")
    return video


def _video_fields(video: Any) -> tuple[dict[str, Any], list[Any]]:
    if not isinstance(video, dict):
        raise BadField(f"expected a JSON object (one video), got {type(video).__name__}")
    url = required_text(video, "url")
    # every question of the video needs it (the metrics group by it); the row check names the value
    required(video, "duration_category")
    questions = required(video, "questions")
    if not isinstance(questions, list):
        raise BadField(f"'questions' should be a list, got {type(questions).__name__}")
    shared = {name: video[key] for key, name in VIDEO_FIELDS.items() if optional(video, key) is not None}
    return {**shared, "url": url, "videoID": _video_id_from_url(url)}, questions


def _flat_row(shared: dict[str, Any], question: Any, k: int) -> Any:
    if not isinstance(question, dict):
        return BadField(f"expected a JSON object (one question), got {type(question).__name__}")
    row = {**shared, **{key: question[key] for key in ("question", "options", "answer", "task_type") if key in question}}
    given_id = optional(question, "question_id")
    row["question_id"] = given_id if given_id is not None else f"{shared['videoID']}-{k + 1}"
    return row


_ROW_READERS: dict[FileFormat, Callable[[os.PathLike[str]], Rows]] = {
    "parquet": _parquet_rows,
    "jsonl": _jsonl_rows,
    "grouped_json": _grouped_rows,
    "json_records": _json_records_rows,
}
