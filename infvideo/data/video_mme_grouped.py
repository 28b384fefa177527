"""Video-MME grouped by video, the JSON ∞-VideoChat2's ``run_videomme_mistral.py`` reads.

A JSON list of videos ``{"url": "https://www.youtube.com/watch?v=<id>", "duration_category":
"short" | "medium" | "long", "questions": [{"question", "options": ["A. ..", ..], "answer": "A"}]}``,
possibly with ``video_id``, ``domain``, ``sub_category`` per video and ``question_id``,
``task_type`` per question. Each question is flattened into the row the parquet/JSONL files have,
so ``video_mme`` turns all three formats into records by one rule.

* ``videoID`` (the video's file name) is the text after ``watch?v=`` in the url, up to a ``&`` or
  ``#`` if any: the reference keeps everything after ``watch?v=``, which only differs for urls with
  more query parameters, where its file name could not exist anyway.
* ``question_id`` is the question's own when given, else ``"<videoID>-<k>"`` with k its 1-based
  position among that video's questions, after Video-MME's own ``"001-1"`` numbering. Those ids
  are stable as long as the file is; a video listed twice gives repeated ids, which the reader
  refuses (``DuplicateIdError``) rather than silently merging two questions' predictions.
* ``duration_category`` becomes ``duration``, the name the flat rows (and the metrics) use; a video
  without one is a problem at the video's place in the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

from infvideo.data.annotation_files import load_json_file
from infvideo.data.fields import BadField, optional, required, required_text
from infvideo.data.record import MalformedRow

WATCH = "watch?v="
# per-video keys copied into every question's row, under the flat format's names
VIDEO_FIELDS = {"duration_category": "duration", "domain": "domain", "sub_category": "sub_category",
                "video_id": "video_id"}
_END_OF_ID = re.compile(r"[&#]")


def grouped_rows(file: str | os.PathLike[str]) -> Iterator[tuple[str, Any]]:
    return flatten_videos(load_json_file(file), file)


def is_video(item: Any) -> bool:
    """Whether ``item`` has this layout's shape (a video with its list of questions)."""
    return isinstance(item, dict) and isinstance(item.get("questions"), list)


def flatten_videos(videos: Any, file: str | os.PathLike[str]) -> Iterator[tuple[str, Any]]:
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


def video_id_from_url(url: str) -> str:
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
    return {**shared, "url": url, "videoID": video_id_from_url(url)}, questions


def _flat_row(shared: dict[str, Any], question: Any, k: int) -> Any:
    if not isinstance(question, dict):
        return BadField(f"expected a JSON object (one question), got {type(question).__name__}")
    row = {**shared, **{key: question[key] for key in ("question", "options", "answer", "task_type")
                        if key in question}}
    given_id = optional(question, "question_id")
    row["question_id"] = given_id if given_id is not None else f"{shared['videoID']}-{k + 1}"
    return row
