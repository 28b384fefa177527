"""benchmarks/bench_pipeline.py --tiny completes on a CPU and prints its figures (speed targets are
read from its output, never asserted here)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_tiny_pipeline_benchmark_runs_and_prints_its_figures():
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/bench_pipeline.py"), "--tiny", "--videos", "2", "--seconds", "8", "--size", "64"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for figure in (
        "decode",
        "prepro",
        "encode",
        "memory",
        "generate",
        "wall",
        "ratio",
        "GPU %",
        "peak host RSS",
        "identical answers across settings: True",
    ):
        assert figure in done.stdout
