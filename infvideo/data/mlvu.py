"""MLVU, the multiple-choice tasks of the dev set: one JSON file per task, a folder of videos per task.

The release (docs/benchmarks.md) has ``json/1_plotQA.json`` .. ``json/7_topic_reasoning.json``, each a
list of ``{video, duration, question, candidates, answer, question_type}`` with ``answer`` the TEXT of
the right candidate, and the videos in ``video/<the JSON file's stem>/`` (``video/1_plotQA/...``).
Video names repeat across tasks, so the task folder is part of where a video lies and of its id.
``8_sub_scene.json`` and ``9_summary.json`` are the open-ended generation tasks and are not read.

Records: ``id`` ``"{task}_{k}"`` with k the row's position in its file (it stays put when another
row is skipped), ``video_id`` ``"{task}/{video name without extension}"``, the candidates as given,
``answer`` the index of the one candidate equal to ``answer``, ``question_type`` the task named by
the file (``2_needle.json`` -> ``"needle"``; the rows' own ``question_type`` says ``"findNeedle"``
there, while MLVU's scripts score per file), ``extra`` the ``duration`` in seconds.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from infvideo.data.record import OPTION_LETTERS, MalformedRow, QuestionRecord
from infvideo.data.rows import (
    BadField,
    OnError,
    ProblemLog,
    ReadResult,
    bad_byte_reason,
    check_utf8,
    check_video_pattern,
    existing_file,
    existing_folder,
    load_json_file,
    option_list,
    optional,
    required_text,
    video_path,
)

# The seven multiple-choice tasks M-Avg averages over, in MLVU's numbering.
TASK_FILES = (
    "1_plotQA.json",
    "2_needle.json",
    "3_ego.json",
    "4_count.json",
    "5_order.json",
    "6_anomaly_reco.json",
    "7_topic_reasoning.json",
)
_NUMBER_PREFIX = re.compile(r"^\d+_")  # "2_" of "2_needle"


def read_mlvu(
    annotation_path: str | os.PathLike[str],
    video_folder: str | os.PathLike[str],
    *,
    video_pattern: str | None = None,
    on_error: OnError = "raise",
) -> ReadResult:
    """``annotation_path``: the folder holding the seven task files (all of them: M-Avg is their mean),
    or one task file. ``video_folder``: the folder of the per-task video folders. A video is
    ``<video_folder>/<task file stem>/<video>`` as the row names it; with ``video_pattern``, the
    pattern filled with ``{video}`` = ``"<task file stem>/<name without extension>"`` and
    ``{video_id}`` = the record's video id (``"{video_id}.mp4"`` fits a layout of folders named by task)."""
    check_video_pattern(video_pattern)
    log = ProblemLog(on_error)
    records: list[QuestionRecord] = []
    for file in task_files(annotation_path):
        records.extend(_read_task(file, video_folder, video_pattern, log))
    return ReadResult.checked(records, log.problems, os.fspath(annotation_path))


def task_files(annotation_path: str | os.PathLike[str]) -> list[Path]:
    path = Path(annotation_path)
    if path.is_file():
        return [path]
    folder = existing_folder(path, "MLVU annotation folder")
    missing = [name for name in TASK_FILES if not (folder / name).is_file()]
    if missing:
        # a folder with some tasks only would give an M-Avg over fewer tasks than the benchmark's
        raise FileNotFoundError(
            f"MLVU annotation folder {folder} lacks {', '.join(missing)}; "
            f"give the folder with all seven multiple-choice task files, or one task file"
        )
    return [folder / name for name in TASK_FILES]


def task_name(file: Path) -> str:
    """``2_needle.json`` -> ``"needle"``: the task key MLVU's scripts score by."""
    return _NUMBER_PREFIX.sub("", file.stem, count=1) or file.stem


# The task names, in MLVU's order: what question_type holds, and the entries M-Avg averages.
TASKS = tuple(task_name(Path(name)) for name in TASK_FILES)


def _read_task(file: Path, video_folder: str | os.PathLike[str], video_pattern: str | None, log: ProblemLog) -> list[QuestionRecord]:
    rows = load_json_file(existing_file(file))
    if not isinstance(rows, list):
        raise MalformedRow(f"{file}: expected a JSON list of questions, got {type(rows).__name__}")
    records = []
    for position, row in enumerate(rows):
        try:
            records.append(_record(row, position, file, video_folder, video_pattern))
        except BadField as problem:
            log.report(file, _describe(position, row), str(problem))
    return records


def _record(row: Any, position: int, file: Path, video_folder: str | os.PathLike[str], video_pattern: str | None) -> QuestionRecord:
    if not isinstance(row, dict):
        raise BadField(f"expected a JSON object, got {type(row).__name__}")
    check_utf8(row)
    task = task_name(file)
    video = required_text(row, "video").strip()
    name = os.path.splitext(video)[0]
    if video_pattern is None:
        path = os.path.join(os.fspath(video_folder), file.stem, video)
    else:
        path = video_path(video_folder, video_pattern, f"{task}/{name}", location=f"{file.stem}/{name}")
    options = option_list(row, "candidates")
    duration = optional(row, "duration")
    return QuestionRecord(
        id=f"{task}_{position}",
        dataset="mlvu",
        video_id=f"{task}/{name}",
        video_path=path,
        question=required_text(row, "question"),
        options=options,
        answer=_answer_index(required_text(row, "answer"), options),
        question_type=task,
        extra={} if duration is None else {"duration": duration},
    )


def _answer_index(answer: str, options: tuple[str, ...]) -> int:
    # MLVU's scripts compare the texts exactly (``c == answer``); so does this
    matches = [i for i, option in enumerate(options) if option == answer]
    if not matches:
        raise BadField(f"answer {answer!r} is not one of the candidates")
    if len(matches) > 1:
        letters = ", ".join(OPTION_LETTERS[i] for i in matches)
        raise BadField(f"answer {answer!r} is candidates {letters} alike, so the right letter is ambiguous")
    return matches[0]


def _describe(position: int, row: Any) -> str:
    video = row.get("video") if isinstance(row, dict) else None
    if not isinstance(video, str) or bad_byte_reason(video) is not None:  # a bad byte cannot be printed
        return f"[{position}]"
    return f"[{position}] (video={video})"
