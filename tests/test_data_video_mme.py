"""Video-MME reader: the parquet file and the equivalent JSONL give the same records."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from infvideo.data.record import MalformedRow, QuestionRecord, option_letter, option_texts, strip_option_letter
from infvideo.data.video_mme import read_video_mme

ROWS: list[dict[str, Any]] = [
    {
        "video_id": "001",
        "duration": "short",
        "domain": "Knowledge",
        "sub_category": "Humanity & History",
        "url": "https://www.youtube.com/watch?v=fFjv93ACGo8",
        "videoID": "fFjv93ACGo8",
        "question_id": "001-1",
        "task_type": "Counting Problem",
        "question": "When demonstrating the Germany modern Christmas tree, how many colors are there?",
        "options": ["A. Two.", "B. Three.", "C. Four.", "D. Five."],
        "answer": "C",
    },
    {
        "video_id": "001",
        "duration": "short",
        "domain": "Knowledge",
        "sub_category": "Humanity & History",
        "url": "https://www.youtube.com/watch?v=fFjv93ACGo8",
        "videoID": "fFjv93ACGo8",
        "question_id": "001-2",
        "task_type": "Information Synopsis",
        "question": "What is the genre of this video?",
        "options": ["A. A news report.", "B. A documentary.", "C. A vlog.", "D. A tutorial."],
        "answer": "B",
    },
    {
        "video_id": "601",
        "duration": "long",
        "domain": "Sports Competition",
        "sub_category": "Football",
        "url": "https://www.youtube.com/watch?v=abcdefghijk",
        "videoID": "abcdefghijk",
        "question_id": "601-3",
        "task_type": "Temporal Reasoning",
        "question": "What happens after the goal?",
        "options": ["A. A red card.", "B. A substitution.", "C. Celebration.", "D. Half time."],
        "answer": "A",
    },
]


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    import pyarrow as pa  # a dependency of infvideo (Video-MME ships parquet)
    import pyarrow.parquet as parquet

    parquet.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_jsonl_rows_field_by_field(tmp_path: Path) -> None:
    result = read_video_mme(write_jsonl(tmp_path / "videomme.jsonl", ROWS), tmp_path / "videos")
    assert result.problems == []
    assert [r.id for r in result.records] == ["001-1", "001-2", "601-3"]
    assert result.records[0] == QuestionRecord(
        id="001-1",
        dataset="video_mme",
        video_id="fFjv93ACGo8",
        video_path=os.path.join(str(tmp_path / "videos"), "fFjv93ACGo8.mp4"),
        question="When demonstrating the Germany modern Christmas tree, how many colors are there?",
        options=("A. Two.", "B. Three.", "C. Four.", "D. Five."),
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
    assert result.records[0].answer_letter == "C"
    assert [r.answer for r in result.records] == [2, 1, 0]
    assert result.records[2].extra["duration"] == "long"


def test_parquet_and_jsonl_give_equal_records(tmp_path: Path) -> None:
    from_parquet = read_video_mme(write_parquet(tmp_path / "test-00000-of-00001.parquet", ROWS), "/v")
    from_jsonl = read_video_mme(write_jsonl(tmp_path / "videomme.jsonl", ROWS), "/v")
    assert from_parquet.records == from_jsonl.records
    assert len(from_parquet.records) == 3


def test_parquet_malformed_row_names_row_index(tmp_path: Path) -> None:
    rows = [dict(row) for row in ROWS]
    rows[1]["answer"] = "E"
    parquet_file = write_parquet(tmp_path / "videomme.parquet", rows)
    with pytest.raises(MalformedRow, match=r"videomme\.parquet, row index 1: answer should be one of A, B, C, D"):
        read_video_mme(parquet_file, tmp_path)


def test_option_helpers_strip_the_letter_prefix(tmp_path: Path) -> None:
    (record, *_) = read_video_mme(write_jsonl(tmp_path / "videomme.jsonl", ROWS), tmp_path).records
    assert option_texts(record) == ("Two.", "Three.", "Four.", "Five.")
    assert record.options[record.answer] == "C. Four."
    assert option_letter("B. Three.") == "B" and option_letter("three") is None
    assert strip_option_letter("A.No space") == "No space"
    assert strip_option_letter("B. text", "A") == "B. text"  # only the expected letter is stripped
    bare = QuestionRecord("q", "nextqa", "v", "v.mp4", "?", options=("a dog", "B. C. cats"))
    assert option_texts(bare) == ("a dog", "C. cats")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: r.update(options=r["options"][:3]), "expected 4 options, got 3"),
        (lambda r: r.update(options=[r["options"][1], r["options"][0], *r["options"][2:]]), "should start with 'A. '"),
        (lambda r: r.update(answer="c"), "answer should be one of A, B, C, D"),
        (lambda r: r.pop("videoID"), "missing 'videoID'"),
        (lambda r: r.update(options="A. Two."), "'options' should be a list of strings"),
    ],
)
def test_malformed_rows_raise_naming_file_and_line(tmp_path: Path, change, reason: str) -> None:
    rows = [dict(row) for row in ROWS]
    change(rows[2])
    jsonl = write_jsonl(tmp_path / "videomme.jsonl", rows)
    with pytest.raises(MalformedRow) as caught:
        read_video_mme(jsonl, tmp_path)
    assert f"{jsonl}, line 3: " in str(caught.value) and reason in str(caught.value)


def test_skip_mode_survives_a_broken_json_line(tmp_path: Path) -> None:
    jsonl = tmp_path / "videomme.jsonl"
    jsonl.write_text(json.dumps(ROWS[0]) + "\n{not json\n\n" + json.dumps(ROWS[2]) + "\n")
    result = read_video_mme(jsonl, tmp_path, on_error="skip")
    assert [r.id for r in result.records] == ["001-1", "601-3"]
    (problem,) = result.problems
    assert problem.row == "line 2" and problem.reason.startswith("invalid JSON")


def test_unreadable_parquet_and_unknown_suffix(tmp_path: Path) -> None:
    fake = tmp_path / "videomme.parquet"
    fake.write_text("not parquet")
    with pytest.raises(MalformedRow, match="not a readable parquet file"):
        read_video_mme(fake, tmp_path)
    other = write_jsonl(tmp_path / "videomme.txt", ROWS)
    with pytest.raises(ValueError, match=r"suffix .\.txt.; give the annotations as \.parquet, \.jsonl or \.json"):
        read_video_mme(other, tmp_path)
    assert len(read_video_mme(other, tmp_path, file_format="jsonl").records) == 3


def test_missing_annotation_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.jsonl"):
        read_video_mme(tmp_path / "missing.jsonl", tmp_path)


# --- duration: the metrics group by it, so a value outside short/medium/long must not pass ------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: r.update(duration="Long"), "duration 'Long' should be one of 'short', 'medium', 'long'"),
        (lambda r: r.update(duration="extra-long"), "duration 'extra-long' should be one of"),
        (lambda r: r.update(duration=3), "duration 3 should be one of"),
        (lambda r: r.pop("duration"), "missing 'duration'"),
        (lambda r: r.update(duration=None), "missing 'duration'"),
    ],
)
def test_duration_outside_the_three_categories_is_a_named_error(tmp_path: Path, change, reason: str) -> None:
    rows = [dict(row) for row in ROWS]
    change(rows[1])
    jsonl = write_jsonl(tmp_path / "videomme.jsonl", rows)
    with pytest.raises(MalformedRow) as caught:
        read_video_mme(jsonl, tmp_path)
    assert f"{jsonl}, line 2: " in str(caught.value) and reason in str(caught.value)

    result = read_video_mme(jsonl, tmp_path, on_error="skip")
    assert [r.id for r in result.records] == ["001-1", "601-3"]
    assert [(p.row, reason in p.reason) for p in result.problems] == [("line 2", True)]


def test_parquet_row_without_duration_is_a_named_error(tmp_path: Path) -> None:
    rows = [dict(row) for row in ROWS]
    rows[0]["duration"] = None  # a parquet column cannot be absent from one row, only null
    parquet_file = write_parquet(tmp_path / "videomme.parquet", rows)
    with pytest.raises(MalformedRow, match=r"videomme\.parquet, row index 0: missing 'duration'"):
        read_video_mme(parquet_file, tmp_path)


def test_every_duration_category_is_accepted(tmp_path: Path) -> None:
    rows = [dict(row, duration=duration) for row, duration in zip(ROWS, ("short", "medium", "long"))]
    records = read_video_mme(write_jsonl(tmp_path / "videomme.jsonl", rows), tmp_path).records
    assert [r.extra["duration"] for r in records] == ["short", "medium", "long"]


# --- the flat JSON export: a list of rows (pandas orient="records") or JSON Lines (datasets) -----

EXPORTS = Path(__file__).resolve().parent / "video_mme_exports"  # written by make_exports.py there


def export_rows() -> list[dict[str, Any]]:
    return json.loads((EXPORTS / "rows.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["rows.json", "pandas_records.json", "datasets_to_json.json"])
def test_flat_json_exports_read_like_the_jsonl(tmp_path: Path, name: str) -> None:
    expected = read_video_mme(write_jsonl(tmp_path / "videomme.jsonl", export_rows()), "/v").records
    result = read_video_mme(EXPORTS / name, "/v")
    assert result.problems == []
    assert result.records == expected
    # what the writers escape comes back as written: "\/" in urls, "\u00e9" in text
    assert [r.id for r in result.records] == ["001-1", "001-2", "601-3"]
    assert result.records[1].question == "Which café is shown?"
    assert result.records[0].extra["url"] == "https://www.youtube.com/watch?v=fFjv93ACGo8"
    assert [r.extra["duration"] for r in result.records] == ["short", "short", "long"]


def test_flat_json_is_what_read_benchmark_reads_by_suffix(tmp_path: Path) -> None:
    json_file = tmp_path / "videomme.json"
    json_file.write_text(json.dumps(ROWS))
    from infvideo.eval.tasks import read_benchmark

    assert read_benchmark("video_mme", json_file, "/v") == read_video_mme(write_jsonl(tmp_path / "v.jsonl", ROWS), "/v").records


def test_flat_json_bad_row_names_its_position_and_skip_keeps_the_rest(tmp_path: Path) -> None:
    rows = [dict(row) for row in ROWS]
    rows[1]["answer"] = "E"
    json_file = tmp_path / "videomme.json"
    json_file.write_text(json.dumps(rows, indent=2))
    with pytest.raises(MalformedRow, match=r"videomme\.json, \[1\]: answer should be one of A, B, C, D"):
        read_video_mme(json_file, tmp_path)
    result = read_video_mme(json_file, tmp_path, on_error="skip")
    assert [r.id for r in result.records] == ["001-1", "601-3"]
    assert [p.row for p in result.problems] == ["[1]"]


@pytest.mark.parametrize(
    "content",
    [
        json.dumps([{"videoID": "x", "question": "q?"}]),  # rows, but neither flat rows nor videos
        json.dumps({"video_id": {"0": "001"}, "question_id": {"0": "001-1"}}),  # pandas' default orient="columns"
        json.dumps({"questions": []}) + "\n",  # one object, not a row
        "",
        "   \n",
    ],
)
def test_json_that_is_neither_layout_says_which_were_expected(tmp_path: Path, content: str) -> None:
    json_file = tmp_path / "videomme.json"
    json_file.write_text(content)
    with pytest.raises(MalformedRow) as caught:
        read_video_mme(json_file, tmp_path, on_error="skip")  # nothing in such a file is a row to skip
    message = str(caught.value)
    assert str(json_file) in message
    assert "question_id" in message and "questions" in message and "JSON Lines" in message


def test_empty_json_list_has_no_questions(tmp_path: Path) -> None:
    json_file = tmp_path / "videomme.json"
    json_file.write_text("[]")
    assert read_video_mme(json_file, tmp_path).records == []


def test_file_format_forces_the_layout(tmp_path: Path) -> None:
    json_file = tmp_path / "videomme.json"
    json_file.write_text(json.dumps(ROWS))
    assert len(read_video_mme(json_file, tmp_path, file_format="json_records").records) == 3
    with pytest.raises(MalformedRow, match=r"\[0\]: missing 'duration_category'"):
        read_video_mme(json_file, tmp_path, file_format="grouped_json")
    lines = write_jsonl(tmp_path / "rows.json", ROWS)  # JSON Lines named .json, as datasets writes
    assert len(read_video_mme(lines, tmp_path).records) == 3
    with pytest.raises(ValueError, match="file_format must be one of"):
        read_video_mme(json_file, tmp_path, file_format="csv")
