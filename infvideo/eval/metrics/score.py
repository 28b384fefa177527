"""``infvideo score RUN_DIR``: a run's benchmark metrics into metrics.json and metrics.md.

The questions come from the run's own config (or ``annotations``, or ``records`` given directly),
the letters from ``matches.jsonl`` (multiple choice) and the judge's verdicts from
``judgments.jsonl`` (open-ended). The questions scored are those the run predicted (the lines of
``predictions.jsonl``; a ``data.limit`` smoke run is not scored against the whole benchmark), and
the protocol section says how many annotated questions were left out, and how the letters or
judgments were obtained, so two runs' numbers can be compared knowingly. An EgoSchema run also
gets ``egoschema_submission.json`` for the EgoSchema server (the full set has no public answers).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from infvideo.data.record import QuestionRecord

from ..run_files import (
    JUDGMENTS, MATCHES, METRICS, METRICS_MARKDOWN, PREDICTIONS, load_predictions, load_run_config, load_run_records,
    read_jsonl, write_json,
)
from .multiple_choice import EGOSCHEMA_INVALID, egoschema_metrics, egoschema_submission, nextqa_metrics, video_mme_metrics
from .open_ended import judged_metrics
from .tables import metrics_markdown

MULTIPLE_CHOICE = {"nextqa": nextqa_metrics, "egoschema": egoschema_metrics, "video_mme": video_mme_metrics}
OPEN_ENDED = ("moviechat", "nextoe")
EGOSCHEMA_SUBMISSION = "egoschema_submission.json"


def _benchmark_of(records: Sequence[QuestionRecord]) -> str:
    datasets = sorted({record.dataset for record in records})
    if len(datasets) != 1:
        raise ValueError(f"records to score must come from one benchmark, got {datasets or 'no records'}")
    return datasets[0]


def _predicted(run_dir: Path, records: Sequence[QuestionRecord]) -> tuple[list[QuestionRecord], dict[str, Any]]:
    """The questions the run answered, and how they relate to the annotations."""
    coverage: dict[str, Any] = {"questions_in_annotations": len(records)}
    if not (run_dir / PREDICTIONS).exists() and not any(run_dir.glob("predictions.shard-*-of-*.jsonl")):
        # Nothing to compare with (e.g. records and judgments handed over directly): score them all.
        coverage.update(not_predicted=None, predictions_without_question=None)
        return list(records), coverage
    predictions = load_predictions(run_dir)  # unmerged shards raise here, with the merge command
    scored = [record for record in records if record.id in predictions]
    known = {record.id for record in records}
    coverage.update(not_predicted=len(records) - len(scored), predictions_without_question=sum(i not in known for i in predictions))
    return scored, coverage


def _required(run_dir: Path, name: str, command: str) -> list[dict[str, Any]]:
    path = run_dir / name
    if not path.exists():
        raise FileNotFoundError(f"{run_dir}: no {name}; run `infvideo {command} {run_dir}` first")
    return read_jsonl(path)


def _letters(lines: list[dict[str, Any]]) -> dict[str, str | None]:
    letters: dict[str, str | None] = {}
    for line in lines:
        question = str(line["id"])
        if question in letters:
            raise ValueError(f"{MATCHES} has two lines for question {question!r}; re-run `infvideo match`")
        letters[question] = line.get("letter")
    return letters


def _score_choices(run_dir: Path, benchmark: str, records: list[QuestionRecord]) -> dict[str, Any]:
    lines = _required(run_dir, MATCHES, "match")
    letters = _letters(lines)
    metrics = MULTIPLE_CHOICE[benchmark](records, letters)
    ids = {record.id for record in records}
    used = [line for line in lines if str(line["id"]) in ids]
    metrics["protocol"].update(
        letters_from=MATCHES,
        methods=dict(Counter(line.get("method") for line in used)),
        embedders=dict(Counter(line["embedder"] for line in used if line.get("embedder"))),
        matches_without_question=len(lines) - len(used),
        invalid_rule="no letter, an out-of-range letter or a question missing from matches.jsonl is wrong and stays in every denominator",
    )
    if benchmark == "egoschema":
        submission = egoschema_submission(records, letters)
        write_json(run_dir / EGOSCHEMA_SUBMISSION, submission)
        metrics["protocol"]["submission"] = {"file": EGOSCHEMA_SUBMISSION, "questions": len(submission),
                                             "invalid": sum(v == EGOSCHEMA_INVALID for v in submission.values())}
    return metrics


def _score_judged(run_dir: Path, records: list[QuestionRecord]) -> dict[str, Any]:
    lines = _required(run_dir, JUDGMENTS, "judge")
    metrics = judged_metrics(records, lines)
    ids = {record.id for record in records}
    metrics["protocol"].update(
        judgments_from=JUDGMENTS,
        judge_models=dict(Counter(line.get("model") for line in lines if str(line.get("id")) in ids)),
        unjudged_rule="a judgment with an error (no prediction included), malformed or missing is left out of accuracy and means",
    )
    return metrics


def _write_text(path: Path, text: str) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def score_run(run_dir: str | Path, annotations: str | None = None, records: Sequence[QuestionRecord] | None = None) -> dict[str, Any]:
    """Score ``run_dir``; writes metrics.json and metrics.md (and egoschema_submission.json) there.

    ``records``: the questions, instead of reading them through the run's config.yaml (the
    benchmark is then their dataset); ``annotations``: another annotation file for the config.
    """
    run_dir = Path(run_dir)
    if records is None:
        benchmark = load_run_config(run_dir).data.benchmark
        records = load_run_records(run_dir, annotations)
    else:
        benchmark = _benchmark_of(records)
    scored, coverage = _predicted(run_dir, records)
    if benchmark in MULTIPLE_CHOICE:
        metrics = _score_choices(run_dir, benchmark, scored)
    elif benchmark in OPEN_ENDED:
        metrics = _score_judged(run_dir, scored)
    else:
        raise ValueError(f"no metrics for benchmark {benchmark!r}; known: {', '.join([*MULTIPLE_CHOICE, *OPEN_ENDED])}")
    result = {"benchmark": benchmark, "run": run_dir.name, "protocol": {**coverage, **metrics["protocol"]},
              "overall": metrics["overall"], "breakdowns": metrics["breakdowns"]}
    write_json(run_dir / METRICS, result)
    _write_text(run_dir / METRICS_MARKDOWN, f"# {benchmark}: {run_dir.name}\n\n{metrics_markdown(result)}")
    return result
