"""Whether the files a later stage wrote still describe the run's current predictions.

``matches.jsonl`` and ``judgments.jsonl`` are made from ``predictions.jsonl``; a run predicted again
since (resumed, ``--retry-errors``) would otherwise be scored with old letters or verdicts. Each line
records ``prediction_sha256`` of the text it was made from; files from before that field existed are
judged by their modification time. A stale file is a ``UserError`` naming the command to re-run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from infvideo.data.record import QuestionRecord
from infvideo.errors import UserError

from ..judge.batch import NO_PREDICTION
from ..predictions import prediction_sha256
from ..run_files import JUDGMENTS, MATCHES, PREDICTIONS, read_jsonl

Predictions = Mapping[str, Mapping[str, Any]]


def required_lines(run_dir: Path, name: str, command: str) -> list[dict[str, Any]]:
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
