"""Reading a benchmark by its task name, id uniqueness, and the options every reader shares."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from infvideo.data.egoschema import read_egoschema
from infvideo.data.longvideobench import read_longvideobench
from infvideo.data.mlvu import read_mlvu
from infvideo.data.moviechat import read_moviechat
from infvideo.data.nextqa import read_nextoe, read_nextqa
from infvideo.data.record import DuplicateIdError, MalformedRow
from infvideo.data.rows import ReadResult
from infvideo.data.video_mme import read_video_mme
from infvideo.eval.tasks import TASKS, get_task, read_benchmark

MC_HEADER = "video,frame_count,width,height,question,answer,qid,type,a0,a1,a2,a3,a4"


def nextqa_csv(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "val.csv"
    path.write_text("\n".join([MC_HEADER, *rows]) + "\n")
    return path


def test_task_table_names_every_benchmarks_reader() -> None:
    assert {name: task.reader for name, task in TASKS.items()} == {
        "nextqa": read_nextqa,
        "nextoe": read_nextoe,
        "egoschema": read_egoschema,
        "moviechat": read_moviechat,
        "video_mme": read_video_mme,
        "mlvu": read_mlvu,
        "longvideobench": read_longvideobench,
    }


def test_read_benchmark_passes_options_through(tmp_path: Path) -> None:
    questions = tmp_path / "questions.json"
    questions.write_text(json.dumps([{"q_uid": "u1", "question": "q?", **{f"option {i}": str(i) for i in range(5)}}]))
    answers = tmp_path / "subset_answers.json"
    answers.write_text('{"u1": 2}')
    (record,) = read_benchmark("egoschema", questions, "/videos", answers_path=answers)
    assert (record.id, record.answer, record.dataset) == ("u1", 2, "egoschema")


def test_read_benchmark_skip_logs_problems_and_result_returns_them(tmp_path: Path, caplog) -> None:
    csv_file = nextqa_csv(tmp_path, "1,9,9,9,q,0,1,CW,a,b,c,d,e", "2,9,9,9,q,8,1,CW,a,b,c,d,e")
    with caplog.at_level(logging.WARNING, logger="infvideo.data.registry"):
        records = read_benchmark("nextqa", csv_file, tmp_path, on_error="skip")
    assert [r.id for r in records] == ["1_1"]
    assert "line 3: answer 8 is outside 0..4" in caplog.text

    result = get_task("nextqa").reader(csv_file, tmp_path, on_error="skip")
    assert isinstance(result, ReadResult) and len(result.problems) == 1
    with pytest.raises(MalformedRow):
        read_benchmark("nextqa", csv_file, tmp_path)


def test_unknown_benchmark_and_unknown_option(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown benchmark 'msrvtt'.*nextqa"):
        read_benchmark("msrvtt", tmp_path / "a.csv", tmp_path)
    with pytest.raises(TypeError, match="mode"):
        read_benchmark("nextqa", nextqa_csv(tmp_path), tmp_path, mode="global")


def test_duplicate_ids_are_an_error_naming_them_even_when_skipping(tmp_path: Path) -> None:
    row = "4010069381,9,9,9,q,0,6,CH,a,b,c,d,e"
    csv_file = nextqa_csv(tmp_path, row, "5,9,9,9,q,0,1,CH,a,b,c,d,e", row, row)
    for on_error in ("raise", "skip"):
        with pytest.raises(DuplicateIdError) as caught:
            read_nextqa(csv_file, tmp_path, on_error=on_error)
        assert "'4010069381_6' (3x)" in str(caught.value) and str(csv_file) in str(caught.value)
        assert caught.value.duplicates == {"4010069381_6": 3}


def test_ids_are_unique_across_a_normal_file(tmp_path: Path) -> None:
    # same video, different qids; same qid, different videos: all distinct ids
    csv_file = nextqa_csv(tmp_path, "1,9,9,9,q,0,1,CH,a,b,c,d,e", "1,9,9,9,q,0,2,CH,a,b,c,d,e", "2,9,9,9,q,0,1,CH,a,b,c,d,e")
    ids = [r.id for r in read_nextqa(csv_file, tmp_path).records]
    assert ids == ["1_1", "1_2", "2_1"]


@pytest.mark.parametrize("pattern", ["{vid}.mp4", "{0}.mp4", "clip.mp4"])
def test_bad_video_pattern_fails_before_reading(tmp_path: Path, pattern: str) -> None:
    with pytest.raises(ValueError, match="video pattern"):
        read_nextqa(nextqa_csv(tmp_path), tmp_path, video_pattern=pattern)


def test_bad_on_error_value(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="on_error"):
        read_nextqa(nextqa_csv(tmp_path), tmp_path, on_error="ignore")


def test_records_serialise_to_plain_dicts(tmp_path: Path) -> None:
    (record,) = read_nextqa(nextqa_csv(tmp_path, "1,9,9,9,q,0,1,CH,a,b,c,d,e"), tmp_path).records
    data = record.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["options"] == ["a", "b", "c", "d", "e"]
