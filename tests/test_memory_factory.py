import pytest
import torch

from infvideo.memory import (
    MEMORY_KINDS,
    ContinuousMemory,
    MALMMMemory,
    Memory,
    MemoryConfig,
    MovieChatMemory,
    build_memory,
)


@pytest.mark.parametrize("kind,cls", [("continuous", ContinuousMemory), ("moviechat", MovieChatMemory), ("malmm", MALMMMemory)])
def test_every_kind_builds_a_memory_that_streams(kind, cls):
    memory = build_memory(MemoryConfig(kind=kind, num_basis=16, num_samples=32, window=4, memory_bank_length=3))
    assert isinstance(memory, cls) and isinstance(memory, Memory)
    layer = torch.nn.Linear(24, 24)
    for _ in range(5):
        memory.update(torch.randn(2, 4, 24))
        context = memory.read(torch.randn(2, 3, 24), layer, layer, 4)
    assert context.shape == (2, 3, 24) and torch.isfinite(context).all()


def test_none_and_unknown_kinds():
    assert build_memory(MemoryConfig(kind="none")) is None
    assert set(MEMORY_KINDS) == {"continuous", "moviechat", "malmm", "none"}
    with pytest.raises(ValueError, match="unknown memory kind"):
        MemoryConfig(kind="fifo")


def test_settings_reach_the_memory():
    memory = build_memory(MemoryConfig(num_basis=64, tau=0.5, sticky=True, reference_compat=True))
    assert (memory.num_basis, memory.tau, memory.sticky, memory.reference_compat) == (64, 0.5, True, True)
    assert build_memory(MemoryConfig(kind="moviechat", window=None)).window is None


@pytest.mark.parametrize("kind", ["continuous", "moviechat", "malmm"])
def test_every_kind_takes_a_generator_at_reset_and_says_whether_it_attends_over_time(kind):
    """The Q-former layer, sweeps and plots hold a memory only through this interface."""
    memory = build_memory(MemoryConfig(kind=kind, num_basis=16, num_samples=32, sticky=True, window=4, memory_bank_length=3))
    layer = torch.nn.Linear(24, 24)
    edges = torch.linspace(0, 3, 13)
    for _ in range(2):  # a second video, with its own generator
        memory.reset(torch.Generator().manual_seed(5))
        for _ in range(3):
            memory.update(torch.randn(1, 4, 24))
            memory.read(torch.randn(1, 3, 24), layer, layer, 4)
        density = memory.attention_over_video_time(edges)
        if kind == "continuous":
            assert density.shape == (12,) and torch.isclose((density * (edges[1] - edges[0])).sum(), torch.tensor(1.0), atol=1e-3)
        else:
            assert density is None  # slots, not a density over time
