"""Judge replies on disk, so a re-run (or a run resumed after a kill) never pays for a reply twice.

Key: sha256 of the judge model name, the messages and the sampling parameters (temperature, seed,
max_tokens); the server's address is not part of it, so the same model behind another URL (a
proxy, a moved vLLM server) hits the same entries. One small JSON file per key,
``<folder>/<first 2 hex chars>/<sha256>.json``, written to a unique temporary file and renamed into
place: concurrent threads and killed runs leave either a whole entry or none. Only replies that
parsed are stored; no API key is ever part of an entry.

Where: ``{run_dir}/judge_cache`` by default, so the cache lives with the run it judged and not in
whatever directory the command happened to start from; ``$INFVIDEO_CACHE_DIR/judge`` when that
variable is set (one cache shared by all runs); or any folder given explicitly.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

CACHE_ENV = "INFVIDEO_CACHE_DIR"
RUN_DIR = "{run_dir}"  # in a cache folder: stands for the directory of the run being judged


def default_cache_dir() -> str:
    """``$INFVIDEO_CACHE_DIR/judge`` when the variable is set, else ``{run_dir}/judge_cache``."""
    shared = os.environ.get(CACHE_ENV)
    return str(Path(shared).expanduser() / "judge") if shared else f"{RUN_DIR}/judge_cache"


def cache_folder(cache_dir: str | None, run_dir: str | Path | None) -> Path | None:
    """The folder ``cache_dir`` names for ``run_dir`` (None: no cache)."""
    if cache_dir is None:
        return None
    if RUN_DIR in cache_dir:
        if run_dir is None:
            raise ValueError(f"the judge cache folder {cache_dir!r} depends on the run directory, and none was given")
        return Path(cache_dir.replace(RUN_DIR, str(run_dir)))
    return Path(cache_dir)


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
