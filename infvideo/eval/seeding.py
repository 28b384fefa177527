"""Randomness by construction: every question gets its own seed from (run seed, question id), so a
resumed or sharded run draws exactly what an uninterrupted single run would."""

from __future__ import annotations

import hashlib

import torch


def question_seed(run_seed: int, question_id: str) -> int:
    digest = hashlib.sha256(f"{run_seed}:{question_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF


def question_generator(run_seed: int, question_id: str) -> torch.Generator:
    return torch.Generator().manual_seed(question_seed(run_seed, question_id))
