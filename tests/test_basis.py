import math

import pytest
import torch

from infvideo.memory.basis import GaussianBasis, RectangularBasis


def test_boxes_are_half_open_and_tile_the_unit_interval():
    basis = RectangularBasis(4)
    t = torch.tensor([0.0, 0.2499, 0.25, 0.5, 0.99, 1.0, -0.01, 1.01])
    psi = basis.evaluate(t)
    assert psi.sum(-1).tolist() == [1, 1, 1, 1, 1, 1, 0, 0]
    assert basis.box_index(t).tolist() == [0, 0, 1, 2, 3, 3, -1, -1]


def test_reference_boxes_leave_one_outside():
    basis = RectangularBasis(256, reference_bounds=True)
    assert basis.evaluate(torch.tensor(1.0)).sum() == 0
    assert basis.box_index(torch.tensor([1.0, 0.5])).tolist() == [-1, 128]


def test_box_index_matches_indicators():
    for basis in (RectangularBasis(37), RectangularBasis(64, reference_bounds=True)):
        t = torch.rand(2000)
        t[:65] = torch.linspace(0, 1, 65)  # exact edges included
        psi = basis.evaluate(t)
        index = basis.box_index(t)
        assert torch.equal(psi.argmax(-1)[psi.sum(-1) > 0], index[index >= 0])


def test_box_integrals():
    basis = RectangularBasis(4)
    overlap = basis.integrate(torch.tensor([0.1]), torch.tensor([0.6]))
    assert torch.allclose(overlap, torch.tensor([[0.15, 0.25, 0.1, 0.0]]))
    mass = basis.integrate_gaussian(torch.tensor(0.5), torch.tensor(0.01))
    expected = 0.5 * (math.erf(0.5 / 0.1 / math.sqrt(2)) - math.erf(-0.5 / 0.1 / math.sqrt(2)))
    assert mass.sum().item() == pytest.approx(expected, abs=1e-6)


def test_gaussian_basis_layout_and_closed_form_product_integral():
    basis = GaussianBasis(6, sigmas=(0.05, 0.1))
    assert torch.allclose(basis.centres, torch.tensor([0.0, 0.0, 0.5, 0.5, 1.0, 1.0]))
    assert torch.allclose(basis.sigma, torch.tensor([0.05, 0.1] * 3))
    mean, var = torch.tensor(0.4), torch.tensor(0.02)
    t = torch.linspace(-2, 3, 200001)
    density = torch.exp(-0.5 * (t - mean) ** 2 / var) / math.sqrt(2 * math.pi * var.item())
    numeric = torch.trapz(density.unsqueeze(-1) * basis.evaluate(t), t, dim=0)
    assert torch.allclose(basis.integrate_gaussian(mean, var), numeric, rtol=1e-3)


def test_gaussian_basis_requires_multiple_of_widths():
    with pytest.raises(ValueError, match="multiple"):
        GaussianBasis(5, sigmas=(0.1, 0.2))


def test_reconstruct_is_the_basis_expansion():
    coefficients = torch.randn(2, 8, 3)
    t = torch.rand(2, 20)
    for basis in (RectangularBasis(8), GaussianBasis(8, sigmas=(0.1,))):
        expected = torch.einsum("bmn,bne->bme", basis.evaluate(t), coefficients)
        assert torch.allclose(basis.reconstruct(coefficients, t), expected, atol=1e-5)
