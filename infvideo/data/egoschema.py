"""EgoSchema: ``questions.json`` and, for the public 500-question subset, ``subset_answers.json``;
or that subset as IG-VLM's ``EgoSchema.csv`` (see "EgoSchema.csv" below), chosen by the file's suffix.

``questions.json`` is a list of ``{q_uid, google_drive_id, question, "option 0" .. "option 4"}``;
``subset_answers.json`` maps ``q_uid`` to the correct option index. With answers the reader yields
the subset (only the questions that have one); without, the full set with ``answer=None`` (its
answers are scored by the EgoSchema server). Ids and video ids are the ``q_uid``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from infvideo.data.record import BadReaderOption, MalformedRow, QuestionRecord
from infvideo.data.rows import (
    BadField,
    CsvTable,
    OnError,
    ProblemLog,
    ReadResult,
    check_utf8,
    check_video_pattern,
    existing_file,
    load_json_file,
    optional,
    parse_index,
    required_id,
    required_text,
    video_path,
)

NUM_OPTIONS = 5
OPTION_KEYS = tuple(f"option {i}" for i in range(NUM_OPTIONS))
_OPTION_KEY = re.compile(r"option \d+")


def read_egoschema(
    annotation_path: str | os.PathLike[str],
    video_folder: str | os.PathLike[str],
    *,
    answers_path: str | os.PathLike[str] | None = None,
    video_pattern: str | None = None,
    on_error: OnError = "raise",
) -> ReadResult:
    """``annotation_path`` is ``questions.json`` (``answers_path`` the optional subset answers) or
    ``EgoSchema.csv``, which carries its answers. ``video_pattern`` None is ``"{video}.mp4"``."""
    check_video_pattern(video_pattern)  # a bad option is named before a missing file
    suffix = existing_file(annotation_path).suffix.lower()  # a missing file says so before its suffix is judged
    if suffix == ".csv":
        if answers_path is not None:
            # two sources of truth for the same 500 answers could disagree silently
            raise BadReaderOption(
                f"{os.fspath(annotation_path)}: EgoSchema.csv carries its answers; "
                f"do not also pass answers_path ({os.fspath(answers_path)})"
            )
        return _read_egoschema_csv(annotation_path, video_folder, video_pattern=video_pattern, on_error=on_error)
    if suffix != ".json":
        raise BadReaderOption(
            f"{os.fspath(annotation_path)}: cannot tell the EgoSchema format from the suffix "
            f"{suffix!r}; expected .json (questions.json) or .csv (IG-VLM EgoSchema.csv)"
        )
    return _read_questions_json(annotation_path, video_folder, answers_path, video_pattern, on_error)


def _read_questions_json(
    annotation_path: str | os.PathLike[str],
    video_folder: str | os.PathLike[str],
    answers_path: str | os.PathLike[str] | None,
    video_pattern: str | None,
    on_error: OnError,
) -> ReadResult:
    log = ProblemLog(on_error)
    questions_file = existing_file(annotation_path)
    answers = None if answers_path is None else _read_answers(answers_path, log)
    questions = load_json_file(questions_file)
    if not isinstance(questions, list):
        raise MalformedRow(f"{questions_file}: expected a JSON list of questions, got {type(questions).__name__}")

    records: list[QuestionRecord] = []
    asked: set[str] = set()  # every q_uid in questions.json, well-formed or not
    for position, item in enumerate(questions):
        location = _describe(position, item)
        try:
            if not isinstance(item, dict):
                raise BadField(f"expected a JSON object, got {type(item).__name__}")
            check_utf8(item)
            q_uid = required_id(item, "q_uid")
            asked.add(q_uid)
            if answers is not None and q_uid not in answers:
                continue  # outside the subset
            answer = None if answers is None else answers[q_uid]
            records.append(
                QuestionRecord(
                    id=q_uid,
                    dataset="egoschema",
                    video_id=q_uid,
                    video_path=video_path(video_folder, video_pattern, q_uid),
                    question=required_text(item, "question"),
                    options=_options(item),
                    answer=answer,
                    extra=_extra(item),
                )
            )
        except BadField as problem:
            log.report(questions_file, location, str(problem))

    if answers is not None:
        for q_uid in sorted(answers.keys() - asked):
            # an answer with no question means the two files are from different releases
            log.report(answers_path, f"q_uid {q_uid!r}", "answer given for a question not in questions.json")
    return ReadResult.checked(records, log.problems, str(questions_file))


def _read_answers(answers_path: str | os.PathLike[str], log: ProblemLog) -> dict[str, int]:
    loaded = load_json_file(answers_path, "EgoSchema answers file")
    if not isinstance(loaded, dict):
        raise MalformedRow(f"{answers_path}: expected a JSON object {{q_uid: answer index}}, got {type(loaded).__name__}")
    answers: dict[str, int] = {}
    for q_uid, value in loaded.items():
        try:
            check_utf8(q_uid)
            answers[q_uid] = parse_index(value, "answer", NUM_OPTIONS)
        except BadField as problem:
            log.report(answers_path, f"q_uid {q_uid!r}", str(problem))
    return answers


def _options(item: dict[str, Any]) -> tuple[str, ...]:
    unexpected = sorted(key for key in item if _OPTION_KEY.fullmatch(key) and key not in OPTION_KEYS)
    if unexpected:
        raise BadField(
            f"expected exactly {NUM_OPTIONS} options ({OPTION_KEYS[0]!r}..{OPTION_KEYS[-1]!r}), also found {', '.join(unexpected)}"
        )
    return tuple(required_text(item, key) for key in OPTION_KEYS)


def _extra(item: dict[str, Any]) -> dict[str, Any]:
    drive_id = optional(item, "google_drive_id")
    return {} if drive_id is None else {"google_drive_id": drive_id}


def _describe(position: int, item: Any) -> str:
    q_uid = item.get("q_uid") if isinstance(item, dict) else None
    return f"[{position}]" if q_uid is None else f"[{position}] (q_uid={q_uid})"


# ---- EgoSchema.csv
# EgoSchema's 500-question subset as IG-VLM's ``EgoSchema.csv``, the file ∞-VideoChat2 reads.
#
# The public file (imagegridworth/IG-VLM, ``data/multiple_choice_qa/EgoSchema.csv``) has the header
# ``,video_name,question_id,question,answer,a0,a1,a2,a3,a4``: column 0 an unnamed row number,
# ``video_name`` the EgoSchema ``q_uid``, ``question_id`` the Google Drive id, ``answer`` the correct
# option's text. A header in EgoSchema's own names (``q_uid``, ``google_drive_id``, ``option 0`` ..)
# is read by name too. Any other header is read by position, as the reference does (column 1 the
# q_uid, 3 the question, 4 the answer text, 5-9 the options); the Drive id is then not known.
#
# The answer is the index of the one option whose text equals the answer text exactly (the
# reference compares with ``==`` too). In the public file each answer matches exactly one option, so
# no match or several is a malformed row rather than a guess. Ids and video ids are the q_uid.


@dataclass(frozen=True)
class _Layout:
    """The key of each field in a row dict; ``drive_id`` is None when the layout does not say."""

    q_uid: str
    question: str
    answer: str
    options: tuple[str, ...]
    drive_id: str | None
    by_name: bool  # rows keyed by header name; else by "column <i>", as the reference reads them


# column names per known header: IG-VLM's, then EgoSchema's own (as in questions.json)
_NAMED_LAYOUTS = (
    _Layout("video_name", "question", "answer", tuple(f"a{i}" for i in range(NUM_OPTIONS)), "question_id", True),
    _Layout("q_uid", "question", "answer", tuple(f"option {i}" for i in range(NUM_OPTIONS)), "google_drive_id", True),
)
_POSITIONAL = _Layout("column 1", "column 3", "column 4", tuple(f"column {i}" for i in range(5, 5 + NUM_OPTIONS)), None, False)


def _read_egoschema_csv(
    annotation_path: str | os.PathLike[str],
    video_folder: str | os.PathLike[str],
    *,
    video_pattern: str | None = None,
    on_error: OnError = "raise",
) -> ReadResult:
    log = ProblemLog(on_error)
    check_video_pattern(video_pattern)
    table = CsvTable(annotation_path, required_columns=())
    layout = _layout(table)
    records: list[QuestionRecord] = []
    for location, fields in table.rows:
        try:
            row = _row(table, layout, fields)
            q_uid = required_id(row, layout.q_uid)
            location = f"{location} (q_uid={q_uid})"
            options = tuple(required_text(row, key) for key in layout.options)
            drive_id = None if layout.drive_id is None else optional(row, layout.drive_id)
            records.append(
                QuestionRecord(
                    id=q_uid,
                    dataset="egoschema",
                    video_id=q_uid,
                    video_path=video_path(video_folder, video_pattern, q_uid),
                    question=required_text(row, layout.question),
                    options=options,
                    answer=_answer_index(required_text(row, layout.answer), options),
                    extra={} if drive_id is None else {"google_drive_id": drive_id},
                )
            )
        except BadField as problem:
            log.report(table.path, location, str(problem))
    return ReadResult.checked(records, log.problems, str(table.path))


def _layout(table: CsvTable) -> _Layout:
    for layout in _NAMED_LAYOUTS:
        if all(name in table.header for name in (layout.q_uid, layout.question, layout.answer, *layout.options)):
            return layout if layout.drive_id in table.header else replace(layout, drive_id=None)
    if len(table.header) != 5 + NUM_OPTIONS:
        # the reference takes every column from 5 on as an option; more or fewer would shift them
        raise MalformedRow(
            f"{table.path}, line 1 (header): unknown column names and {len(table.header)} columns; "
            f"expected IG-VLM's ',video_name,question_id,question,answer,a0..a4' "
            f"or {5 + NUM_OPTIONS} columns read by position"
        )
    return _POSITIONAL


def _row(table: CsvTable, layout: _Layout, fields: list[str]) -> dict[str, str]:
    return table.by_column(fields) if layout.by_name else table.by_position(fields)


def _answer_index(answer: str, options: Sequence[str]) -> int:
    matches = [i for i, option in enumerate(options) if option == answer]
    if len(matches) != 1:
        which = "no option" if not matches else f"options {', '.join(map(str, matches))}"
        raise BadField(f"answer text {answer!r} equals {which}; expected exactly one")
    return matches[0]
