"""``judge_run``: every open-ended answer of a run through the judge, into ``judgments.jsonl``.

Re-judging a run only asks what is missing: a line of the previous ``judgments.jsonl`` that judged
the same request (same judge model, full prompt with the same prediction, same sampling; its
``request_sha256``) without error is kept as it is. Everything else is asked, and a failure never
replaces a success: the previous good line stays (a stale one, for an older prediction, is
recognisable by its ``prediction_sha256`` and is asked again next time). Lines of other metrics or
questions are carried over untouched. So a re-run with the server down loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tqdm import tqdm

from infvideo.data.record import QuestionRecord
from infvideo.errors import UserError

from ..run_files import JUDGMENTS, load_predictions, load_run_records, read_jsonl, write_jsonl
from ..tasks import judged_task_names
from .client import JudgeSettings, OpenAICompatibleJudge, judgment

NO_PREDICTION = "no prediction"
NOT_ASKED = "not asked: the judge server was unreachable"


class JudgeServerUnreachable(UserError):
    """Consecutive connection errors: the judge stopped early, after writing what it had."""


def _prediction(line: dict[str, Any] | None) -> str | None:
    """The text to judge, or None for a missing line, an error line or an empty prediction."""
    if not line or line.get("error"):
        return None
    text = line.get("prediction")
    return text if isinstance(text, str) and text.strip() else None


def _good(line: dict[str, Any] | None) -> bool:
    return line is not None and line.get("error") is None


def _failed(line: dict[str, Any]) -> bool:
    """A judge failure, which a re-run may fix (a missing prediction is not one)."""
    return line["error"] is not None and line["error"] != NO_PREDICTION


def judge_run(
    run_dir: str | Path,
    settings: JudgeSettings,
    records: Sequence[QuestionRecord] | None = None,
    predictions: dict[str, dict[str, Any]] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Judge each open-ended question of ``run_dir`` on each of ``settings.metrics``.

    Lines come in record order, then metric order, whatever the concurrency; carried-over lines of
    other metrics or questions follow. A question without a usable prediction gets an error line
    "no prediction" and costs no request. Returns a summary: "requests" counts HTTP requests (the
    client's retries included), "kept" the good lines of the previous file not asked again, "errors"
    the judge failures of this run (requests that failed, replies that never parsed), which a re-run
    may fix, while "no_prediction" counts the questions the model left unanswered.

    After ``settings.max_consecutive_connection_errors`` connection errors in a row the rest is not
    asked; the file is written (nothing lost) and ``JudgeServerUnreachable`` raised.
    """
    records = load_run_records(run_dir) if records is None else records
    predictions = load_predictions(run_dir) if predictions is None else predictions
    judged = judged_task_names()  # the benchmarks whose answers are free text judged by an LLM
    questions = [record for record in records if record.dataset in judged and record.answer_text is not None]
    if not questions:
        raise UserError(
            f"{run_dir}: no open-ended questions ({', '.join(judged)} with reference answers) to judge; a multiple-choice run is scored with `infvideo match` then `infvideo score`"
        )
    path = Path(run_dir) / JUDGMENTS
    previous = {(str(line.get("id")), line.get("metric")): line for line in read_jsonl(path)}
    tasks = [(record, metric) for record in questions for metric in settings.metrics]
    results: list[dict[str, Any] | None] = [None] * len(tasks)  # this run's answers; None: not asked
    kept: set[int] = set()
    unreachable: str | None = None  # the cause, once the server is taken as gone
    with OpenAICompatibleJudge(settings, run_dir) as judge:
        pending = {}
        executor = ThreadPoolExecutor(max_workers=settings.concurrency)
        try:
            for index, (record, metric) in enumerate(tasks):
                text = _prediction(predictions.get(record.id))
                if text is None:
                    results[index] = judgment(metric, settings.model, error=NO_PREDICTION)
                    continue
                old = previous.get((record.id, metric))
                if _good(old) and old.get("request_sha256") == judge.request_key(metric, record.question, record.answer_text, text):
                    kept.add(index)
                    continue
                pending[executor.submit(judge.judge, metric, record.question, record.answer_text, text)] = index
            in_a_row = 0
            with tqdm(total=len(pending), disable=not progress, desc="judge", unit="reply") as bar:
                for future in as_completed(pending):
                    bar.update(1)
                    if future.cancelled():
                        continue
                    results[pending[future]], cause = future.result()
                    # Any reply (even an error status) shows the server is there; only an unbroken
                    # run of failed connections means it is not.
                    in_a_row = in_a_row + 1 if cause is not None else 0
                    limit = settings.max_consecutive_connection_errors
                    if cause is not None and limit and in_a_row >= limit and unreachable is None:
                        unreachable = f"{cause} ({in_a_row} consecutive connection errors)"
                        for other in pending:  # requests already under way finish and are kept
                            other.cancel()
        finally:
            # On Ctrl-C or a bug, do not wait for the queue: finished replies are in the cache already.
            executor.shutdown(wait=True, cancel_futures=True)

        lines = []
        for index, ((record, metric), result) in enumerate(zip(tasks, results)):
            old = previous.pop((record.id, metric), None)
            if index in kept:
                lines.append(old)
            elif result is None:  # never asked: whatever was there stays
                lines.append(old or {"id": record.id, **judgment(metric, settings.model, error=NOT_ASKED)})
            elif _failed(result) and _good(old):
                lines.append(old)
            else:
                lines.append({"id": record.id, **result})
        lines.extend(previous.values())  # other metrics or questions: not this run's to change
        write_jsonl(path, lines)

        if unreachable is not None:
            good = sum(_good(line) for line in lines)
            not_asked = sum(result is None for index, result in enumerate(results) if index not in kept)
            raise JudgeServerUnreachable(
                f"judge server {judge.base_url.rstrip('/')} unreachable: {unreachable}; nothing lost: {good} good judgments "
                f"kept in {path}, {not_asked} not asked; run `infvideo judge` again once the server is up"
            )
        answered = [result for index, result in enumerate(results) if index not in kept]
        fresh = [result for result in answered if not result["cached"]]
        return {
            "model": settings.model,
            "base_url": judge.base_url,
            "judgments": len(lines),
            "requests": judge.requests,
            "kept": len(kept),
            "cache_hits": sum(result["cached"] for result in answered),
            "errors": sum(_failed(result) for result in answered),
            "no_prediction": sum(result["error"] == NO_PREDICTION for result in answered),
            "prompt_tokens": sum(result["prompt_tokens"] for result in fresh),
            "completion_tokens": sum(result["completion_tokens"] for result in fresh),
            "served_models": judge.served_models,
            "cache_dir": None if judge.cache_folder is None else str(judge.cache_folder),
        }
