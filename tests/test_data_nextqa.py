"""NExT-QA (multiple choice) and NExT-OE csv readers, on small files in the real csv layout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from infvideo.data.nextqa import read_nextoe, read_nextqa
from infvideo.data.record import MalformedRow, QuestionRecord

MC_HEADER = "video,frame_count,width,height,question,answer,qid,type,a0,a1,a2,a3,a4"
MC_ROWS = [
    "4010069381,369,640,480,how do the two man play the instrument,0,6,CH,roll the handle,tap their feet,"
    "strum the string,hit with sticks,pat with hand",
    '4882821564,1794,640,360,"why did the boy pick up one present from the group, and move to the sofa",3,2,CW,'
    "share with the girl,approach lady sitting there,unwrap it,playing with toy train,gesture something",
]
OE_HEADER = "video,frame_count,width,height,question,answer,qid,type,additional_ref_answer"
OE_ROWS = [
    "4010069381,369,640,480,what are the men doing,play music,3,DO,perform",
    "4882821564,1794,640,360,why did the boy move to the sofa,open present,7,CW,",
]


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_multiple_choice_rows_field_by_field(tmp_path: Path) -> None:
    csv_file = write_csv(tmp_path / "val.csv", MC_HEADER, MC_ROWS)
    result = read_nextqa(csv_file, tmp_path / "videos")

    assert result.problems == []
    first, second = result.records
    assert first == QuestionRecord(
        id="4010069381_6",
        dataset="nextqa",
        video_id="4010069381",
        video_path=os.path.join(str(tmp_path / "videos"), "4010069381.mp4"),
        question="how do the two man play the instrument",
        options=("roll the handle", "tap their feet", "strum the string", "hit with sticks", "pat with hand"),
        answer=0,
        question_type="CH",
        extra={"frame_count": 369, "width": 640, "height": 480},
    )
    assert first.answer_letter == "A"
    # quoted field with a comma stays one question; answer index 3 is option "D"
    assert second.id == "4882821564_2"
    assert second.question == "why did the boy pick up one present from the group, and move to the sofa"
    assert second.answer == 3 and second.answer_letter == "D"
    assert second.options[3] == "playing with toy train"
    assert second.question_type == "CW"
    assert second.answer_text is None and second.mode is None and second.time is None


def test_columns_are_read_by_name_not_position(tmp_path: Path) -> None:
    header = "qid,video,type,answer,question,a4,a3,a2,a1,a0"
    csv_file = write_csv(tmp_path / "shuffled.csv", header, ["6,4010069381,CH,1,how,e,d,c,b,a"])
    (record,) = read_nextqa(csv_file, tmp_path).records
    assert record.id == "4010069381_6"
    assert record.options == ("a", "b", "c", "d", "e")
    assert record.answer == 1
    assert record.extra == {}  # no frame_count/width/height columns


def test_video_pattern_gives_the_reference_tensor_layout(tmp_path: Path) -> None:
    csv_file = write_csv(tmp_path / "val.csv", MC_HEADER, MC_ROWS[:1])
    (record,) = read_nextqa(csv_file, "/data/nextqa", video_pattern="{video}/{video}.pt").records
    assert record.video_path == os.path.join("/data/nextqa", "4010069381/4010069381.pt")


def test_video_map_resolves_the_nested_layout(tmp_path: Path) -> None:
    csv_file = write_csv(tmp_path / "val.csv", MC_HEADER, MC_ROWS)
    map_file = tmp_path / "map_vid_vidorID.json"
    map_file.write_text('{"4010069381": "1164/4010069381", "4882821564": "0036/4882821564"}')
    records = read_nextqa(csv_file, "/v", video_map=map_file).records
    assert [r.video_path for r in records] == [os.path.join("/v", "1164/4010069381.mp4"), os.path.join("/v", "0036/4882821564.mp4")]
    assert records[0].video_id == "4010069381"  # the id stays the csv's video id


def test_video_missing_from_the_map_is_a_malformed_row(tmp_path: Path) -> None:
    csv_file = write_csv(tmp_path / "val.csv", MC_HEADER, MC_ROWS)
    result = read_nextqa(csv_file, "/v", video_map={"4010069381": "1164/4010069381"}, on_error="skip")
    assert [r.id for r in result.records] == ["4010069381_6"]
    assert "4882821564" in result.problems[0].reason


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        ("5555,10,640,480,what,7,1,TN,a,b,c,d,e", "answer 7 is outside 0..4"),
        ("5555,10,640,480,what,x,1,TN,a,b,c,d,e", "answer should be an integer"),
        ("5555,10,640,480,what,1,1,TN,a,b,c,d", "12 fields, but the header has 13 columns"),
        ("5555,10,640,480,what,1,1,TN,a,b,c,,e", "'a3' is empty"),
        ("5555,10,640,480,,1,1,TN,a,b,c,d,e", "'question' is empty"),
        ("5555,ten,640,480,what,1,1,TN,a,b,c,d,e", "frame_count should be an integer"),
    ],
)
def test_malformed_row_raises_naming_file_and_line(tmp_path: Path, bad_row: str, reason: str) -> None:
    csv_file = write_csv(tmp_path / "val.csv", MC_HEADER, [MC_ROWS[0], bad_row, MC_ROWS[1]])
    with pytest.raises(MalformedRow) as caught:
        read_nextqa(csv_file, tmp_path)
    message = str(caught.value)
    assert str(csv_file) in message and "line 3" in message and reason in message


def test_skip_keeps_good_rows_and_lists_the_bad_one(tmp_path: Path) -> None:
    bad_row = "5555,10,640,480,what,9,1,TN,a,b,c,d,e"
    csv_file = write_csv(tmp_path / "val.csv", MC_HEADER, [MC_ROWS[0], bad_row, "", MC_ROWS[1]])
    result = read_nextqa(csv_file, tmp_path, on_error="skip")
    assert [r.id for r in result.records] == ["4010069381_6", "4882821564_2"]  # blank line ignored
    (problem,) = result.problems
    assert (problem.source, problem.row) == (str(csv_file), "line 3")
    assert "answer 9 is outside 0..4" in problem.reason
    assert str(problem) == f"{csv_file}, line 3: {problem.reason}"


def test_missing_header_column_always_raises(tmp_path: Path) -> None:
    csv_file = write_csv(tmp_path / "val.csv", MC_HEADER.replace(",a4", ""), [])
    with pytest.raises(MalformedRow, match=r"line 1 \(header\): missing column\(s\) a4"):
        read_nextqa(csv_file, tmp_path, on_error="skip")


def test_missing_annotation_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_nextqa(tmp_path / "nope.csv", tmp_path)


def test_open_ended_rows_field_by_field(tmp_path: Path) -> None:
    csv_file = write_csv(tmp_path / "val_oe.csv", OE_HEADER, OE_ROWS)
    result = read_nextoe(csv_file, tmp_path / "videos")
    first, second = result.records
    assert first == QuestionRecord(
        id="4010069381_3",
        dataset="nextoe",
        video_id="4010069381",
        video_path=os.path.join(str(tmp_path / "videos"), "4010069381.mp4"),
        question="what are the men doing",
        answer_text="play music",
        question_type="DO",
        extra={"frame_count": 369, "width": 640, "height": 480, "additional_ref_answer": "perform"},
    )
    assert first.options == () and first.answer is None
    assert "additional_ref_answer" not in second.extra  # empty cell = no second reference


def test_open_ended_needs_only_the_reference_columns(tmp_path: Path) -> None:
    csv_file = write_csv(tmp_path / "oe.csv", "video,qid,question,answer", ["7,1,what is it,a dog"])
    (record,) = read_nextoe(csv_file, tmp_path).records
    assert (record.id, record.answer_text, record.question_type) == ("7_1", "a dog", None)


def test_open_ended_empty_answer_is_malformed(tmp_path: Path) -> None:
    csv_file = write_csv(tmp_path / "oe.csv", OE_HEADER, [*OE_ROWS, "99,1,1,1,what,,1,DO,"])
    with pytest.raises(MalformedRow, match=r"line 4: 'answer' is empty"):
        read_nextoe(csv_file, tmp_path)
