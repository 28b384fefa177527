"""Judge replies on disk, so a re-run (or a run resumed after a kill) never pays for a reply twice.

Key: sha256 of the judge model name, the messages and the sampling parameters (temperature, seed,
max_tokens); the server's address is not part of it, so the same model behind another URL (a
proxy, a moved vLLM server) hits the same entries. One small JSON file per key,
``<folder>/<first 2 hex chars>/<sha256>.json``, written to a unique temporary file and renamed into
place: concurrent threads and killed runs leave either a whole entry or none. Only replies that
parsed are stored; no API key is ever part of an entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def cache_key(model: str, messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    payload = {"model": model, "messages": messages, "params": params}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


class JudgeCache:
    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored entry, or None when there is none or it cannot be read (then it is re-asked)."""
        try:
            entry = json.loads(self.path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return entry if isinstance(entry, dict) and isinstance(entry.get("raw"), str) else None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(entry, stream, ensure_ascii=False)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
