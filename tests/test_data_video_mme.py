"""Video-MME reader: the parquet file and the equivalent JSONL give the same records."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from infvideo.data import MalformedRow, QuestionRecord, option_letter, option_texts, read_video_mme, strip_option_letter

ROWS: list[dict[str, Any]] = [
    {"video_id": "001", "duration": "short", "domain": "Knowledge", "sub_category": "Humanity & History",
     "url": "https://www.youtube.com/watch?v=fFjv93ACGo8", "videoID": "fFjv93ACGo8", "question_id": "001-1",
     "task_type": "Counting Problem", "question": "When demonstrating the Germany modern Christmas tree, "
     "how many colors are there?", "options": ["A. Two.", "B. Three.", "C. Four.", "D. Five."], "answer": "C"},
    {"video_id": "001", "duration": "short", "domain": "Knowledge", "sub_category": "Humanity & History",
     "url": "https://www.youtube.com/watch?v=fFjv93ACGo8", "videoID": "fFjv93ACGo8", "question_id": "001-2",
     "task_type": "Information Synopsis", "question": "What is the genre of this video?",
     "options": ["A. A news report.", "B. A documentary.", "C. A vlog.", "D. A tutorial."], "answer": "B"},
    {"video_id": "601", "duration": "long", "domain": "Sports Competition", "sub_category": "Football",
     "url": "https://www.youtube.com/watch?v=abcdefghijk", "videoID": "abcdefghijk", "question_id": "601-3",
     "task_type": "Temporal Reasoning", "question": "What happens after the goal?",
     "options": ["A. A red card.", "B. A substitution.", "C. Celebration.", "D. Half time."], "answer": "A"},
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
        extra={"duration": "short", "domain": "Knowledge", "sub_category": "Humanity & History",
               "url": "https://www.youtube.com/watch?v=fFjv93ACGo8", "video_number": "001"},
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
        (lambda r: r.update(options=[r["options"][1], r["options"][0], *r["options"][2:]]),
         "should start with 'A. '"),
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
    with pytest.raises(ValueError, match="file_format"):
        read_video_mme(other, tmp_path)
    assert len(read_video_mme(other, tmp_path, file_format="jsonl").records) == 3


def test_missing_annotation_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.jsonl"):
        read_video_mme(tmp_path / "missing.jsonl", tmp_path)
