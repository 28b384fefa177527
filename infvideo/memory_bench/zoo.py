"""Every memory the bench compares, behind the project's ``Memory`` interface.

* ``continuous``: ∞-Video's ``ContinuousMemory`` (options: any ``MemoryConfig`` continuous field, e.g.
  num_basis, tau, sticky, num_samples, attention "gibbs"/"gaussian").
* ``moviechat``: ``MovieChatMemory`` (options: merge_length, short_memory_length, max_new_frames,
  window, long_memory_length).
* ``malmm``: ``MALMMMemory`` (option: memory_bank_length).
* ``short_term``: only the last chunk's frames: what the Q-former sees with no long-term memory.
* ``full``: every frame ever seen, read by exact attention: the upper bound. Its state grows with the
  video, so it is only a reference where it fits.

The first three come from ``infvideo.memory.build_memory`` with the project defaults; the last two are
defined here and read with the same plain softmax attention (``attend_tokens``) through the same
projections as the MovieChat / MA-LMM baselines, so every row differs only in what it keeps.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from infvideo.memory import ContinuousMemory, MALMMMemory, Memory, MemoryConfig, MovieChatMemory, build_memory
from infvideo.memory.base import Projection, as_token_sets, attend_tokens


class ShortTermMemory:
    """Keeps the frames of the last ``update`` only."""

    def __init__(self) -> None:
        self.reset()

    def reset(self, generator: torch.Generator | None = None) -> None:
        self.tokens: Tensor | None = None  # [batch, frames·tokens, width]

    def update(self, x: Tensor) -> None:
        self.tokens = as_token_sets(x).detach().float().flatten(1, 2)

    def read(self, queries: Tensor, key: Projection, value: Projection, num_heads: int) -> Tensor:
        if self.tokens is None:
            raise RuntimeError("read() before any update(): the memory is empty")
        return attend_tokens(queries, self.tokens, key, value, num_heads)

    def state_numel(self) -> int:
        return 0 if self.tokens is None else self.tokens.numel()

    def attention_over_video_time(self, video_edges: Tensor) -> Tensor | None:
        return None  # a token memory has no density over time (the Memory interface's answer for it)


class FullAttentionMemory(ShortTermMemory):
    """Keeps every frame: exact attention over the whole video (state grows linearly)."""

    def update(self, x: Tensor) -> None:
        new = as_token_sets(x).detach().float().flatten(1, 2)
        self.tokens = new if self.tokens is None else torch.cat([self.tokens, new], dim=1)


def _from_config(kind: str) -> Callable[[dict], Memory]:
    def build(options: dict) -> Memory:
        if "kind" in options:
            raise ValueError("the memory kind is the cell's `memory`, not an option")
        return build_memory(MemoryConfig(kind=kind, **options))

    return build


def _no_options(cls: type) -> Callable[[dict], Memory]:
    def build(options: dict) -> Memory:
        if options:
            raise ValueError(f"{cls.__name__} takes no options, got {sorted(options)}")
        return cls()

    return build


MEMORIES: dict[str, Callable[[dict], Memory]] = {
    "continuous": _from_config("continuous"),
    "moviechat": _from_config("moviechat"),
    "malmm": _from_config("malmm"),
    "short_term": _no_options(ShortTermMemory),
    "full": _no_options(FullAttentionMemory),
}


def stored_tokens(memory: Memory) -> Tensor | None:
    """What a token memory holds and reads, [slots·tokens, width] of batch item 0; None for memories
    that keep no tokens (the continuous memory keeps a signal: see ``ContinuousMemory.reconstruct``)."""
    if isinstance(memory, ShortTermMemory):
        tokens = memory.tokens
    elif isinstance(memory, MovieChatMemory):
        # The global read-out is exactly what ``read`` attends over (LTM, or the STM before the first
        # consolidation); max_positions past the slot count keeps every slot.
        slots = max(memory.num_slots, 0 if memory.short_memory is None else memory.short_memory.shape[1])
        tokens = memory.readout_tokens("global", max_positions=max(slots, 1))
    elif isinstance(memory, MALMMMemory):
        tokens = None if memory.bank is None else memory.bank.flatten(1, 2)
    elif isinstance(memory, ContinuousMemory):
        return None
    else:
        tokens = getattr(memory, "tokens", None)
    return None if tokens is None else tokens[0]
