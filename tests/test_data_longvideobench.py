"""LongVideoBench reader: lvb_val.json (tests/data_fixtures/longvideobench, rows in the release's format)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from infvideo.data.longvideobench import read_longvideobench
from infvideo.data.record import BadReaderOption, DuplicateIdError, MalformedRow, QuestionRecord

FIXTURE = Path(__file__).parent / "data_fixtures" / "longvideobench" / "lvb_val.json"


def fixture_rows() -> list[dict[str, Any]]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def write_rows(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "lvb_val.json"
    path.write_text(json.dumps(data, indent=4), encoding="utf-8")
    return path


def test_rows_field_by_field(tmp_path: Path) -> None:
    result = read_longvideobench(FIXTURE, tmp_path / "videos")

    assert result.problems == []
    assert [r.id for r in result.records] == ["86CxyhFV9MI_0", "86CxyhFV9MI_1", "-Pq3Dd2A3-s_0"]
    assert result.records[0] == QuestionRecord(
        id="86CxyhFV9MI_0",
        dataset="longvideobench",
        video_id="86CxyhFV9MI",
        video_path=os.path.join(str(tmp_path / "videos"), "86CxyhFV9MI.mp4"),
        question="In the scene where a woman in a red coat says 'let us go', what is she holding?",
        options=("An umbrella", "A map", "A suitcase", "A camera", "A dog leash"),
        answer=2,
        question_type="TOS",
        extra={"duration_group": 600, "duration": 563.37},
    )
    # the option count varies (5, 4 and 3 here), so the letters do too
    assert [r.option_letters for r in result.records] == ["ABCDE", "ABCD", "ABC"]
    assert [r.answer_letter for r in result.records] == ["C", "A", "B"]
    assert [r.extra["duration_group"] for r in result.records] == [600, 600, 15]


def test_video_pattern_uses_video_id_and_video_path(tmp_path: Path) -> None:
    by_id = read_longvideobench(FIXTURE, tmp_path, video_pattern="{video_id}/{video_id}.pt").records[2]
    assert by_id.video_path == os.path.join(str(tmp_path), "-Pq3Dd2A3-s/-Pq3Dd2A3-s.pt")
    by_path = read_longvideobench(FIXTURE, tmp_path, video_pattern="{video}.mkv").records[0]
    assert by_path.video_path == os.path.join(str(tmp_path), "86CxyhFV9MI.mkv")


def test_row_without_video_path_falls_back_to_the_video_id(tmp_path: Path) -> None:
    rows = fixture_rows()
    del rows[0]["video_path"]
    record = read_longvideobench(write_rows(tmp_path, rows), tmp_path).records[0]
    assert record.video_path == os.path.join(str(tmp_path), "86CxyhFV9MI.mp4")


def test_bad_video_pattern_is_refused_before_reading(tmp_path: Path) -> None:
    with pytest.raises(BadReaderOption, match="uses neither"):
        read_longvideobench(tmp_path / "missing.json", tmp_path, video_pattern="video.mp4")


def test_bad_on_error_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadReaderOption, match="on_error must be one of"):
        read_longvideobench(FIXTURE, tmp_path, on_error="ignore")


def _set(key: str, value: Any):
    return lambda row: row.update({key: value})


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda row: row.pop("correct_choice"), "missing 'correct_choice'"),  # e.g. a row of lvb_test_wo_gt.json
        (lambda row: row.pop("candidates"), "missing 'candidates'"),
        (lambda row: row.pop("question"), "missing 'question'"),
        (lambda row: row.pop("video_id"), "missing 'video_id'"),
        (lambda row: row.pop("id"), "missing 'id'"),
        (lambda row: row.pop("duration_group"), "missing 'duration_group'"),
        (_set("correct_choice", 4), "correct_choice 4 is outside 0..3"),  # row [1] has 4 candidates
        (_set("correct_choice", -1), "correct_choice -1 is outside 0..3"),
        (_set("correct_choice", "B"), "correct_choice should be an integer, got 'B'"),
        (_set("correct_choice", True), "correct_choice should be an integer"),
        (_set("duration_group", 120), "duration_group 120 should be one of 15, 60, 600, 3600"),
        (_set("duration_group", "long"), "duration_group should be an integer"),
        (_set("candidates", {"A": "He opens a door"}), "'candidates' should be a list of non-blank texts"),
        (_set("candidates", ["He opens a door", None]), "'candidates' should be a list of non-blank texts"),
        (_set("candidates", ["He opens a door"]), "expected 2 to 10 candidates"),
        (_set("candidates", [f"option {i}" for i in range(11)]), "got 11"),
        (_set("video_path", ["86CxyhFV9MI.mp4"]), "'video_path' should be text"),
    ],
)
def test_malformed_row_raises_naming_file_and_row(tmp_path: Path, change, reason: str) -> None:
    rows = fixture_rows()
    change(rows[1])
    file = write_rows(tmp_path, rows)
    with pytest.raises(MalformedRow) as caught:
        read_longvideobench(file, tmp_path)
    message = str(caught.value)
    assert str(file) in message and "[1]" in message and reason in message


def test_row_that_is_not_an_object(tmp_path: Path) -> None:
    file = write_rows(tmp_path, [*fixture_rows(), ["86CxyhFV9MI"]])
    with pytest.raises(MalformedRow, match=r"lvb_val.json, \[3\]: expected a JSON object, got list"):
        read_longvideobench(file, tmp_path)


@pytest.mark.parametrize("document", [{"86CxyhFV9MI_0": {}}, "lvb_val", 3])
def test_file_that_is_not_a_list_is_refused_whole(tmp_path: Path, document: Any) -> None:
    file = write_rows(tmp_path, document)
    with pytest.raises(MalformedRow, match="expected a JSON list of questions"):
        read_longvideobench(file, tmp_path, on_error="skip")


def test_non_utf8_byte_loses_only_its_row(tmp_path: Path) -> None:
    text = FIXTURE.read_text(encoding="utf-8").replace("breakfast", "breakf\udce4st")  # a Latin-1 ä
    file = tmp_path / "lvb_val.json"
    file.write_bytes(text.encode("utf-8", errors="surrogateescape"))

    with pytest.raises(MalformedRow, match=r"\[2\] \(id=-Pq3Dd2A3-s_0\): not valid UTF-8: byte 0xE4 in 'question'"):
        read_longvideobench(file, tmp_path)
    result = read_longvideobench(file, tmp_path, on_error="skip")
    assert [r.id for r in result.records] == ["86CxyhFV9MI_0", "86CxyhFV9MI_1"]
    assert [p.row for p in result.problems] == ["[2] (id=-Pq3Dd2A3-s_0)"]


def test_skip_mode_lists_bad_rows(tmp_path: Path) -> None:
    rows = fixture_rows()
    rows[0]["correct_choice"] = 9
    rows.insert(1, "not a row")
    result = read_longvideobench(write_rows(tmp_path, rows), tmp_path, on_error="skip")

    assert [r.id for r in result.records] == ["86CxyhFV9MI_1", "-Pq3Dd2A3-s_0"]
    assert [(p.row, p.reason) for p in result.problems] == [
        ("[0] (id=86CxyhFV9MI_0)", "correct_choice 9 is outside 0..4"),
        ("[1]", "expected a JSON object, got str"),
    ]


def test_repeated_id_is_refused_even_when_skipping(tmp_path: Path) -> None:
    rows = fixture_rows()
    rows[2]["id"] = rows[0]["id"]
    with pytest.raises(DuplicateIdError, match="'86CxyhFV9MI_0' \\(2x\\)"):
        read_longvideobench(write_rows(tmp_path, rows), tmp_path, on_error="skip")


def test_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="annotation file not found"):
        read_longvideobench(tmp_path / "lvb_val.json", tmp_path)
