"""Ridge regression of a sampled signal onto a basis, with the padding scheme.

Given P samples X (rows) at positions t_i, the coefficients minimising ‖X − Fᵀ B‖² + λ‖B‖² are
B = Gᵀ X with G = Fᵀ(FFᵀ + λI)⁻¹, F[j, i] = ψ_j(t_i) (docs/reference-notes.md, M2). Phantom positions
outside [0, 1] enter FFᵀ but carry no data ("padding"); only the rows of G at real positions are kept.

Two ways to apply a fit, both ``apply(x [batch, P, e]) -> [batch, N, e]``:
* ``DenseFit``: any basis, an explicit G.
* ``BoxFit``: the closed form for rectangular boxes. FFᵀ is diagonal (boxes are disjoint), so
  G[i, j] = 1[t_i ∈ box j] / (c_j + λ): each coefficient is a shrunk average of the samples in its
  box. This is a scatter-add, far cheaper than the dense product.

Designs depend only on (basis, positions, ridge), so they are built once and cached.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .base import cached_constants
from .basis import Basis, RectangularBasis


def chunk_positions(length: int) -> Tensor:
    """Cell midpoints (i + ½)/L of a chunk of L frames spread over [0, 1]."""
    return (torch.arange(length, dtype=torch.float64) + 0.5) / length


def consolidation_positions(length: int, num_samples: int, tau: float) -> Tensor:
    """Old samples at τ·(k − ½)/M in (0, τ), the L new frames at τ + (1 − τ)(i − ½)/L in (τ, 1)."""
    old = tau * (torch.arange(num_samples, dtype=torch.float64) + 0.5) / num_samples
    new = tau + (1 - tau) * (torch.arange(length, dtype=torch.float64) + 0.5) / length
    return torch.cat([old, new])


def phantom_positions(count: int) -> tuple[Tensor, Tensor]:
    """Padding for ``count`` real positions: the points of a grid of spacing 1/count over
    [−0.5, 1.5] (cell midpoints) that lie strictly outside [0, 1], left and right."""
    grid = -0.5 + (torch.arange(2 * count, dtype=torch.float64) + 0.5) / count
    return grid[grid < 0], grid[grid > 1]


def ridge_design(basis: Basis, positions: Tensor, ridge: float, padding: bool = True) -> Tensor:
    """The general solve: G [P, N] (float32) for real ``positions`` [P], padding phantoms added."""
    left, right = phantom_positions(positions.numel()) if padding else (positions[:0], positions[:0])
    every = torch.cat([left, positions.to(torch.float64), right])
    F = basis.evaluate(every.float()).double().T  # [N, P_all]
    gram = F @ F.T + ridge * torch.eye(F.shape[0], dtype=torch.float64)
    G = torch.linalg.solve(gram, F).T  # gram is symmetric: (F^T gram^-1) = (gram^-1 F)^T
    return G[left.numel() : left.numel() + positions.numel()].float().contiguous()


@dataclass(frozen=True)
class DenseFit:
    G: Tensor  # [P, N]

    def apply(self, *parts: Tensor) -> Tensor:
        """Coefficients [batch, N, e] for samples given as consecutive parts [batch, P_k, e]."""
        out, start = None, 0
        for x in parts:
            G = self.G[start : start + x.shape[1]].to(x.device, x.dtype)
            term = torch.einsum("pn,bpe->bne", G, x)
            out = term if out is None else out + term
            start += x.shape[1]
        return out

    def to(self, device: torch.device | str) -> DenseFit:
        return DenseFit(self.G.to(device))


@dataclass(frozen=True)
class BoxFit:
    index: Tensor  # [P] box of each position, -1 if none
    scale: Tensor  # [N] 1 / (c_j + λ)
    # Whether every position falls in a box, decided once when the fit is built (on the CPU) so that
    # ``apply`` never reads a flag back from the device.
    all_inside: bool = True

    def apply(self, *parts: Tensor) -> Tensor:
        """Coefficients [batch, N, e] for samples given as consecutive parts [batch, P_k, e]
        (passing the old samples and the new frames apart saves concatenating them)."""
        batch, _, width = parts[0].shape
        out = parts[0].new_zeros(batch, self.scale.numel(), width)
        start = 0
        for x in parts:
            index = self.index[start : start + x.shape[1]]
            start += x.shape[1]
            if not self.all_inside:
                # Samples outside every box add an exact zero to box 0: no boolean indexing (whose
                # output size would have to be read back from the device).
                valid = index >= 0
                x, index = torch.where(valid[:, None], x, x.new_zeros(())), index.clamp(min=0)
            out.index_add_(1, index, x)
        return out.mul_(self.scale.to(out.dtype).unsqueeze(-1))

    def dense(self) -> Tensor:
        """The equivalent G [P, N], for tests and inspection."""
        G = torch.zeros(self.index.numel(), self.scale.numel())
        rows = torch.nonzero(self.index >= 0).squeeze(-1)
        G[rows, self.index[rows]] = self.scale[self.index[rows]]
        return G

    def to(self, device: torch.device | str) -> BoxFit:
        return BoxFit(self.index.to(device), self.scale.to(device), self.all_inside)


def box_fit(basis: RectangularBasis, positions: Tensor, ridge: float) -> BoxFit:
    """Closed-form ridge fit for boxes. Phantom positions fall in no box, so padding is moot."""
    index = basis.box_index(positions.float())
    counts = torch.zeros(basis.num_basis).index_add_(0, index[index >= 0], torch.ones(int((index >= 0).sum())))
    return BoxFit(index, 1.0 / (counts + ridge), bool((index >= 0).all()))


Fit = DenseFit | BoxFit


@cached_constants(128)
def fit_for_positions_key(basis: Basis, key: tuple, ridge: float) -> Fit:
    kind, *params = key
    positions = chunk_positions(*params) if kind == "chunk" else consolidation_positions(*params)
    if isinstance(basis, RectangularBasis):
        return box_fit(basis, positions, ridge)
    return DenseFit(ridge_design(basis, positions, ridge))


def chunk_fit(basis: Basis, length: int, ridge: float) -> Fit:
    """Fit of a first chunk of ``length`` frames (cached)."""
    return fit_for_positions_key(basis, ("chunk", length), ridge)


def consolidation_fit(basis: Basis, length: int, num_samples: int, tau: float, ridge: float) -> Fit:
    """Fit of [M old samples; L new frames] on the contracted timeline (cached)."""
    return fit_for_positions_key(basis, ("consolidation", length, num_samples, tau), ridge)
