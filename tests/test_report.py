import csv
import json

import pytest

from infvideo.eval.config import load_config, to_yaml
from infvideo.eval.plots import plot_accuracy_against
from infvideo.eval.report import comparison_table, load_results, variant_label, write_runs_csv


def fake_run(root, name, overrides, accuracy, score=None, benchmark="nextqa"):
    directory = root / name
    directory.mkdir(parents=True)
    config = load_config(overrides=[f"data.benchmark={benchmark}", *overrides])
    (directory / "config.yaml").write_text(to_yaml(config))
    overall = {"accuracy": accuracy, "correct": 0, "total": 10, "invalid": 0}
    if score is not None:
        overall["score"] = score
    (directory / "metrics.json").write_text(json.dumps({"benchmark": benchmark, "overall": overall, "breakdowns": {}}))
    return directory


@pytest.fixture
def runs(tmp_path):
    return [
        fake_run(tmp_path, "no_ltm", ["model.alpha=1.0"], 0.376),
        fake_run(tmp_path, "uniform_05", ["model.alpha=0.9", "memory.sticky=false", "memory.tau=0.5"], 0.39),
        fake_run(tmp_path, "uniform_075", ["model.alpha=0.9", "memory.sticky=false", "memory.tau=0.75"], 0.40),
        fake_run(tmp_path, "sticky_05", ["model.alpha=0.9", "memory.sticky=true", "memory.tau=0.5"], 0.405),
        fake_run(tmp_path, "sticky_075", ["model.alpha=0.9", "memory.sticky=true", "memory.tau=0.75"], 0.411),
        fake_run(tmp_path, "moviechat", ["model.alpha=0.9", "memory.kind=moviechat"], 0.722, 3.88, benchmark="moviechat"),
    ]


def test_variant_names_follow_the_paper():
    assert variant_label(load_config(overrides=["model.alpha=1.0"])) == "No LTM"
    assert variant_label(load_config(overrides=["memory.kind=none"])) == "No LTM"
    assert variant_label(load_config(overrides=["memory.sticky=true"])) == "Sticky"
    assert variant_label(load_config(overrides=["memory.sticky=false"])) == "Uniform"
    assert variant_label(load_config(overrides=["model.alpha=0.0", "memory.sticky=true"])) == "No STM Sticky"
    assert variant_label(load_config(overrides=["memory.kind=moviechat"])) == "MovieChat"
    assert variant_label(load_config(overrides=["memory.kind=malmm"])) == "MA-LMM-style"


def test_table_has_one_row_per_variant_and_setting_and_one_column_per_benchmark(runs):
    table = comparison_table(load_results(runs))
    lines = table.splitlines()
    assert lines[0] == "| model | memory | settings | NExT-QA | MovieChat-1K |"
    rows = [line for line in lines[2:] if line.startswith("|")]
    assert len(rows) == 6
    assert rows[0].startswith("| ∞-Video-LLaMA | No LTM | 8×16f | 37.6 |")  # No LTM first, as in the paper
    assert "| MovieChat | α=0.9 8×16f |  | 72.2 / 3.88 |" in table  # judged: accuracy / score
    assert "| Sticky | N=256 τ=0.75 α=0.9 8×16f | 41.1 |  |" in table
    assert rows.index(next(r for r in rows if "| Uniform |" in r)) < rows.index(next(r for r in rows if "| Sticky |" in r))


def test_runs_csv_is_tidy(runs, tmp_path):
    path = write_runs_csv(load_results(runs), tmp_path / "runs.csv")
    table = list(csv.DictReader(path.open()))
    assert len(table) == 6
    assert {row["memory.tau"] for row in table if row["variant"] == "Sticky"} == {"0.5", "0.75"}
    assert [row["accuracy"] for row in table][:2] == ["0.376", "0.39"]


def test_accuracy_against_tau_draws_a_line_per_sampler_and_skips_unswept_settings(runs, tmp_path):
    results = load_results(runs)
    path = plot_accuracy_against(results, "tau", tmp_path / "tau.png")
    assert path.stat().st_size > 10_000
    assert plot_accuracy_against(results, "num_basis", tmp_path / "n.png") is None  # nothing varies N
    assert not (tmp_path / "n.png").exists()


def test_a_run_without_metrics_is_a_clear_error(tmp_path):
    directory = tmp_path / "unscored"
    directory.mkdir()
    with pytest.raises(FileNotFoundError, match="infvideo score"):
        load_results([directory])
