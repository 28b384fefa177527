"""``infvideo match RUN_DIR``: every multiple-choice prediction -> an option letter, into matches.jsonl.

A letter the backbone already gave (VideoChat2's "Best option:(X)", parsed at prediction time) is
kept; free text (Video-LLaMA) goes to the nearest option by embeddings. An error line or an empty
answer gets no letter and stays in the accuracy denominator later.

Each line records ``prediction_sha256``, the hash of the text it was matched from, so that
``infvideo score`` can refuse a matches.jsonl made before the predictions changed (a resumed or
retried run) instead of scoring new answers with old letters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tqdm import tqdm

from infvideo.data.record import QuestionRecord
from infvideo.errors import UserError

from .matching import OptionMatcher, build_embeddings
from .predictions import prediction_sha256
from .run_files import MATCHES, load_predictions, load_run_records, write_jsonl


def _letter(record: QuestionRecord, line: dict[str, Any] | None, matcher: OptionMatcher, embedder: str) -> dict[str, Any]:
    if line is None or line.get("error") or not (str(line.get("prediction") or "").strip() or line.get("parsed")):
        return {"id": record.id, "letter": None, "method": "none", "embedder": None}
    if line.get("parsed"):
        return {"id": record.id, "letter": line["parsed"], "method": "parsed", "embedder": None}
    return {"id": record.id, "letter": matcher.match(line["prediction"], record.options), "method": "embedding", "embedder": embedder}


def match_line(record: QuestionRecord, line: dict[str, Any] | None, matcher: OptionMatcher, embedder: str) -> dict[str, Any]:
    return {**_letter(record, line, matcher, embedder), "prediction_sha256": prediction_sha256((line or {}).get("prediction"))}


def match_run(
    run_dir: str | Path,
    embedder: str = "minilm",
    reference_compat: bool = False,
    base_url: str | None = None,
    records: list[QuestionRecord] | None = None,
    predictions: dict[str, dict[str, Any]] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Write ``matches.jsonl`` for the questions that have a prediction line; returns a summary."""
    run_dir = Path(run_dir)
    records = load_run_records(run_dir) if records is None else records
    predictions = load_predictions(run_dir) if predictions is None else predictions
    if any(not record.options for record in records):
        raise UserError(f"{run_dir}: open-ended questions have no options to match; use `infvideo judge`")
    matcher = OptionMatcher(build_embeddings(embedder, base_url), reference_compat=reference_compat)
    answered = [record for record in records if record.id in predictions]
    lines = [match_line(r, predictions[r.id], matcher, embedder) for r in tqdm(answered, desc="match", disable=not progress)]
    write_jsonl(run_dir / MATCHES, lines)
    methods: dict[str, int] = {}
    for line in lines:
        methods[line["method"]] = methods.get(line["method"], 0) + 1
    return {"matched": len(lines), "not_predicted": len(records) - len(answered), "methods": methods,
            "embedder": embedder, "reference_compat": reference_compat}
