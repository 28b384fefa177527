"""``infvideo match RUN_DIR``: every multiple-choice prediction -> an option letter, into matches.jsonl.

What happens to an answer depends on the backbone (the run's ``model.name``) and on the run's
``protocol`` settings (config.yaml; the command's flags override them):

* a letter the backbone gave (VideoChat2's "Best option:(X)", parsed at prediction time) is kept;
* Video-LLaMA answers in free text: always matched to the nearest option by embeddings
  (``protocol.matcher``), over options A-D only when ``protocol.match_first_four`` (the paper's);
* a VideoChat2 answer with no parsable letter stays without a letter ("unparsed", counted wrong)
  unless ``protocol.embedding_fallback`` asks for the embedding match;
* an error line or an empty answer gets no letter ("none").

Every answer without a letter stays in the accuracy denominator later.

Each line: ``id``, ``letter`` (or null), ``method`` (parsed | embedding | unparsed | none),
``embedder`` (the matcher that chose the letter; null when none did), ``first_four`` (true when
that match saw options A-D only) and ``prediction_sha256``, the hash of the text it was matched
from, so that ``infvideo score`` can refuse a matches.jsonl made before the predictions changed (a
resumed or retried run) instead of scoring new answers with old letters.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from tqdm import tqdm

from infvideo.data.record import QuestionRecord
from infvideo.errors import UserError
from infvideo.models.registry import answers_with_letters

from .config import PredictConfig, ProtocolSettings
from .matching import OptionMatcher, build_embeddings
from .predictions import prediction_sha256
from .run_files import CONFIG, MATCHES, load_predictions, load_run_config, load_run_records, write_jsonl
from .tasks import TASKS
from .validation import protocol_problems


def _method(line: dict[str, Any] | None, matcher: OptionMatcher | None) -> str:
    """How this answer gets its letter; text without a parsed letter is matched only when the run has
    a matcher (``option_matcher``: always for free-text backbones, on request for letter backbones)."""
    if line is None or line.get("error"):
        return "none"
    if line.get("parsed"):
        return "parsed"
    if not str(line.get("prediction") or "").strip():
        return "none"
    return "embedding" if matcher is not None else "unparsed"


def match_line(
    record: QuestionRecord, line: dict[str, Any] | None, method: str, matcher: OptionMatcher | None, embedder: str
) -> dict[str, Any]:
    """The matches.jsonl line of one question; ``method`` from ``_method``; ``matcher`` (named
    ``embedder`` in the line) is used only for "embedding"."""
    letter, used = None, None
    if method == "parsed":
        letter = line["parsed"]
    elif method == "embedding":
        letter, used = matcher.match(line["prediction"], record.options), embedder
    return {
        "id": record.id,
        "letter": letter,
        "method": method,
        "embedder": used,
        "first_four": used is not None and matcher.first_four,
        "prediction_sha256": prediction_sha256((line or {}).get("prediction")),
    }


def _settings(
    run_dir: Path, embedder: str | None, first_four: bool | None, embedding_fallback: bool | None
) -> tuple[str, ProtocolSettings]:
    """(backbone, protocol): the run's config.yaml (defaults when there is none), flags overriding."""
    config = load_run_config(run_dir) if (run_dir / CONFIG).exists() else PredictConfig()
    overrides = {"matcher": embedder, "match_first_four": first_four, "embedding_fallback": embedding_fallback}
    protocol = dataclasses.replace(config.protocol, **{key: value for key, value in overrides.items() if value is not None})
    problems = protocol_problems(protocol)
    if config.data.benchmark in TASKS:
        problems += TASKS[config.data.benchmark].protocol_problems(protocol)
    if problems:
        raise UserError(f"{run_dir}: " + "; ".join(problems))
    return config.model.name, protocol


def option_matcher(backbone: str, protocol: ProtocolSettings, base_url: str | None = None) -> OptionMatcher | None:
    """The matcher a run of ``backbone`` needs under ``protocol``; None when only parsed letters count.
    A missing API key is a ``UserError`` here, so that it stops a run before any work (scripts call
    this before ``predict`` too: see scripts/reproduce/_row.sh)."""
    if answers_with_letters(backbone) and not protocol.embedding_fallback:
        return None
    return OptionMatcher(build_embeddings(protocol.matcher, base_url), first_four=protocol.match_first_four)


def match_run(
    run_dir: str | Path,
    embedder: str | None = None,
    first_four: bool | None = None,
    base_url: str | None = None,
    embedding_fallback: bool | None = None,
    records: list[QuestionRecord] | None = None,
    predictions: dict[str, dict[str, Any]] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Write ``matches.jsonl`` for the questions that have a prediction line; returns a summary.
    ``embedder``, ``first_four``, ``embedding_fallback``: None = the run's ``protocol`` setting."""
    run_dir = Path(run_dir)
    backbone, protocol = _settings(run_dir, embedder, first_four, embedding_fallback)
    records = load_run_records(run_dir) if records is None else records
    if any(not record.options for record in records):
        raise UserError(f"{run_dir}: open-ended questions have no options to match; use `infvideo judge`")
    matcher = option_matcher(backbone, protocol, base_url)  # before reading any answer: see its docstring
    predictions = load_predictions(run_dir) if predictions is None else predictions
    answered = [record for record in records if record.id in predictions]
    lines = [
        match_line(r, predictions[r.id], _method(predictions[r.id], matcher), matcher, protocol.matcher)
        for r in tqdm(answered, desc="match", disable=not progress)
    ]
    write_jsonl(run_dir / MATCHES, lines)
    methods: dict[str, int] = {}
    for line in lines:
        methods[line["method"]] = methods.get(line["method"], 0) + 1
    return {
        "matched": len(lines),
        "not_predicted": len(records) - len(answered),
        "methods": methods,
        "backbone": backbone,
        "embedder": protocol.matcher if matcher else None,
        "first_four": protocol.match_first_four,
        "embedding_fallback": protocol.embedding_fallback,
    }
