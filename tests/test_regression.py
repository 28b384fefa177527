import pytest
import torch

from infvideo.memory import reference
from infvideo.memory.basis import GaussianBasis, RectangularBasis
from infvideo.memory.regression import (
    box_fit,
    chunk_fit,
    chunk_positions,
    consolidation_positions,
    phantom_positions,
    ridge_design,
)


@pytest.mark.parametrize("length,num_basis", [(1, 8), (3, 8), (8, 256), (16, 64), (7, 5), (256, 256)])
def test_box_closed_form_equals_general_ridge_solve(length, num_basis):
    basis = RectangularBasis(num_basis)
    positions = chunk_positions(length)
    closed = box_fit(basis, positions, 0.5).dense()
    general = ridge_design(basis, positions, 0.5)
    assert torch.allclose(closed, general, atol=1e-6)


def test_box_closed_form_on_contracted_timeline():
    basis = RectangularBasis(32)
    positions = consolidation_positions(16, 64, 0.75)
    assert torch.allclose(box_fit(basis, positions, 0.5).dense(), ridge_design(basis, positions, 0.5), atol=1e-6)


def test_each_coefficient_is_a_shrunk_average_of_its_frames():
    # L = 8 frames, N = 256 boxes: 8 non-zero rows, each (2/3)·x_i; 248 rows exactly zero.
    x = torch.randn(1, 8, 5)
    B = chunk_fit(RectangularBasis(256), 8, 0.5).apply(x)
    nonzero = B.abs().sum(-1)[0] > 0
    assert int(nonzero.sum()) == 8
    assert torch.allclose(B[0, nonzero], x[0] * 2 / 3)
    # Two frames per box: (x_a + x_b) / (2 + 0.5).
    B = chunk_fit(RectangularBasis(4), 8, 0.5).apply(x)
    assert torch.allclose(B[0, 1], (x[0, 2] + x[0, 3]) / 2.5)


@pytest.mark.parametrize("length", [2, 3, 8, 16, 17, 256])
def test_reference_padded_grid_keeps_the_cell_midpoints(length):
    grid = reference.padded_chunk_positions(length)
    kept = reference._crop(grid.unsqueeze(-1), length).squeeze(-1)
    assert torch.allclose(kept.double(), chunk_positions(length), atol=1e-6)


def test_reference_crop_handles_a_single_frame():
    G = reference.chunk_design(16, 1, 0.5)
    assert G.shape == (1, 16)
    assert G[0, 8].item() == pytest.approx(2 / 3)


def test_phantoms_are_symmetric_and_outside():
    for count in (1, 2, 5, 8, 520):
        left, right = phantom_positions(count)
        assert left.numel() == right.numel() == count // 2
        assert (left < 0).all() and (right > 1).all()
        assert torch.allclose(left, -right.flip(0) + 1)


def test_padding_matters_for_smooth_bases_only():
    positions = chunk_positions(8)
    boxes = RectangularBasis(16)
    assert torch.allclose(ridge_design(boxes, positions, 0.5), ridge_design(boxes, positions, 0.5, padding=False))
    gaussians = GaussianBasis(16, sigmas=(0.1,))
    assert not torch.allclose(ridge_design(gaussians, positions, 0.5), ridge_design(gaussians, positions, 0.5, padding=False))


def test_reference_designs_equal_the_closed_form_where_positions_agree():
    # First chunk: the reference's float32 inverse gives the same shrunk averages.
    G = reference.chunk_design(64, 16, 0.5)
    closed = box_fit(RectangularBasis(64, reference_bounds=True), chunk_positions(16), 0.5).dense()
    assert torch.allclose(G, closed, atol=1e-7)
    # Consolidation: rows align with [old samples; new frames]; the last new frame (t = 1) is dropped.
    G_inf = reference.consolidation_design(64, 16, 512, 0.75, 0.5)
    assert G_inf.shape == (512 + 16, 64)
    assert G_inf[-1].abs().sum() == 0 and G_inf[-2].abs().sum() > 0


def test_fits_are_cached():
    basis = RectangularBasis(64)
    assert chunk_fit(basis, 16, 0.5) is chunk_fit(RectangularBasis(64), 16, 0.5)
