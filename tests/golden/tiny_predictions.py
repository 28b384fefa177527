"""The tiny runs whose predictions are pinned in ``tiny_predictions.json``: the demo, the two tiny
sweeps of ``scripts/tiny_end_to_end.sh`` (small settings) and tiny VideoChat2 on both benchmarks.

``python tests/golden/tiny_predictions.py`` rewrites the JSON; run it only when a change is MEANT to
alter tiny predictions, and say so in the commit. ``tests/test_pinned_predictions.py`` compares."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

GOLDEN = Path(__file__).with_name("tiny_predictions.json")


def _predictions(run_dir: Path) -> dict[str, str]:
    from infvideo.eval.predictions import latest_records

    return {record["id"]: record["prediction"] for record in latest_records(run_dir / "predictions.jsonl").values()}


def collect(workdir: Path) -> dict[str, dict[str, str]]:
    from infvideo.cli import main
    from infvideo.demo.pipeline_demo import run_demo
    from infvideo.demo.synthetic_data import DemoSettings, write_demo_data

    pinned: dict[str, dict[str, str]] = {}
    demo = run_demo(workdir / "demo", DemoSettings(seconds=60.0, fps=4, size=48, frames_per_chunk=4, num_chunks=4), progress=False)
    pinned["demo"] = _predictions(Path(demo["run_dir"]))

    data = write_demo_data(workdir / "data", DemoSettings(seconds=20.0, fps=4, size=32, frames_per_chunk=4, num_chunks=3))
    common = [
        f"data.video_folder={data.folder}",
        f"run.token_cache={workdir / 'tokens'}",
        "sampling.frames_per_chunk=4",
        "sampling.num_chunks=3",
        "generation.max_new_tokens=4",
    ]
    for benchmark, annotation_file in (("nextqa", data.nextqa), ("moviechat", data.moviechat)):
        runs = workdir / "sweeps"
        code = main(
            ["sweep", f"sweeps/tiny_{benchmark}", f"data.annotations={annotation_file}", f"run.output_dir={runs}", *common, "--quiet"]
        )
        assert code == 0, code
        for run_dir in sorted((runs / benchmark).iterdir()):
            pinned[f"sweep/{benchmark}/{run_dir.name}"] = _predictions(run_dir)
        runs = workdir / "videochat2"
        code = main(
            [
                "predict",
                "--config",
                f"tiny/{benchmark}",
                "model.name=videochat2",
                f"data.annotations={annotation_file}",
                f"run.output_dir={runs}",
                *common,
                "--quiet",
            ]
        )
        assert code == 0, code
        (run_dir,) = (runs / benchmark).iterdir()
        pinned[f"videochat2/{benchmark}"] = _predictions(run_dir)
    return pinned


def without_run_hashes(pinned: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Run-directory names carry a settings hash, which a move may legitimately change (a field
    renamed); the sweep's runs are compared in name order instead."""
    return {key.rsplit("_", 1)[0] if key.startswith("sweep/") else key: value for key, value in pinned.items()}


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        pinned = collect(Path(tmp))
    GOLDEN.write_text(json.dumps(pinned, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN} ({sum(map(len, pinned.values()))} predictions)", file=sys.stderr)
