"""The task table drives every stage: each benchmark named in ``TASKS`` is accepted by validation, titled in
the report, counted by its row's metrics; an unknown name is one error line listing the known ones."""

from __future__ import annotations

import dataclasses
import json

import pytest

from infvideo.cli import main
from infvideo.data.record import QuestionRecord
from infvideo.errors import EXIT_USER_ERROR, UserError
from infvideo.eval.config import load_config, to_yaml
from infvideo.eval.metrics.cells import UNITS
from infvideo.eval.metrics.multiple_choice import ChoiceBreakdown, ChoiceMetrics, choice_metrics
from infvideo.eval.metrics.tables import metrics_markdown
from infvideo.eval.report import comparison_table, load_result
from infvideo.eval.tasks import TASKS, get_task, judged_task_names, task_names
from infvideo.eval.validation import validate_config


def data_config(tmp_path, benchmark: str, *overrides: str):
    annotations = tmp_path / "annotations.json"
    annotations.write_text("[]")
    videos = tmp_path / "videos"
    videos.mkdir(exist_ok=True)
    return load_config(overrides=[f"data.benchmark={benchmark}", f"data.annotations={annotations}",
                                  f"data.video_folder={videos}", *overrides])


@pytest.mark.parametrize("name", task_names())
def test_every_task_is_accepted_by_validation(tmp_path, name):
    validate_config(data_config(tmp_path, name))


def test_a_tasks_own_option_check_runs_in_validation(tmp_path):
    with pytest.raises(UserError, match="data.mode='paused' is not one of global, breakpoint"):
        validate_config(data_config(tmp_path, "moviechat", "data.mode=paused"))
    validate_config(data_config(tmp_path, "nextqa", "data.mode=paused"))  # not an option of NExT-QA's reader


def test_unknown_benchmark_is_one_error_line_listing_the_known_tasks(tmp_path, capsys):
    assert main(["predict", "data.benchmark=nope", f"run.output_dir={tmp_path}"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "data.benchmark='nope'" in err
    assert all(name in err for name in TASKS)
    with pytest.raises(UserError, match="unknown benchmark 'nope'; known: nextqa, nextoe"):
        get_task("nope")


def test_aliases_resolve_to_their_task_and_kinds_split_the_table():
    assert get_task("videomme") is TASKS["video_mme"]
    assert "videomme" in task_names(aliases=True) and "videomme" not in task_names()
    assert judged_task_names() == ["nextoe", "moviechat"]
    for task in TASKS.values():  # a multiple-choice task has metrics; a judged one is judged, not matched
        assert (task.metrics is not None) == (task.kind == "multiple_choice")


def scored_run(root, name: str, accuracy: float, headline: dict | None = None):
    directory = root / name
    directory.mkdir()
    (directory / "config.yaml").write_text(to_yaml(load_config(overrides=[f"data.benchmark={name}"])))
    overall = {"accuracy": accuracy, "correct": 1, "total": 2, "invalid": 0}
    metrics = {"benchmark": name, "units": UNITS, "protocol": {"questions": 2}, "overall": overall, "breakdowns": {}}
    (directory / "metrics.json").write_text(json.dumps(metrics | ({"headline": headline} if headline else {})))
    return directory


def test_every_task_has_its_title_in_the_report_in_the_tables_order(tmp_path):
    runs = [scored_run(tmp_path, name, 50.0) for name in reversed(task_names())]
    header = comparison_table([load_result(run) for run in runs]).splitlines()[0]
    titles = [task.title for task in TASKS.values()]
    assert all(title in header for title in titles)
    assert sorted(titles, key=header.index) == titles


def record(qid: str, answer: int, task_type: str, clip: str) -> QuestionRecord:
    return QuestionRecord(id=qid, dataset="new", video_id="v", video_path="v.mp4", question="?", options=("a", "b", "c"),
                          answer=answer, question_type=task_type, extra={"clip": clip})


def test_a_new_benchmarks_metrics_are_data_with_a_mean_of_breakdowns_headline(tmp_path):
    """A benchmark added as a row: breakdowns by a field and an extra key, the headline the mean of the
    per-task accuracies (MLVU's M-Avg), which the report then shows instead of overall accuracy."""
    task = dataclasses.replace(TASKS["video_mme"], name="new", title="New", metrics=ChoiceMetrics(
        (ChoiceBreakdown("task", "question_type", order=("count", "order")), ChoiceBreakdown("clip", "extra.clip")),
        headline_mean_of="task", headline_name="M-Avg"))
    records = [record("q1", 0, "count", "x"), record("q2", 1, "count", "y"), record("q3", 2, "count", "y"),
               record("q4", 0, "order", "x")]
    metrics = choice_metrics(task, records, {"q1": "A", "q2": "B", "q3": "A", "q4": "B"})
    assert metrics["overall"]["accuracy"] == 50.0  # 2 of 4
    assert list(metrics["breakdowns"]) == ["task", "clip"]
    assert {k: c["accuracy"] for k, c in metrics["breakdowns"]["task"].items()} == pytest.approx({"count": 200 / 3, "order": 0.0})
    assert metrics["headline"] == {"name": "M-Avg", "mean_of": "task", "accuracy": pytest.approx(100 / 3)}
    assert "headline: M-Avg = 33.3, the mean of the task accuracies." in metrics_markdown(metrics)
    assert "headline" not in choice_metrics(TASKS["video_mme"], [], {})  # today's tasks: overall is the headline

    run = scored_run(tmp_path, "nextqa", 50.0, headline=metrics["headline"])
    assert load_result(run).accuracy == pytest.approx(100 / 3)


def test_a_strict_breakdown_names_the_task_and_the_value():
    with pytest.raises(UserError, match="^NExT-QA question 'q1' has type 'XX'; expected one of CW, CH, TN, TC, DC, DL, DO or TP$"):
        choice_metrics(TASKS["nextqa"], [dataclasses.replace(record("q1", 0, "XX", "x"), dataset="nextqa")], {})
