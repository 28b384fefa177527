"""What a file is, independent of where it sits: the identity a run directory and the token cache key on.

Researchers stage data and checkpoints to node-local disks; the same checkpoint under another path
must give the same run directory (so resume works) and the same cached frame tokens. A fingerprint is
the size plus a sha256 of the content — all of it for files up to ``FULL_HASH_LIMIT``, the first and
last ``EDGE_BYTES`` beyond that (a 14 GB checkpoint is not read whole for a name; two different
checkpoints of the same size with identical first and last MiB do not occur in practice). A folder
(an HF model folder, MovieChat-1K's per-video JSONs) is the fingerprints of its files by relative
name. Results are cached per (path, size, mtime) for the life of the process.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

FULL_HASH_LIMIT = 64 * 1024 * 1024
EDGE_BYTES = 1024 * 1024


def fingerprint(path: str | os.PathLike[str]) -> str:
    """``sha256:<hex>`` of a file's or folder's content; ``missing:<name>`` when there is nothing there
    (validation reports missing inputs before a fingerprint matters)."""
    path = Path(path).expanduser()
    if path.is_dir():
        digest = hashlib.sha256()
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f"{file.relative_to(path).as_posix()}\0{fingerprint(file)}\n".encode())
        return "sha256:" + digest.hexdigest()
    if not path.is_file():
        return f"missing:{path.name}"
    stat = path.stat()
    return _file_fingerprint(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=4096)
def _file_fingerprint(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256(f"size={size}\n".encode())
    with open(path, "rb") as handle:
        if size <= FULL_HASH_LIMIT:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        else:
            digest.update(handle.read(EDGE_BYTES))
            handle.seek(size - EDGE_BYTES)
            digest.update(handle.read(EDGE_BYTES))
    return "sha256:" + digest.hexdigest()
