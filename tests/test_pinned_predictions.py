"""The tiny demo, the tiny sweeps of scripts/tiny_end_to_end.sh and tiny VideoChat2 answer exactly as
they did when ``tests/golden/tiny_predictions.json`` was written (before the benchmark/model-family
move): code moves must not change a single prediction. Regenerate only for a meant change."""

import importlib.util
import json
from pathlib import Path

GOLDEN_DIR = Path(__file__).parent / "golden"


def _maker():
    spec = importlib.util.spec_from_file_location("tiny_predictions", GOLDEN_DIR / "tiny_predictions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_runs_give_the_pinned_predictions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    maker = _maker()
    pinned = json.loads(maker.GOLDEN.read_text())
    now = maker.collect(tmp_path)
    assert maker.without_run_hashes(now) == maker.without_run_hashes(pinned)
    assert sum(map(len, now.values())) == 33
