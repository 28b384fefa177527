import math

import pytest
import torch

from infvideo.memory.attention import GaussianAttention, attend
from infvideo.memory.basis import GaussianBasis, RectangularBasis

FINE = torch.linspace(0, 1, 200001)


# Exact for boxes; the grid paths (the reference's 1000 points, smooth bases) are approximations.
@pytest.mark.parametrize(
    "basis,scale,tolerance",
    [
        (RectangularBasis(64), 3.0, 1e-3),  # the check's own fine trapezoid errs at the 64 jumps
        # Gaussian ψ_j are densities (peaks ~20 here), so s(t) is sharp: the grid needs smaller scores.
        (GaussianBasis(32, sigmas=(0.02, 0.05)), 1.0, 5e-3),
    ],
)
def test_gibbs_density_integrates_to_one_and_weights_are_its_integrals(basis, scale, tolerance):
    scores = scale * torch.randn(2, 3, 4, basis.num_basis, generator=torch.Generator().manual_seed(0))
    result = attend(basis, scores, "gibbs")
    density = result.density(FINE)
    assert torch.allclose(torch.trapz(density, FINE), torch.ones(2, 3, 4), atol=tolerance)
    numeric = torch.trapz(density.unsqueeze(-1) * basis.evaluate(FINE), FINE, dim=-2)
    assert torch.allclose(result.weights, numeric, atol=2e-3 * float(numeric.abs().max()))
    masses = result.bin_masses(128)
    assert torch.allclose(masses.sum(-1), torch.ones(2, 3, 4), atol=tolerance)


def test_gibbs_over_boxes_puts_all_mass_in_the_boxes_exactly():
    result = attend(RectangularBasis(64), 3 * torch.randn(2, 3, 4, 64))
    assert torch.allclose(result.weights.sum(-1), torch.ones(2, 3, 4), atol=1e-6)
    assert torch.allclose(result.bin_masses(64), result.weights, atol=1e-6)


def test_reference_weights_miss_only_the_mass_at_t_equal_one():
    # The reference's grid puts its last point at t = 1 (in no box, score 0): Σr is just below 1.
    result = attend(RectangularBasis(64, reference_bounds=True), torch.randn(2, 3, 4, 64), reference_compat=True)
    total = result.weights.sum(-1)
    assert (total < 1).all() and (total > 0.999).all()


def test_gibbs_over_boxes_is_a_softmax_equal_scores_give_uniform_weights():
    basis = RectangularBasis(256)
    result = attend(basis, torch.zeros(1, 1, 1, 256))
    assert torch.allclose(result.weights, torch.full((1, 1, 1, 256), 1 / 256))
    scores = torch.randn(1, 2, 3, 256)
    assert torch.allclose(attend(basis, scores).weights, torch.softmax(scores, -1), atol=1e-7)


def test_gibbs_dominant_score_gives_one_hot_and_never_overflows():
    scores = torch.zeros(1, 1, 1, 16)
    scores[..., 5] = 500.0  # exp(500) overflows float32: log-sum-exp must cope
    weights = attend(RectangularBasis(16), scores).weights
    assert torch.isfinite(weights).all()
    assert weights[..., 5].item() == pytest.approx(1.0)


def test_reference_grid_weights_match_the_1000_point_trapezoid():
    basis = RectangularBasis(64, reference_bounds=True)
    scores = torch.randn(1, 2, 3, 64)
    t = torch.linspace(0, 1, 1000)
    s = scores @ basis.evaluate(t).T
    p = torch.exp(s) / torch.trapz(torch.exp(s), t, dim=-1).unsqueeze(-1)
    expected = torch.trapz(p.unsqueeze(-2) * basis.evaluate(t).T, t, dim=-1)
    assert torch.allclose(attend(basis, scores, reference_compat=True).weights, expected, atol=1e-6)


def test_reference_grid_leaves_boxes_without_grid_points_empty():
    # N = 1024 > 1000 grid points: 25 boxes contain no grid point and get r = 0 (docs/reference-notes.md, R7).
    weights = attend(RectangularBasis(1024, reference_bounds=True), torch.zeros(1, 1, 1, 1024), reference_compat=True).weights
    assert int((weights == 0).sum()) == 25


def test_gaussian_attention_moment_matching():
    basis = GaussianBasis(8, sigmas=(0.05, 0.1))
    scores = torch.randn(1, 2, 3, 8)
    result = attend(basis, scores, "gaussian", temperature=20.0)
    omega = torch.softmax(20 * scores, -1)
    mean = omega @ basis.centres
    var = omega @ (basis.centres**2 + basis.sigma**2) - mean**2
    assert isinstance(result, GaussianAttention)
    assert torch.allclose(result.mean, mean) and torch.allclose(result.var, var)
    expected = torch.exp(-0.5 * (mean.unsqueeze(-1) - basis.centres) ** 2 / (var.unsqueeze(-1) + basis.sigma**2))
    expected = expected / torch.sqrt(2 * math.pi * (var.unsqueeze(-1) + basis.sigma**2))
    assert torch.allclose(result.weights, expected, rtol=1e-5)


def test_gaussian_attention_over_boxes_integrates_the_gaussian_per_box():
    basis = RectangularBasis(32)
    result = attend(basis, torch.randn(1, 1, 2, 32), "gaussian")
    density = result.density(FINE)
    numeric = torch.trapz(density.unsqueeze(-1) * basis.evaluate(FINE), FINE, dim=-2)
    assert torch.allclose(result.weights, numeric, atol=1e-3)


def test_unknown_attention_is_rejected():
    with pytest.raises(ValueError, match="unknown attention"):
        attend(RectangularBasis(4), torch.zeros(1, 1, 1, 4), "sparsemax")
