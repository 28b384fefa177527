"""Continuous attention over a memory signal on [0, 1].

Scores per head/query/basis function are S_j = q·k_j/√d with k_j the key of coefficient row j. Each
attention turns them into a probability density p(t) over [0, 1] and returns r_j = ∫ p(t) ψ_j(t) dt;
the context is then Vᵀr (docs/reference-notes.md, M4). Every result keeps what is needed to evaluate
its density at any time and its mass per bin (for plots and sticky sampling).

* ``gibbs``: p(t) ∝ exp(s(t)), s(t) = Σ_j S_j ψ_j(t). With boxes s is piecewise constant and the
  integrals are exact: r = softmax(S + log widths), computed with log-sum-exp. With Gaussian bases the
  integrals use a trapezoid grid. ``reference_compat`` reproduces the reference's 1000-point grid.
* ``gaussian``: the ∞-former's continuous softmax by moment matching: ω = softmax(T·S) over basis
  functions (T = 20), p = N(μ, σ²) with μ = Σω_j μ_j and σ² = Σω_j E_j[t²] − μ², r_j = ∫ p ψ_j in
  closed form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from . import reference
from .base import cached_constants
from .basis import Basis, GaussianBasis, RectangularBasis, normal_cdf, normal_pdf


def _trapezoid_weights(t: Tensor) -> Tensor:
    dt = t[1:] - t[:-1]
    w = torch.zeros_like(t)
    w[:-1] += dt / 2
    w[1:] += dt / 2
    return w


def equal_bins(num_bins: int, device: torch.device | str | None = None) -> Tensor:
    """Edges of ``num_bins`` equal bins of [0, 1]."""
    return torch.linspace(0, 1, num_bins + 1, device=device)


# Constants are cached per device: moving a CPU copy on every call would be a host-to-device copy,
# which synchronises the stream and cannot run inside a CUDA graph.
@cached_constants(32)
def _box_bin_overlap(basis: RectangularBasis, num_bins: int, device: torch.device = torch.device("cpu")) -> Tensor:
    if device.type != "cpu":
        return _box_bin_overlap(basis, num_bins).to(device)
    edges = equal_bins(num_bins)
    return basis.integrate(edges[:-1], edges[1:]).T.contiguous()  # [N, K]


@cached_constants(32)
def _log_widths(basis: RectangularBasis, device: torch.device = torch.device("cpu")) -> Tensor:
    if device.type != "cpu":
        return _log_widths(basis).to(device)
    return basis.widths.log()


@cached_constants(32)
def _moments(basis: Basis, device: torch.device) -> tuple[Tensor, Tensor]:
    return tuple(m.to(device) for m in basis.moments())


@dataclass
class GibbsBoxAttention:
    """Gibbs density over rectangular boxes: p(t) = box_density[j] on box j."""

    basis: RectangularBasis
    scores: Tensor  # [B, h, q, N]
    weights: Tensor  # r [B, h, q, N]
    box_density: Tensor  # [B, h, q, N]
    outside_density: Tensor | None = None  # compat: density where no box holds t (score 0)

    @classmethod
    def exact(cls, basis: RectangularBasis, scores: Tensor) -> GibbsBoxAttention:
        log_widths = _log_widths(basis, scores.device)
        log_mass = scores + log_widths
        log_z = torch.logsumexp(log_mass, dim=-1, keepdim=True)
        return cls(basis, scores, torch.exp(log_mass - log_z), torch.exp(scores - log_z))

    @classmethod
    def reference(cls, basis: RectangularBasis, scores: Tensor) -> GibbsBoxAttention:
        weights, z = reference.grid_gibbs_weights(scores, basis.num_basis)
        return cls(basis, scores, weights, torch.exp(scores) / z, 1.0 / z)

    def density(self, t: Tensor) -> Tensor:
        index = self.basis.box_index(t.to(self.scores.device))
        inside = self.box_density[..., index.clamp(min=0)]
        outside = self.outside_density if self.outside_density is not None else torch.zeros((), device=inside.device)
        return torch.where(index >= 0, inside, outside)

    def bin_masses(self, num_bins: int) -> Tensor:
        """Mass of each of ``num_bins`` equal bins of [0, 1]: [B, h, q, K]."""
        return self.box_density @ _box_bin_overlap(self.basis, num_bins, self.box_density.device)

    def total_bin_masses(self, num_bins: int) -> Tensor:
        """Bin masses summed over heads and queries: [B, K] (the density is linear, sum first)."""
        return self.box_density.sum(dim=(1, 2)) @ _box_bin_overlap(self.basis, num_bins, self.box_density.device)


@dataclass
class GibbsGridAttention:
    """Gibbs density for a smooth basis, integrated by the trapezoid rule on a grid."""

    basis: Basis
    scores: Tensor  # [B, h, q, N]
    grid: Tensor  # [T]
    log_z: Tensor  # [B, h, q, 1]
    weights: Tensor  # [B, h, q, N]

    @classmethod
    def on_grid(cls, basis: Basis, scores: Tensor, points: int) -> GibbsGridAttention:
        grid = torch.linspace(0, 1, points, device=scores.device)
        psi = basis.evaluate(grid)  # [T, N]
        log_w = _trapezoid_weights(grid).log()
        log_p_unnorm = scores @ psi.T  # [B, h, q, T]
        log_z = torch.logsumexp(log_p_unnorm + log_w, dim=-1, keepdim=True)
        p_w = torch.exp(log_p_unnorm + log_w - log_z)
        return cls(basis, scores, grid, log_z, p_w @ psi)

    def density(self, t: Tensor) -> Tensor:
        t = t.to(self.scores.device)
        values = torch.exp(self.scores @ self.basis.evaluate(t).T - self.log_z)
        return values * ((t >= 0) & (t <= 1)).to(values.dtype)

    def bin_masses(self, num_bins: int) -> Tensor:
        edges = equal_bins(num_bins, self.grid.device)
        p_w = self.density(self.grid) * _trapezoid_weights(self.grid)
        bins = (torch.searchsorted(edges, self.grid, right=True) - 1).clamp(0, edges.numel() - 2)
        masses = p_w.new_zeros(*p_w.shape[:-1], edges.numel() - 1)
        return masses.index_add_(-1, bins, p_w)

    def total_bin_masses(self, num_bins: int) -> Tensor:
        return self.bin_masses(num_bins).sum(dim=(1, 2))


@dataclass
class GaussianAttention:
    """Continuous softmax with a Gaussian density N(mean, var) per head/query (over ℝ)."""

    basis: Basis
    mean: Tensor  # [B, h, q]
    var: Tensor  # [B, h, q]
    weights: Tensor  # [B, h, q, N]

    @classmethod
    def moment_matched(cls, basis: Basis, scores: Tensor, temperature: float) -> GaussianAttention:
        omega = torch.softmax(temperature * scores, dim=-1)
        centres, second = _moments(basis, scores.device)
        mean = omega @ centres
        var = (omega @ second - mean**2).clamp(min=1e-8)
        return cls(basis, mean, var, basis.integrate_gaussian(mean, var))

    def density(self, t: Tensor) -> Tensor:
        t = t.to(self.mean.device)
        return normal_pdf(t, self.mean.unsqueeze(-1), self.var.unsqueeze(-1))

    def bin_masses(self, num_bins: int) -> Tensor:
        edges = equal_bins(num_bins, self.mean.device)
        std = self.var.sqrt().unsqueeze(-1)
        cdf = normal_cdf((edges - self.mean.unsqueeze(-1)) / std)
        return cdf[..., 1:] - cdf[..., :-1]

    def total_bin_masses(self, num_bins: int) -> Tensor:
        return self.bin_masses(num_bins).sum(dim=(1, 2))


ContinuousAttention = GibbsBoxAttention | GibbsGridAttention | GaussianAttention


def attend(
    basis: Basis,
    scores: Tensor,
    kind: str = "gibbs",
    reference_compat: bool = False,
    temperature: float = 20.0,
    grid_points: int | None = None,
) -> ContinuousAttention:
    """Build the attention density for box/basis scores [B, h, q, N]."""
    if kind == "gibbs":
        if isinstance(basis, RectangularBasis):
            return GibbsBoxAttention.reference(basis, scores) if reference_compat else GibbsBoxAttention.exact(basis, scores)
        return GibbsGridAttention.on_grid(basis, scores, grid_points or max(1000, 8 * basis.num_basis))
    if kind == "gaussian":
        return GaussianAttention.moment_matched(basis, scores, temperature)
    raise ValueError(f"unknown attention {kind!r}; expected 'gibbs' or 'gaussian'")


def box_scores(queries: Tensor, keys: Tensor) -> Tensor:
    """S = (q/√d) Kᵀ for queries [B, h, q, d] and keys [B, h, N, d], in the reference's order."""
    return torch.matmul(queries / math.sqrt(queries.shape[-1]), keys.transpose(-1, -2))


__all__ = [
    "ContinuousAttention",
    "GaussianAttention",
    "GaussianBasis",
    "GibbsBoxAttention",
    "GibbsGridAttention",
    "attend",
    "box_scores",
]
