"""EgoSchema's 500-question subset as IG-VLM's ``EgoSchema.csv``, the file ∞-VideoChat2 reads.

The public file (imagegridworth/IG-VLM, ``data/multiple_choice_qa/EgoSchema.csv``) has the header
``,video_name,question_id,question,answer,a0,a1,a2,a3,a4``: column 0 an unnamed row number,
``video_name`` the EgoSchema ``q_uid``, ``question_id`` the Google Drive id, ``answer`` the correct
option's text. A header in EgoSchema's own names (``q_uid``, ``google_drive_id``, ``option 0`` ..)
is read by name too. Any other header is read by position, as the reference does (column 1 the
q_uid, 3 the question, 4 the answer text, 5-9 the options); the Drive id is then not known.

The answer is the index of the one option whose text equals the answer text exactly (the
reference compares with ``==`` too). In the public file each answer matches exactly one option, so
no match or several is a malformed row rather than a guess. Ids and video ids are the q_uid.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

from infvideo.data.csv_rows import CsvTable
from infvideo.data.fields import BadField, optional, required_id, required_text
from infvideo.data.read_result import OnError, ProblemLog, ReadResult
from infvideo.data.record import MalformedRow, QuestionRecord
from infvideo.data.video_paths import check_video_pattern, video_path

NUM_OPTIONS = 5


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
_POSITIONAL = _Layout("column 1", "column 3", "column 4", tuple(f"column {i}" for i in range(5, 5 + NUM_OPTIONS)),
                      None, False)


def read_egoschema_csv(
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
            records.append(QuestionRecord(
                id=q_uid,
                dataset="egoschema",
                video_id=q_uid,
                video_path=video_path(video_folder, video_pattern, q_uid),
                question=required_text(row, layout.question),
                options=options,
                answer=_answer_index(required_text(row, layout.answer), options),
                extra={} if drive_id is None else {"google_drive_id": drive_id},
            ))
        except BadField as problem:
            log.report(table.path, location, str(problem))
    return ReadResult.checked(records, log.problems, str(table.path))


def _layout(table: CsvTable) -> _Layout:
    for layout in _NAMED_LAYOUTS:
        if all(name in table.header for name in (layout.q_uid, layout.question, layout.answer, *layout.options)):
            return layout if layout.drive_id in table.header else replace(layout, drive_id=None)
    if len(table.header) != 5 + NUM_OPTIONS:
        # the reference takes every column from 5 on as an option; more or fewer would shift them
        raise MalformedRow(f"{table.path}, line 1 (header): unknown column names and {len(table.header)} columns; "
                           f"expected IG-VLM's ',video_name,question_id,question,answer,a0..a4' "
                           f"or {5 + NUM_OPTIONS} columns read by position")
    return _POSITIONAL


def _row(table: CsvTable, layout: _Layout, fields: list[str]) -> dict[str, str]:
    return table.by_column(fields) if layout.by_name else table.by_position(fields)


def _answer_index(answer: str, options: Sequence[str]) -> int:
    matches = [i for i, option in enumerate(options) if option == answer]
    if len(matches) != 1:
        which = "no option" if not matches else f"options {', '.join(map(str, matches))}"
        raise BadField(f"answer text {answer!r} equals {which}; expected exactly one")
    return matches[0]
