"""The README's evaluation walk-through (scripts/tiny_end_to_end.sh) in-process and small:
sweep -> match / judge (stand-in server over real HTTP) -> score -> report with plots."""

import json
from pathlib import Path

from infvideo.cli import main
from infvideo.demo.synthetic_data import DemoSettings, write_demo_data
from infvideo.eval.stand_in_server import base_url, start_server

REPO = Path(__file__).resolve().parents[1]
SMALL = DemoSettings(seconds=20.0, fps=4, size=32, frames_per_chunk=4, num_chunks=3)


def test_sweep_judge_score_report(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    data = write_demo_data(tmp_path / "data", SMALL)
    runs = tmp_path / "runs"
    common = [
        f"data.video_folder={data.folder}",
        f"run.output_dir={runs}",
        f"run.token_cache={tmp_path / 'tokens'}",
        "sampling.frames_per_chunk=4",
        "sampling.num_chunks=3",
        "generation.max_new_tokens=4",
    ]
    assert main(["sweep", "sweeps/tiny_nextqa", f"data.annotations={data.nextqa}", *common, "--quiet"]) == 0
    assert main(["sweep", "sweeps/tiny_moviechat", f"data.annotations={data.moviechat}", *common, "--quiet"]) == 0
    nextqa_runs = sorted(str(p) for p in (runs / "nextqa").iterdir())
    moviechat_runs = sorted(str(p) for p in (runs / "moviechat").iterdir())
    assert len(nextqa_runs) == 5 and len(moviechat_runs) == 3

    assert main(["match", *nextqa_runs, "--quiet"]) == 0
    server = start_server()
    try:
        assert (
            main(
                [
                    "judge",
                    *moviechat_runs,
                    "--base-url",
                    base_url(server),
                    "--model",
                    "stand-in",
                    "--cache-dir",
                    str(tmp_path / "judge_cache"),
                    "--quiet",
                ]
            )
            == 0
        )
    finally:
        server.shutdown()
    assert main(["score", *nextqa_runs, *moviechat_runs]) == 0
    for run_dir in nextqa_runs + moviechat_runs:
        metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
        assert metrics["overall"]["total"] == 3
        assert (Path(run_dir) / "metrics.md").read_text().count("|") > 10

    capsys.readouterr()
    report = tmp_path / "report"
    assert main(["report", *nextqa_runs, *moviechat_runs, "--output-dir", str(report), "--attention"]) == 0
    table = (report / "report.md").read_text()
    assert "| model | memory | settings | NExT-QA | NExT-QA questions | MovieChat-1K | MovieChat-1K questions |" in table
    for variant in ("No LTM", "Uniform", "Sticky"):
        assert f"| {variant} |" in table
    assert (report / "runs.csv").read_text().count("\n") == 1 + 8
    assert (report / "accuracy_vs_tau.png").stat().st_size > 10_000
    attention = sorted(report.glob("attention_*.png"))
    assert len(attention) == 4 + 2  # every run with a continuous memory and alpha < 1
    assert table in capsys.readouterr().out
