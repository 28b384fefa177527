"""Which questions this process answers: from ``--shard i/n``, torchrun or a SLURM array."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass

from infvideo.errors import UserError


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise UserError(f"invalid shard {self.index}/{self.count}: the index runs from 0 to count-1 (e.g. 0/4 .. 3/4)")

    def owns(self, key: str) -> bool:
        """Stable assignment by the key's hash (the runner passes a video id, so a video is encoded by
        one shard only); adding keys never moves the others."""
        digest = hashlib.sha1(key.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index

    @property
    def suffix(self) -> str:
        return "" if self.count == 1 else f".shard-{self.index}-of-{self.count}"


def parse_shard(text: str) -> Shard:
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError as error:
        raise UserError(f"--shard takes i/n (e.g. 0/4), got {text!r}") from error
    return Shard(index, count)


def shard_from_environment(explicit: str | None = None, env: Mapping[str, str] | None = None) -> Shard:
    """``--shard`` wins; then torchrun (RANK, WORLD_SIZE); then a SLURM array
    (SLURM_ARRAY_TASK_ID relative to SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT); else one shard."""
    env = os.environ if env is None else env
    if explicit:
        return parse_shard(explicit)
    if "WORLD_SIZE" in env and "RANK" in env:
        return Shard(int(env["RANK"]), int(env["WORLD_SIZE"]))
    if "SLURM_ARRAY_TASK_ID" in env and "SLURM_ARRAY_TASK_COUNT" in env:
        first = int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
        return Shard(int(env["SLURM_ARRAY_TASK_ID"]) - first, int(env["SLURM_ARRAY_TASK_COUNT"]))
    return Shard()
