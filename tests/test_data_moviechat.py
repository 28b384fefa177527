"""MovieChat-1K reader: per-video JSONs in global and breakpoint mode."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from infvideo.data.moviechat import read_moviechat
from infvideo.data.record import DuplicateIdError, MalformedRow, QuestionRecord


def movie(video_file: str, n: int) -> dict[str, Any]:
    return {
        "caption": f"a long caption of movie {n}",
        "info": {"video_path": video_file, "fps": 24.0, "num_frame": 12000 + n, "url": "", "class": "drama"},
        "global": [{"question": f"What is movie {n} about?", "answer": f"Plot {n}."}, {"question": "Is it night?", "answer": "Yes."}],
        "breakpoint": [
            {"time": 1500 + n, "question": "What is the man holding?", "answer": "A cup."},
            {"time": 9000, "question": "Where are they?", "answer": "In a car."},
        ],
    }


@pytest.fixture
def annotations(tmp_path: Path) -> Path:
    folder = tmp_path / "gt"
    folder.mkdir()
    # "10.json" sorts after "2.json": numbered files are read in numeric order
    (folder / "10.json").write_text(json.dumps(movie("10.mp4", 10)))
    (folder / "2.json").write_text(json.dumps(movie("2.mp4", 2)))
    (folder / "notes.txt").write_text("not an annotation")
    return folder


def test_global_mode_field_by_field(tmp_path: Path, annotations: Path) -> None:
    result = read_moviechat(annotations, tmp_path / "videos")
    assert result.problems == []
    assert [r.id for r in result.records] == ["2_global_0", "2_global_1", "10_global_0", "10_global_1"]
    assert result.records[0] == QuestionRecord(
        id="2_global_0",
        dataset="moviechat",
        video_id="2",
        video_path=os.path.join(str(tmp_path / "videos"), "2.mp4"),
        question="What is movie 2 about?",
        answer_text="Plot 2.",
        mode="global",
        extra={"annotation_file": "2.json", "video_file": "2.mp4", "fps": 24.0, "num_frame": 12002},
    )
    assert all(r.time is None and r.options == () and r.answer is None for r in result.records)


def test_breakpoint_mode_field_by_field(tmp_path: Path, annotations: Path) -> None:
    records = read_moviechat(annotations, tmp_path / "videos", mode="breakpoint").records
    assert [r.id for r in records] == ["2_breakpoint_0", "2_breakpoint_1", "10_breakpoint_0", "10_breakpoint_1"]
    assert records[2] == QuestionRecord(
        id="10_breakpoint_0",
        dataset="moviechat",
        video_id="10",
        video_path=os.path.join(str(tmp_path / "videos"), "10.mp4"),
        question="What is the man holding?",
        answer_text="A cup.",
        mode="breakpoint",
        time=1510,
        extra={"annotation_file": "10.json", "video_file": "10.mp4", "fps": 24.0, "num_frame": 12010},
    )
    assert [r.time for r in records] == [1502, 9000, 1510, 9000]


def test_global_and_breakpoint_ids_do_not_collide(tmp_path: Path, annotations: Path) -> None:
    both = [*read_moviechat(annotations, tmp_path).records, *read_moviechat(annotations, tmp_path, mode="breakpoint").records]
    assert len({r.id for r in both}) == len(both) == 8


def test_single_file_and_video_pattern(tmp_path: Path, annotations: Path) -> None:
    records = read_moviechat(annotations / "2.json", "/feats", video_pattern="{video}/{video}.pt").records
    assert [r.video_path for r in records] == [os.path.join("/feats", "2/2.pt")] * 2


def test_file_without_info_uses_its_own_name(tmp_path: Path) -> None:
    data = movie("x.mp4", 1)
    del data["info"]
    (tmp_path / "abc.json").write_text(json.dumps(data))
    (record, _) = read_moviechat(tmp_path / "abc.json", "/videos").records
    assert (record.video_id, record.video_path) == ("abc", os.path.join("/videos", "abc.mp4"))
    assert record.extra == {"annotation_file": "abc.json"}


def test_bad_question_raises_naming_file_and_position(tmp_path: Path, annotations: Path) -> None:
    data = movie("2.mp4", 2)
    data["breakpoint"][1]["time"] = "later"
    (annotations / "2.json").write_text(json.dumps(data))
    read_moviechat(annotations, tmp_path)  # global mode never reads "time"
    with pytest.raises(MalformedRow) as caught:
        read_moviechat(annotations, tmp_path, mode="breakpoint")
    assert str(annotations / "2.json") in str(caught.value)
    assert "breakpoint[1]: time should be an integer" in str(caught.value)


def test_skip_mode_keeps_other_questions_and_files(tmp_path: Path, annotations: Path) -> None:
    data = movie("2.mp4", 2)
    del data["breakpoint"][0]["time"]
    (annotations / "2.json").write_text(json.dumps(data))
    (annotations / "3.json").write_text('{"info": {"video_path": "3.mp4"}, "breakpoint": [')
    result = read_moviechat(annotations, tmp_path, mode="breakpoint", on_error="skip")

    # the k in the id is the position in the file, so the skipped question leaves a gap
    assert [r.id for r in result.records] == ["2_breakpoint_1", "10_breakpoint_0", "10_breakpoint_1"]
    assert [(Path(p.source).name, p.row) for p in result.problems] == [("2.json", "breakpoint[0]"), ("3.json", "line 1")]
    assert "missing 'time'" in result.problems[0].reason
    assert "invalid JSON" in result.problems[1].reason


def test_missing_mode_list_is_a_file_problem(tmp_path: Path) -> None:
    (tmp_path / "1.json").write_text(json.dumps({"info": {"video_path": "1.mp4"}, "global": []}))
    with pytest.raises(MalformedRow, match=r"1\.json, whole file: expected a list under 'breakpoint'"):
        read_moviechat(tmp_path, tmp_path, mode="breakpoint")


def test_two_files_for_one_video_are_duplicate_ids(tmp_path: Path, annotations: Path) -> None:
    (annotations / "2_copy.json").write_text(json.dumps(movie("2.mp4", 2)))
    with pytest.raises(DuplicateIdError, match="'2_global_0'"):
        read_moviechat(annotations, tmp_path)


def test_unknown_mode_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode"):
        read_moviechat(tmp_path, tmp_path, mode="both")
    with pytest.raises(FileNotFoundError, match="no_such_folder"):
        read_moviechat(tmp_path / "no_such_folder", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no MovieChat-1K annotation files"):
        read_moviechat(tmp_path, tmp_path)
