"""Where each question's video file is: ``video_pattern`` through ``read_benchmark`` for every
benchmark, each benchmark's default, and the errors for a bad pattern or ``on_error`` value. A benchmark
added to the task table adds one one-question writer to ``ONE_QUESTION``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from infvideo.errors import UserError
from infvideo.eval.tasks import read_benchmark, task_names


class OneQuestion(NamedTuple):
    annotations: Path  # what data.annotations names
    video_id: str
    default_video: str  # where the video lies below the video folder when no pattern is given


def _nextqa(tmp_path: Path) -> OneQuestion:
    path = tmp_path / "val.csv"
    path.write_text("video,frame_count,width,height,question,answer,qid,type,a0,a1,a2,a3,a4\n4010069381,9,9,9,q?,0,1,CW,a,b,c,d,e\n")
    return OneQuestion(path, "4010069381", "4010069381.mp4")


def _nextoe(tmp_path: Path) -> OneQuestion:
    path = tmp_path / "val.csv"
    path.write_text("video,frame_count,width,height,question,answer,qid,type\n4010069381,9,9,9,q?,yes,1,CW\n")
    return OneQuestion(path, "4010069381", "4010069381.mp4")


def _egoschema(tmp_path: Path) -> OneQuestion:
    path = tmp_path / "questions.json"
    path.write_text(json.dumps([{"q_uid": "u-1", "question": "q?", **{f"option {i}": str(i) for i in range(5)}}]))
    return OneQuestion(path, "u-1", "u-1.mp4")


def _moviechat(tmp_path: Path) -> OneQuestion:
    path = tmp_path / "gt"
    path.mkdir()
    (path / "7.json").write_text(json.dumps({"info": {"video_path": "7.mp4"}, "global": [{"question": "q?", "answer": "a"}]}))
    return OneQuestion(path, "7", "7.mp4")


def _video_mme(tmp_path: Path) -> OneQuestion:
    path = tmp_path / "videomme.jsonl"
    path.write_text(
        json.dumps(
            {
                "video_id": "001",
                "duration": "short",
                "videoID": "fFjv93ACGo8",
                "question_id": "001-1",
                "question": "q?",
                "answer": "A",
                "options": ["A. a", "B. b", "C. c", "D. d"],
            }
        )
        + "\n"
    )
    return OneQuestion(path, "fFjv93ACGo8", "fFjv93ACGo8.mp4")


def _mlvu(tmp_path: Path) -> OneQuestion:
    path = tmp_path / "2_needle.json"  # one task file; its videos lie in the folder named by its stem
    path.write_text(
        json.dumps(
            [
                {
                    "video": "needle_3.mp4",
                    "duration": 9.5,
                    "question": "q?",
                    "candidates": ["a", "b"],
                    "answer": "b",
                    "question_type": "findNeedle",
                }
            ]
        )
    )
    return OneQuestion(path, "needle/needle_3", "2_needle/needle_3.mp4")


def _longvideobench(tmp_path: Path) -> OneQuestion:
    path = tmp_path / "lvb_val.json"
    path.write_text(
        json.dumps(
            [
                {
                    "video_id": "86CxyhFV9MI",
                    "id": "86CxyhFV9MI_0",
                    "question": "q?",
                    "candidates": ["a", "b", "c", "d", "e"],
                    "correct_choice": 4,
                    "duration_group": 600,
                    "question_category": "TOS",
                    "video_path": "86CxyhFV9MI.mp4",
                }
            ]
        )
    )
    return OneQuestion(path, "86CxyhFV9MI", "86CxyhFV9MI.mp4")


# One writer per benchmark of the task table: a one-question annotation file in its published format.
ONE_QUESTION: dict[str, Callable[[Path], OneQuestion]] = {
    "nextqa": _nextqa,
    "nextoe": _nextoe,
    "egoschema": _egoschema,
    "moviechat": _moviechat,
    "video_mme": _video_mme,
    "mlvu": _mlvu,
    "longvideobench": _longvideobench,
}


def write_annotations(tmp_path: Path, benchmark: str) -> tuple[Path, str]:
    """A one-question annotation file of ``benchmark``, and its video id."""
    annotations, video_id, _ = ONE_QUESTION[benchmark](tmp_path)
    return annotations, video_id


def test_every_benchmark_has_a_one_question_file() -> None:
    assert set(ONE_QUESTION) == set(task_names())


@pytest.mark.parametrize("benchmark", task_names())
@pytest.mark.parametrize("pattern", ["{video_id}.mkv", "videos/{video_id}/video.mp4"])
def test_video_pattern_places_every_benchmarks_videos(tmp_path: Path, benchmark: str, pattern: str) -> None:
    annotations, video_id = write_annotations(tmp_path, benchmark)
    (record,) = read_benchmark(benchmark, annotations, "/data/videos", video_pattern=pattern)
    assert record.video_id == video_id
    assert record.video_path == os.path.join("/data/videos", pattern.replace("{video_id}", video_id))


@pytest.mark.parametrize("benchmark", task_names())
def test_default_place_is_each_benchmarks_layout(tmp_path: Path, benchmark: str) -> None:
    """``{video_id}.mp4`` for most; MLVU's task folder; LongVideoBench's and MovieChat-1K's own video_path."""
    annotations, video_id, default_video = ONE_QUESTION[benchmark](tmp_path)
    for given in ({}, {"video_pattern": None}):  # None, as a config leaves it, means the default
        (record,) = read_benchmark(benchmark, annotations, "/data/videos", **given)
        assert record.video_path == os.path.join("/data/videos", default_video)
    if benchmark != "mlvu":  # MLVU's video id names the task, its folder the numbered task file
        assert default_video == f"{video_id}.mp4"


