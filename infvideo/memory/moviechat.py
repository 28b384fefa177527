"""MovieChat's short-/long-term memory as a pluggable baseline (docs/reference-notes.md, B1–B3).

MovieChat sits where ∞-Video's memory sits: between the image Q-former (one token set of 32×768 per
frame) and the video Q-former. Reproduced here, from the released inference path
(``encode_short_memory_frame`` / ``encode_long_video``):

* STM: a FIFO of frame token sets, capped at ``short_memory_length`` (18); at most ``max_new_frames``
  (16) frames are taken from one update call.
* Consolidation (B2): greedy adjacent merging at frame granularity. Similarity of frames (i, i+1) is
  the mean of the raw dot-product matrix between their token sets (all-to-all, not cosine); the most
  similar pair (first on ties) is replaced by its plain average, repeated until ``merge_length`` (the
  paper's R_L = 2) frames remain, which are appended to the LTM. The STM is then emptied; a copy taken
  just before merging (``last_short_memory``) feeds breakpoint mode.
* Readout (B2): global = LTM slots; breakpoint = LTM ++ pre-merge STM ++ current frame, cut to the
  number of positions by dropping from the front of the STM part first, then of the LTM.
* Positions: ``readout_tokens`` adds a caller's position table to the slots; the hierarchical table (B3)
  and MovieChat+'s adaptive base size are built by the model that owns the learned positions
  (``infvideo.models.video_llama.modeling``).

Cadence flag (B1: two released code paths differ, both end with a 256-slot LTM):

* ``window=None``: consolidate at the end of every ``update`` call. Fed 128 fragments of 8 frames with
  R_L = 2 this is the original MovieChat eval scripts (8→2 per fragment, 1,024 frames).
* ``window=16``: frames accumulate in the STM and every 16 are consolidated. Fed 8 frames per call this
  is the paper / maintainers' lmms-eval port (16→2, 256 windows of 8, 2,048 frames).

``long_memory_length`` is enforced by dropping slots from the front (the MovieChat+ rule). MovieChat
itself never enforces it: in its released settings the LTM ends at exactly 128·2 = 256 slots.

Not reproduced: the question-dependent R_L of MovieChat+ (it is always 1 as released, so use
``merge_length=1``), the cosine-distance merge of the training path, and the
breakpoint-path bugs (B2; the caller picks the current frame).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Projection, as_token_sets, attend_tokens, check_finite


def merge_adjacent_most_similar(frames: Tensor, target_len: int) -> Tensor:
    """Greedy MovieChat consolidation of ``frames`` [batch, T, tokens, width] to ``target_len`` frames.

    Each batch item picks its own pair at every step; temporal order is kept.
    """
    if target_len < 1:
        raise ValueError(f"target_len must be at least 1, got {target_len}")
    batch, _, tokens, width = frames.shape
    rows = torch.arange(batch, device=frames.device)
    while frames.shape[1] > target_len:
        length = frames.shape[1]
        # Mean of the full tokens×tokens dot-product matrix, as released (not the cheaper but
        # differently rounded dot product of mean tokens), so near-ties break as upstream.
        scores = torch.einsum("btnc,btmc->btnm", frames[:, :-1], frames[:, 1:])
        k = scores.mean(dim=(2, 3)).argmax(dim=1)  # [batch]; argmax returns the first maximum
        merged = (frames[rows, k] + frames[rows, k + 1]) / 2  # unweighted, as MovieChat
        # Output slot j takes input j up to k and input j+1 after it (k+1 is deleted).
        slot = torch.arange(length - 1, device=frames.device).expand(batch, -1)
        source = slot + (slot > k[:, None]).long()
        index = source[:, :, None, None].expand(batch, length - 1, tokens, width)
        frames = frames.gather(1, index)
        frames[rows, k] = merged
    return frames


def _cat(a: Tensor | None, b: Tensor) -> Tensor:
    if a is None:
        return b
    if a.shape[0] != b.shape[0] or a.shape[2:] != b.shape[2:]:
        raise ValueError(f"frames of shape {tuple(b.shape)} do not fit memory {tuple(a.shape)} without reset()")
    return torch.cat([a, b], dim=1)


class MovieChatMemory:
    def __init__(
        self,
        merge_length: int = 2,
        short_memory_length: int = 18,
        max_new_frames: int = 16,
        window: int | None = None,
        long_memory_length: int = 256,
    ) -> None:
        if min(merge_length, short_memory_length, max_new_frames, long_memory_length) < 1:
            raise ValueError("merge_length, short/long_memory_length and max_new_frames must be >= 1")
        if window is not None and not 1 <= window <= short_memory_length:
            # A window larger than the FIFO cap would never fill, so nothing would be consolidated.
            raise ValueError(f"window must lie in [1, short_memory_length={short_memory_length}]: {window}")
        self.merge_length = merge_length
        self.short_memory_length = short_memory_length
        self.max_new_frames = max_new_frames
        self.window = window
        self.long_memory_length = long_memory_length
        self.reset()

    # -- state -------------------------------------------------------------------------------
    def reset(self, generator: torch.Generator | None = None) -> None:
        """Forget the video; nothing here is random, so ``generator`` is not used."""
        self.short_memory: Tensor | None = None  # [batch, s, tokens, width], frames not yet consolidated
        self.last_short_memory: Tensor | None = None  # STM copy taken just before the last consolidation
        self.long_memory: Tensor | None = None  # [batch, slots, tokens, width]

    def attention_over_video_time(self, video_edges: Tensor) -> None:
        """None: the read attends over discrete slots, which carry no video time."""
        return None

    def state_numel(self) -> int:
        tensors = (self.short_memory, self.last_short_memory, self.long_memory)
        return sum(t.numel() for t in tensors if t is not None)

    @property
    def num_slots(self) -> int:
        return 0 if self.long_memory is None else self.long_memory.shape[1]

    # -- update ------------------------------------------------------------------------------
    def update(self, x: Tensor) -> None:
        """Take up to ``max_new_frames`` frames of ``x`` [batch, frames, (tokens,) width]."""
        x = as_token_sets(x)
        check_finite(x, "MovieChatMemory.update input")
        if x.shape[1] < 1:
            raise ValueError("update() needs at least one frame")
        x = x[:, : self.max_new_frames].detach().to(torch.float32, copy=True)  # never alias the caller
        if self.window is None:
            # Original eval scripts: FIFO-append the fragment, then consolidate it at once.
            self.short_memory = _cat(self.short_memory, x)[:, -self.short_memory_length :]
            self._consolidate()
            return
        while x.shape[1] > 0:
            held = 0 if self.short_memory is None else self.short_memory.shape[1]
            take = self.window - held
            self.short_memory = _cat(self.short_memory, x[:, :take])
            x = x[:, take:]
            if self.short_memory.shape[1] == self.window:
                self._consolidate()

    def _consolidate(self) -> None:
        self.last_short_memory = self.short_memory.clone()
        merged = merge_adjacent_most_similar(self.short_memory, self.merge_length)
        self.long_memory = _cat(self.long_memory, merged)[:, -self.long_memory_length :]
        self.short_memory = None

    # -- read --------------------------------------------------------------------------------
    def _stored_slots(self) -> Tensor:
        # Before the first consolidation (window mode) the only content is the STM.
        if self.long_memory is not None:
            return self.long_memory
        if self.short_memory is not None:
            return self.short_memory
        raise RuntimeError("the MovieChat memory is empty: call update() first")

    def read(self, queries: Tensor, key: Projection, value: Projection, num_heads: int) -> Tensor:
        """Softmax attention of ``queries`` over all stored tokens (LTM, or the STM while LTM is empty)."""
        slots = self._stored_slots()
        return attend_tokens(queries, slots.flatten(1, 2), key, value, num_heads)

    def readout_tokens(
        self,
        mode: str = "global",
        current_frame: Tensor | None = None,
        position_table: Tensor | None = None,
        max_positions: int = 256,
    ) -> Tensor:
        """What MovieChat feeds its video Q-former: [batch, slots·tokens, width].

        ``global``: the LTM slots. ``breakpoint``: LTM ++ pre-merge STM (plus, in window mode, frames
        still waiting in the STM) ++ ``current_frame`` [batch, (tokens,) width]; with an empty LTM only
        the STM part is used. Over ``max_positions`` slots, the front of the STM part goes first, then
        the front of the LTM. ``position_table`` [>= slots, width]: row s is added to every token of
        slot s (a model's positions, e.g. Video-LLaMA's hierarchical table).
        """
        if max_positions < 1:
            raise ValueError(f"max_positions must be >= 1, got {max_positions}")
        if mode == "global":
            slots = self._stored_slots()[:, -max_positions:]  # MovieChat+ front-drop
        elif mode == "breakpoint":
            slots = self._breakpoint_slots(current_frame, max_positions)
        else:
            raise ValueError(f"mode must be 'global' or 'breakpoint', got {mode!r}")
        if position_table is not None:
            if position_table.shape[0] < slots.shape[1]:
                rows = position_table.shape[0]
                raise ValueError(f"position_table has {rows} rows for {slots.shape[1]} slots")
            slots = slots + position_table[: slots.shape[1], None, :].to(slots)
        return slots.flatten(1, 2)

    def _breakpoint_slots(self, current_frame: Tensor | None, max_positions: int) -> Tensor:
        short_parts = [t for t in (self.last_short_memory, self.short_memory) if t is not None]
        short = torch.cat(short_parts, dim=1) if short_parts else None
        long = self.long_memory
        if long is None:
            if short is None:
                raise RuntimeError("the MovieChat memory is empty: call update() first")
            return short[:, -max_positions:]  # MovieChat skips the current frame without an LTM
        current = None
        if current_frame is not None:
            current = current_frame.float().unsqueeze(1)  # one slot
            if current.dim() == 3:  # [batch, width] given: a one-token set
                current = current.unsqueeze(2)
        n_short = 0 if short is None else short.shape[1]
        n_current = 0 if current is None else 1
        excess = long.shape[1] + n_short + n_current - max_positions
        if excess >= long.shape[1] + n_short:
            raise ValueError(f"max_positions={max_positions} leaves no room for the memory")
        if excess > 0:
            drop_short = min(excess, n_short)
            long = long[:, excess - drop_short :]
            short = None if short is None else short[:, drop_short:]
        return torch.cat([t for t in (long, short, current) if t is not None], dim=1)

    def __repr__(self) -> str:
        cadence = "per-update" if self.window is None else f"window={self.window}"
        return (
            f"MovieChatMemory(R_L={self.merge_length}, STM={self.short_memory_length}, "
            f"max_new_frames={self.max_new_frames}, {cadence}, LTM<={self.long_memory_length})"
        )


__all__ = [
    "MovieChatMemory",
    "merge_adjacent_most_similar",
]
