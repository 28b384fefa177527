"""Basis functions on the unit interval: rectangular boxes and Gaussians.

A memory signal is x̄(t) = Bᵀψ(t) with ψ(t) ∈ R^N (docs/reference-notes.md, M1). Each family gives its
evaluation at any times, the closed-form integrals the continuous attentions need, and a way to
read a coefficient matrix back at sample times (``reconstruct``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor

_SQRT2 = math.sqrt(2.0)


def normal_cdf(z: Tensor) -> Tensor:
    return 0.5 * (1.0 + torch.erf(z / _SQRT2))


def normal_pdf(t: Tensor, mean: Tensor, var: Tensor) -> Tensor:
    return torch.exp(-0.5 * (t - mean) ** 2 / var) / torch.sqrt(2 * math.pi * var)


@dataclass(frozen=True, eq=True)
class RectangularBasis:
    """N boxes of width 1/N tiling [0, 1].

    ``reference_bounds=True`` reproduces the reference exactly: box edges computed in float32 as
    centre ± width/2 and every box half-open, so ψ(1) = 0 (docs/reference-notes.md, R5).
    The default uses the exact edges k/N and closes the last box, so t = 1 belongs to box N-1.
    """

    num_basis: int
    reference_bounds: bool = False

    def __post_init__(self) -> None:
        if self.num_basis < 1:
            raise ValueError(f"num_basis must be positive, got {self.num_basis}")

    @cached_property
    def _bounds(self) -> tuple[Tensor, Tensor]:
        edges = torch.linspace(0, 1, self.num_basis + 1)
        if not self.reference_bounds:
            return edges[:-1].clone(), edges[1:].clone()
        centres = (edges[:-1] + edges[1:]) / 2
        width = torch.ones(self.num_basis) / self.num_basis
        return centres - width / 2, centres + width / 2

    def bounds(self, device: torch.device | str | None = None) -> tuple[Tensor, Tensor]:
        # Kept per device: a fresh host-to-device copy on every call would sync the stream.
        return _device_copies(self._bounds, self, torch.device("cpu") if device is None else torch.device(device))

    @property
    def centres(self) -> Tensor:
        lower, upper = self._bounds
        return (lower + upper) / 2

    @property
    def widths(self) -> Tensor:
        lower, upper = self._bounds
        return upper - lower

    def evaluate(self, t: Tensor) -> Tensor:
        """ψ(t): [..., N] indicators of the (half-open, or closed at 1) boxes."""
        lower, upper = self.bounds(t.device)
        t = t.unsqueeze(-1)
        inside = (t >= lower) & (t < upper)
        if not self.reference_bounds:
            inside[..., -1] |= t[..., 0] == 1.0
        return inside.to(torch.float32)

    def box_index(self, t: Tensor) -> Tensor:
        """Index of the box holding each time, or -1 where no box does (outside [0, 1])."""
        if self.reference_bounds:
            # Float32 edges computed as centre ± width/2 need not meet exactly; use the indicators.
            hits = self.evaluate(t)
            index = hits.argmax(-1)
            return torch.where(hits.sum(-1) > 0, index, torch.full_like(index, -1))
        lower, upper = self.bounds(t.device)
        index = torch.searchsorted(upper, t.contiguous(), right=True).clamp(max=self.num_basis - 1)
        valid = (t >= 0) & (t <= 1)
        return torch.where(valid, index, torch.full_like(index, -1))

    def integrate(self, a: Tensor, b: Tensor) -> Tensor:
        """∫_a^b ψ_j(t) dt for intervals [a, b] given elementwise: [..., N] overlap lengths."""
        lower, upper = self.bounds(a.device)
        lo = torch.maximum(a.unsqueeze(-1), lower)
        hi = torch.minimum(b.unsqueeze(-1), upper)
        return (hi - lo).clamp(min=0)

    def integrate_gaussian(self, mean: Tensor, var: Tensor) -> Tensor:
        """∫ N(t; mean, var) ψ_j(t) dt over ℝ: [..., N]."""
        lower, upper = self.bounds(mean.device)
        std = var.sqrt().unsqueeze(-1)
        mean = mean.unsqueeze(-1)
        return normal_cdf((upper - mean) / std) - normal_cdf((lower - mean) / std)

    def moments(self) -> tuple[Tensor, Tensor]:
        """Mean and second moment of each box seen as a uniform density (for moment matching)."""
        centres, widths = self.centres, self.widths
        return centres, centres**2 + widths**2 / 12

    def reconstruct(self, coefficients: Tensor, t: Tensor) -> Tensor:
        """x̄(t) = Bᵀψ(t) for coefficients [batch, N, e] and times [M] or [batch, M] -> [batch, M, e].

        Boxes are disjoint, so this is a row selection rather than a dense product.
        """
        batch, num_basis, width = coefficients.shape
        index = self.box_index(t)
        if index.dim() == 1:
            index = index.unsqueeze(0).expand(batch, -1)
        valid = index >= 0
        # Times outside every box read zero. Selecting a clamped row and zeroing it afterwards gives
        # the same values as a branch on ``valid.all()`` without reading that flag back to the host.
        rows = index.clamp(min=0) + torch.arange(batch, device=index.device).unsqueeze(-1) * num_basis
        selected = coefficients.reshape(-1, width).index_select(0, rows.reshape(-1)).view(batch, -1, width)
        return torch.where(valid.unsqueeze(-1), selected, selected.new_zeros(()))


@dataclass(frozen=True, eq=True)
class GaussianBasis:
    """N Gaussian densities: centres linspace(0, 1, N/S) crossed with S widths, centre slow.

    ψ_j(t) = N(t; μ_j, σ_j²) is a normalised density, as in the ∞-former and the reference's older
    Gaussian variant (docs/reference-notes.md, M1).
    """

    num_basis: int
    sigmas: tuple[float, ...] = (0.005, 0.01)

    def __post_init__(self) -> None:
        if not self.sigmas or any(s <= 0 for s in self.sigmas):
            raise ValueError(f"sigmas must be positive, got {self.sigmas}")
        if self.num_basis % len(self.sigmas):
            raise ValueError(
                f"num_basis={self.num_basis} must be a multiple of the number of widths ({len(self.sigmas)}) for a Gaussian basis"
            )

    @cached_property
    def _params(self) -> tuple[Tensor, Tensor]:
        mu, sigma = torch.meshgrid(
            torch.linspace(0, 1, self.num_basis // len(self.sigmas)),
            torch.tensor(self.sigmas, dtype=torch.float32),
            indexing="ij",
        )
        return mu.flatten(), sigma.flatten()

    @property
    def centres(self) -> Tensor:
        return self._params[0]

    @property
    def sigma(self) -> Tensor:
        return self._params[1]

    def evaluate(self, t: Tensor) -> Tensor:
        mu, sigma = _device_copies(self._params, self, t.device)
        return normal_pdf(t.unsqueeze(-1), mu, sigma**2)

    def integrate(self, a: Tensor, b: Tensor) -> Tensor:
        mu, sigma = _device_copies(self._params, self, a.device)
        return normal_cdf((b.unsqueeze(-1) - mu) / sigma) - normal_cdf((a.unsqueeze(-1) - mu) / sigma)

    def integrate_gaussian(self, mean: Tensor, var: Tensor) -> Tensor:
        """∫ N(t; mean, var) N(t; μ_j, σ_j²) dt = N(mean; μ_j, var + σ_j²)."""
        mu, sigma = _device_copies(self._params, self, mean.device)
        return normal_pdf(mean.unsqueeze(-1), mu, var.unsqueeze(-1) + sigma**2)

    def moments(self) -> tuple[Tensor, Tensor]:
        mu, sigma = self._params
        return mu, mu**2 + sigma**2

    def reconstruct(self, coefficients: Tensor, t: Tensor) -> Tensor:
        psi = self.evaluate(t.to(coefficients.device)).to(coefficients.dtype)  # [(batch,) M, N]
        return psi @ coefficients if psi.dim() == 3 else torch.einsum("mn,bne->bme", psi, coefficients)


Basis = RectangularBasis | GaussianBasis

_DEVICE_COPIES: dict[tuple, tuple[Tensor, ...]] = {}


def _device_copies(tensors: tuple[Tensor, ...], basis: Basis, device: torch.device) -> tuple[Tensor, ...]:
    """A basis's constant tensors on ``device``, copied once per (basis, device): a per-call
    host-to-device copy from pageable memory synchronises the stream and cannot be graph-captured."""
    if device.type == "cpu":
        return tensors
    key = (basis, str(device))
    if key not in _DEVICE_COPIES:
        with torch.inference_mode(False), torch.no_grad():  # as cached_constants: no inference tensors
            _DEVICE_COPIES[key] = tuple(t.to(device) for t in tensors)
    return _DEVICE_COPIES[key]


def make_basis(kind: str, num_basis: int, sigmas: tuple[float, ...] = (0.005, 0.01), reference_bounds: bool = False) -> Basis:
    if kind == "rectangular":
        return RectangularBasis(num_basis, reference_bounds=reference_bounds)
    if kind == "gaussian":
        return GaussianBasis(num_basis, tuple(sigmas))
    raise ValueError(f"unknown basis {kind!r}; expected 'rectangular' or 'gaussian'")
