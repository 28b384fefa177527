import csv
import json

import pytest

from infvideo.cli import main
from infvideo.errors import UserError
from infvideo.eval.config import load_config, to_yaml
from infvideo.eval.plots import accuracy_figure, plot_accuracy_against
from infvideo.eval.report import comparison_table, load_finished, load_result, variant_label, write_runs_csv


def load_results(run_dirs):
    return [load_result(run_dir) for run_dir in run_dirs]


def fake_run(root, name, overrides, accuracy, score=None, benchmark="nextqa", predicted=10, questions=10, limit=None):
    """A scored run directory as ``infvideo score`` leaves it (accuracy in percent)."""
    directory = root / name
    directory.mkdir(parents=True)
    config = load_config(overrides=[f"data.benchmark={benchmark}", *overrides])
    (directory / "config.yaml").write_text(to_yaml(config))
    overall = {"accuracy": accuracy, "correct": 0, "total": questions, "invalid": 0}
    if score is not None:
        overall["score"] = score
    protocol = {
        "questions": questions,
        "questions_in_annotations": questions if limit is None else 100,
        "predicted": predicted,
        "not_predicted": questions - predicted,
        "partial": predicted < questions,
        "limit": limit,
        "limited": limit is not None,
    }
    metrics = {
        "benchmark": benchmark,
        "units": {"accuracy": "percent", "score": "judge score 0-5"},
        "protocol": protocol,
        "overall": overall,
        "breakdowns": {},
    }
    (directory / "metrics.json").write_text(json.dumps(metrics))
    return directory


@pytest.fixture
def runs(tmp_path):
    return [
        fake_run(tmp_path, "no_ltm", ["model.alpha=1.0"], 37.6),
        fake_run(tmp_path, "uniform_05", ["model.alpha=0.9", "memory.sticky=false", "memory.tau=0.5"], 39.0),
        fake_run(tmp_path, "uniform_075", ["model.alpha=0.9", "memory.sticky=false", "memory.tau=0.75"], 40.0),
        fake_run(tmp_path, "sticky_05", ["model.alpha=0.9", "memory.sticky=true", "memory.tau=0.5"], 40.5),
        fake_run(tmp_path, "sticky_075", ["model.alpha=0.9", "memory.sticky=true", "memory.tau=0.75"], 41.1),
        fake_run(tmp_path, "moviechat", ["model.alpha=0.9", "memory.kind=moviechat"], 72.2, 3.88, benchmark="moviechat"),
    ]


def rows_of(table):
    return [line for line in table.splitlines()[2:] if line.startswith("|")]


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
    assert lines[0] == "| model | memory | settings | NExT-QA | NExT-QA questions | MovieChat-1K | MovieChat-1K questions |"
    rows = rows_of(table)
    assert len(rows) == 6
    assert rows[0].startswith("| ∞-Video-LLaMA | No LTM | 8×16f | 37.6 | 10/10 |")  # No LTM first, as in the paper
    assert "| MovieChat | α=0.9 8×16f |  |  | 72.2 / 3.88 | 10/10 |" in table  # judged: accuracy / score
    assert "| Sticky | N=256 τ=0.75 α=0.9 8×16f | 41.1 | 10/10 |  |  |" in table
    assert rows.index(next(r for r in rows if "| Uniform |" in r)) < rows.index(next(r for r in rows if "| Sticky |" in r))
    assert "Accuracy in percent" in table


def test_seeds_of_one_setting_aggregate_to_mean_and_std(tmp_path):
    runs = [
        fake_run(tmp_path, f"seed_{seed}", [f"run.seed={seed}", f"run.name=seed_{seed}"], accuracy)
        for seed, accuracy in ((42, 100.0), (43, 0.0), (44, 0.0))
    ]
    table = comparison_table(load_results(runs))
    # mean 100/3 = 33.3; sample std sqrt(((200/3)² + 2·(100/3)²) / 2) = 57.7
    assert len(rows_of(table)) == 1
    assert "| 33.3 ± 57.7 (n=3) | 10/10 |" in rows_of(table)[0]


