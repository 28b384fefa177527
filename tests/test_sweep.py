from pathlib import Path

import pytest

from infvideo.demo.synthetic_data import DemoSettings, write_demo_data
from infvideo.errors import UserError
from infvideo.eval import backends
from infvideo.eval import sweep as sweep_module
from infvideo.eval.predictions import read_records
from infvideo.eval.sweep import expand_sweep, run_sweep

REPO = Path(__file__).resolve().parents[1]
SMALL = DemoSettings(seconds=20.0, fps=4, size=32, frames_per_chunk=4, num_chunks=3)


def write_sweep(tmp_path, body: str) -> Path:
    data = write_demo_data(tmp_path / "data", SMALL)
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "base: [tiny/nextqa]\n"
        f"overrides: [data.annotations={data.nextqa}, data.video_folder={data.folder}, run.output_dir={tmp_path / 'runs'},"
        f" sampling.frames_per_chunk={SMALL.frames_per_chunk}, sampling.num_chunks={SMALL.num_chunks}, run.token_cache=null, generation.max_new_tokens=4]\n"
        + body
    )
    return path


def test_grid_and_runs_expand_in_order_without_duplicates(tmp_path):
    path = write_sweep(
        tmp_path,
        "grid:\n  memory.tau: [0.5, 0.75]\n  memory.sticky: [false, true]\nruns:\n  - {model.alpha: 1.0}\n  - {memory.tau: 0.5, memory.sticky: false}\n",
    )
    runs = expand_sweep(path)
    assert [r.settings for r in runs] == [
        {"memory.tau": 0.5, "memory.sticky": False},
        {"memory.tau": 0.5, "memory.sticky": True},
        {"memory.tau": 0.75, "memory.sticky": False},
        {"memory.tau": 0.75, "memory.sticky": True},
        {"model.alpha": 1.0},
    ]  # the repeated explicit run is dropped
    assert [r.config.memory.tau for r in runs[:4]] == [0.5, 0.5, 0.75, 0.75]
    assert runs[4].config.model.alpha == 1.0 and runs[4].config.memory.tau == 0.75  # the base file's value
    assert len({r.directory for r in runs}) == 5
    assert all(r.config.run.token_cache == str(tmp_path / "runs" / "tokens") for r in runs)  # one shared cache by default


def test_bad_sweep_files_are_refused(tmp_path):
    path = write_sweep(tmp_path, "grids:\n  memory.tau: [0.5]\n")
    with pytest.raises(UserError, match="unknown sweep keys"):
        expand_sweep(path)
    empty = write_sweep(tmp_path, "")
    with pytest.raises(UserError, match="needs a grid or a list of runs"):
        expand_sweep(empty)


def test_every_grid_point_is_validated_before_anything_runs(tmp_path, capsys):
    """A bad value in the middle of a grid used to surface only when its run started (after a model loaded)."""
    from infvideo.cli import main

    path = write_sweep(tmp_path, "grid:\n  memory.tau: [0.5, 1.5, 0.75]\n  memory.num_basis: [16, 0]\n")
    with pytest.raises(UserError, match=r"4 of 6 runs are invalid.*num_basis must be positive.*tau must lie in \(0, 1\), got 1.5"):
        expand_sweep(path)
    assert main(["sweep", str(path), "--dry-run"]) == 2
    assert "infvideo: error:" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_three_settings_encode_each_video_once_and_reuse_one_model(tmp_path, monkeypatch):
    calls = {"encode_chunk": 0, "build": 0}
    original_encode, original_build = backends.Backend.encode_chunk, sweep_module.build_backend

    def counting_encode(self, frames):
        calls["encode_chunk"] += 1
        return original_encode(self, frames)

    def counting_build(config):
        calls["build"] += 1
        return original_build(config)

    monkeypatch.setattr(backends.Backend, "encode_chunk", counting_encode)
    monkeypatch.setattr(sweep_module, "build_backend", counting_build)
    path = write_sweep(tmp_path, "grid:\n  memory.tau: [0.5, 0.75]\nruns:\n  - {model.alpha: 1.0}\n")
    summaries = run_sweep(expand_sweep(path), progress=False)
    assert len(summaries) == 3 and not any(s["skipped"] for s in summaries)
    assert calls["encode_chunk"] == SMALL.num_chunks  # one video, its chunks encoded once for three runs
    assert calls["build"] == 1  # alpha and memory are swapped into the loaded model
    predictions = [list(read_records(Path(s["run_dir"]) / "predictions.jsonl")) for s in summaries]
    assert all(len(lines) == 3 and all("error" not in line for line in lines) for lines in predictions)
    # The reconfigured model answers as a freshly built one would.
    fresh = tmp_path / "fresh"
    runs = expand_sweep(path, [f"run.output_dir={fresh}"])
    run_sweep(runs[1:2], progress=False)
    again = list(read_records(runs[1].directory / "predictions.jsonl"))
    assert [line["prediction"] for line in again] == [line["prediction"] for line in predictions[1]]
    # A second sweep finds every run finished: no model, no encoding.
    calls.update(encode_chunk=0, build=0)
    assert all(s["skipped"] for s in run_sweep(expand_sweep(path), progress=False))
    assert calls == {"encode_chunk": 0, "build": 0}
