"""The files of a run directory and how the stages after ``predict`` find them.

    <run_dir>/config.yaml        the resolved PredictConfig (predict)
    <run_dir>/env.json           machine, versions, git state (predict)
    <run_dir>/predictions.jsonl  one line per question: id, prediction, parsed letter or error (predict)
    <run_dir>/matches.jsonl      multiple choice: the option letter of every prediction (match)
    <run_dir>/judgments.jsonl    open-ended: one line per (question, judge metric) (judge)
    <run_dir>/metrics.json, metrics.md   (score)

Scoring stages re-read the benchmark's annotations through the run's own config (the source of
truth for options, answers, question types and durations), so ``predictions.jsonl`` stays small.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from infvideo.data.record import QuestionRecord
from infvideo.errors import UserError

from .config import PredictConfig, load_config
from .predictions import latest_records, read_records

CONFIG = "config.yaml"
ENVIRONMENT = "env.json"
PREDICTIONS = "predictions.jsonl"
MATCHES = "matches.jsonl"
JUDGMENTS = "judgments.jsonl"
METRICS = "metrics.json"
METRICS_MARKDOWN = "metrics.md"


def load_run_config(run_dir: str | Path) -> PredictConfig:
    path = Path(run_dir) / CONFIG
    if not path.exists():
        raise UserError(f"{run_dir}: no {CONFIG}; is this a run directory written by `infvideo predict`?")
    return load_config(path)


def load_run_records(run_dir: str | Path, annotations: str | None = None, video_folder: str | None = None) -> list[QuestionRecord]:
    """The benchmark's questions as the run read them (or from another annotation file, e.g. after a move)."""
    from .runner import read_records as read_questions

    config = load_run_config(run_dir)
    if annotations:
        config.data.annotations = annotations
    if video_folder:
        config.data.video_folder = video_folder
    return read_questions(config)


def load_predictions(run_dir: str | Path) -> dict[str, dict[str, Any]]:
    """``predictions.jsonl`` by question id; a run left in shards must be merged first."""
    run_dir = Path(run_dir)
    path = run_dir / PREDICTIONS
    if not path.exists():
        shards = sorted(run_dir.glob("predictions.shard-*-of-*.jsonl"))
        hint = f"; merge its {len(shards)} shard files with `infvideo merge {run_dir}`" if shards else ""
        raise UserError(f"{run_dir}: no {PREDICTIONS}{hint}")
    return latest_records(path)  # the last line of an id wins (a retried error)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    return list(read_records(path))


def _temporary(path: Path) -> Path:
    """A temporary name beside ``path``, distinct per process (shards of one run write the same files)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_jsonl(path: str | Path, lines: Iterable[dict[str, Any]]) -> int:
    """Write all lines to a temporary file, then rename it into place (never a half-written file)."""
    path = Path(path)
    temporary = _temporary(path)
    count = 0
    with temporary.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            count += 1
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
    return count


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_text(path: str | Path, text: str) -> None:
    path = Path(path)
    temporary = _temporary(path)
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
