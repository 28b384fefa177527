"""The task table drives every stage: each benchmark named in ``TASKS`` is accepted by validation, titled in
the report, counted by its row's metrics; an unknown name is one error line listing the known ones."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from infvideo.cli import main
from infvideo.data.mlvu import TASKS as MLVU_TASKS
from infvideo.data.record import QuestionRecord
from infvideo.errors import EXIT_USER_ERROR, UserError
from infvideo.eval.config import ProtocolSettings, load_config, to_yaml
from infvideo.eval.metrics.cells import UNITS
from infvideo.eval.metrics.multiple_choice import ChoiceBreakdown, ChoiceMetrics, choice_metrics
from infvideo.eval.metrics.tables import metrics_markdown
from infvideo.eval.report import comparison_table, load_result
from infvideo.eval.tasks import TASKS, get_task, judged_task_names, read_benchmark, task_names
from infvideo.eval.validation import validate_config


def data_config(tmp_path, benchmark: str, *overrides: str):
    annotations = tmp_path / "annotations.json"
    annotations.write_text("[]")
    videos = tmp_path / "videos"
    videos.mkdir(exist_ok=True)
    return load_config(
        overrides=[f"data.benchmark={benchmark}", f"data.annotations={annotations}", f"data.video_folder={videos}", *overrides]
    )


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
    return QuestionRecord(
        id=qid,
        dataset="new",
        video_id="v",
        video_path="v.mp4",
        question="?",
        options=("a", "b", "c"),
        answer=answer,
        question_type=task_type,
        extra={"clip": clip},
    )


def test_a_new_benchmarks_metrics_are_data_with_a_mean_of_breakdowns_headline(tmp_path):
    """A benchmark added as a row: breakdowns by a field and an extra key, the headline the mean of the
    per-task accuracies (MLVU's M-Avg), which the report then shows instead of overall accuracy."""
    task = dataclasses.replace(
        TASKS["video_mme"],
        name="new",
        title="New",
        metrics=ChoiceMetrics(
            (ChoiceBreakdown("task", "question_type", order=("count", "order")), ChoiceBreakdown("clip", "extra.clip")),
            headline_mean_of="task",
            headline_name="M-Avg",
        ),
    )
    records = [record("q1", 0, "count", "x"), record("q2", 1, "count", "y"), record("q3", 2, "count", "y"), record("q4", 0, "order", "x")]
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


# ---- MLVU and LongVideoBench: their rows on the readers' fixtures (tests/data_fixtures)

FIXTURES = Path(__file__).parent / "data_fixtures"


def right_letters(records, *wrong: str) -> dict[str, str]:
    """Every question answered right, except the ids in ``wrong`` (answered with the next letter)."""
    return {r.id: r.option_letters[(r.answer + (r.id in wrong)) % len(r.options)] for r in records}


def test_mlvu_headline_is_m_avg_the_mean_of_its_seven_tasks_not_overall(tmp_path):
    task = get_task("mlvu")
    assert (task.kind, task.metrics.headline_mean_of, task.metrics.headline_name) == ("multiple_choice", "task", "M-Avg")
    records = read_benchmark("mlvu", FIXTURES / "mlvu" / "json", tmp_path)
    metrics = choice_metrics(task, records, right_letters(records, "plotQA_0"))  # plotQA has 2 questions, the others 1 or 2

    assert list(metrics["breakdowns"]["task"]) == list(MLVU_TASKS)  # MLVU's order, not alphabetical
    assert metrics["breakdowns"]["task"]["plotQA"]["accuracy"] == 50.0
    assert metrics["overall"]["accuracy"] == pytest.approx(800 / 9)  # 88.9: 8 of 9
    assert metrics["headline"] == {"name": "M-Avg", "mean_of": "task", "accuracy": pytest.approx((50 + 6 * 100) / 7)}  # 92.86
    assert "headline: M-Avg = 92.9, the mean of the task accuracies." in metrics_markdown(metrics)


def test_longvideobench_breaks_down_by_duration_group_in_its_order_and_by_category(tmp_path):
    task = get_task("longvideobench")
    records = read_benchmark("longvideobench", FIXTURES / "longvideobench" / "lvb_val.json", tmp_path)
    metrics = choice_metrics(task, records, right_letters(records, "86CxyhFV9MI_1"))

    assert "headline" not in metrics  # overall accuracy is LongVideoBench's headline
    groups = metrics["breakdowns"]["duration_group"]
    assert list(groups) == [15, 600]  # the groups' order (the fixture lists 600 first), ints as the benchmark gives them
    assert {group: cell["accuracy"] for group, cell in groups.items()} == {15: 100.0, 600: 50.0}
    assert list(metrics["breakdowns"]["category"]) == ["E2O", "S2O", "TOS"]
    assert list(json.loads(json.dumps(metrics))["breakdowns"]["duration_group"]) == ["15", "600"]  # metrics.json keys
    table = metrics_markdown(metrics)
    assert "| duration_group: 15 | 100.0 |" in table and "| category: E2O | 0.0 |" in table


def test_a_longvideobench_duration_group_outside_the_benchmarks_is_refused_before_counting(tmp_path):
    (record, *_) = read_benchmark("longvideobench", FIXTURES / "longvideobench" / "lvb_val.json", tmp_path)
    odd = dataclasses.replace(record, extra={**record.extra, "duration_group": 120})
    with pytest.raises(
        UserError, match="^LongVideoBench question '86CxyhFV9MI_0' has duration_group 120; expected one of 15, 60, 600, 3600$"
    ):
        choice_metrics(get_task("longvideobench"), [odd], {odd.id: "A"})


def test_the_paper_protocols_choice_settings_are_refused_on_a_task_the_reference_never_scored():
    """Options A-D only would make LongVideoBench's fifth option unreachable, with no reference to reproduce;
    the paper's own benchmarks keep them, and a judged task matches nothing."""
    paper = ProtocolSettings(scoring="reference", match_first_four=True)
    for name in ("mlvu", "longvideobench"):
        first_four, scoring = get_task(name).protocol_problems(paper)
        assert "protocol.match_first_four=true" in first_four and get_task(name).title in first_four
        assert scoring.startswith("protocol.scoring=reference") and "protocol.scoring=lenient" in scoring
        assert get_task(name).protocol_problems(ProtocolSettings()) == []
    for name in ("nextqa", "egoschema", "video_mme", "nextoe", "moviechat"):
        assert get_task(name).protocol_problems(paper) == []


def test_predict_refuses_the_paper_protocol_on_longvideobench_in_one_line(tmp_path, capsys):
    config = data_config(tmp_path, "longvideobench")
    code = main(
        [
            "predict",
            "--config",
            "protocol/paper",
            "data.benchmark=longvideobench",
            f"data.annotations={config.data.annotations}",
            f"data.video_folder={config.data.video_folder}",
            f"run.output_dir={tmp_path / 'runs'}",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == EXIT_USER_ERROR and len(err.splitlines()) == 1
    assert "protocol.match_first_four=true" in err and "LongVideoBench" in err
    assert not (tmp_path / "runs").exists()  # refused before any run directory is made
    validate_config(data_config(tmp_path, "nextqa", "protocol.match_first_four=true", "protocol.scoring=reference"))
