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
