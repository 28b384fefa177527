import json

from infvideo.demo.pipeline_demo import DemoSettings, run_demo
from infvideo.eval.predictions import read_records


def test_demo_runs_the_whole_pipeline_and_resumes(tmp_path):
    settings = DemoSettings(seconds=60.0, fps=4, size=48, frames_per_chunk=4, num_chunks=4)
    summary = run_demo(tmp_path, settings, progress=False)
    run_dir = tmp_path / "runs" / "nextqa"
    (directory,) = run_dir.iterdir()
    assert str(directory) == summary["run_dir"]
    lines = list(read_records(directory / "predictions.jsonl"))
    assert [line["id"] for line in lines] == ["1001_0", "1001_1", "1001_2"]
    assert all(isinstance(line["prediction"], str) and "error" not in line for line in lines)
    metrics = json.loads((directory / "metrics.json").read_text())
    assert metrics["overall"]["total"] == 3 and set(metrics["breakdowns"]["type"]) == {"DC", "TC", "TN"}
    assert summary["accuracy_percent"] == metrics["overall"]["accuracy"]
    matches = list(read_records(directory / "matches.jsonl"))
    assert all(line["letter"] in "ABCDE" and line["method"] == "embedding" for line in matches)
    assert "| overall |" in (directory / "metrics.md").read_text()
    assert (directory / "attention_density.png").stat().st_size > 0
    before = (directory / "predictions.jsonl").read_bytes()
    run_demo(tmp_path, settings, progress=False)  # a second run resumes: nothing is answered again
    assert (directory / "predictions.jsonl").read_bytes() == before