def test_runs_differing_in_a_setting_outside_the_usual_label_get_their_own_labelled_rows(tmp_path):
    runs = [
        fake_run(tmp_path, "plain", ["model.reference_compat=false"], 40.0),
        fake_run(tmp_path, "compat", ["model.reference_compat=true"], 38.0),
        fake_run(tmp_path, "beams", ["model.reference_compat=true", "generation.num_beams=5"], 30.0),
        fake_run(tmp_path, "frames", ["model.reference_compat=true", "sampling.rule=uniform"], 20.0),
    ]
    rows = rows_of(comparison_table(load_results(runs)))
    assert len(rows) == 4
    labels = [row.split(" | ")[2] for row in rows]
    assert len(set(labels)) == 4
    assert any("model.reference_compat=False" in label for label in labels)
    assert any("generation.num_beams=5" in label for label in labels) and any("sampling.rule=uniform" in label for label in labels)


def test_partial_and_limited_runs_are_marked(tmp_path):
    runs = [
        fake_run(tmp_path, "partial", ["model.alpha=1.0"], 20.0, predicted=14, questions=30),
        fake_run(tmp_path, "smoke", ["model.alpha=0.5"], 50.0, predicted=20, questions=20, limit=20),
    ]
    table = comparison_table(load_results(runs))
    assert "| 20.0* | 14/30 |" in table and "| 50.0* | 20/20 |" in table
    assert "partial: 14/30 questions predicted" in table and "limited: data.limit=20 (20 of 100 annotated questions)" in table


def test_runs_csv_keeps_one_line_per_run_with_seed_and_settings(tmp_path):
    runs = [
        fake_run(tmp_path, f"seed_{seed}", [f"run.seed={seed}", f"run.name=seed_{seed}", "memory.sticky=true"], accuracy)
        for seed, accuracy in ((42, 40.0), (43, 41.0))
    ]
    table = list(csv.DictReader(write_runs_csv(load_results(runs), tmp_path / "runs.csv").open()))
    assert [row["run.seed"] for row in table] == ["42", "43"]
    assert [row["accuracy (%)"] for row in table] == ["40.0", "41.0"]
    assert table[0]["memory.sticky"] == "True" and table[0]["generation.num_beams"] == "1" and table[0]["questions"] == "10"


def test_accuracy_against_tau_draws_a_line_per_sampler_and_skips_unswept_settings(runs, tmp_path):
    results = load_results(runs)
    path = plot_accuracy_against(results, "tau", tmp_path / "tau.png")
    assert path.stat().st_size > 10_000
    assert plot_accuracy_against(results, "num_basis", tmp_path / "n.png") is None  # nothing varies N
    assert not (tmp_path / "n.png").exists()


def test_plots_have_one_axis_per_benchmark_in_percent_and_label_no_ltm(tmp_path):
    runs = [
        fake_run(tmp_path, f"{benchmark}_{alpha}", [f"model.alpha={alpha}"], accuracy, benchmark=benchmark)
        for benchmark in ("nextqa", "egoschema")
        for alpha, accuracy in ((0.5, 40.0), (0.9, 45.0), (1.0, 38.0))
    ]
    figure = accuracy_figure(load_results(runs), "alpha")
    assert len(figure.axes) == 2
    assert sorted(ax.get_title() for ax in figure.axes) == ["EgoSchema", "NExT-QA"]
    for ax in figure.axes:
        assert ax.get_ylim() == (0.0, 100.0) and "%" in ax.get_ylabel()
        assert "No LTM" in [text.get_text() for text in ax.texts]


def test_a_run_without_metrics_names_score(tmp_path):
    directory = tmp_path / "unscored"
    directory.mkdir()
    (directory / "config.yaml").write_text(to_yaml(load_config()))
    with pytest.raises(UserError, match=f"no metrics.json; run `infvideo score {directory}`"):
        load_results([directory])


def test_a_missing_directory_is_not_told_to_run_score(tmp_path):
    with pytest.raises(UserError, match="does not exist") as error:
        load_results([tmp_path / "typo"])
    assert "infvideo score" not in str(error.value)


