"""``predictions.jsonl``: append-only, one JSON object per line, safe against kills; merged from shards.

Each line is flushed and fsynced before the next question starts, so a killed run loses at most the
line it was writing. On opening, a torn last line (no newline, or not valid JSON) is cut off. Nothing
already written is ever rewritten by ``predict``: a question that failed (a line with ``error``) and
is asked again with ``predict --retry-errors`` gets a second line, and **the last line of an id wins**
everywhere a predictions file is read (``latest_records``).

One process writes a predictions file at a time: the store holds an exclusive ``flock`` on it while
open, so a second ``predict`` on the same run (and shard) is refused instead of interleaving lines.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infvideo.errors import UserError

log = logging.getLogger(__name__)

PREDICTIONS = "predictions.jsonl"
SHARD_FILE = re.compile(r"^predictions\.shard-(\d+)-of-(\d+)\.jsonl$")
# What an answer is made of. Two lines that agree on these answered the same way, whatever their
# timings or the machine that wrote them.
ANSWER_FIELDS = ("prediction", "parsed", "error")


def read_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """Every complete line of a predictions file, in file order (a torn last line is ignored)."""
    path = Path(path)
    if not path.exists():
        return
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                break  # torn: the writer died mid-line
            try:
                yield json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise UserError(f"{path}: line {number} is not valid JSON ({error})") from error


def latest_records(path: str | Path) -> dict[str, dict[str, Any]]:
    """The last line of each id, in the order ids first appeared."""
    latest: dict[str, dict[str, Any]] = {}
    for record in read_records(path):
        latest[str(record["id"])] = record
    return latest


def open_locked(path: Path):
    """``path`` opened for appending, with an exclusive lock held until the handle is closed."""
    handle = path.open("a", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise UserError(
            f"another process (an `infvideo predict`, sweep or merge) is writing {path}; wait for it to finish or stop it, then run again"
        ) from None
    return handle


def prediction_sha256(text: str | None) -> str:
    """How a later stage names the prediction it worked from: sha256 of the answer text (UTF-8, hex;
    "" for no text). ``matches.jsonl`` and ``judgments.jsonl`` record it per line, so ``score`` can tell
    a letter or a verdict made from an older answer (the question was predicted again since)."""
    return hashlib.sha256((text if isinstance(text, str) else "").encode("utf-8")).hexdigest()


def is_error(record: dict[str, Any]) -> bool:
    return bool(record.get("error"))


class PredictionStore:
    """The append-only writer of one predictions file.

    ``done`` holds the ids not to ask again: every id with a line, or with ``retry_errors`` only the
    ids whose last line is an answer. ``errors`` holds the ids whose last line is an error."""

    def __init__(self, path: str | Path, retry_errors: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open_locked(self.path)
        self._repair_torn_tail()
        latest = latest_records(self.path)
        self.errors: set[str] = {key for key, record in latest.items() if is_error(record)}
        self.done: set[str] = set(latest) - self.errors if retry_errors else set(latest)

    def _repair_torn_tail(self) -> None:
        if self.path.stat().st_size == 0:
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
        key = str(record["id"])
        if key in self.done:
            raise ValueError(f"question {record['id']!r} is already in {self.path}")
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.done.add(key)
        if is_error(record):
            self.errors.add(key)
        else:
            self.errors.discard(key)

    def close(self) -> None:
        self._handle.close()  # releases the lock

    def __enter__(self) -> PredictionStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def shard_files(run_dir: str | Path) -> dict[int, dict[int, Path]]:
    """``{shard count: {shard index: path}}`` for the shard files in ``run_dir``."""
    found: dict[int, dict[int, Path]] = {}
    for path in Path(run_dir).iterdir() if Path(run_dir).is_dir() else ():
        if match := SHARD_FILE.match(path.name):
            index, count = int(match.group(1)), int(match.group(2))
            found.setdefault(count, {})[index] = path
    return found


@dataclass
class MergeSummary:
    output: Path
    shard_count: int
    merged_shards: list[int]
    missing_shards: list[int]
    records_before: int
    records_after: int
    added: int = 0
    errors_replaced: int = 0  # error lines superseded by an answer from a shard
    conflicts: list[str] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return bool(self.missing_shards)


def _differs(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return any(old.get(name) != new.get(name) for name in ANSWER_FIELDS)


def merge_shards(run_dir: str | Path, shard_count: int | None = None, allow_partial: bool = False) -> MergeSummary:
    """Merge the shard files of one shard count INTO ``run_dir/predictions.jsonl``.

    Every shard 0..n−1 must be there (``allow_partial`` merges what is there and says so). What the
    main file already holds is kept: an answer is never replaced by an error, an error is replaced by
    an answer, and two answers for one id that disagree on ``ANSWER_FIELDS`` stop the merge (the
    files come from different runs). The file only grows, and is replaced atomically."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir} is not a directory")
    by_count = shard_files(run_dir)
    if not by_count:
        raise UserError(f"no shard files (predictions.shard-<i>-of-<n>.jsonl) in {run_dir}")
    if shard_count is None:
        if len(by_count) > 1:
            counts = ", ".join(f"{n} ({len(files)} files)" for n, files in sorted(by_count.items()))
            raise UserError(f"{run_dir} holds shard files of several shard counts: {counts}; choose one with --shards N")
        shard_count = next(iter(by_count))
    files = by_count.get(shard_count, {})
    if not files:
        raise UserError(f"{run_dir} has no shard files of {shard_count} shards (found counts: {sorted(by_count)})")
    missing = [index for index in range(shard_count) if index not in files]
    if missing and not allow_partial:
        names = ", ".join(f"predictions.shard-{i}-of-{shard_count}.jsonl" for i in missing)
        raise UserError(
            f"{run_dir}: {len(missing)} of {shard_count} shards missing ({names}); "
            "wait for them to finish, or merge what is there with --allow-partial"
        )
    output = run_dir / PREDICTIONS
    with open_locked(output):
        return _merge_into(output, files, shard_count, missing)


def _merge_into(output: Path, files: dict[int, Path], shard_count: int, missing: list[int]) -> MergeSummary:
    run_dir = output.parent
    merged = latest_records(output)
    summary = MergeSummary(output, shard_count, sorted(files), missing, len(merged), len(merged))
    for index in sorted(files):
        for key, record in latest_records(files[index]).items():
            old = merged.get(key)
            if old is None:
                merged[key] = record
                summary.added += 1
            elif is_error(record):
                continue  # a failure never replaces what is there
            elif is_error(old):
                merged[key] = record
                summary.errors_replaced += 1
            elif _differs(old, record):
                summary.conflicts.append(f"{key!r} ({files[index].name} vs {PREDICTIONS})")
    if summary.conflicts:
        shown = ", ".join(summary.conflicts[:5]) + (f" and {len(summary.conflicts) - 5} more" if len(summary.conflicts) > 5 else "")
        raise UserError(
            f"{run_dir}: {len(summary.conflicts)} questions answered differently in a shard file and in what is merged "
            f"already: {shown}; the files come from different runs, nothing was written"
        )
    _write_atomically(output, merged.values())
    summary.records_after = len(merged)
    return summary


def _write_atomically(output: Path, records) -> None:
    temporary = output.with_suffix(output.suffix + ".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(output)
