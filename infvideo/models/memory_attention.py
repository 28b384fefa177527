"""The Q-former cross-attention with a long-term memory: ∞-Video's change to the model.

Each memory-aware layer computes the usual short-term context over the current chunk's tokens (STM)
and a long-term context from its memory (LTM) through the same query/key/value projections, and mixes
them as ``alpha·STM + (1 − alpha)·LTM`` before the layer's output block (docs/reference-notes.md, R8). The
classes subclass transformers' own cross-attention and add no parameters, so checkpoints load into
them unchanged. ``alpha = 1`` returns the plain layer's output bit for bit and never touches the
memory (the paper's "No LTM").

Order within a chunk, as in the reference: the memory consolidates the chunk first, then is read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import torch
from torch import nn
from transformers.models.blip_2.modeling_blip_2 import Blip2QFormerModel, Blip2QFormerMultiHeadAttention
from transformers.models.instructblip.modeling_instructblip import (
    InstructBlipQFormerModel,
    InstructBlipQFormerMultiHeadAttention,
)

from infvideo.memory import MemoryConfig, build_memory
from infvideo.memory.base import Memory


class MemoryAttentionMixin:
    """Adds a memory to a transformers Q-former multi-head attention used as cross-attention."""

    memory: Memory | None
    alpha: float
    tokens_per_frame: int

    def configure_memory(self, memory: Memory | None, alpha: float, tokens_per_frame: int) -> None:
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
        if tokens_per_frame < 1:
            raise ValueError(f"tokens_per_frame must be positive, got {tokens_per_frame}")
        self.memory = memory
        self.alpha = alpha
        self.tokens_per_frame = tokens_per_frame
        self.last_contexts: dict[str, torch.Tensor] = {}

    @property
    def uses_memory(self) -> bool:
        return self.memory is not None and self.alpha < 1.0

    def reset_memory(self, generator: torch.Generator | None = None) -> None:
        if self.memory is not None:
            self.memory.reset(generator)

    def pool_frames(self, encoder_hidden_states: torch.Tensor) -> torch.Tensor:
        """[batch, frames·tokens_per_frame, width] -> one vector per frame [batch, frames, width]."""
        batch, tokens, width = encoder_hidden_states.shape
        if tokens % self.tokens_per_frame:
            raise ValueError(f"{tokens} encoder tokens are not a whole number of frames of {self.tokens_per_frame} tokens")
        return encoder_hidden_states.reshape(batch, tokens // self.tokens_per_frame, self.tokens_per_frame, width).mean(2)

    def forward(self, hidden_states, attention_mask=None, encoder_hidden_states=None, encoder_attention_mask=None, **kwargs):
        short_term, weights = super().forward(
            hidden_states,
            attention_mask=attention_mask,
            encoder_hidden_states=encoder_hidden_states,
            encoder_attention_mask=encoder_attention_mask,
            **kwargs,
        )
        if not self.uses_memory or encoder_hidden_states is None:
            return short_term, weights
        # The memory is training-free and its context is detached, as in the reference.
        with torch.no_grad():
            self.memory.update(self.pool_frames(encoder_hidden_states))
            long_term = self.memory.read(self.query(hidden_states), self.key, self.value, self.num_attention_heads)
        long_term = long_term.to(short_term.dtype)
        self.last_contexts = {"short_term": short_term.detach(), "long_term": long_term}
        return self.alpha * short_term + (1.0 - self.alpha) * long_term, weights


class MemoryBlip2CrossAttention(MemoryAttentionMixin, Blip2QFormerMultiHeadAttention):
    """Memory-aware cross-attention for ``Blip2QFormerModel`` (Video-LLaMA's video Q-former)."""


class MemoryInstructBlipCrossAttention(MemoryAttentionMixin, InstructBlipQFormerMultiHeadAttention):
    """Memory-aware cross-attention for ``InstructBlipQFormerModel`` (VideoChat2's Q-former)."""


_MEMORY_CLASSES = {
    Blip2QFormerMultiHeadAttention: MemoryBlip2CrossAttention,
    InstructBlipQFormerMultiHeadAttention: MemoryInstructBlipCrossAttention,
}


def cross_attention_layers(qformer: nn.Module) -> list[nn.Module]:
    """The encoder layers of a Q-former that have a cross-attention block, in order."""
    return [layer for layer in qformer.encoder.layer if getattr(layer, "has_cross_attention", False)]


def install_memory(
    qformer: Blip2QFormerModel | InstructBlipQFormerModel,
    make_memory,
    alpha: float,
    tokens_per_frame: int,
    layers: list[int] | None = None,
) -> list[MemoryAttentionMixin]:
    """Swap memory-aware attention into the chosen cross-attention layers (all by default).

    ``make_memory()`` builds one fresh memory per layer (or returns None for no memory); ``layers``
    indexes the cross-attention layers (0 = the first layer that has one). Weights are kept: the new
    module takes the old one's state dict under the same names.
    """
    blocks = cross_attention_layers(qformer)
    chosen = range(len(blocks)) if layers is None else layers
    installed = []
    for index in chosen:
        block = blocks[index].crossattention
        old = block.attention
        base = next((b for b in _MEMORY_CLASSES if isinstance(old, b)), None)
        if base is None:
            raise TypeError(f"cannot add a memory to {type(old).__name__}")
        new = _MEMORY_CLASSES[base](qformer.config, is_cross_attention=True)
        new.load_state_dict(old.state_dict())
        new.to(device=next(old.parameters()).device, dtype=next(old.parameters()).dtype)
        new.train(old.training)
        new.configure_memory(make_memory(), alpha, tokens_per_frame)
        block.attention = new
        installed.append(new)
    return installed


def memory_layers(module: nn.Module) -> Iterator[MemoryAttentionMixin]:
    """The memory-aware layers inside ``module`` (a Q-former or a whole model), in order."""
    for child in module.modules():
        if isinstance(child, MemoryAttentionMixin):
            yield child


def set_memory(model: nn.Module, memory: MemoryConfig, alpha: float) -> None:
    """Give every memory layer of ``model`` a fresh memory of ``memory`` and the weight ``alpha`` (a sweep
    reuses one loaded model across runs that differ only in these), and record both in ``model.config``
    so the model's own config keeps describing what it runs."""
    for layer in memory_layers(model):
        layer.configure_memory(build_memory(memory), alpha, layer.tokens_per_frame)
    model.config = dataclasses.replace(model.config, alpha=alpha, memory=memory)


def reset_memories(qformer: nn.Module, generator: torch.Generator | None = None) -> None:
    """Forget every layer's memory (call at the first chunk of a new video). A ``generator`` (seeded
    from the run seed and the question id) drives sticky sampling from then on."""
    for layer in memory_layers(qformer):
        layer.reset_memory(generator)
