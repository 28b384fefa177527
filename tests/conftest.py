import pytest
import torch


@pytest.fixture
def projections():
    """A layer's key and value projections (width 48 -> 48, 4 heads of 12)."""
    g = torch.Generator().manual_seed(123)
    key = torch.nn.Linear(48, 48)
    value = torch.nn.Linear(48, 48)
    with torch.no_grad():
        for layer in (key, value):
            layer.weight.copy_(torch.randn(48, 48, generator=g) * 0.2)
            layer.bias.copy_(torch.randn(48, generator=g) * 0.05)
    return key, value
