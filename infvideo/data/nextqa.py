"""NExT-QA annotation csv files: multiple choice (NExT-QA) and open-ended (NExT-OE).

Multiple choice header: ``video,frame_count,width,height,question,answer,qid,type,a0,a1,a2,a3,a4``
with ``answer`` the index of the correct option. NExT-OE header:
``video,frame_count,width,height,question,answer,qid,type,additional_ref_answer`` with ``answer``
free text. Columns are read by name, so their order does not matter. Ids are ``"{video}_{qid}"``,
the key the reference's prediction files use.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from infvideo.data.record import MalformedRow, QuestionRecord
from infvideo.data.rows import (
    BadField,
    CsvTable,
    OnError,
    ProblemLog,
    ReadResult,
    check_utf8,
    check_video_pattern,
    load_json_file,
    optional,
    parse_index,
    parse_int,
    required_id,
    required_text,
    video_path,
)

NUM_OPTIONS = 5
OPTION_COLUMNS = tuple(f"a{i}" for i in range(NUM_OPTIONS))
COMMON_COLUMNS = ("video", "qid", "question", "answer")
MC_COLUMNS = (*COMMON_COLUMNS, "type", *OPTION_COLUMNS)  # type is what per-type accuracy groups by
OE_COLUMNS = COMMON_COLUMNS  # type is optional here: nothing in NExT-OE scoring needs it
VIDEO_SIZE_COLUMNS = ("frame_count", "width", "height")

VideoMap = Mapping[str, str]


def read_nextqa(
    annotation_path: str | os.PathLike[str],
    video_folder: str | os.PathLike[str],
    *,
    video_pattern: str | None = None,
    video_map: str | os.PathLike[str] | VideoMap | None = None,
    on_error: OnError = "raise",
) -> ReadResult:
    """NExT-QA multiple choice: five options a0..a4, ``answer`` = their index.

    ``video_map``: NExT-QA's ``map_vid_vidorID.json`` (or the dict it holds), mapping a video id to
    its path below the folder without extension (``"4010069381" -> "1164/4010069381"``), for the
    original nested layout; ``{video}`` in ``video_pattern`` then stands for the mapped path, while
    ``{video_id}`` stays the id. ``video_pattern`` None is ``"{video}.mp4"``.
    """

    def multiple_choice(row: dict[str, str]) -> dict[str, Any]:
        options = tuple(required_text(row, column) for column in OPTION_COLUMNS)
        return {"options": options, "answer": parse_index(row["answer"], "answer", NUM_OPTIONS)}

    return _read_csv(annotation_path, video_folder, MC_COLUMNS, multiple_choice, "nextqa", video_pattern, video_map, on_error)


def read_nextoe(
    annotation_path: str | os.PathLike[str],
    video_folder: str | os.PathLike[str],
    *,
    video_pattern: str | None = None,
    video_map: str | os.PathLike[str] | VideoMap | None = None,
    on_error: OnError = "raise",
) -> ReadResult:
    """NExT-OE open-ended: ``answer`` is the reference text; ``additional_ref_answer``, when
    given, goes to ``extra``. Arguments as for ``read_nextqa``."""

    def open_ended(row: dict[str, str]) -> dict[str, Any]:
        return {"answer_text": required_text(row, "answer")}

    return _read_csv(annotation_path, video_folder, OE_COLUMNS, open_ended, "nextoe", video_pattern, video_map, on_error)


def _read_csv(
    annotation_path: str | os.PathLike[str],
    video_folder: str | os.PathLike[str],
    required_columns: tuple[str, ...],
    answer_fields: Callable[[dict[str, str]], dict[str, Any]],
    dataset: str,
    video_pattern: str | None,
    video_map: str | os.PathLike[str] | VideoMap | None,
    on_error: OnError,
) -> ReadResult:
    log = ProblemLog(on_error)
    check_video_pattern(video_pattern)
    video_locations = _load_video_map(video_map)
    table = CsvTable(annotation_path, required_columns)
    records: list[QuestionRecord] = []
    for location, fields in table.rows:
        try:
            row = table.by_column(fields)
            video = required_id(row, "video")
            location_in_folder = None if video_locations is None else _mapped(video_locations, video)
            records.append(
                QuestionRecord(
                    id=f"{video}_{required_id(row, 'qid')}",
                    dataset=dataset,
                    video_id=video,
                    video_path=video_path(video_folder, video_pattern, video, location_in_folder),
                    question=required_text(row, "question"),
                    question_type=optional(row, "type"),
                    extra=_extra(row),
                    **answer_fields(row),
                )
            )
        except BadField as problem:
            log.report(table.path, location, str(problem))
    return ReadResult.checked(records, log.problems, str(table.path))


def _extra(row: dict[str, str]) -> dict[str, Any]:
    extra: dict[str, Any] = {column: parse_int(row[column], column) for column in VIDEO_SIZE_COLUMNS if optional(row, column) is not None}
    additional = optional(row, "additional_ref_answer")
    if additional is not None:
        extra["additional_ref_answer"] = additional
    return extra


def _load_video_map(video_map: str | os.PathLike[str] | VideoMap | None) -> VideoMap | None:
    if video_map is None or isinstance(video_map, Mapping):
        return video_map
    loaded = load_json_file(video_map, "NExT-QA video map")
    if not isinstance(loaded, dict):
        raise MalformedRow(f"{video_map}: expected a JSON object mapping video ids to paths")
    try:
        check_utf8(loaded)  # the whole map at once: it is one lookup table, not rows to skip
    except BadField as problem:
        raise MalformedRow(f"{video_map}: {problem}") from None
    return {str(key): str(value) for key, value in loaded.items()}


def _mapped(video_locations: VideoMap, video: str) -> str:
    if video not in video_locations:
        raise BadField(f"video {video!r} is not in the video map")
    return video_locations[video]
