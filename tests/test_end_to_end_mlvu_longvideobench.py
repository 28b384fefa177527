"""MLVU and LongVideoBench end to end on the tiny preset: a short synthetic video, a small annotation file in
the benchmark's published format pointing at it, then predict (tiny ∞-Video-LLaMA and tiny ∞-VideoChat2, each
through the benchmark's shipped config), match, score and report. The answers are meaningless (random
weights); what is checked is that every stage takes the benchmark and metrics.json has its breakdowns."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from infvideo.cli import main
from infvideo.data.mlvu import TASK_FILES
from infvideo.data.mlvu import TASKS as MLVU_TASKS
from infvideo.demo.synthetic_data import DemoSettings, write_video

VIDEO = DemoSettings(seconds=4.0, fps=4, size=32)
TINY = [
    "model.preset=tiny",
    "model.device=cpu",
    "sampling.backend=pyav",
    "sampling.frames_per_chunk=4",
    "sampling.num_chunks=2",
    "generation.max_new_tokens=4",
    "memory.num_basis=16",
    "memory.num_samples=16",
]
FAMILIES = ("video_llama", "videochat2")


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "clip.mp4", VIDEO)


def write_mlvu(root: Path, video: Path) -> tuple[Path, Path]:
    """The release's layout: json/<n>_<task>.json (one question each) and video/<n>_<task>/<video>; every
    task names the same video file name, as MLVU's tasks do for different videos."""
    annotations, videos = root / "json", root / "video"
    annotations.mkdir(parents=True)
    for number, file in enumerate(TASK_FILES):
        stem = Path(file).stem
        (videos / stem).mkdir(parents=True)
        shutil.copyfile(video, videos / stem / "clip.mp4")
        candidates = ["a red square", "a green bar", "a blue square", "nothing"]
        row = {
            "video": "clip.mp4",
            "duration": VIDEO.seconds,
            "question": f"What appears ({number})?",
            "candidates": candidates,
            "answer": candidates[number % 4],
            "question_type": stem.split("_", 1)[1],
        }
        (annotations / file).write_text(json.dumps([row], indent=4))
    return annotations, videos


def write_longvideobench(root: Path, video: Path) -> tuple[Path, Path]:
    """lvb_val.json with a five- and a four-option question in two duration groups; videos/ holds the file."""
    videos = root / "videos"
    videos.mkdir(parents=True)
    shutil.copyfile(video, videos / "abc123XYZ_0.mp4")
    common = {
        "video_id": "abc123XYZ_0",
        "video_path": "abc123XYZ_0.mp4",
        "subtitle_path": "abc123XYZ_0_en.json",
        "duration": VIDEO.seconds,
        "topic_category": "NP-News-Programs",
        "level": "L1-Perception",
    }
    rows = [
        {
            **common,
            "id": "abc123XYZ_0_0",
            "question": "What colour is the square?",
            "question_category": "TOS",
            "candidates": ["red", "green", "blue", "yellow", "white"],
            "correct_choice": 4,
            "duration_group": 600,
        },
        {
            **common,
            "id": "abc123XYZ_0_1",
            "question": "What is in the middle?",
            "question_category": "E2O",
            "candidates": ["a bar", "a square", "a circle", "nothing"],
            "correct_choice": 1,
            "duration_group": 15,
        },
    ]
    annotations = root / "lvb_val.json"
    annotations.write_text(json.dumps(rows, indent=4))
    return annotations, videos


WRITERS = {"mlvu": write_mlvu, "longvideobench": write_longvideobench}


def predict_match_score(tmp_path: Path, video: Path, benchmark: str) -> list[Path]:
    annotations, videos = WRITERS[benchmark](tmp_path / "data", video)
    runs = tmp_path / "runs"
    for family in FAMILIES:
        assert (
            main(
                [
                    "predict",
                    "--config",
                    f"{family}/{benchmark}",
                    *TINY,
                    f"data.annotations={annotations}",
                    f"data.video_folder={videos}",
                    f"run.output_dir={runs / family}",
                    "--quiet",
                ]
            )
            == 0
        ), family
    run_dirs = [next((runs / family / benchmark).iterdir()) for family in FAMILIES]
    assert main(["match", *map(str, run_dirs), "--quiet"]) == 0
    assert main(["score", *map(str, run_dirs), "--quiet"]) == 0
    return run_dirs


def report_header(tmp_path: Path, run_dirs: list[Path], capsys) -> str:
    capsys.readouterr()
    assert main(["report", *map(str, run_dirs), "--output-dir", str(tmp_path / "report")]) == 0
    return (tmp_path / "report" / "report.md").read_text().splitlines()[0]


def test_mlvu_predict_match_score_report(tmp_path, video, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    run_dirs = predict_match_score(tmp_path, video, "mlvu")
    for run_dir in run_dirs:
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["benchmark"] == "mlvu" and metrics["overall"]["total"] == 7
        tasks = metrics["breakdowns"]["task"]
        assert list(tasks) == list(MLVU_TASKS) and all(cell["total"] == 1 for cell in tasks.values())
        accuracies = [cell["accuracy"] for cell in tasks.values()]
        assert metrics["headline"] == {"name": "M-Avg", "mean_of": "task", "accuracy": pytest.approx(sum(accuracies) / 7)}
        assert "headline: M-Avg" in (run_dir / "metrics.md").read_text()
    assert "| MLVU |" in report_header(tmp_path, run_dirs, capsys)


def test_longvideobench_predict_match_score_report(tmp_path, video, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    run_dirs = predict_match_score(tmp_path, video, "longvideobench")
    for run_dir in run_dirs:
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["benchmark"] == "longvideobench" and metrics["overall"]["total"] == 2 and "headline" not in metrics
        assert {group: cell["total"] for group, cell in metrics["breakdowns"]["duration_group"].items()} == {"15": 1, "600": 1}
        assert list(metrics["breakdowns"]["category"]) == ["E2O", "TOS"]
    # the videochat2 run parsed letters from its answers' text; the video_llama run's free text was matched by MiniLM
    llama, chat2 = ([json.loads(line) for line in (run_dir / "matches.jsonl").read_text().splitlines()] for run_dir in run_dirs)
    assert {line["embedder"] for line in llama} == {"minilm"} and all(line["letter"] in "ABCDE" for line in llama)
    assert {line["embedder"] for line in chat2} == {None} and {line["method"] for line in chat2} <= {"parsed", "unparsed"}
    assert "| LongVideoBench |" in report_header(tmp_path, run_dirs, capsys)
