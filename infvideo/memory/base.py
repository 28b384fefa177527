"""The one small interface every memory implements, and the shared read-out helpers.

A memory lives inside a Q-former cross-attention layer. Per chunk the layer calls ``update`` with
the chunk's per-frame features, then ``read`` with its already-projected queries and its own key and
value projections; it never needs to know which memory it holds, and neither do the sweeps and plots
that reset it or ask where it attended.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

Projection = Callable[[Tensor], Tensor]


def cached_constants(maxsize: int):
    """``functools.lru_cache`` for the constant tensors a memory reuses (designs, grids, overlaps),
    always built outside ``torch.inference_mode``: a tensor first built while a caller ran in
    inference mode would be an inference tensor, and every later use under autograd would fail."""

    def decorate(build):
        @functools.lru_cache(maxsize=maxsize)
        @functools.wraps(build)
        def cached(*args):
            with torch.inference_mode(False), torch.no_grad():
                return build(*args)

        return cached

    return decorate


@runtime_checkable
class Memory(Protocol):
    def reset(self, generator: torch.Generator | None = None) -> None:
        """Forget everything (a new video starts). ``generator`` (seeded per question) drives the memory's
        random draws from then on; a memory that draws nothing ignores it."""

    def update(self, x: Tensor) -> None:
        """Consolidate one chunk. ``x``: [batch, frames, width] or [batch, frames, tokens, width]."""

    def read(self, queries: Tensor, key: Projection, value: Projection, num_heads: int) -> Tensor:
        """Context for ``queries`` [batch, n_queries, num_heads*head_dim] -> same shape."""

    def state_numel(self) -> int:
        """Number of scalars the memory keeps between chunks (to check it stays bounded)."""

    def attention_over_video_time(self, video_edges: Tensor) -> Tensor | None:
        """Where the last ``read`` attended, as a density over video time for batch item 0: [K] per bin
        of ``video_edges`` (K + 1 edges in chunk units; chunk c covers [c − 1, c]). None for a memory
        whose read has no density over time (the token baselines attend over discrete slots)."""


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """[batch, n, num_heads*head_dim] -> [batch, num_heads, n, head_dim]."""
    batch, n, width = x.shape
    if width % num_heads:
        raise ValueError(f"width {width} is not divisible by num_heads={num_heads}")
    return x.view(batch, n, num_heads, width // num_heads).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """[batch, num_heads, n, head_dim] -> [batch, n, num_heads*head_dim]."""
    batch, heads, n, head_dim = x.shape
    return x.transpose(1, 2).reshape(batch, n, heads * head_dim)


def project(projection: Projection, x: Tensor) -> Tensor:
    """Apply a layer's projection in the projection's own dtype (memories compute in fp32)."""
    weight = getattr(projection, "weight", None)
    if isinstance(weight, Tensor) and weight.dtype != x.dtype:
        x = x.to(weight.dtype)
    return projection(x)


def attend_tokens(queries: Tensor, tokens: Tensor, key: Projection, value: Projection, num_heads: int) -> Tensor:
    """Plain multi-head softmax attention of ``queries`` over stored ``tokens`` [batch, n, width].

    This is how the discrete baseline memories (MovieChat, MA-LMM) are read when they sit where the
    continuous memory sits: the same query/key/value projections as the short-term attention.
    """
    q = split_heads(queries.float(), num_heads)
    k = split_heads(project(key, tokens).float(), num_heads)
    v = split_heads(project(value, tokens).float(), num_heads)
    scores = q @ k.transpose(-1, -2) / (q.shape[-1] ** 0.5)
    context = torch.softmax(scores, dim=-1) @ v
    return merge_heads(context).to(queries.dtype)


def as_token_sets(x: Tensor) -> Tensor:
    """Accept [batch, frames, width] or [batch, frames, tokens, width]; return the 4-d form."""
    if x.dim() == 3:
        return x.unsqueeze(2)
    if x.dim() == 4:
        return x
    raise ValueError(f"expected [batch, frames, (tokens,) width], got shape {tuple(x.shape)}")


def checks_wait_for_values(x: Tensor) -> bool:
    """Whether a value check on ``x`` may read its result back now. On the CPU there is no device to
    wait for, so a failed check raises ``ValueError`` at once; on an accelerator reading a flag back
    would stall the stream (and break CUDA-graph capture), so the check is queued on the device instead
    (``torch._assert_async``: the failure surfaces as a device-side assertion at the next sync).
    Tests patch this to take the device branch on a CPU."""
    return x.device.type == "cpu"


def check_values(ok: Tensor, message: str) -> None:
    """Raise ``ValueError(message)`` unless the boolean scalar ``ok`` holds, without a host sync on a device."""
    if checks_wait_for_values(ok):
        if not bool(ok):
            raise ValueError(message)
    else:
        torch._assert_async(ok, message)


def check_finite(x: Tensor, what: str) -> None:
    message = f"{what} contains NaN or Inf values"
    if checks_wait_for_values(x):
        # One reduction is enough unless something is off; the sum can overflow on finite input, so
        # only then is every element checked.
        if not torch.isfinite(x.sum()) and not torch.isfinite(x).all():
            raise ValueError(message)
    else:
        check_values(torch.isfinite(x).all(), message)
