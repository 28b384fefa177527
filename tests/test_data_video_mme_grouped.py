"""Video-MME as VideoChat2's JSON grouped by video (what ∞-VideoChat2's --data_path reads)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from infvideo.data.record import DuplicateIdError, MalformedRow, QuestionRecord
from infvideo.data.video_mme import read_video_mme
from infvideo.eval.tasks import read_benchmark

QUESTION_1 = {
    "question_id": "001-1",
    "task_type": "Counting Problem",
    "question": "How many colors are there?",
    "options": ["A. Two.", "B. Three.", "C. Four.", "D. Five."],
    "answer": "C",
}
QUESTION_2 = {
    "question_id": "001-2",
    "task_type": "Information Synopsis",
    "question": "What is the genre?",
    "options": ["A. News.", "B. Documentary.", "C. Vlog.", "D. Tutorial."],
    "answer": "B",
}
# what the reference itself needs and nothing more: no ids, no task types, no domain
BARE_QUESTIONS = [
    {
        "question": "What happens after the goal?",
        "options": ["A. A red card.", "B. A substitution.", "C. Celebration.", "D. Half time."],
        "answer": "A",
    },
    {"question": "Who scores?", "options": ["A. Nobody.", "B. The keeper.", "C. The striker.", "D. A defender."], "answer": "D"},
]


def videos() -> list[dict[str, Any]]:
    return [
        {
            "video_id": "001",
            "duration_category": "short",
            "domain": "Knowledge",
            "sub_category": "Humanity & History",
            "url": "https://www.youtube.com/watch?v=fFjv93ACGo8",
            "questions": [dict(QUESTION_1), dict(QUESTION_2)],
        },
        {"url": "https://www.youtube.com/watch?v=abcdefghijk", "duration_category": "long", "questions": [dict(q) for q in BARE_QUESTIONS]},
    ]


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def test_grouped_json_field_by_field(tmp_path: Path) -> None:
    result = read_video_mme(write_json(tmp_path / "videomme.json", videos()), tmp_path / "videos")
    assert result.problems == []
    # given question ids are kept; without them "<videoID>-<k>", k counting that video's questions from 1
    assert [r.id for r in result.records] == ["001-1", "001-2", "abcdefghijk-1", "abcdefghijk-2"]
    assert [r.answer for r in result.records] == [2, 1, 0, 3]
    assert result.records[0] == QuestionRecord(
        id="001-1",
        dataset="video_mme",
        video_id="fFjv93ACGo8",
        video_path=os.path.join(str(tmp_path / "videos"), "fFjv93ACGo8.mp4"),
        question="How many colors are there?",
        options=("A. Two.", "B. Three.", "C. Four.", "D. Five."),  # kept with their letters, as from parquet
        answer=2,
        question_type="Counting Problem",
        extra={
            "duration": "short",
            "domain": "Knowledge",
            "sub_category": "Humanity & History",
            "url": "https://www.youtube.com/watch?v=fFjv93ACGo8",
            "video_number": "001",
        },
    )
    assert result.records[3] == QuestionRecord(
        id="abcdefghijk-2",
        dataset="video_mme",
        video_id="abcdefghijk",
        video_path=os.path.join(str(tmp_path / "videos"), "abcdefghijk.mp4"),
        question="Who scores?",
        options=("A. Nobody.", "B. The keeper.", "C. The striker.", "D. A defender."),
        answer=3,
        extra={"duration": "long", "url": "https://www.youtube.com/watch?v=abcdefghijk"},
    )


def test_grouped_json_and_flat_jsonl_give_equal_records(tmp_path: Path) -> None:
    video = videos()[0]
    shared = {
        "video_id": "001",
        "duration": "short",
        "domain": "Knowledge",
        "sub_category": "Humanity & History",
        "url": video["url"],
        "videoID": "fFjv93ACGo8",
    }
    jsonl = tmp_path / "videomme.jsonl"
    jsonl.write_text("".join(json.dumps({**shared, **q}) + "\n" for q in video["questions"]))
    assert read_video_mme(write_json(tmp_path / "videomme.json", [video]), "/v").records == read_video_mme(jsonl, "/v").records


def test_video_pattern_and_extra_url_parameters(tmp_path: Path) -> None:
    data = videos()
    data[1]["url"] = "https://www.youtube.com/watch?v=abcdefghijk&t=30s"
    records = read_video_mme(write_json(tmp_path / "videomme.json", data), tmp_path, video_pattern="{video}/{video}.pt").records
    assert records[2].video_id == "abcdefghijk"  # the id stops at "&"; the url is kept whole in extra
    assert records[2].video_path == os.path.join(str(tmp_path), "abcdefghijk/abcdefghijk.pt")
    assert records[2].extra["url"] == "https://www.youtube.com/watch?v=abcdefghijk&t=30s"


@pytest.mark.parametrize(
    ("change", "row", "reason"),
    [
        (lambda v: v[1]["questions"][1].update(answer="E"), "[1].questions[1]", "answer should be one of A, B, C, D"),
        (lambda v: v[1]["questions"][0].update(options=["B. x", "A. y", "C. z", "D. w"]), "[1].questions[0]", "should start with 'A. '"),
        (lambda v: v[1]["questions"][0].pop("question"), "[1].questions[0]", "missing 'question'"),
        (
            lambda v: v[1]["questions"].__setitem__(0, "not a question"),
            "[1].questions[0]",
            "expected a JSON object (one question), got str",
        ),
        (
            lambda v: v[1].update(url="https://youtu.be/abcdefghijk"),
            "[1]",
            "url 'https://youtu.be/abcdefghijk' has no YouTube id after 'watch?v='",
        ),
        (lambda v: v[1].update(url="https://www.youtube.com/watch?v="), "[1]", "has no YouTube id"),
        (lambda v: v[1].pop("url"), "[1]", "missing 'url'"),
        (lambda v: v[1].update(questions={"question": "?"}), "[1]", "'questions' should be a list, got dict"),
    ],
)
def test_malformed_video_or_question_raises_naming_file_and_place(tmp_path: Path, change, row: str, reason: str) -> None:
    data = videos()
    change(data)
    json_file = write_json(tmp_path / "videomme.json", data)
    with pytest.raises(MalformedRow) as caught:
        read_video_mme(json_file, tmp_path)
    assert str(caught.value).startswith(f"{json_file}, {row}: ") and reason in str(caught.value)


def test_skip_mode_leaves_out_and_lists_bad_videos_and_questions(tmp_path: Path) -> None:
    data = [
        *videos(),
        {"url": "https://example.com/video.mp4", "duration_category": "medium", "questions": [dict(q) for q in BARE_QUESTIONS]},
    ]
    data[0]["questions"][1]["answer"] = "Z"
    json_file = write_json(tmp_path / "videomme.json", data)
    result = read_video_mme(json_file, tmp_path, on_error="skip")
    assert [r.id for r in result.records] == ["001-1", "abcdefghijk-1", "abcdefghijk-2"]
    assert [(p.source, p.row, p.reason) for p in result.problems] == [
        (str(json_file), "[0].questions[1]", "answer should be one of A, B, C, D, got 'Z'"),
        # a video without a usable url is one problem, not one per question
        (str(json_file), "[2]", "url 'https://example.com/video.mp4' has no YouTube id after 'watch?v='"),
    ]


def test_a_video_listed_twice_without_question_ids_is_refused(tmp_path: Path) -> None:
    data = videos()
    json_file = write_json(tmp_path / "videomme.json", [*data, data[1]])
    with pytest.raises(DuplicateIdError, match="'abcdefghijk-1' \\(2x\\)"):
        read_video_mme(json_file, tmp_path, on_error="skip")


def test_not_a_list_and_broken_json_are_malformed(tmp_path: Path) -> None:
    # one video rather than a list is none of the .json layouts
    with pytest.raises(MalformedRow, match="not a Video-MME layout"):
        read_video_mme(write_json(tmp_path / "videomme.json", videos()[0]), tmp_path)
    with pytest.raises(MalformedRow, match="expected a JSON list of videos, got dict"):
        read_video_mme(write_json(tmp_path / "videomme.json", videos()[0]), tmp_path, file_format="grouped_json")
    broken = tmp_path / "broken.json"
    broken.write_text('[\n  {"url": \n]')
    with pytest.raises(MalformedRow, match=r"broken\.json, line 3: invalid JSON"):
        read_video_mme(broken, tmp_path)


def test_read_benchmark_dispatches_json_and_format_can_be_named(tmp_path: Path) -> None:
    json_file = write_json(tmp_path / "videomme.json", videos())
    records = read_benchmark("video_mme", json_file, tmp_path / "videos")
    assert [(r.id, r.answer_letter, r.extra["duration"]) for r in records] == [
        ("001-1", "C", "short"),
        ("001-2", "B", "short"),
        ("abcdefghijk-1", "A", "long"),
        ("abcdefghijk-2", "D", "long"),
    ]
    other_suffix = write_json(tmp_path / "videomme.txt", videos())
    assert read_video_mme(other_suffix, tmp_path / "videos", file_format="grouped_json").records == records
    with pytest.raises(ValueError, match="'parquet', 'jsonl', 'grouped_json'"):
        read_video_mme(other_suffix, tmp_path, file_format="json")


def test_video_without_duration_category_is_one_problem(tmp_path: Path) -> None:
    data = videos()
    del data[1]["duration_category"]
    json_file = write_json(tmp_path / "videomme.json", data)
    with pytest.raises(MalformedRow, match=r"videomme\.json, \[1\]: missing 'duration_category'"):
        read_video_mme(json_file, tmp_path)
    result = read_video_mme(json_file, tmp_path, on_error="skip")
    assert [r.id for r in result.records] == ["001-1", "001-2"]
    assert [p.row for p in result.problems] == ["[1]"]


def test_duration_category_outside_the_three_is_refused(tmp_path: Path) -> None:
    data = videos()
    data[0]["duration_category"] = "medium-long"
    json_file = write_json(tmp_path / "videomme.json", data)
    with pytest.raises(
        MalformedRow,
        match=r"\[0\]\.questions\[0\]: duration 'medium-long' should be one of "
        r"'short', 'medium', 'long'",
    ):
        read_video_mme(json_file, tmp_path)
    result = read_video_mme(json_file, tmp_path, on_error="skip")
    assert [r.id for r in result.records] == ["abcdefghijk-1", "abcdefghijk-2"]
