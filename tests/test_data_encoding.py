"""A byte that is not UTF-8 (a Latin-1 "é" = 0xE9) in one annotation row, for every reader: the
error names the file and the row (or line), and ``on_error="skip"`` keeps the other rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infvideo.data.record import MalformedRow
from infvideo.data.rows import ReadResult
from infvideo.eval.tasks import get_task, read_benchmark


def read_benchmark_result(name: str, *args, **options) -> ReadResult:
    """Records and skipped rows as data: the task's reader called directly."""
    return get_task(name).reader(*args, **options)


LATIN1 = "caf\xe9".encode("latin-1")  # b"caf\xe9": valid Latin-1, not valid UTF-8
MARK = "MARK"  # stands for the bad bytes in the text the fixtures are written from


def write_with_bad_byte(path: Path, text: str) -> Path:
    """``text`` as UTF-8, except that every MARK becomes the Latin-1 bytes."""
    assert MARK in text
    path.write_bytes(text.encode("utf-8").replace(MARK.encode(), LATIN1))
    return path


def assert_names_bad_byte(error: MalformedRow, file: Path, where: str) -> None:
    message = str(error)
    assert f"{file}, {where}" in message, message
    assert "not valid UTF-8" in message and "0xE9" in message, message


# --- line-oriented formats: the error names the line ------------------------------------------

NEXTQA_HEADER = "video,frame_count,width,height,question,answer,qid,type,a0,a1,a2,a3,a4"
NEXTOE_HEADER = "video,frame_count,width,height,question,answer,qid,type,additional_ref_answer"


@pytest.mark.parametrize(
    ("benchmark", "lines", "kept"),
    [
        (
            "nextqa",
            [NEXTQA_HEADER, "1,9,9,9,q?,0,1,CW,a,b,c,d,e", f"2,9,9,9,{MARK}?,0,1,CW,a,b,c,d,e", "3,9,9,9,q?,0,1,CW,a,b,c,d,e"],
            ["1_1", "3_1"],
        ),
        (
            "nextoe",
            [NEXTOE_HEADER, "1,9,9,9,q?,yes,1,CW,", f'2,9,9,9,"a quoted, {MARK}",no,1,CW,', "3,9,9,9,q?,maybe,1,CW,"],
            ["1_1", "3_1"],
        ),
        (
            "egoschema",
            [
                ",video_name,question_id,question,answer,a0,a1,a2,a3,a4",
                "1,u1,d1,q?,a,a,b,c,d,e",
                f"2,u2,d2,q?,{MARK},{MARK},b,c,d,e",
                "3,u3,d3,q?,e,a,b,c,d,e",
            ],
            ["u1", "u3"],
        ),
    ],
)
def test_csv_bad_byte_names_the_line_and_skip_keeps_the_rest(tmp_path: Path, benchmark: str, lines: list[str], kept: list[str]) -> None:
    csv_file = write_with_bad_byte(tmp_path / "annotations.csv", "\n".join(lines) + "\n")
    with pytest.raises(MalformedRow) as caught:
        read_benchmark(benchmark, csv_file, tmp_path)
    assert_names_bad_byte(caught.value, csv_file, "line 3")

    result = read_benchmark_result(benchmark, csv_file, tmp_path, on_error="skip")
    assert [r.id for r in result.records] == kept
    assert [p.row for p in result.problems] == ["line 3"]
    assert "0xE9" in result.problems[0].reason


def test_csv_bad_byte_in_the_header_stops_the_file(tmp_path: Path) -> None:
    csv_file = write_with_bad_byte(tmp_path / "val.csv", f"{NEXTQA_HEADER},{MARK}\n1,9,9,9,q,0,1,CW,a,b,c,d,e,x\n")
    for on_error in ("raise", "skip"):  # every row depends on the header
        with pytest.raises(MalformedRow) as caught:
            read_benchmark("nextqa", csv_file, tmp_path, on_error=on_error)
        assert_names_bad_byte(caught.value, csv_file, "line 1")


def test_csv_good_non_ascii_text_is_read(tmp_path: Path) -> None:
    csv_file = tmp_path / "val.csv"
    csv_file.write_text(f"{NEXTQA_HEADER}\n1,9,9,9,Où est le café ?,0,1,CW,a,b,c,d,e\n", encoding="utf-8")
    (record,) = read_benchmark("nextqa", csv_file, tmp_path)
    assert record.question == "Où est le café ?"


VIDEO_MME_ROW = {
    "video_id": "001",
    "duration": "short",
    "domain": "Knowledge",
    "sub_category": "History",
    "url": "https://www.youtube.com/watch?v=fFjv93ACGo8",
    "videoID": "fFjv93ACGo8",
    "task_type": "Counting Problem",
    "question": "How many?",
    "options": ["A. Two.", "B. Three.", "C. Four.", "D. Five."],
    "answer": "C",
}


