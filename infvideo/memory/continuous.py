"""The continuous-time long-term memory of ∞-Video (docs/reference-notes.md, M1–M5).

The memory is a signal x̄(t) = Bᵀψ(t) on [0, 1], kept as N basis coefficients per batch item, so its
size does not depend on how many chunks it has seen. Per chunk:

1. ``update(x)``: the first chunk is fitted by ridge regression. A later chunk contracts the old
   signal into [0, τ] (read at M sample times, uniform or sticky, and placed at τ·(k − ½)/M), puts the
   new frames in [τ, 1] and refits everything onto the N basis functions.
2. ``read(queries, key, value, num_heads)``: keys and values are the calling layer's own projections
   of the coefficients; a continuous attention (Gibbs or Gaussian) gives a density over [0, 1] per
   head and query, and the context is its expectation of the values.

``reference_compat=True`` reproduces the authors' numerics exactly (``reference.py``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import reference
from .attention import ContinuousAttention, attend, box_scores
from .base import Projection, check_finite, merge_heads, project, split_heads
from .basis import make_basis
from .regression import chunk_fit, consolidation_fit
from .sampling import sticky_sample_times, uniform_sample_times
from .timeline import MemoryTimeline


def _full_precision(x: Tensor):
    """Autocast off: under a Q-former run with fp16/bf16 autocast the memory's fits and attention would
    otherwise drop to half precision; the memory's numerics do not depend on the Q-former's precision."""
    return torch.autocast(x.device.type, enabled=False)


class ContinuousMemory:
    def __init__(
        self,
        num_basis: int = 256,
        tau: float = 0.75,
        sticky: bool = False,
        num_samples: int = 512,
        ridge: float = 0.5,
        attention: str = "gibbs",
        basis: str | None = None,
        sigmas: tuple[float, ...] = (0.005, 0.01),
        temperature: float = 20.0,
        sticky_bins: int = 128,
        sticky_sort: bool = True,
        sticky_jitter: bool = True,
        reference_compat: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        if not 0.0 < tau < 1.0:
            raise ValueError(f"tau must lie in (0, 1), got {tau}")
        if num_samples < 1 or ridge < 0 or sticky_bins < 1:
            raise ValueError("num_samples and sticky_bins must be positive and ridge non-negative")
        basis = basis or ("rectangular" if attention == "gibbs" else "gaussian")
        if reference_compat and (attention != "gibbs" or basis != "rectangular"):
            raise ValueError("reference_compat reproduces the reference's Gibbs attention over boxes only")
        self.num_basis = num_basis
        self.tau = tau
        self.sticky = sticky
        self.num_samples = num_samples
        self.ridge = ridge
        self.attention = attention
        self.temperature = temperature
        self.sticky_bins = sticky_bins
        self.sticky_sort = sticky_sort
        self.sticky_jitter = sticky_jitter
        self.reference_compat = reference_compat
        self.basis = make_basis(basis, num_basis, sigmas, reference_bounds=reference_compat)
        self.generator = generator
        self._fits: dict[tuple, object] = {}
        self.reset()

    # -- state -------------------------------------------------------------------------------
    def reset(self, generator: torch.Generator | None = None) -> None:
        """Forget the video. A new ``generator`` (e.g. seeded by question id) replaces the old one."""
        self.coefficients: Tensor | None = None  # B [batch, N, e]
        self.last_attention: ContinuousAttention | None = None
        self.last_sample_times: Tensor | None = None
        self.chunks_seen = 0
        # Where each update read the old memory, kept until someone asks where the memory attends over
        # video time: the timeline is then brought up to date on the host, so a run that never asks
        # pays no device-to-host copy per chunk (M numbers per chunk until then).
        self._timeline: MemoryTimeline | None = None
        self._unplaced: list[tuple[int, Tensor | None]] = []
        if generator is not None:
            self.generator = generator

    def state_numel(self) -> int:
        tensors = [self.coefficients]
        if self.last_attention is not None:
            tensors.append(self.last_attention.weights)
        return sum(t.numel() for t in tensors if t is not None)

    # -- update ------------------------------------------------------------------------------
    def update(self, x: Tensor) -> None:
        """Consolidate a chunk of per-frame features ``x`` [batch, frames, width]."""
        if x.dim() != 3 or x.shape[1] < 1:
            raise ValueError(f"expected chunk features [batch, frames, width], got shape {tuple(x.shape)}")
        check_finite(x, "memory input")
        x = x.float()
        if self.coefficients is not None and self.coefficients.shape[0] != x.shape[0]:
            raise ValueError(f"batch changed from {self.coefficients.shape[0]} to {x.shape[0]} without reset()")
        with _full_precision(x):
            if self.reference_compat:
                coefficients = self._update_reference(x)
            else:
                coefficients = self._update_exact(x)
        self.coefficients = coefficients.detach()
        self.chunks_seen += 1
        self._unplaced.append((self.chunks_seen, self.last_sample_times if self.chunks_seen > 1 else None))

    def _update_exact(self, x: Tensor) -> Tensor:
        length = x.shape[1]
        if self.coefficients is None:
            return self._fit(("chunk", length), x.device).apply(x)
        times = self._old_sample_times(x.shape[0], x.device)
        self.last_sample_times = times
        old = self.basis.reconstruct(self.coefficients, times)  # [batch, M, e]
        return self._fit(("consolidation", length), x.device).apply(old, x)

    def _old_sample_times(self, batch: int, device: torch.device) -> Tensor:
        if self.sticky and self.last_attention is not None:
            masses = self.last_attention.total_bin_masses(self.sticky_bins)  # [batch, K], summed over heads, queries
            return sticky_sample_times(masses, self.num_samples, self.generator, jitter=self.sticky_jitter, sort=self.sticky_sort)
        # No attention read since the last update (or uniform): read the old memory uniformly.
        return uniform_sample_times(self.num_samples, device).expand(batch, -1)

    def _fit(self, key: tuple, device: torch.device):
        cache_key = (*key, str(device))
        if cache_key not in self._fits:
            kind, length = key
            if kind == "chunk":
                fit = chunk_fit(self.basis, length, self.ridge)
            else:
                fit = consolidation_fit(self.basis, length, self.num_samples, self.tau, self.ridge)
            self._fits[cache_key] = fit.to(device)
        return self._fits[cache_key]

    def _update_reference(self, x: Tensor) -> Tensor:
        length = x.shape[1]
        features = x.transpose(1, 2)  # the reference works feature-major: [batch, e, L]
        if self.coefficients is None:
            return reference.fit(features, reference.chunk_design(self.num_basis, length, self.ridge))
        if self.sticky and self.last_attention is not None:
            times = reference.sticky_sample_times(self.last_attention.scores, self.basis, self.num_samples)
            self.last_sample_times = times
            psi = self.basis.evaluate(times)
        else:
            self.last_sample_times = reference.old_sample_placement(self.num_samples, self.tau) / self.tau
            psi = reference.uniform_sample_matrix(self.num_basis, self.num_samples, self.tau)
        old = reference.resample(self.coefficients, psi)
        G = reference.consolidation_design(self.num_basis, length, self.num_samples, self.tau, self.ridge)
        return reference.fit(torch.cat([old, features], dim=2), G)

    def old_sample_placement(self) -> Tensor:
        """Where the M old samples land on the new timeline (inside [0, τ]): [M]."""
        if self.reference_compat:
            return reference.old_sample_placement(self.num_samples, self.tau)
        return self.tau * uniform_sample_times(self.num_samples)

    # -- read --------------------------------------------------------------------------------
    def read(self, queries: Tensor, key: Projection, value: Projection, num_heads: int) -> Tensor:
        """Context [batch, q, num_heads*head_dim] for projected ``queries`` [batch, q, num_heads*head_dim]."""
        if self.coefficients is None:
            raise RuntimeError("read() before any update(): the memory is empty")
        if queries.shape[0] != self.coefficients.shape[0]:
            raise ValueError(f"queries batch {queries.shape[0]} != memory batch {self.coefficients.shape[0]}")
        # The key/value projections run as the calling layer runs (autocast included); the attention
        # over the memory is computed in fp32 either way.
        keys = split_heads(project(key, self.coefficients).float(), num_heads)  # [B, h, N, d]
        values = split_heads(project(value, self.coefficients).float(), num_heads)
        q = split_heads(queries.float(), num_heads)
        with _full_precision(q):
            scores = box_scores(q, keys)
            self.last_attention = attend(self.basis, scores, self.attention, self.reference_compat, self.temperature)
            context = torch.matmul(self.last_attention.weights, values)  # [B, h, q, d]
        return merge_heads(context).to(queries.dtype)

    # -- inspection --------------------------------------------------------------------------
    def density(self, times: Tensor) -> Tensor:
        """Last attention density at ``times`` [T], averaged over heads and queries: [batch, T]."""
        if self.last_attention is None:
            raise RuntimeError("no attention yet: call read() first")
        return self.last_attention.density(times).mean(dim=(1, 2))

    def attention_over_video_time(self, video_edges: Tensor) -> Tensor:
        """The last read's density over video time for batch item 0 (``MemoryTimeline``): [K]."""
        if self._timeline is None:
            self._timeline = MemoryTimeline(self)
        for chunks_seen, sample_times in self._unplaced:
            self._timeline.place(chunks_seen, sample_times)
        self._unplaced.clear()
        return self._timeline.density_over_video_time(video_edges)[0]

    def reconstruct(self, times: Tensor) -> Tensor:
        """The memory signal x̄(t) at ``times`` [T]: [batch, T, e]."""
        if self.coefficients is None:
            raise RuntimeError("the memory is empty")
        return self.basis.reconstruct(self.coefficients, times.to(self.coefficients.device))

    def __repr__(self) -> str:
        mode = "reference_compat" if self.reference_compat else "exact"
        sampler = "sticky" if self.sticky else "uniform"
        return (
            f"ContinuousMemory(N={self.num_basis}, tau={self.tau}, {sampler}, M={self.num_samples}, "
            f"ridge={self.ridge}, attention={self.attention}, {mode})"
        )


__all__ = ["ContinuousMemory"]
