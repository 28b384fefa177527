"""``judge_run``: every open-ended answer of a run through the judge, into ``judgments.jsonl``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Sequence

from tqdm import tqdm

from infvideo.data.record import QuestionRecord

from ..run_files import JUDGMENTS, load_predictions, load_run_records, write_jsonl
from .client import JudgeSettings, OpenAICompatibleJudge, judgment

OPEN_ENDED = ("moviechat", "nextoe")  # the benchmarks whose answers are free text judged by an LLM
NO_PREDICTION = "no prediction"


def _prediction(line: dict[str, Any] | None) -> str | None:
    """The text to judge, or None for a missing line, an error line or an empty prediction."""
    if not line or line.get("error"):
        return None
    text = line.get("prediction")
    return text if isinstance(text, str) and text.strip() else None


def judge_run(run_dir: str | Path, settings: JudgeSettings, records: Sequence[QuestionRecord] | None = None,
              predictions: dict[str, dict[str, Any]] | None = None, progress: bool = True) -> dict[str, Any]:
    """Judge each open-ended question of ``run_dir`` on each of ``settings.metrics``.

    Lines come in record order, then metric order, whatever the concurrency. A question without a
    usable prediction gets an error line "no prediction" and costs no request. Returns a summary;
    "errors" counts judge failures only (requests that failed, replies that never parsed), which a
    re-run may fix, while "no_prediction" counts the questions the model left unanswered.
    """
    records = load_run_records(run_dir) if records is None else records
    predictions = load_predictions(run_dir) if predictions is None else predictions
    questions = [record for record in records if record.dataset in OPEN_ENDED and record.answer_text is not None]
    if not questions:
        raise ValueError(f"{run_dir}: no open-ended questions ({', '.join(OPEN_ENDED)} with reference answers) to judge")
    tasks = [(record, metric) for record in questions for metric in settings.metrics]
    results: list[dict[str, Any] | None] = [None] * len(tasks)
    with OpenAICompatibleJudge(settings) as judge:
        pending = {}
        executor = ThreadPoolExecutor(max_workers=settings.concurrency)
        try:
            for index, (record, metric) in enumerate(tasks):
                text = _prediction(predictions.get(record.id))
                if text is None:
                    results[index] = judgment(metric, settings.model, error=NO_PREDICTION)
                else:
                    pending[executor.submit(judge.judge, metric, record.question, record.answer_text, text)] = index
            with tqdm(total=len(pending), disable=not progress, desc="judge", unit="reply") as bar:
                for future in as_completed(pending):
                    results[pending[future]] = future.result()
                    bar.update(1)
        finally:
            # On Ctrl-C or a bug, do not wait for the queue: finished replies are in the cache already.
            executor.shutdown(wait=True, cancel_futures=True)
        lines = [{"id": record.id, **result} for (record, _), result in zip(tasks, results)]
        write_jsonl(Path(run_dir) / JUDGMENTS, lines)
        fresh = [line for line in lines if not line["cached"]]
        return {
            "model": settings.model,
            "base_url": judge.base_url,
            "judgments": len(lines),
            "requests": sum(line["attempts"] for line in fresh),
            "cache_hits": sum(line["cached"] for line in lines),
            "errors": sum(line["error"] is not None and line["error"] != NO_PREDICTION for line in lines),
            "no_prediction": sum(line["error"] == NO_PREDICTION for line in lines),
            "prompt_tokens": sum(line["prompt_tokens"] for line in fresh),
            "completion_tokens": sum(line["completion_tokens"] for line in fresh),
            "served_models": judge.served_models,
        }
