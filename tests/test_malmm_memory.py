import pytest
import torch
import torch.nn.functional as F
from reference_attention import manual_attention

from infvideo.memory import Memory
from infvideo.memory.malmm import MALMMMemory, memory_bank_compress


def loop_compress(bank, counts):
    """Per (batch, token) reference of MBC, written with plain loops."""
    batch, length, tokens, _ = bank.shape
    out_bank = torch.empty(batch, length - 1, *bank.shape[2:])
    out_counts = torch.empty(batch, length - 1, tokens)
    for b in range(batch):
        for n in range(tokens):
            sims = [F.cosine_similarity(bank[b, t, n], bank[b, t + 1, n], dim=0).item() for t in range(length - 1)]
            k = sims.index(max(sims))
            entries = [bank[b, t, n] for t in range(length)]
            sizes = [counts[b, t, n] for t in range(length)]
            entries[k] = (sizes[k] * entries[k] + sizes[k + 1] * entries[k + 1]) / (sizes[k] + sizes[k + 1])
            sizes[k] = sizes[k] + sizes[k + 1]
            del entries[k + 1], sizes[k + 1]
            out_bank[b, :, n] = torch.stack(entries)
            out_counts[b, :, n] = torch.stack(sizes)
    return out_bank, out_counts


def test_implements_the_memory_interface():
    assert isinstance(MALMMMemory(), Memory)


def test_each_token_position_merges_its_own_pair_with_count_weights():
    # bank[t][n]: position 0 merges (0,1), position 1 merges (1,2), position 2 merges (0,1) although
    # its (1,2) pair has the larger dot product (cosine, not dot product, decides).
    bank = torch.tensor(
        [
            [[1.0, 0.0], [1.0, 0.0], [0.1, 0.0]],
            [[1.0, 0.1], [0.0, 1.0], [0.1, 0.0]],
            [[0.0, 1.0], [0.0, 2.0], [5.0, 5.0]],
        ]
    )[None]
    counts = torch.tensor([[1.0, 2.0, 1.0], [3.0, 1.0, 1.0], [1.0, 3.0, 1.0]])[None]
    new_bank, new_counts = memory_bank_compress(bank, counts)
    expected_bank = torch.tensor(
        [
            [[1.0, 0.075], [1.0, 0.0], [0.1, 0.0]],  # position 0: weights 1/4, 3/4
            [[0.0, 1.0], [0.0, 1.75], [5.0, 5.0]],  # position 1: weights 1/4, 3/4
        ]
    )[None]
    assert torch.allclose(new_bank, expected_bank)
    assert torch.equal(new_counts, torch.tensor([[[4.0, 2.0, 2.0], [1.0, 4.0, 1.0]]]))


def test_matches_a_loop_reference_and_keeps_count_sums():
    g = torch.Generator().manual_seed(0)
    bank = torch.randn(3, 7, 5, 4, generator=g)
    counts = torch.randint(1, 5, (3, 7, 5), generator=g).float()
    new_bank, new_counts = memory_bank_compress(bank, counts)
    ref_bank, ref_counts = loop_compress(bank, counts)
    assert new_bank.shape == (3, 6, 5, 4) and new_counts.shape == (3, 6, 5)
    assert torch.allclose(new_bank, ref_bank, atol=1e-6)
    assert torch.equal(new_counts, ref_counts)
    assert torch.equal(new_counts.sum(1), counts.sum(1))


def test_order_is_preserved_around_the_merge():
    # Entries grow along one direction with rising angle except a near-duplicate at (3,4):
    # everything before 3 and after 4 is kept in place.
    angles = torch.tensor([0.0, 0.5, 1.0, 1.5, 1.501, 2.5])
    bank = torch.stack([angles.cos(), angles.sin()], dim=-1)[None, :, None, :]
    new_bank, new_counts = memory_bank_compress(bank, torch.ones(1, 6, 1))
    assert torch.equal(new_bank[0, [0, 1, 2, 4], 0], bank[0, [0, 1, 2, 5], 0])
    assert torch.allclose(new_bank[0, 3, 0], (bank[0, 3, 0] + bank[0, 4, 0]) / 2)
    assert new_counts[0, :, 0].tolist() == [1, 1, 1, 2, 1]


def test_compress_rejects_bad_shapes():
    with pytest.raises(ValueError):
        memory_bank_compress(torch.randn(1, 1, 2, 3), torch.ones(1, 1, 2))
    with pytest.raises(ValueError):
        memory_bank_compress(torch.randn(1, 3, 2, 3), torch.ones(1, 3, 3))


def test_online_bank_stays_at_m_with_constant_state():
    memory = MALMMMemory(memory_bank_length=4)
    g = torch.Generator().manual_seed(1)
    lengths, sizes = [], []
    for _ in range(12):
        memory.update(torch.randn(2, 1, 3, 5, generator=g))
        lengths.append(memory.bank.shape[1])
        sizes.append(memory.state_numel())
    assert lengths == [1, 2, 3, 4] + [4] * 8
    assert sizes[3:] == [4 * 2 * 3 * 6] * 9  # bank 4·3·5 + counts 4·3 per batch item
    assert torch.equal(memory.counts.sum(1), torch.full((2, 3), 12.0))  # every frame still counted


def test_chunked_update_equals_frame_by_frame_compression():
    g = torch.Generator().manual_seed(2)
    frames = torch.randn(2, 9, 3, 5, generator=g)
    memory = MALMMMemory(memory_bank_length=3)
    memory.update(frames[:, :4])
    memory.update(frames[:, 4:])
    bank, counts = frames[:, :3], torch.ones(2, 3, 3)
    for t in range(3, 9):
        bank = torch.cat([bank, frames[:, t : t + 1]], dim=1)
        counts = torch.cat([counts, torch.ones(2, 1, 3)], dim=1)
        bank, counts = memory_bank_compress(bank, counts)
    assert torch.allclose(memory.bank, bank)
    assert torch.equal(memory.counts, counts)


def test_accepts_one_token_frames(projections):
    memory = MALMMMemory(memory_bank_length=2)
    memory.update(torch.randn(1, 5, 48))
    assert memory.bank.shape == (1, 2, 1, 48)


def test_read_is_softmax_attention_over_all_bank_tokens(projections):
    key, value = projections
    memory = MALMMMemory(memory_bank_length=3)
    g = torch.Generator().manual_seed(3)
    memory.update(torch.randn(2, 6, 4, 48, generator=g))
    queries = torch.randn(2, 5, 48, generator=g)
    out = memory.read(queries, key, value, 4)
    assert out.shape == (2, 5, 48)
    expected = manual_attention(queries, memory.bank.flatten(1, 2), key, value, 4)
    assert torch.allclose(out, expected, atol=1e-5)


def test_nan_input_is_rejected_and_state_kept():
    memory = MALMMMemory()
    memory.update(torch.randn(1, 2, 3, 4))
    x = torch.randn(1, 2, 3, 4)
    x[0, 1, 2, 3] = float("inf")
    with pytest.raises(ValueError, match="MALMMMemory"):
        memory.update(x)
    assert memory.bank.shape[1] == 2


def test_reset_empties_the_state(projections):
    key, value = projections
    memory = MALMMMemory(memory_bank_length=2)
    memory.update(torch.randn(1, 3, 48))
    memory.reset()
    assert memory.bank is None and memory.counts is None and memory.state_numel() == 0
    with pytest.raises(RuntimeError):
        memory.read(torch.randn(1, 2, 48), key, value, 4)


def test_empty_chunk_is_rejected():
    with pytest.raises(ValueError):
        MALMMMemory().update(torch.randn(1, 0, 2, 3))
