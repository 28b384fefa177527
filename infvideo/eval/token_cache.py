"""Frame tokens on disk, so sweeps over memory settings never re-run the vision encoder.

One safetensors file per (video, sampling) under a folder named by a hash of everything the tokens
depend on (the vision-side signature: model, weights, image size, ...). Tokens are stored in fp16 with
the sampled indices as metadata; a changed vision config simply lands in another folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def _digest(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


class TokenCache:
    def __init__(self, folder: str | Path, vision_signature: dict) -> None:
        self.signature = vision_signature
        self.folder = Path(folder) / _digest(vision_signature)[:16]
        self.hits = 0
        self.misses = 0

    def path(self, key: dict) -> Path:
        return self.folder / f"{_digest(key)[:24]}.safetensors"

    def load(self, key: dict) -> list[torch.Tensor] | None:
        path = self.path(key)
        if not path.exists():
            self.misses += 1
            return None
        tensors = load_file(str(path))
        self.hits += 1
        return [tensors[f"chunk_{i}"].float() for i in range(len(tensors))]

    def save(self, key: dict, chunks: list[torch.Tensor], metadata: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        signature = self.folder / "signature.json"
        _replace_atomically(signature, lambda temporary: temporary.write_text(json.dumps(self.signature, indent=2, default=str)))
        tensors = {f"chunk_{i}": chunk.detach().to("cpu", torch.float16).contiguous() for i, chunk in enumerate(chunks)}
        info = {"key": json.dumps(key, default=str), **{k: json.dumps(v) for k, v in metadata.items()}}
        _replace_atomically(self.path(key), lambda temporary: save_file(tensors, str(temporary), metadata=info))


def _replace_atomically(path: Path, write) -> None:
    """Never a half-written cache file; a temporary name per process, because several processes (shards, lmms-eval
    ranks) may write the same video's tokens at once, and the last complete file wins (they are equal)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(temporary)
    temporary.replace(path)
