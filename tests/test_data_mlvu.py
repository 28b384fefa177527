"""MLVU reader: the seven multiple-choice task files of the dev set (tests/data_fixtures/mlvu, in the
release's layout: json/<n>_<task>.json, the generation tasks 8 and 9 beside them)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from infvideo.data.mlvu import TASKS, read_mlvu, task_name
from infvideo.data.record import BadReaderOption, MalformedRow, QuestionRecord

FIXTURES = Path(__file__).parent / "data_fixtures" / "mlvu" / "json"


@pytest.fixture
def json_folder(tmp_path: Path) -> Path:
    """A copy of the fixture folder the test may break."""
    return Path(shutil.copytree(FIXTURES, tmp_path / "json"))


def rows(folder: Path, stem: str) -> list[Any]:
    return json.loads((folder / f"{stem}.json").read_text(encoding="utf-8"))


def write_rows(folder: Path, stem: str, data: Any) -> Path:
    path = folder / f"{stem}.json"
    path.write_text(json.dumps(data, indent=4), encoding="utf-8")
    return path


def test_folder_reads_the_seven_tasks_in_order_field_by_field(tmp_path: Path) -> None:
    result = read_mlvu(FIXTURES, tmp_path / "video")

    assert result.problems == []
    assert [r.id for r in result.records] == [
        "plotQA_0",
        "plotQA_1",
        "needle_0",
        "ego_0",
        "count_0",
        "order_0",
        "anomaly_reco_0",
        "topic_reasoning_0",
        "topic_reasoning_1",
    ]
    assert result.records[2] == QuestionRecord(
        id="needle_0",
        dataset="mlvu",
        video_id="needle/needle_3",
        video_path=os.path.join(str(tmp_path / "video"), "2_needle", "needle_3.mp4"),
        question="What does the man hold up to the camera?",
        options=("A red book", "A phone", "A coffee mug", "A tennis ball"),
        answer=2,
        question_type="needle",  # the task of the file, not the row's "findNeedle"
        extra={"duration": 467.98},
    )
    assert {r.question_type for r in result.records} == set(TASKS)
    assert [r.answer_letter for r in result.records] == ["B", "C", "C", "A", "B", "A", "C", "C", "C"]


def test_video_names_repeated_across_tasks_stay_apart(tmp_path: Path) -> None:
    records = {r.id: r for r in read_mlvu(FIXTURES, tmp_path).records}
    order, topic = records["order_0"], records["topic_reasoning_1"]  # both rows name order_4.mp4
    assert (order.video_id, topic.video_id) == ("order/order_4", "topic_reasoning/order_4")
    assert order.video_path == os.path.join(str(tmp_path), "5_order", "order_4.mp4")
    assert topic.video_path == os.path.join(str(tmp_path), "7_topic_reasoning", "order_4.mp4")


def test_one_task_file_on_its_own(tmp_path: Path) -> None:
    records = read_mlvu(FIXTURES / "5_order.json", tmp_path).records
    assert [(r.id, r.question_type, r.answer) for r in records] == [("order_0", "order", 0)]


def test_video_pattern_fills_task_folder_and_video_id(tmp_path: Path) -> None:
    numbered = read_mlvu(FIXTURES / "3_ego.json", tmp_path, video_pattern="{video}.mkv").records[0]
    assert numbered.video_path == os.path.join(str(tmp_path), "3_ego/ego_7.mkv")
    by_task = read_mlvu(FIXTURES / "3_ego.json", tmp_path, video_pattern="{video_id}.mp4").records[0]
    assert by_task.video_path == os.path.join(str(tmp_path), "ego/ego_7.mp4")  # folders named by task


def test_bad_video_pattern_is_refused_before_reading(tmp_path: Path) -> None:
    with pytest.raises(BadReaderOption, match="unknown placeholder"):
        read_mlvu(tmp_path / "missing", tmp_path, video_pattern="{task}.mp4")


def test_folder_missing_a_task_file_names_it(json_folder: Path) -> None:
    (json_folder / "4_count.json").unlink()
    with pytest.raises(FileNotFoundError, match="4_count.json"):
        read_mlvu(json_folder, json_folder)


def test_missing_path_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="MLVU annotation folder not found"):
        read_mlvu(tmp_path / "nowhere", tmp_path)


def _set(key: str, value: Any):
    return lambda row: row.update({key: value})


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda row: row.pop("candidates"), "missing 'candidates'"),
        (lambda row: row.pop("answer"), "missing 'answer'"),
        (lambda row: row.pop("question"), "missing 'question'"),
        (lambda row: row.pop("video"), "missing 'video'"),
        (_set("answer", "A green kite"), "answer 'A green kite' is not one of the candidates"),
        (_set("answer", 2), "'answer' should be text"),
        (
            lambda row: row.update(candidates=["Same", "Other", "Same", "Else"], answer="Same"),
            "answer 'Same' is candidates A, C alike, so the right letter is ambiguous",
        ),
        (_set("candidates", "A red book, A phone"), "'candidates' should be a list of non-blank texts"),
        (_set("candidates", ["A red book", 7]), "'candidates' should be a list of non-blank texts"),
        (_set("candidates", ["A red book", " "]), "'candidates' should be a list of non-blank texts"),
        (_set("candidates", ["A coffee mug"]), "expected 2 to 10 candidates"),
        (_set("candidates", ["A coffee mug", *(f"thing {i}" for i in range(10))]), "got 11"),
    ],
)
def test_malformed_row_raises_naming_file_and_row(json_folder: Path, change, reason: str) -> None:
    needle = rows(json_folder, "2_needle")
    needle.insert(0, dict(needle[0], video="needle_1.mp4"))
    change(needle[1])
    file = write_rows(json_folder, "2_needle", needle)
    with pytest.raises(MalformedRow) as caught:
        read_mlvu(json_folder, json_folder)
    message = str(caught.value)
    assert str(file) in message and "[1]" in message and reason in message


def test_row_that_is_not_an_object(json_folder: Path) -> None:
    write_rows(json_folder, "4_count", ["count_9.mp4"])
    with pytest.raises(MalformedRow, match=r"4_count.json, \[0\]: expected a JSON object, got str"):
        read_mlvu(json_folder, json_folder)


def test_file_that_is_not_a_list_is_refused_whole(json_folder: Path) -> None:
    write_rows(json_folder, "6_anomaly_reco", {"video": "surveil_2.mp4"})
    with pytest.raises(MalformedRow, match="6_anomaly_reco.json: expected a JSON list of questions, got dict"):
        read_mlvu(json_folder, json_folder, on_error="skip")  # no row of it can be trusted, skipping or not


def test_broken_json_names_file_and_line(json_folder: Path) -> None:
    (json_folder / "1_plotQA.json").write_text('[\n  {"video": "movie101_12.mp4",\n  oops\n]', encoding="utf-8")
    with pytest.raises(MalformedRow, match=r"1_plotQA.json, line 3: invalid JSON"):
        read_mlvu(json_folder, json_folder)


def test_non_utf8_byte_loses_only_its_row(json_folder: Path) -> None:
    text = (json_folder / "7_topic_reasoning.json").read_text(encoding="utf-8")
    data = text.replace("Sailing", "Sa\udce9iling", 2).encode("utf-8", errors="surrogateescape")  # a Latin-1 é
    (json_folder / "7_topic_reasoning.json").write_bytes(data)

    with pytest.raises(MalformedRow, match=r"7_topic_reasoning.json, \[1\] \(video=order_4.mp4\): not valid UTF-8: byte 0xE9"):
        read_mlvu(json_folder, json_folder)
    result = read_mlvu(json_folder, json_folder, on_error="skip")
    assert [r.id for r in result.records if r.question_type == "topic_reasoning"] == ["topic_reasoning_0"]
    assert len(result.problems) == 1 and "0xE9 in 'candidates'" in result.problems[0].reason


def test_skip_mode_lists_bad_rows_and_keeps_ids_in_place(json_folder: Path) -> None:
    plot = rows(json_folder, "1_plotQA")
    plot[0]["answer"] = "Purple"
    write_rows(json_folder, "1_plotQA", plot)
    write_rows(json_folder, "4_count", [7, *rows(json_folder, "4_count")])

    result = read_mlvu(json_folder, json_folder, on_error="skip")

    ids = [r.id for r in result.records]
    assert "plotQA_0" not in ids and "plotQA_1" in ids  # the second row keeps its position-based id
    assert "count_1" in ids and "count_0" not in ids
    assert [(Path(p.source).name, p.row) for p in result.problems] == [
        ("1_plotQA.json", "[0] (video=movie101_12.mp4)"),
        ("4_count.json", "[0]"),
    ]
    assert "'Purple' is not one of the candidates" in result.problems[0].reason


def test_generation_task_file_alone_has_no_multiple_choice_rows(tmp_path: Path) -> None:
    with pytest.raises(MalformedRow, match="9_summary.json, \\[0\\] \\(video=217.mp4\\): missing 'candidates'"):
        read_mlvu(FIXTURES / "9_summary.json", tmp_path)


def test_task_names_are_the_file_names_without_their_number() -> None:
    assert TASKS == ("plotQA", "needle", "ego", "count", "order", "anomaly_reco", "topic_reasoning")
    assert task_name(Path("6_anomaly_reco.json")) == "anomaly_reco" and task_name(Path("needle.json")) == "needle"
    assert task_name(Path("dev_2_needle.json")) == "dev_2_needle"  # only a leading number is MLVU's