def test_metrics_from_an_older_score_are_refused(tmp_path):
    directory = fake_run(tmp_path, "old", [], 0.4)
    metrics = json.loads((directory / "metrics.json").read_text())
    del metrics["units"]
    (directory / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(UserError, match=f"infvideo score {directory}"):
        load_results([directory])


def test_report_over_a_glob_skips_and_lists_what_is_not_a_scored_run(tmp_path, capsys):
    scored = fake_run(tmp_path / "runs", "scored", [], 40.0)
    unscored = tmp_path / "runs" / "unscored"
    unscored.mkdir()
    (unscored / "config.yaml").write_text(to_yaml(load_config()))
    stray = tmp_path / "runs" / "notes.txt"
    stray.write_text("x")
    results, skipped = load_finished([scored, unscored, stray])
    assert [r.directory for r in results] == [scored] and [path for path, _ in skipped] == [unscored, stray]
    assert main(["report", str(scored), str(unscored), str(stray), "--output-dir", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert f"skipped {unscored}: " in err and f"skipped {stray}: " in err
    assert main(["report", str(unscored), str(stray), "--output-dir", str(tmp_path / "out")]) == 2
    assert "infvideo: error: nothing to report" in capsys.readouterr().err


def with_matcher(directory, matcher):
    """metrics.json as a newer `infvideo score` writes it: protocol.matcher is the embedder used."""
    metrics = json.loads((directory / "metrics.json").read_text())
    metrics["protocol"]["matcher"] = matcher
    (directory / "metrics.json").write_text(json.dumps(metrics))
    return directory


MINILM_NOTE = "† matched with MiniLM (offline), not the paper's text-embedding-ada-002"


def test_rows_matched_with_minilm_are_marked(tmp_path):
    runs = [
        with_matcher(fake_run(tmp_path, "minilm", ["model.alpha=1.0"], 37.6), "minilm"),
        with_matcher(fake_run(tmp_path, "ada", ["model.alpha=0.9", "memory.sticky=true"], 41.1), "openai:text-embedding-ada-002"),
        with_matcher(
            fake_run(tmp_path, "mixed", ["model.alpha=0.9", "memory.sticky=false"], 39.0), ["minilm", "openai:text-embedding-ada-002"]
        ),
        with_matcher(fake_run(tmp_path, "parsed", ["model.alpha=0.5", "memory.sticky=true"], 50.0), None),
        fake_run(tmp_path, "partial", ["model.alpha=0.5", "memory.sticky=false"], 20.0, predicted=5),
    ]
    with_matcher(runs[-1], "minilm")
    table = comparison_table(load_results(runs))
    assert "| 37.6† | 10/10 |" in table and "| 41.1 | 10/10 |" in table and "| 39.0† | 10/10 |" in table
    assert "| 50.0 | 10/10 |" in table and "| 20.0*† | 5/10 |" in table
    assert table.count(MINILM_NOTE) == 1


def test_older_metrics_without_the_matcher_fall_back_to_the_runs_matches(tmp_path):
    minilm = fake_run(tmp_path, "minilm", ["model.alpha=1.0"], 37.6)
    ada = fake_run(tmp_path, "ada", ["model.alpha=0.9"], 41.1)
    unknown = fake_run(tmp_path, "unknown", ["model.alpha=0.5"], 50.0)  # no matches.jsonl: nothing to tell
    for directory, embedder in ((minilm, "minilm"), (ada, "openai:text-embedding-ada-002")):
        lines = [
            {"id": "1", "letter": "A", "method": "embedding", "embedder": embedder},
            {"id": "2", "letter": "B", "method": "parsed", "embedder": None},
        ]
        (directory / "matches.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
        metrics = (directory / "metrics.json").read_text()
        (directory / "metrics.json").write_text(metrics)  # scored after matching
    table = comparison_table(load_results([minilm, ada, unknown]))
    assert "| 37.6† | 10/10 |" in table and "| 41.1 | 10/10 |" in table and "| 50.0 | 10/10 |" in table
    assert MINILM_NOTE in table


def test_no_minilm_run_no_footnote(runs):
    assert "†" not in comparison_table(load_results(runs))


def test_an_all_frames_run_is_labelled_by_what_it_read(tmp_path):
    """An all_frames run read every frame; its label said "8×256f" from a chunk count it ignores."""
    runs = [
        fake_run(tmp_path, "all", ["sampling.rule=all_frames", "sampling.frames_per_chunk=256"], 40.0),
        fake_run(tmp_path, "sampled", ["sampling.num_chunks=8", "sampling.frames_per_chunk=256"], 30.0),
    ]
    labels = [row.split(" | ")[2] for row in rows_of(comparison_table(load_results(runs)))]
    assert any("all×256f" in label for label in labels) and any("8×256f" in label for label in labels)
    assert not any("all×256f" in label and "8×" in label for label in labels)
