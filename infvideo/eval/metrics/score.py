"""``infvideo score RUN_DIR``: a run's benchmark metrics into metrics.json and metrics.md.

The questions come from the run's own config (or ``annotations``, or ``records`` given directly),
the letters from ``matches.jsonl`` (multiple choice) and the judge's verdicts from
``judgments.jsonl`` (open-ended).

The denominator is the annotation file's questions, as in the reference: a question the run never
predicted counts as wrong, so a run stopped half-way is not reported as if it had answered
everything it tried. A ``data.limit`` smoke run is scored over the questions it was asked to answer
(the first N of each shard, as ``runner.pending_questions`` picks them) and marked ``limited``; a
run missing predictions is marked ``partial`` and the protocol says how many are missing.

Letters or judgments made from other predictions than the current ``predictions.jsonl`` (a resumed
or retried run scored with old matches) are refused, naming the command that brings them up to
date. The protocol section also says how the letters or judgments were obtained, so two runs'
numbers can be compared knowingly. An EgoSchema run also gets ``egoschema_submission.json`` for
the EgoSchema server (the full set has no public answers).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any, Mapping, Sequence

from infvideo.data.record import QuestionRecord
from infvideo.errors import UserError

from ..config import PredictConfig
from ..judge.batch import NO_PREDICTION
from ..predictions import prediction_sha256
from ..run_files import (
    CONFIG, JUDGMENTS, MATCHES, METRICS, METRICS_MARKDOWN, PREDICTIONS, load_predictions, load_run_config, load_run_records,
    read_jsonl, write_json,
)
from ..sharding import Shard, parse_shard
from .cells import UNITS
from .multiple_choice import EGOSCHEMA_INVALID, egoschema_metrics, egoschema_submission, nextqa_metrics, video_mme_metrics
from .open_ended import judged_metrics
from .tables import metrics_markdown

MULTIPLE_CHOICE = {"nextqa": nextqa_metrics, "egoschema": egoschema_metrics, "video_mme": video_mme_metrics}
OPEN_ENDED = ("moviechat", "nextoe")
EGOSCHEMA_SUBMISSION = "egoschema_submission.json"
Predictions = Mapping[str, Mapping[str, Any]]


def _benchmark_of(records: Sequence[QuestionRecord]) -> str:
    datasets = sorted({record.dataset for record in records})
    if len(datasets) != 1:
        raise UserError(f"records to score must come from one benchmark, got {datasets or 'no records'}")
    return datasets[0]


def check_run_directory(run_dir: Path) -> None:
    """A missing path or a stray file is named as such, not as a run missing a stage."""
    if not run_dir.exists():
        raise UserError(f"{run_dir}: does not exist")
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: not a directory (a run directory written by `infvideo predict` was expected)")


def _config(run_dir: Path) -> PredictConfig:
    if not (run_dir / CONFIG).exists():
        raise UserError(f"{run_dir}: no {CONFIG}; not a run directory written by `infvideo predict`")
    return load_run_config(run_dir)


def _predictions(run_dir: Path, required: bool) -> Predictions | None:
    if (run_dir / PREDICTIONS).exists() or any(run_dir.glob("predictions.shard-*-of-*.jsonl")):
        try:
            return load_predictions(run_dir)
        except FileNotFoundError as error:  # shards not merged yet: the message names `infvideo merge`
            raise UserError(str(error)) from error
    if required:
        raise UserError(f"{run_dir}: no {PREDICTIONS}; run `infvideo predict --config {run_dir / CONFIG}` first (it resumes)")
    return None  # records and letters or judgments handed over directly: score them all


def _denominator(config: PredictConfig | None, records: Sequence[QuestionRecord], predictions: Predictions | None) -> list[QuestionRecord]:
    """The questions the run was asked to answer: all of them, or the first ``data.limit`` of each shard."""
    if config is None or config.data.limit is None:
        return list(records)
    count = parse_shard(config.run.shard).count if config.run.shard else 1
    asked: set[str] = set(predictions or ())  # shards config.yaml cannot tell about (torchrun, SLURM)
    for index in range(count):
        asked.update([record.id for record in records if Shard(index, count).owns(record.id)][: config.data.limit])
    return [record for record in records if record.id in asked]


def _coverage(config: PredictConfig | None, records: Sequence[QuestionRecord], scored: Sequence[QuestionRecord],
              predictions: Predictions | None) -> dict[str, Any]:
    limit = None if config is None else config.data.limit
    coverage: dict[str, Any] = {"questions_in_annotations": len(records), "limit": limit, "limited": limit is not None}
    if predictions is None:
        return {**coverage, "predicted": None, "not_predicted": None, "partial": False, "predictions_without_question": None}
    known = {record.id for record in records}
    predicted = sum(record.id in predictions for record in scored)
    return {**coverage, "predicted": predicted, "not_predicted": len(scored) - predicted, "partial": predicted < len(scored),
            "predictions_without_question": sum(question not in known for question in predictions)}


def _required(run_dir: Path, name: str, command: str) -> list[dict[str, Any]]:
    path = run_dir / name
    if not path.exists():
        raise UserError(f"{run_dir}: no {name}; run `infvideo {command} {run_dir}` first")
    return read_jsonl(path)


def _stale(run_dir: Path, name: str, command: str, why: str) -> UserError:
    return UserError(f"{run_dir}: {name} is stale: {why}; re-run `infvideo {command} {run_dir}`")


def _older_than_predictions(run_dir: Path, name: str) -> bool:
    """For files without per-line hashes: written before the predictions last changed."""
    return (run_dir / name).stat().st_mtime_ns < (run_dir / PREDICTIONS).stat().st_mtime_ns


def _first(ids: list[str]) -> str:
    return f"{len(ids)} question(s), e.g. {ids[0]!r}"


def check_matches(run_dir: Path, lines: list[dict[str, Any]], predictions: Predictions, scored: Sequence[QuestionRecord]) -> None:
    """Every predicted question has a match line made from its current prediction text."""
    by_id = {str(line["id"]): line for line in lines}
    predicted = [record.id for record in scored if record.id in predictions]
    if uncovered := [question for question in predicted if question not in by_id]:
        raise _stale(run_dir, MATCHES, "match", f"no letter for {_first(uncovered)} predicted since it was written")
    hashed = [question for question in predicted if "prediction_sha256" in by_id[question]]
    if changed := [q for q in hashed if by_id[q]["prediction_sha256"] != prediction_sha256(predictions[q].get("prediction"))]:
        raise _stale(run_dir, MATCHES, "match", f"the prediction of {_first(changed)} changed since it was matched")
    if len(hashed) < len(predicted) and _older_than_predictions(run_dir, MATCHES):
        raise _stale(run_dir, MATCHES, "match", f"it is older than {PREDICTIONS} and does not record what it matched")


def _usable_text(line: Mapping[str, Any] | None) -> str | None:
    """The answer the judge would be sent (as ``judge.batch`` decides), None for no answer."""
    text = None if not line or line.get("error") else line.get("prediction")
    return text if isinstance(text, str) and text.strip() else None


def _judged_other_text(judgment: Mapping[str, Any], prediction: Mapping[str, Any]) -> bool | None:
    """Whether ``judgment`` was made from another text than ``prediction``; None when it cannot tell."""
    if judgment.get("prediction_sha256") is not None:
        return judgment["prediction_sha256"] != prediction_sha256(prediction.get("prediction"))
    if "prediction" in judgment:
        return (judgment["prediction"] or "") != (prediction.get("prediction") or "")
    if judgment.get("error") == NO_PREDICTION:
        return _usable_text(prediction) is not None  # judged as unanswered, answered since
    return None


def check_judgments(run_dir: Path, lines: list[dict[str, Any]], predictions: Predictions, scored: Sequence[QuestionRecord]) -> None:
    """Every predicted question has a judgment on each of the run's judge metrics, made from its
    current prediction (per-line fields when the judge wrote them, else the files' times)."""
    metrics = {line.get("metric") for line in lines}
    by_key = {(str(line.get("id")), line.get("metric")): line for line in lines}
    predicted = [record.id for record in scored if record.id in predictions]
    if uncovered := [q for q in predicted if any((q, metric) not in by_key for metric in metrics) or not metrics]:
        raise _stale(run_dir, JUDGMENTS, "judge", f"no judgment for {_first(uncovered)} predicted since it was written")
    verdicts = {q: [_judged_other_text(by_key[q, metric], predictions[q]) for metric in metrics] for q in predicted}
    if changed := [q for q, other in verdicts.items() if any(other)]:
        raise _stale(run_dir, JUDGMENTS, "judge", f"the prediction of {_first(changed)} changed since it was judged")
    if any(None in other for other in verdicts.values()) and _older_than_predictions(run_dir, JUDGMENTS):
        raise _stale(run_dir, JUDGMENTS, "judge", f"it is older than {PREDICTIONS} and does not record what it judged")


def _letters(lines: list[dict[str, Any]]) -> dict[str, str | None]:
    letters: dict[str, str | None] = {}
    for line in lines:
        question = str(line["id"])
        if question in letters:
            raise UserError(f"{MATCHES} has two lines for question {question!r}; re-run `infvideo match`")
        letters[question] = line.get("letter")
    return letters


def _score_choices(run_dir: Path, benchmark: str, records: list[QuestionRecord], predictions: Predictions | None) -> dict[str, Any]:
    lines = _required(run_dir, MATCHES, "match")
    letters = _letters(lines)
    if predictions is not None:
        check_matches(run_dir, lines, predictions, records)
        letters = {question: letter for question, letter in letters.items() if question in predictions}
    metrics = MULTIPLE_CHOICE[benchmark](records, letters)
    ids = {record.id for record in records}
    used = [line for line in lines if str(line["id"]) in ids]
    metrics["protocol"].update(
        letters_from=MATCHES,
        methods=dict(Counter(line.get("method") for line in used)),
        embedders=dict(Counter(line["embedder"] for line in used if line.get("embedder"))),
        matches_without_question=len(lines) - len(used),
        invalid_rule="no letter, an out-of-range letter or a question never predicted is wrong and stays in every denominator",
    )
    if benchmark == "egoschema":
        submission = egoschema_submission(records, letters)
        write_json(run_dir / EGOSCHEMA_SUBMISSION, submission)
        metrics["protocol"]["submission"] = {"file": EGOSCHEMA_SUBMISSION, "questions": len(submission),
                                             "invalid": sum(v == EGOSCHEMA_INVALID for v in submission.values())}
    return metrics


def _score_judged(run_dir: Path, records: list[QuestionRecord], predictions: Predictions | None) -> dict[str, Any]:
    lines = _required(run_dir, JUDGMENTS, "judge")
    not_predicted: set[str] = set()
    if predictions is not None:
        check_judgments(run_dir, lines, predictions, records)
        not_predicted = {record.id for record in records if record.id not in predictions}
    metrics = judged_metrics(records, lines, not_predicted)
    ids = {record.id for record in records}
    metrics["protocol"].update(
        judgments_from=JUDGMENTS,
        judge_models=dict(Counter(line.get("model") for line in lines if str(line.get("id")) in ids)),
        unjudged_rule="a judgment with an error (no prediction excepted), malformed or missing is left out of accuracy and means; "
                      "no prediction counts as 'no' with score 0",
    )
    return metrics


def _write_text(path: Path, text: str) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def score_run(run_dir: str | Path, annotations: str | None = None, records: Sequence[QuestionRecord] | None = None) -> dict[str, Any]:
    """Score ``run_dir``; writes metrics.json and metrics.md (and egoschema_submission.json) there.

    ``records``: the questions, instead of reading them through the run's config.yaml (the
    benchmark is then their dataset, and predictions.jsonl is optional); ``annotations``: another
    annotation file for the config. A run that cannot be scored as it is (missing stage, stale
    matches or judgments, not a run directory) raises ``UserError`` naming what to run.
    """
    run_dir = Path(run_dir)
    check_run_directory(run_dir)
    config = None
    if records is None:
        config = _config(run_dir)
        benchmark = config.data.benchmark
        records = load_run_records(run_dir, annotations)
    else:
        benchmark = _benchmark_of(records)
    predictions = _predictions(run_dir, required=config is not None)
    scored = _denominator(config, records, predictions)
    coverage = _coverage(config, records, scored, predictions)
    if benchmark in MULTIPLE_CHOICE:
        metrics = _score_choices(run_dir, benchmark, scored, predictions)
    elif benchmark in OPEN_ENDED:
        metrics = _score_judged(run_dir, scored, predictions)
    else:
        raise UserError(f"no metrics for benchmark {benchmark!r}; known: {', '.join([*MULTIPLE_CHOICE, *OPEN_ENDED])}")
    result = {"benchmark": benchmark, "run": run_dir.name, "units": UNITS, "protocol": {**coverage, **metrics["protocol"]},
              "overall": metrics["overall"], "breakdowns": metrics["breakdowns"]}
    write_json(run_dir / METRICS, result)
    _write_text(run_dir / METRICS_MARKDOWN, f"# {benchmark}: {run_dir.name}\n\n{metrics_markdown(result)}")
    return result
