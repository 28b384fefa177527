"""MA-LMM's memory bank compression (MBC) as a pluggable baseline (docs/reference-notes.md, B4).

This is the MBC *policy* placed at the video-Q-former point of infvideo's Video-LLaMA pipeline
(not the full MA-LMM), for an apples-to-apples compression ablation next to MovieChat and the
continuous memory. It is not the full InstructBLIP MA-LMM: there is no query memory bank inside the
Q-former self-attention, no instruction-conditioned Q-former, no raw-ViT-token bank and no learned
temporal PE (zero-initialised in zero-shot MA-LMM anyway).

What is reproduced: frames enter the visual bank one at a time with count 1; whenever the bank holds
more than ``memory_bank_length`` (M) entries it is compressed by one entry, token-wise: for every
token position the most cosine-similar adjacent pair of entries is merged into a count-weighted mean
(``memory_bank_compress``, a port of MA-LMM's ``blip2.py`` L352–392). So after warm-up the bank holds
exactly M entries, every frame fed still contributes, and temporal order is kept.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import Projection, as_token_sets, attend_tokens, check_finite


def memory_bank_compress(bank: Tensor, counts: Tensor) -> tuple[Tensor, Tensor]:
    """Shorten ``bank`` [batch, T, N, C] with ``counts`` [batch, T, N] by one entry.

    For each (batch, n) the adjacent pair (k, k+1) of highest cosine similarity over C is merged into
    (S_k·X_k + S_{k+1}·X_{k+1}) / (S_k + S_{k+1}) with count S_k + S_{k+1}; entry k+1 is removed.
    Different token positions may merge different pairs. Returns [batch, T−1, N, C], [batch, T−1, N].
    """
    batch, length, tokens, width = bank.shape
    if length < 2:
        raise ValueError(f"need at least 2 bank entries to compress, got {length}")
    if counts.shape != bank.shape[:3]:
        raise ValueError(f"counts shape {tuple(counts.shape)} does not match bank {tuple(bank.shape[:3])}")
    similarity = F.cosine_similarity(bank[:, :-1], bank[:, 1:], dim=-1)  # [batch, T-1, N]
    k = similarity.argmax(dim=1, keepdim=True)  # [batch, 1, N]; first maximum on ties

    def at(index: Tensor) -> tuple[Tensor, Tensor]:  # entries at time index [batch, t, N]
        return bank.gather(1, index[..., None].expand(*index.shape, width)), counts.gather(1, index)

    x_k, s_k = at(k)
    x_next, s_next = at(k + 1)
    weight_k, weight_next = s_k[..., None].to(bank.dtype), s_next[..., None].to(bank.dtype)
    merged = (weight_k * x_k + weight_next * x_next) / (weight_k + weight_next)
    # Output entry t takes input t up to k and input t+1 after it; entry k gets the merge.
    slot = torch.arange(length - 1, device=bank.device)[None, :, None].expand(batch, -1, tokens)
    kept_bank, kept_counts = at(slot + (slot > k).long())
    at_k = slot == k
    return (
        torch.where(at_k[..., None], merged, kept_bank),
        torch.where(at_k, s_k + s_next, kept_counts),
    )


class MALMMMemory:
    def __init__(self, memory_bank_length: int = 20) -> None:
        if memory_bank_length < 1:
            raise ValueError(f"memory_bank_length must be >= 1, got {memory_bank_length}")
        self.memory_bank_length = memory_bank_length
        self.reset()

    # -- state -------------------------------------------------------------------------------
    def reset(self, generator: torch.Generator | None = None) -> None:
        """Forget the video; nothing here is random, so ``generator`` is not used."""
        self._bank: Tensor | None = None  # [batch, <= M, tokens, width]
        self._counts: Tensor | None = None  # [batch, <= M, tokens]: frames merged into each entry

    @property
    def bank(self) -> Tensor | None:
        return self._bank

    @property
    def counts(self) -> Tensor | None:
        return self._counts

    def attention_over_video_time(self, video_edges: Tensor) -> None:
        """None: the read attends over discrete slots, which carry no video time."""
        return None

    def state_numel(self) -> int:
        return sum(t.numel() for t in (self._bank, self._counts) if t is not None)

    # -- update ------------------------------------------------------------------------------
    def update(self, x: Tensor) -> None:
        """Append the frames of ``x`` [batch, frames, (tokens,) width] one at a time, as MA-LMM does."""
        x = as_token_sets(x)
        check_finite(x, "MALMMMemory.update input")
        if x.shape[1] < 1:
            raise ValueError("update() needs at least one frame")
        x = x.detach().to(torch.float32, copy=True)  # never alias the caller's tensor
        bank = self._bank
        if bank is not None and (bank.shape[0] != x.shape[0] or bank.shape[2:] != x.shape[2:]):
            raise ValueError(f"frames {tuple(x.shape)} do not fit bank {tuple(bank.shape)} without reset()")
        ones = x.new_ones(x.shape[0], 1, x.shape[2])
        for frame in x.split(1, dim=1):
            if self._bank is None:
                self._bank, self._counts = frame, ones
            else:
                self._bank = torch.cat([self._bank, frame], dim=1)
                self._counts = torch.cat([self._counts, ones], dim=1)
            # Compressing after each frame (not once per chunk) is what keeps the bank at M.
            if self._bank.shape[1] > self.memory_bank_length:
                self._bank, self._counts = memory_bank_compress(self._bank, self._counts)

    # -- read --------------------------------------------------------------------------------
    def read(self, queries: Tensor, key: Projection, value: Projection, num_heads: int) -> Tensor:
        """Softmax attention of ``queries`` over every token of every bank entry."""
        if self._bank is None:
            raise RuntimeError("the MA-LMM memory is empty: call update() first")
        return attend_tokens(queries, self._bank.flatten(1, 2), key, value, num_heads)

    def __repr__(self) -> str:
        return f"MALMMMemory(M={self.memory_bank_length})"


__all__ = ["MALMMMemory", "memory_bank_compress"]
