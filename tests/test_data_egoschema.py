"""EgoSchema reader: questions.json with and without the subset answers file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from infvideo.data.egoschema import read_egoschema
from infvideo.data.record import MalformedRow, QuestionRecord

UIDS = ["0074f737-11cb-497d-8d07-77c3a8127391", "00b9a0de-c59e-49cb-a127-6081e2fb8c8e", "00f93e1e-cf4e-4835-88b4-4ad68216e86f"]


def question(q_uid: str, n: int) -> dict[str, Any]:
    return {
        "q_uid": q_uid,
        "google_drive_id": f"drive-{n}",
        "question": f"What is c doing overall, {n}?",
        **{f"option {i}": f"option text {n}.{i}" for i in range(5)},
    }


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


@pytest.fixture
def questions_file(tmp_path: Path) -> Path:
    return write_json(tmp_path / "questions.json", [question(uid, n) for n, uid in enumerate(UIDS)])


def test_subset_with_answers_field_by_field(tmp_path: Path, questions_file: Path) -> None:
    answers = write_json(tmp_path / "subset_answers.json", {UIDS[2]: 4, UIDS[0]: 1})
    result = read_egoschema(questions_file, tmp_path / "videos", answers_path=answers)

    assert result.problems == []
    assert [r.id for r in result.records] == [UIDS[0], UIDS[2]]  # questions.json order, subset only
    assert result.records[0] == QuestionRecord(
        id=UIDS[0],
        dataset="egoschema",
        video_id=UIDS[0],
        video_path=os.path.join(str(tmp_path / "videos"), f"{UIDS[0]}.mp4"),
        question="What is c doing overall, 0?",
        options=tuple(f"option text 0.{i}" for i in range(5)),
        answer=1,
        extra={"google_drive_id": "drive-0"},
    )
    assert result.records[1].answer == 4 and result.records[1].answer_letter == "E"


def test_full_set_without_answers(tmp_path: Path, questions_file: Path) -> None:
    records = read_egoschema(questions_file, tmp_path, video_pattern="{video}/{video}.pt").records
    assert [r.id for r in records] == UIDS
    assert all(r.answer is None and r.answer_letter is None for r in records)
    assert records[1].video_path == os.path.join(str(tmp_path), f"{UIDS[1]}/{UIDS[1]}.pt")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda q: q.pop("option 3"), "missing 'option 3'"),
        (lambda q: q.update({"option 5": "extra"}), "expected exactly 5 options"),
        (lambda q: q.pop("question"), "missing 'question'"),
        (lambda q: q.pop("q_uid"), "missing 'q_uid'"),
    ],
)
def test_malformed_question_raises_naming_file_and_item(tmp_path: Path, change, reason: str) -> None:
    items = [question(uid, n) for n, uid in enumerate(UIDS)]
    change(items[1])
    questions_file = write_json(tmp_path / "questions.json", items)
    with pytest.raises(MalformedRow) as caught:
        read_egoschema(questions_file, tmp_path)
    assert str(questions_file) in str(caught.value) and "[1]" in str(caught.value)
    assert reason in str(caught.value)


def test_skip_mode_reports_bad_questions_and_bad_answers(tmp_path: Path) -> None:
    items = [question(uid, n) for n, uid in enumerate(UIDS)]
    del items[1]["option 4"]
    questions_file = write_json(tmp_path / "questions.json", items)
    answers = write_json(tmp_path / "subset_answers.json", {UIDS[0]: 5, UIDS[1]: 2, UIDS[2]: 0, "not-a-question": 3})
    result = read_egoschema(questions_file, tmp_path, answers_path=answers, on_error="skip")

    assert [r.id for r in result.records] == [UIDS[2]]
    problems = {(p.source, p.row): p.reason for p in result.problems}
    assert problems == {
        (str(answers), f"q_uid {UIDS[0]!r}"): "answer 5 is outside 0..4",
        (str(questions_file), f"[1] (q_uid={UIDS[1]})"): "missing 'option 4'",
        (str(answers), "q_uid 'not-a-question'"): "answer given for a question not in questions.json",
    }


def test_bad_answer_index_raises(tmp_path: Path, questions_file: Path) -> None:
    answers = write_json(tmp_path / "subset_answers.json", {UIDS[0]: "B"})
    with pytest.raises(MalformedRow, match="answer should be an integer"):
        read_egoschema(questions_file, tmp_path, answers_path=answers)


def test_broken_json_names_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "questions.json"
    broken.write_text('[\n  {"q_uid": "a",\n  oops\n]')
    with pytest.raises(MalformedRow, match=r"questions\.json, line 3: invalid JSON"):
        read_egoschema(broken, tmp_path)


def test_not_a_list_is_malformed(tmp_path: Path) -> None:
    questions_file = write_json(tmp_path / "questions.json", {"q_uid": "a"})
    with pytest.raises(MalformedRow, match="expected a JSON list"):
        read_egoschema(questions_file, tmp_path)


def test_missing_files_are_named(tmp_path: Path, questions_file: Path) -> None:
    with pytest.raises(FileNotFoundError, match="questions_missing.json"):
        read_egoschema(tmp_path / "questions_missing.json", tmp_path)
    with pytest.raises(FileNotFoundError, match="answers_missing.json"):
        read_egoschema(questions_file, tmp_path, answers_path=tmp_path / "answers_missing.json")