def video_mme_rows(marked: int | None = None) -> list[dict[str, Any]]:
    rows = [{**VIDEO_MME_ROW, "question_id": f"001-{k + 1}"} for k in range(3)]
    if marked is not None:
        rows[marked]["question"] = f"{MARK}?"
    return rows


def test_jsonl_bad_byte_in_a_string_names_the_line(tmp_path: Path) -> None:
    jsonl = write_with_bad_byte(tmp_path / "videomme.jsonl", "".join(json.dumps(row) + "\n" for row in video_mme_rows(marked=1)))
    with pytest.raises(MalformedRow) as caught:
        read_benchmark("video_mme", jsonl, tmp_path)
    assert_names_bad_byte(caught.value, jsonl, "line 2")
    assert "'question'" in str(caught.value)  # and the field it is in

    result = read_benchmark_result("video_mme", jsonl, tmp_path, on_error="skip")
    assert [r.id for r in result.records] == ["001-1", "001-3"]
    assert [p.row for p in result.problems] == ["line 2"]


def test_jsonl_bad_byte_outside_a_string_names_the_line(tmp_path: Path) -> None:
    lines = [json.dumps(row) for row in video_mme_rows()]
    lines[2] = lines[2][:-1] + f", {MARK}}}"  # a stray byte between fields
    jsonl = write_with_bad_byte(tmp_path / "videomme.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(MalformedRow) as caught:
        read_benchmark("video_mme", jsonl, tmp_path)
    assert_names_bad_byte(caught.value, jsonl, "line 3")
    assert [r.id for r in read_benchmark("video_mme", jsonl, tmp_path, on_error="skip")] == ["001-1", "001-2"]


# --- whole-JSON files: the error names the row (its position in the list) ---------------------


def test_egoschema_questions_json_bad_byte_names_the_question(tmp_path: Path) -> None:
    questions = [{"q_uid": f"u{n}", "question": "q?", **{f"option {i}": f"o{i}" for i in range(5)}} for n in range(3)]
    questions[1]["option 2"] = MARK
    questions_file = write_with_bad_byte(tmp_path / "questions.json", json.dumps(questions, indent=2))
    with pytest.raises(MalformedRow) as caught:
        read_benchmark("egoschema", questions_file, tmp_path)
    assert_names_bad_byte(caught.value, questions_file, "[1] (q_uid=u1)")
    assert "'option 2'" in str(caught.value)

    result = read_benchmark_result("egoschema", questions_file, tmp_path, on_error="skip")
    assert [r.id for r in result.records] == ["u0", "u2"]
    assert [p.row for p in result.problems] == ["[1] (q_uid=u1)"]


def test_grouped_video_mme_bad_byte_names_the_question(tmp_path: Path) -> None:
    questions = [{key: VIDEO_MME_ROW[key] for key in ("question", "options", "answer")} for _ in range(2)]
    videos = [
        {"url": "https://www.youtube.com/watch?v=aaaaaaaaaaa", "duration_category": "short", "questions": [dict(q) for q in questions]},
        {"url": "https://www.youtube.com/watch?v=bbbbbbbbbbb", "duration_category": "long", "questions": [dict(q) for q in questions]},
    ]
    videos[1]["questions"][0]["question"] = MARK
    json_file = write_with_bad_byte(tmp_path / "videomme.json", json.dumps(videos))
    with pytest.raises(MalformedRow) as caught:
        read_benchmark("video_mme", json_file, tmp_path)
    assert_names_bad_byte(caught.value, json_file, "[1].questions[0]")

    result = read_benchmark_result("video_mme", json_file, tmp_path, on_error="skip")
    assert [r.id for r in result.records] == ["aaaaaaaaaaa-1", "aaaaaaaaaaa-2", "bbbbbbbbbbb-2"]


def test_flat_video_mme_json_bad_byte_names_the_row(tmp_path: Path) -> None:
    json_file = write_with_bad_byte(tmp_path / "videomme.json", json.dumps(video_mme_rows(marked=2)))
    with pytest.raises(MalformedRow) as caught:
        read_benchmark("video_mme", json_file, tmp_path)
    assert_names_bad_byte(caught.value, json_file, "[2]")
    assert [r.id for r in read_benchmark("video_mme", json_file, tmp_path, on_error="skip")] == ["001-1", "001-2"]


def test_whole_json_with_a_bad_byte_outside_strings_names_the_line(tmp_path: Path) -> None:
    questions_file = write_with_bad_byte(tmp_path / "questions.json", f'[\n  {{"q_uid": "u1"}},\n  {MARK}\n]\n')
    for on_error in ("raise", "skip"):  # a file that does not parse has no row to keep
        with pytest.raises(MalformedRow) as caught:
            read_benchmark("egoschema", questions_file, tmp_path, on_error=on_error)
        assert_names_bad_byte(caught.value, questions_file, "line 3")


def test_parquet_bad_bytes_in_a_text_column_name_the_row(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as parquet

    rows = video_mme_rows()
    table = pa.Table.from_pylist(rows)
    # pyarrow refuses to build such a string column, but files written by other tools can hold one
    questions = pa.array([row["question"].encode() for row in rows[:1]] + [LATIN1 + b"?"] + [b"q?"], pa.binary())
    bad_column = pa.Array.from_buffers(pa.string(), len(questions), questions.buffers())
    table = table.set_column(table.schema.get_field_index("question"), "question", bad_column)
    parquet_file = tmp_path / "videomme.parquet"
    parquet.write_table(table, parquet_file)

    with pytest.raises(MalformedRow) as caught:
        read_benchmark("video_mme", parquet_file, tmp_path)
    assert_names_bad_byte(caught.value, parquet_file, "row index 1")
    assert "'question'" in str(caught.value)

    result = read_benchmark_result("video_mme", parquet_file, tmp_path, on_error="skip")
    assert [r.id for r in result.records] == ["001-1", "001-3"]
    assert [r.question for r in result.records] == ["How many?", "q?"]
    assert [p.row for p in result.problems] == ["row index 1"]


# --- MovieChat-1K: a folder of per-video files --------------------------------------------------


def movie(video: str) -> dict[str, Any]:
    return {
        "info": {"video_path": f"{video}.mp4", "fps": 24.0, "num_frame": 100},
        "global": [{"question": "What happens?", "answer": "A plot."}, {"question": "Night?", "answer": "Yes."}],
        "breakpoint": [],
    }


def test_moviechat_bad_byte_in_a_question_skips_that_question(tmp_path: Path) -> None:
    folder = tmp_path / "gt"
    folder.mkdir()
    (folder / "1.json").write_text(json.dumps(movie("1")))
    data = movie("2")
    data["global"][0]["answer"] = MARK
    bad_file = write_with_bad_byte(folder / "2.json", json.dumps(data, indent=2))
    (folder / "3.json").write_text(json.dumps(movie("3")))

    with pytest.raises(MalformedRow) as caught:
        read_benchmark("moviechat", folder, tmp_path)
    assert_names_bad_byte(caught.value, bad_file, "global[0]")

    result = read_benchmark_result("moviechat", folder, tmp_path, on_error="skip")
    assert [r.id for r in result.records] == ["1_global_0", "1_global_1", "2_global_1", "3_global_0", "3_global_1"]
    assert [(Path(p.source).name, p.row) for p in result.problems] == [("2.json", "global[0]")]


def test_moviechat_bad_byte_in_the_video_info_skips_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "gt"
    folder.mkdir()
    data = movie("2")
    data["info"]["video_path"] = f"{MARK}.mp4"
    bad_file = write_with_bad_byte(folder / "2.json", json.dumps(data))
    (folder / "3.json").write_text(json.dumps(movie("3")))

    with pytest.raises(MalformedRow) as caught:
        read_benchmark("moviechat", folder, tmp_path)
    assert_names_bad_byte(caught.value, bad_file, "whole file")

    result: ReadResult = read_benchmark_result("moviechat", folder, tmp_path, on_error="skip")
    assert [r.id for r in result.records] == ["3_global_0", "3_global_1"]
    assert [(Path(p.source).name, p.row) for p in result.problems] == [("2.json", "whole file")]


# --- files next to the annotations ---------------------------------------------------------------


def test_nextqa_video_map_with_a_bad_byte_names_the_map(tmp_path: Path) -> None:
    csv_file = tmp_path / "val.csv"
    csv_file.write_text(f"{NEXTQA_HEADER}\n1,9,9,9,q,0,1,CW,a,b,c,d,e\n")
    video_map = write_with_bad_byte(tmp_path / "map_vid_vidorID.json", json.dumps({"1": f"0001/{MARK}"}))
    with pytest.raises(MalformedRow) as caught:
        read_benchmark("nextqa", csv_file, tmp_path, video_map=video_map)
    assert str(video_map) in str(caught.value) and "0xE9" in str(caught.value)


def test_egoschema_answers_with_a_bad_byte_skip_that_answer(tmp_path: Path) -> None:
    questions = [{"q_uid": f"u{n}", "question": "q?", **{f"option {i}": f"o{i}" for i in range(5)}} for n in range(2)]
    questions_file = tmp_path / "questions.json"
    questions_file.write_text(json.dumps(questions))
    answers = write_with_bad_byte(tmp_path / "subset_answers.json", f'{{"u0": 1, "{MARK}": 2, "u1": 3}}')
    with pytest.raises(MalformedRow) as caught:
        read_benchmark("egoschema", questions_file, tmp_path, answers_path=answers)
    assert str(answers) in str(caught.value) and "0xE9" in str(caught.value)
    result = read_benchmark_result("egoschema", questions_file, tmp_path, answers_path=answers, on_error="skip")
    assert [(r.id, r.answer) for r in result.records] == [("u0", 1), ("u1", 3)]
    assert len(result.problems) == 1 and "0xE9" in result.problems[0].reason