def test_moviechat_default_is_the_files_own_video_path(tmp_path: Path) -> None:
    (tmp_path / "7.json").write_text(
        json.dumps({"info": {"video_path": "movies/seven.avi"}, "global": [{"question": "q?", "answer": "a"}]})
    )
    (record,) = read_benchmark("moviechat", tmp_path, "/data")
    assert record.video_path == os.path.join("/data", "movies/seven.avi")
    (record,) = read_benchmark("moviechat", tmp_path, "/data", video_pattern="{video_id}.mkv")
    assert record.video_path == os.path.join("/data", "seven.mkv")


def test_nextqa_video_map_fills_video_while_video_id_stays_the_id(tmp_path: Path) -> None:
    annotations, _ = write_annotations(tmp_path, "nextqa")
    video_map = {"4010069381": "1164/4010069381"}
    paths = [
        read_benchmark("nextqa", annotations, "/v", video_map=video_map, video_pattern=pattern)[0].video_path
        for pattern in ("{video}.mp4", "{video_id}.mp4", "{video}/{video_id}.pt")
    ]
    assert paths == [
        os.path.join("/v", "1164/4010069381.mp4"),
        os.path.join("/v", "4010069381.mp4"),
        os.path.join("/v", "1164/4010069381/4010069381.pt"),
    ]


@pytest.mark.parametrize("benchmark", task_names())
@pytest.mark.parametrize("pattern", ["{vid}.mp4", "{videoID}.mp4", "{0}.mp4", "{}.mp4", "{video_id.stem}.mp4", "clip.mp4", "{video_id"])
def test_bad_pattern_is_a_user_error_naming_the_placeholders(tmp_path: Path, benchmark: str, pattern: str) -> None:
    annotations, _ = write_annotations(tmp_path, benchmark)
    with pytest.raises(UserError) as caught:
        read_benchmark(benchmark, annotations, tmp_path, video_pattern=pattern)
    message = str(caught.value)
    assert repr(pattern) in message and "{video_id}" in message and "{video}" in message


def test_bad_pattern_is_refused_before_the_annotations_are_opened(tmp_path: Path) -> None:
    for benchmark in task_names():
        with pytest.raises(UserError, match="video pattern"):
            read_benchmark(benchmark, tmp_path / "missing", tmp_path, video_pattern="{vid}.mp4")


@pytest.mark.parametrize("benchmark", task_names())
def test_bad_on_error_is_a_user_error_naming_the_choices(tmp_path: Path, benchmark: str) -> None:
    annotations, _ = write_annotations(tmp_path, benchmark)
    with pytest.raises(UserError) as caught:
        read_benchmark(benchmark, annotations, tmp_path, on_error="ignore")
    assert "on_error" in str(caught.value) and "'raise'" in str(caught.value) and "'skip'" in str(caught.value)
