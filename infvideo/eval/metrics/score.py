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
numbers can be compared knowingly. A task with a ``submission`` (EgoSchema: ``egoschema_submission.json``
for its server, the full set having no public answers) also gets that file.

The run's ``protocol`` (config.yaml; ``scoring`` and ``judge_score`` can be overridden per call)
decides how answers become numbers, and metrics.json's protocol records it under the keys of
``PROTOCOL_KEYS``:

* ``scoring: lenient`` -- letters from matches.jsonl. A VideoChat2 answer is expected to name its
  letter: a letter found by embeddings for an unparseable or empty answer is not used -- the answer
  is invalid -- unless the user asked for it (``embedding_fallback`` in config.yaml, or
  ``infvideo match --embedding-fallback``, whose lines carry ``first_four``; an older matches.jsonl
  fell back on its own and its lines do not). metrics.json's ``embedding_fallback`` is true when
  either was asked.
* ``scoring: reference`` -- a VideoChat2 run is scored as the reference's scripts score it, from
  the answer text alone (``reference_rules``; matches.jsonl is neither needed nor read; an EgoSchema
  submission then takes the letter the backbone's parser found at prediction time, never an
  embedding's). A Video-LLaMA run keeps its matched letters (its reference also matched free text),
  and its Video-MME durations divide by valid answers only, as the reference's run_eval.py.
* ``judge_score: keep | truncate`` -- the judge's 0-5 scores as given, or ``int()`` as the reference.

``matcher`` and ``match_first_four`` say how the letters that counted were matched (from the lines
of matches.jsonl whose letter came from embeddings): one value, a sorted list when lines differ, or
None when no counted letter came from embeddings.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from infvideo.data.record import QuestionRecord
from infvideo.errors import UserError
from infvideo.models.registry import answers_with_letters

from ..config import PredictConfig, ProtocolSettings
from ..run_files import (
    CONFIG,
    JUDGMENTS,
    MATCHES,
    METRICS,
    METRICS_MARKDOWN,
    PREDICTIONS,
    load_predictions,
    load_run_config,
    load_run_records,
    write_json,
)
from ..sharding import Shard, parse_shard
from ..tasks import Task, get_task
from ..validation import protocol_problems
from .cells import UNITS
from .multiple_choice import INVALID_OPTION_INDEX, Submission, choice_metrics
from .open_ended import judged_metrics
from .reference_rules import no_answer, reference_verdicts
from .staleness import check_judgments, check_matches, required_lines
from .tables import metrics_markdown

PROTOCOL_KEYS = ("scoring", "judge_score", "embedding_fallback", "matcher", "match_first_four")
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


def scoring_protocol(config: PredictConfig | None, scoring: str | None = None, judge_score: str | None = None) -> ProtocolSettings:
    """The run's protocol (the defaults without a config.yaml) with the call's overrides, checked."""
    base = config.protocol if config is not None else ProtocolSettings()
    overrides = {"scoring": scoring, "judge_score": judge_score}
    protocol = dataclasses.replace(base, **{key: value for key, value in overrides.items() if value is not None})
    if problems := protocol_problems(protocol):
        raise UserError("; ".join(problems))
    return protocol


def _one_or_list(values: set[Any]) -> Any:
    """None for no value, the value when all agree, else the sorted values (a mixed file)."""
    return None if not values else next(iter(values)) if len(values) == 1 else sorted(values)


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


def _coverage(
    config: PredictConfig | None, records: Sequence[QuestionRecord], scored: Sequence[QuestionRecord], predictions: Predictions | None
) -> dict[str, Any]:
    limit = None if config is None else config.data.limit
    coverage: dict[str, Any] = {"questions_in_annotations": len(records), "limit": limit, "limited": limit is not None}
    if predictions is None:
        return {**coverage, "predicted": None, "not_predicted": None, "partial": False, "predictions_without_question": None}
    known = {record.id for record in records}
    predicted = sum(record.id in predictions for record in scored)
    return {
        **coverage,
        "predicted": predicted,
        "not_predicted": len(scored) - predicted,
        "partial": predicted < len(scored),
        "predictions_without_question": sum(question not in known for question in predictions),
    }


def _letters(lines: list[dict[str, Any]]) -> dict[str, str | None]:
    letters: dict[str, str | None] = {}
    for line in lines:
        question = str(line["id"])
        if question in letters:
            raise UserError(f"{MATCHES} has two lines for question {question!r}; re-run `infvideo match`")
        letters[question] = line.get("letter")
    return letters


def _score_choices(
    run_dir: Path, task: Task, records: list[QuestionRecord], predictions: Predictions | None, protocol: ProtocolSettings, model: str | None
) -> dict[str, Any]:
    letter_answers = answers_with_letters(model)  # "Best option:(X)": reference scoring reads its text, not matches
    if protocol.scoring == "reference" and letter_answers:
        return _score_text(run_dir, task, records, predictions)
    lines = required_lines(run_dir, MATCHES, "match")
    letters = _letters(lines)
    if predictions is not None:
        check_matches(run_dir, lines, predictions, records)
        letters = {question: letter for question, letter in letters.items() if question in predictions}
    ids = {record.id for record in records}
    used = [line for line in lines if str(line["id"]) in ids]
    ignored = 0
    if letter_answers and not protocol.embedding_fallback:
        # VideoChat2 is asked for a letter: an answer without one is invalid, whatever option its text
        # resembles -- unless the user asked `infvideo match --embedding-fallback`, whose lines carry
        # `first_four`. Lines without it come from the matcher that fell back on its own.
        for line in used:
            if line.get("method") == "embedding" and "first_four" not in line and letters.get(str(line["id"])) is not None:
                letters[str(line["id"])] = None
                ignored += 1
    # The video_llama reference (run_eval.py) divides each Video-MME duration by its valid answers.
    metrics = choice_metrics(task, records, letters, accuracy_over="valid" if protocol.scoring == "reference" else "all")
    embedded = [line for line in used if line.get("method") == "embedding" and letters.get(str(line["id"])) is not None]
    metrics["protocol"].update(
        letters_from=MATCHES,
        methods=dict(Counter(line.get("method") for line in used)),
        embedders=dict(Counter(line["embedder"] for line in used if line.get("embedder"))),
        matches_without_question=len(lines) - len(used),
        invalid_rule="no letter, an out-of-range letter or a question never predicted is wrong and stays in every denominator",
        matcher=_one_or_list({line.get("embedder") for line in embedded}),
        match_first_four=_one_or_list({line["first_four"] for line in embedded if line.get("first_four") is not None}),
    )
    if letter_answers:
        metrics["protocol"]["embedding_letters_ignored"] = ignored
        metrics["protocol"]["embedding_fallback"] = protocol.embedding_fallback or bool(embedded)
    if task.submission is not None:
        _write_submission(run_dir, task.submission, records, letters, metrics)
    return metrics


def _score_text(run_dir: Path, task: Task, records: list[QuestionRecord], predictions: Predictions | None) -> dict[str, Any]:
    """Reference scoring of VideoChat2: each answer's text by the reference script's own check."""
    if predictions is None:
        raise UserError(f"{run_dir}: reference scoring of VideoChat2 answers reads their text; no {PREDICTIONS}")
    if task.reference_rule is None:
        raise UserError(f"{run_dir}: {task.name} has no reference scoring rule; score it with protocol.scoring=lenient")
    verdicts = reference_verdicts(task.reference_rule, records, predictions)
    # its script counts every answer of a duration
    metrics = choice_metrics(task, records, None, verdicts=verdicts, accuracy_over="all")
    metrics["protocol"].update(
        verdicts_from=PREDICTIONS,
        rule=f"the reference script's check of the answer text ({task.name}; infvideo/eval/metrics/reference_rules.py)",
        invalid_rule="no answer (an error line, an empty answer or a question never predicted) is wrong and stays in every denominator",
        matcher=None,
        match_first_four=None,
    )
    if task.submission is not None:
        # the server needs a letter: the one the backbone's parser found, never an embedding's
        letters = {q: None if no_answer(line) else line.get("parsed") for q, line in predictions.items()}
        _write_submission(run_dir, task.submission, records, letters, metrics)
    return metrics


def _write_submission(
    run_dir: Path, submission: Submission, records: list[QuestionRecord], letters: Mapping[str, str | None], metrics: dict[str, Any]
) -> None:
    payload = submission.build(records, letters)
    write_json(run_dir / submission.file, payload)
    metrics["protocol"]["submission"] = {
        "file": submission.file,
        "questions": len(payload),
        "invalid": sum(v == INVALID_OPTION_INDEX for v in payload.values()),
    }


def _score_judged(
    run_dir: Path, records: list[QuestionRecord], predictions: Predictions | None, protocol: ProtocolSettings
) -> dict[str, Any]:
    lines = required_lines(run_dir, JUDGMENTS, "judge")
    not_predicted: set[str] = set()
    if predictions is not None:
        check_judgments(run_dir, lines, predictions, records)
        not_predicted = {record.id for record in records if record.id not in predictions}
    metrics = judged_metrics(records, lines, not_predicted, judge_score=protocol.judge_score)
    ids = {record.id for record in records}
    metrics["protocol"].update(
        judgments_from=JUDGMENTS,
        judge_models=dict(Counter(line.get("model") for line in lines if str(line.get("id")) in ids)),
        unjudged_rule="a judgment with an error (no prediction excepted), malformed or missing is left out of accuracy and means; "
        "no prediction counts as 'no' with score 0",
        matcher=None,
        match_first_four=None,
    )
    return metrics


def _write_text(path: Path, text: str) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def score_run(
    run_dir: str | Path,
    annotations: str | None = None,
    records: Sequence[QuestionRecord] | None = None,
    scoring: str | None = None,
    judge_score: str | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """Score ``run_dir``; writes metrics.json and metrics.md (and the task's submission file) there.

    ``records``: the questions, instead of reading them through the run's config.yaml (the
    benchmark is then their dataset, predictions.jsonl is optional, the protocol is the default one
    and ``model`` names the backbone); ``annotations``: another annotation file for the config;
    ``scoring``, ``judge_score``: override the run's protocol (see the module docstring). A run that
    cannot be scored as it is (missing stage, stale matches or judgments, not a run directory, a
    protocol value that does not exist) raises ``UserError`` naming what to do.
    """
    run_dir = Path(run_dir)
    check_run_directory(run_dir)
    config = None
    if records is None:
        config = _config(run_dir)
        benchmark = config.data.benchmark
        model = config.model.name
        records = load_run_records(run_dir, annotations)
    else:
        benchmark = _benchmark_of(records)
    protocol = scoring_protocol(config, scoring, judge_score)
    predictions = _predictions(run_dir, required=config is not None)
    scored = _denominator(config, records, predictions)
    coverage = _coverage(config, records, scored, predictions)
    task = get_task(benchmark)
    if task.kind == "multiple_choice":
        metrics = _score_choices(run_dir, task, scored, predictions, protocol, model)
    else:
        metrics = _score_judged(run_dir, scored, predictions, protocol)
    metrics["protocol"] = {
        "scoring": protocol.scoring,
        "judge_score": protocol.judge_score,
        "embedding_fallback": protocol.embedding_fallback,
        **metrics["protocol"],
    }
    result = {
        "benchmark": benchmark,
        "run": run_dir.name,
        "units": UNITS,
        "protocol": {**coverage, **metrics["protocol"]},
        "overall": metrics["overall"],
        "breakdowns": metrics["breakdowns"],
        **({"headline": metrics["headline"]} if "headline" in metrics else {}),
    }
    write_json(run_dir / METRICS, result)
    _write_text(run_dir / METRICS_MARKDOWN, f"# {benchmark}: {run_dir.name}\n\n{metrics_markdown(result)}")
    return result
