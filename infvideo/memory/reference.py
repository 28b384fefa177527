"""The reference implementation's numerics, reproduced operation for operation.

Used only when ``ContinuousMemory(reference_compat=True)``. Every function here mirrors what the
authors' ``long_term_attention_gibbs.py`` computes (docs/reference-notes.md, M2–M4 and R1–R7), in the
same float32 operations and the same random draws, so that after the same ``torch.manual_seed``
the memory's outputs are the reference's. The one deliberate difference: a chunk of a single frame
(L = 1), where the reference crashes on an empty crop, is fitted without cropping.
"""

from __future__ import annotations

import torch
import torch.distributions as dist
from torch import Tensor

from .base import cached_constants
from .basis import RectangularBasis

GRID_POINTS = 1000
STICKY_BINS = 128


def _crop(G: Tensor, count: int) -> Tensor:
    """The reference's crop of the padded rows (its slice end −0 breaks for count = 1)."""
    if count == 1:
        return G
    if count % 2:
        return G[(count - 1) // 2 : -(count - 1) // 2]
    return G[count // 2 : -(count // 2)]


def _design(basis: RectangularBasis, positions: Tensor, count: int, ridge: float) -> Tensor:
    F = basis.evaluate(positions).t()  # [N, P]
    eye = torch.eye(basis.num_basis)
    G = F.t().matmul((F.matmul(F.t()) + ridge * eye).inverse())
    G = _crop(G, count)
    if G.shape[0] != count:
        # The reference pads by the parity of the chunk length but crops by the parity of
        # (old samples + chunk length) (long_term_attention_gibbs.py, get_basis): an odd chunk with an
        # odd number of old samples leaves one row too few, and its own fit fails on the shapes.
        raise ValueError(
            f"reference_compat: the reference's padded design has {G.shape[0]} rows for {count} positions "
            "(an odd chunk length with an odd memory.num_samples, where the reference fails the same way); "
            "use an even num_samples"
        )
    return G


def padded_chunk_positions(length: int) -> Tensor:
    """The reference's padded grid for a first chunk: 2L (even L) or 2L − 1 (odd L) points."""
    if length % 2:
        shift = 1 / float(length)
        return torch.linspace(-0.5 + shift, 1.5 - shift, 2 * length - 1)
    shift = 1 / float(2 * length)
    return torch.linspace(-0.5 + shift, 1.5 - shift, 2 * length)


def old_sample_placement(num_samples: int, tau: float) -> Tensor:
    """Where old samples go on the new timeline: τ·k/M, k = 1..M."""
    return torch.arange(1, num_samples + 1).float() * tau / num_samples


def consolidation_positions(length: int, num_samples: int, tau: float) -> Tensor:
    """[left phantoms; τk/M; τ + (1 − τ)i/L; right phantoms] exactly as the reference builds them."""
    old = old_sample_placement(num_samples, tau)
    new = torch.arange(num_samples + 1, length + num_samples + 1).float()
    new = tau + (1 - tau) * (new - num_samples) / length
    if length % 2:
        shift = 1 / float(length + num_samples)
        pad = torch.linspace(-0.5 + shift, 1.5 - shift, 2 * (length + num_samples) - 1)
    else:
        shift = 1 / float(2 * length + num_samples)
        pad = torch.linspace(-0.5 + shift, 1.5 - shift, 2 * (length + num_samples))
    left = torch.tensor([float(p) for p in pad if p < 0], dtype=torch.float32)
    right = torch.tensor([float(p) for p in pad if p > 1], dtype=torch.float32)
    return torch.cat([left, old, new, right])


@cached_constants(64)
def chunk_design(num_basis: int, length: int, ridge: float) -> Tensor:
    basis = RectangularBasis(num_basis, reference_bounds=True)
    return _design(basis, padded_chunk_positions(length), length, ridge)


@cached_constants(64)
def consolidation_design(num_basis: int, length: int, num_samples: int, tau: float, ridge: float) -> Tensor:
    basis = RectangularBasis(num_basis, reference_bounds=True)
    positions = consolidation_positions(length, num_samples, tau)
    return _design(basis, positions, num_samples + length, ridge)


@cached_constants(64)
def uniform_sample_matrix(num_basis: int, num_samples: int, tau: float) -> Tensor:
    """Ψ at the uniform old-sample times (τk/M)/τ, one row per sample, as the reference's loop."""
    basis = RectangularBasis(num_basis, reference_bounds=True)
    return basis.evaluate(old_sample_placement(num_samples, tau) / tau)


def fit(x_feature_major: Tensor, G: Tensor) -> Tensor:
    """B = (X G)ᵀ for X [batch, e, P] -> [batch, N, e] (a permuted view, as the reference keeps it)."""
    return torch.matmul(x_feature_major, G.to(x_feature_major.device)).permute(0, 2, 1)


def resample(coefficients: Tensor, psi: Tensor) -> Tensor:
    """Old memory read at M times: Bᵀ Ψᵀ, feature-major [batch, e, M]."""
    return coefficients.transpose(-1, -2).matmul(psi.to(coefficients.device).transpose(-1, -2))


@cached_constants(16)
def grid_box_weights(num_basis: int) -> tuple[Tensor, float]:
    """Trapezoid weights of the 1000-point grid, summed per box, and the weight of grid points in
    no box (t = 1, where ψ = 0 and the score is 0)."""
    basis = RectangularBasis(num_basis, reference_bounds=True)
    t = torch.linspace(0, 1, GRID_POINTS)
    dt = t[1:] - t[:-1]
    w = torch.zeros(GRID_POINTS)
    w[:-1] += dt / 2
    w[1:] += dt / 2
    psi = basis.evaluate(t)
    outside = float(w[psi.sum(-1) == 0].sum())
    return w @ psi, outside


def grid_gibbs_weights(scores: Tensor, num_basis: int) -> tuple[Tensor, Tensor]:
    """r_j = ∫ p ψ_j by the 1000-point trapezoid rule, p = exp(s)/Z with no max-subtraction.

    The score is piecewise constant, so summing trapezoid weights per box gives the reference's
    [batch, h, q, N, 1000] integral without building it (docs/reference-notes.md, M4).
    Returns the weights r [..., N] and the normaliser Z [..., 1].
    """
    box_weights, outside = grid_box_weights(num_basis)
    unnormalised = torch.exp(scores) * box_weights.to(scores.device)
    z = unnormalised.sum(-1, keepdim=True) + outside
    return unnormalised / z, z


def sticky_sample_times(scores: Tensor, basis: RectangularBasis, num_samples: int) -> Tensor:
    """Old-sample times drawn from the previous chunk's density, exactly as the reference.

    ``scores``: the previous chunk's box scores [batch, h, q, N]. Returns batch element 0's times
    [M] (used for the whole batch, R4), unsorted (R1), on bin left edges with the
    one-bin shift and bin 0's mass dropped (R2, R3; all in docs/reference-notes.md).
    Draws come from the global RNG.
    """
    device = scores.device
    bins = torch.linspace(0, 1, STICKY_BINS + 1, device=device)
    t = bins.clone()
    t[0] = -0.000001
    t[-1] = 1.000001
    index = basis.box_index(t)
    edge_scores = torch.where(index >= 0, scores[..., index.clamp(min=0)], torch.zeros((), device=device))
    density = torch.exp(edge_scores) / torch.trapz(torch.exp(edge_scores), t, dim=-1).unsqueeze(-1)
    cumulative = torch.cumulative_trapezoid(density, t, dim=-1)
    p = (cumulative[..., 1:] - cumulative[..., :-1]).sum(dim=(1, 2))
    p = p / p.sum(-1, keepdim=True)
    drawn = dist.Categorical(p).sample((num_samples,))
    offset = dist.Categorical(torch.ones(1)).sample((num_samples, 1)).to(device=device)
    times = (offset * (bins[drawn + 1] - bins[drawn]) / 1 + bins[drawn]).transpose(1, 0)
    return times[0]
