import torch

from infvideo.memory import reference
from infvideo.memory.basis import RectangularBasis
from infvideo.memory.sampling import sticky_sample_times, uniform_sample_times


def test_uniform_times_are_midpoints():
    assert torch.allclose(uniform_sample_times(4), torch.tensor([0.125, 0.375, 0.625, 0.875]))


def test_sticky_point_mass_samples_only_that_bin():
    masses = torch.zeros(2, 128)
    masses[0, 37] = 1.0
    masses[1, 127] = 1.0  # the last bin is reachable (the reference cannot sample it)
    times = sticky_sample_times(masses, 512, torch.Generator().manual_seed(0))
    assert ((times[0] >= 37 / 128) & (times[0] < 38 / 128)).all()
    assert ((times[1] >= 127 / 128) & (times[1] < 1)).all()
    assert len(set(times[0].tolist())) > 100  # jittered inside the bin


def test_sticky_times_are_sorted_per_item_and_follow_the_density():
    masses = torch.rand(3, 128)
    masses[:, :64] *= 9  # 90% of the mass in the first half
    times = sticky_sample_times(masses, 4000, torch.Generator().manual_seed(1))
    assert (times[:, 1:] >= times[:, :-1]).all()
    share = (times < 0.5).float().mean(-1)
    assert ((share > 0.85) & (share < 0.95)).all()
    assert not torch.equal(times[0], times[1])  # each item draws its own


def test_sticky_without_jitter_lands_on_left_edges_and_unsorted_keeps_draw_order():
    masses = torch.rand(1, 8)
    times = sticky_sample_times(masses, 50, torch.Generator().manual_seed(2), jitter=False, sort=False)
    assert torch.equal(times * 8, (times * 8).round())
    assert not torch.equal(times, times.sort(-1).values)


def test_sticky_is_deterministic_under_a_generator():
    masses = torch.rand(2, 128)
    a = sticky_sample_times(masses, 64, torch.Generator().manual_seed(7))
    b = sticky_sample_times(masses, 64, torch.Generator().manual_seed(7))
    c = sticky_sample_times(masses, 64, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_reference_sticky_drops_bin_zero_and_shifts_by_one_bin():
    basis = RectangularBasis(128, reference_bounds=True)
    # A density with essentially all mass on box 37 (= sticky bin 37 for N = 128).
    scores = torch.full((1, 1, 1, 128), -30.0)
    scores[..., 37] = 30.0
    torch.manual_seed(0)
    times = reference.sticky_sample_times(scores, basis, 512)
    # The trapezoid over the bin edges splits box 37's mass between bins 36 and 37, and the mass of
    # bin b+1 is mapped to the left edge of bin b: draws sit at 35/128 and 36/128, never at 37/128.
    assert torch.all((times == 35 / 128) | (times == 36 / 128))
    assert (times == 35 / 128).any() and (times == 36 / 128).any()
    scores = torch.full((1, 1, 1, 128), -30.0)
    scores[..., 0] = 30.0
    # Box 0 is seen at no edge (edge 0 is moved to -1e-6, outside every box, score 0), so the only
    # mass left is at the two outer edges: bin 0's is dropped and bin 127's lands on 126/128.
    times = reference.sticky_sample_times(scores, basis, 512)
    assert torch.all(times == 126 / 128)


def test_reference_sticky_uses_the_global_rng_and_batch_item_zero():
    basis = RectangularBasis(64, reference_bounds=True)
    scores = torch.randn(2, 2, 3, 64)
    torch.manual_seed(5)
    a = reference.sticky_sample_times(scores, basis, 100)
    torch.manual_seed(5)
    b = reference.sticky_sample_times(scores, basis, 100)
    assert torch.equal(a, b) and a.shape == (100,)
    assert not torch.equal(a, a.sort().values)  # not sorted
