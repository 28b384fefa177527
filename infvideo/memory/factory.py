"""One config for every memory kind, so a model or a sweep picks its memory by name.

``kind``: ``continuous`` (∞-Video), ``moviechat`` (MovieChat consolidation), ``malmm`` (MA-LMM memory
bank compression) or ``none``. Fields that belong to another kind are ignored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from .base import Memory
from .continuous import ContinuousMemory
from .malmm import MALMMMemory
from .moviechat import MovieChatMemory

log = logging.getLogger(__name__)

MEMORY_KINDS = ("continuous", "moviechat", "malmm", "none")


@dataclass
class MemoryConfig:
    kind: str = "continuous"
    # continuous (the reference's defaults, docs/reference-notes.md M5)
    num_basis: int = 256
    tau: float = 0.75
    sticky: bool = False
    num_samples: int = 512
    ridge: float = 0.5
    attention: str = "gibbs"
    basis: str | None = None
    sticky_bins: int = 128
    sticky_sort: bool = True
    sticky_jitter: bool = True
    reference_compat: bool = False
    # moviechat (docs/reference-notes.md B1); window 16 = the paper's 16→2 cadence, None = original scripts
    merge_length: int = 2
    short_memory_length: int = 18
    max_new_frames: int = 16
    window: int | None = 16
    long_memory_length: int = 256
    # malmm (M = 20 as in MA-LMM's 100-frame runs, docs/reference-notes.md B4)
    memory_bank_length: int = 20

    def __post_init__(self) -> None:
        if self.kind not in MEMORY_KINDS:
            raise ValueError(f"unknown memory kind {self.kind!r}; expected one of {MEMORY_KINDS}")


def build_memory(config: MemoryConfig, generator: torch.Generator | None = None) -> Memory | None:
    """A fresh memory of ``config.kind`` (None for ``none``)."""
    if config.kind == "continuous":
        return ContinuousMemory(
            num_basis=config.num_basis,
            tau=config.tau,
            sticky=config.sticky,
            num_samples=config.num_samples,
            ridge=config.ridge,
            attention=config.attention,
            basis=config.basis,
            sticky_bins=config.sticky_bins,
            sticky_sort=config.sticky_sort,
            sticky_jitter=config.sticky_jitter,
            reference_compat=config.reference_compat,
            generator=generator,
        )
    if config.kind == "moviechat":
        cadence = "per update (original scripts)" if config.window is None else f"every {config.window} frames (paper)"
        log.debug("MovieChat memory: consolidation %s to %d slots", cadence, config.merge_length)
        return MovieChatMemory(
            merge_length=config.merge_length,
            short_memory_length=config.short_memory_length,
            max_new_frames=config.max_new_frames,
            window=config.window,
            long_memory_length=config.long_memory_length,
        )
    if config.kind == "malmm":
        return MALMMMemory(memory_bank_length=config.memory_bank_length)
    return None
