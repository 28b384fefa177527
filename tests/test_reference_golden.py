"""reference_compat against numbers produced by the authors' own LTM module (tests/golden/README.md)."""

from pathlib import Path

import pytest
import torch

from infvideo.memory import ContinuousMemory

GOLDEN = torch.load(Path(__file__).parent / "golden" / "reference_ltm.pt", weights_only=True)
CASES = GOLDEN["cases"]


def regenerate_inputs(config):
    """The protocol of tests/golden/README.md, draw for draw."""
    g = torch.Generator().manual_seed(config["seed"])
    key, value = torch.nn.Linear(768, 768), torch.nn.Linear(768, 768)
    with torch.no_grad():
        key.weight.copy_(torch.randn(768, 768, generator=g) * 0.02)
        key.bias.copy_(torch.randn(768, generator=g) * 0.02)
        value.weight.copy_(torch.randn(768, 768, generator=g) * 0.02)
        value.bias.copy_(torch.randn(768, generator=g) * 0.02)
    chunks = []
    for _ in range(config["chunks"]):
        tokens = torch.randn(1, config["L"] * 32, 768, generator=g)
        queries = torch.randn(1, config["q"], 768, generator=g)
        chunks.append((tokens, queries))
    return key, value, chunks


@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_mode_reproduces_the_reference(name):
    case = CASES[name]
    config = case["config"]
    key, value, chunks = regenerate_inputs(config)
    sums = case["input_checksums"]
    # Guard: if torch's generator ever changed, the inputs would differ and so would everything else.
    assert float(chunks[0][0].sum()) == pytest.approx(sums["tokens"][0], rel=1e-6)
    assert float(key.weight.detach().sum()) == pytest.approx(sums["key_w"], rel=1e-5)

    memory = ContinuousMemory(num_basis=config["N"], tau=config["tau"], sticky=config["sticky"], reference_compat=True)
    torch.manual_seed(config["seed"])  # the reference draws sticky positions from the global RNG
    with torch.no_grad():
        for c, (tokens, queries) in enumerate(chunks):
            x = tokens.reshape(1, config["L"], 32, 768).mean(2)  # the reference's per-frame pooling
            memory.update(x)
            context = memory.read(queries, key, value, config["heads"])
            torch.testing.assert_close(memory.coefficients[:, :, :8], case["B_past"][c], rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(context, case["contexts"][c], rtol=1e-4, atol=1e-6)
            if config["sticky"] and c >= 1:
                assert torch.equal(memory.last_sample_times, case["sticky_positions"][c - 1])
