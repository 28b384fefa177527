"""``predictions.jsonl``: append-only, one JSON object per question, safe against kills.

Each line is flushed and fsynced before the next question starts, so a killed run loses at most the
line it was writing. On opening, a torn last line (no newline, or not valid JSON) is cut off, and the
ids already present are skipped on resume. Nothing already written is ever rewritten.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

log = logging.getLogger(__name__)


def read_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """The complete records of a predictions file (a torn last line is ignored)."""
    path = Path(path)
    if not path.exists():
        return
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                break  # torn: the writer died mid-line
            try:
                yield json.loads(raw)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}: line {number} is not valid JSON ({error})") from error


class PredictionStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair_torn_tail()
        self.done: set[str] = {str(record["id"]) for record in read_records(self.path)}
        self._handle = self.path.open("a", encoding="utf-8")

    def _repair_torn_tail(self) -> None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb+") as handle:
            data = handle.read()
            if data.endswith(b"\n"):
                return
            keep = data.rfind(b"\n") + 1
            log.warning("%s: dropping a torn last line (%d bytes) left by an interrupted run", self.path, len(data) - keep)
            handle.truncate(keep)

    def __contains__(self, question_id: str) -> bool:
        return str(question_id) in self.done

    def append(self, record: dict[str, Any]) -> None:
        if "id" not in record:
            raise ValueError("a prediction record needs an 'id'")
        if str(record["id"]) in self.done:
            raise ValueError(f"question {record['id']!r} is already in {self.path}")
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.done.add(str(record["id"]))

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "PredictionStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def merge_predictions(parts: Iterable[str | Path], output: str | Path) -> int:
    """Merge shard files into one; an id present in two shards must carry the same record. Returns the
    number of records written (to a temporary file first, then renamed into place)."""
    merged: dict[str, dict[str, Any]] = {}
    for part in parts:
        for record in read_records(part):
            key = str(record["id"])
            if key in merged and merged[key] != record:
                raise ValueError(f"question {key!r} differs between shards (second seen in {part})")
            merged[key] = record
    output = Path(output)
    temporary = output.with_suffix(output.suffix + ".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        for key in sorted(merged):
            handle.write(json.dumps(merged[key], ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(output)
    return len(merged)
