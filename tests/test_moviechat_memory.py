import pytest
import torch
from reference_attention import manual_attention

from infvideo.memory import Memory
from infvideo.memory.moviechat import MovieChatMemory, merge_adjacent_most_similar
from infvideo.models.video_llama.modeling import adaptive_position_count, hierarchical_position_table


def one_token(*vectors):
    """Frames with a single token each: [1, T, 1, width]."""
    return torch.tensor(vectors, dtype=torch.float32)[None, :, None, :]


def test_implements_the_memory_interface():
    assert isinstance(MovieChatMemory(), Memory)


# -- consolidation rule ------------------------------------------------------------------------
def test_merge_order_uses_raw_dot_product_not_cosine():
    # Pairs (0,1) and (2,3) are both parallel (cosine 1), but (2,3) has the larger dot product (8 vs 2),
    # so it merges first; then (0,1) (dot 2 vs 0).
    frames = one_token([1, 0], [2, 0], [0, 2], [0, 4])
    assert torch.equal(merge_adjacent_most_similar(frames, 3), one_token([1, 0], [2, 0], [0, 3]))
    assert torch.equal(merge_adjacent_most_similar(frames, 2), one_token([1.5, 0], [0, 3]))


def test_similarity_is_the_mean_of_the_all_to_all_token_matrix():
    # Position-wise token products would rate (0,1) at 0 and (1,2) at 0.3; all-to-all rates (0,1) 0.5.
    f0 = [[1.0, 0.0], [0.0, 1.0]]
    f1 = [[0.0, 1.0], [1.0, 0.0]]
    f2 = [[0.6, 0.0], [0.6, 0.0]]
    frames = torch.tensor([[f0, f1, f2]])
    expected = torch.tensor([[[[0.5, 0.5], [0.5, 0.5]], f2]])
    assert torch.allclose(merge_adjacent_most_similar(frames, 2), expected)


def test_ties_go_to_the_first_pair():
    frames = one_token([1, 0], [1, 1], [1, 0])  # both pairs score 1
    assert torch.equal(merge_adjacent_most_similar(frames, 2), one_token([1, 0.5], [1, 0]))


def test_average_is_unweighted():
    a, b, c = torch.tensor([2.0, 0.1]), torch.tensor([2.2, 0.0]), torch.tensor([0.3, 1.0])
    merged = merge_adjacent_most_similar(torch.stack([a, b, c])[None, :, None, :], 1)[0, 0, 0]
    assert torch.allclose(merged, ((a + b) / 2 + c) / 2)
    assert not torch.allclose(merged, (a + b + c) / 3, atol=1e-2)


def test_each_batch_item_picks_its_own_pair():
    first = one_token([1, 0], [2, 0], [0, 2], [0, 4])  # merges (2,3)
    second = first.flip(1)  # [0,4],[0,2],[2,0],[1,0]: merges (0,1)
    merged = merge_adjacent_most_similar(torch.cat([first, second]), 3)
    assert torch.equal(merged[0:1], one_token([1, 0], [2, 0], [0, 3]))
    assert torch.equal(merged[1:2], one_token([0, 3], [2, 0], [1, 0]))

    g = torch.Generator().manual_seed(0)
    frames = torch.randn(3, 9, 4, 5, generator=g)
    batched = merge_adjacent_most_similar(frames, 3)
    for b in range(3):
        assert torch.allclose(batched[b : b + 1], merge_adjacent_most_similar(frames[b : b + 1], 3))


def test_short_input_is_returned_unchanged_and_bad_target_rejected():
    frames = torch.randn(2, 3, 4, 5)
    assert torch.equal(merge_adjacent_most_similar(frames, 3), frames)
    assert torch.equal(merge_adjacent_most_similar(frames, 5), frames)
    with pytest.raises(ValueError):
        merge_adjacent_most_similar(frames, 0)


# -- cadence and capacities --------------------------------------------------------------------
def test_per_update_cadence_gives_256_slots_from_128_fragments_of_8():
    memory = MovieChatMemory(merge_length=2)
    g = torch.Generator().manual_seed(1)
    first = torch.randn(1, 8, 3, 4, generator=g)
    memory.update(first)
    assert memory.num_slots == 2
    assert torch.equal(memory.long_memory, merge_adjacent_most_similar(first, 2))
    assert torch.equal(memory.last_short_memory, first)
    assert memory.short_memory is None  # emptied after consolidation
    for _ in range(127):
        memory.update(torch.randn(1, 8, 3, 4, generator=g))
    assert memory.num_slots == 256


def test_window_cadence_consolidates_every_second_update_of_8():
    memory = MovieChatMemory(merge_length=2, window=16)
    g = torch.Generator().manual_seed(2)
    chunks = [torch.randn(2, 8, 3, 4, generator=g) for _ in range(4)]
    memory.update(chunks[0])
    assert memory.num_slots == 0 and memory.short_memory.shape[1] == 8
    memory.update(chunks[1])
    window = torch.cat(chunks[:2], dim=1)
    assert torch.equal(memory.long_memory, merge_adjacent_most_similar(window, 2))
    assert torch.equal(memory.last_short_memory, window)
    memory.update(chunks[2])
    assert memory.num_slots == 2
    memory.update(chunks[3])
    assert memory.num_slots == 4
    for _ in range(252):  # 256 windows of 8 frames = 2,048 frames -> 256 slots
        memory.update(torch.randn(2, 8, 3, 4, generator=g))
    assert memory.num_slots == 256


def test_window_larger_than_the_stm_cap_is_rejected():
    with pytest.raises(ValueError):
        MovieChatMemory(window=20, short_memory_length=18)


def test_fifo_cap_and_max_new_frames():
    # 20 frames offered, 16 taken, the 4-frame FIFO keeps frames 12..15; R_L=4 leaves them unmerged.
    memory = MovieChatMemory(merge_length=4, short_memory_length=4, max_new_frames=16)
    frames = torch.arange(20.0).repeat_interleave(3).view(1, 20, 3)
    memory.update(frames)
    assert torch.equal(memory.long_memory[0, :, 0, 0], torch.tensor([12.0, 13.0, 14.0, 15.0]))


def test_long_memory_cap_drops_from_the_front():
    memory = MovieChatMemory(merge_length=2, long_memory_length=5)
    frames = torch.arange(6.0).view(1, 6, 1)
    for start in (0, 2, 4):
        memory.update(frames[:, start : start + 2])  # 2 frames, R_L=2: no merge
    assert torch.equal(memory.long_memory[0, :, 0, 0], torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]))


def test_memory_does_not_alias_the_input():
    memory = MovieChatMemory(merge_length=2)
    x = torch.ones(1, 2, 4)
    memory.update(x)
    x.zero_()
    assert memory.long_memory.sum() == 8


# -- readout -----------------------------------------------------------------------------------
def breakpoint_memory():
    """One token of width 2 per frame. LTM slots 0, 1, 2, 3, 10, 20.5; last pre-merge STM 10, 11, 30."""
    memory = MovieChatMemory(merge_length=2)
    for values in ([0.0, 1.0], [2.0, 3.0], [10.0, 11.0, 30.0]):  # the last fragment merges (11, 30)
        memory.update(torch.tensor(values)[None, :, None].expand(1, len(values), 2))
    return memory


def slot_values(tokens):
    return tokens[0, :, 0].tolist()


def test_breakpoint_readout_is_ltm_then_stm_then_current_frame():
    memory = breakpoint_memory()
    assert slot_values(memory.readout_tokens("global")) == [0, 1, 2, 3, 10, 20.5]
    out = memory.readout_tokens("breakpoint", current_frame=torch.full((1, 2), 99.0))
    assert slot_values(out) == [0, 1, 2, 3, 10, 20.5, 10, 11, 30, 99]
    as_token_set = memory.readout_tokens("breakpoint", current_frame=torch.full((1, 1, 2), 99.0))
    assert torch.equal(as_token_set, out)


def test_breakpoint_truncation_drops_stm_front_first_then_ltm_front():
    memory = breakpoint_memory()
    current = torch.full((1, 2), 99.0)
    out = memory.readout_tokens("breakpoint", current_frame=current, max_positions=8)
    assert slot_values(out) == [0, 1, 2, 3, 10, 20.5, 30, 99]
    out = memory.readout_tokens("breakpoint", current_frame=current, max_positions=4)
    assert slot_values(out) == [3, 10, 20.5, 99]


def test_breakpoint_without_ltm_uses_only_the_stm():
    memory = MovieChatMemory(window=16)
    frames = torch.randn(1, 8, 2, 4)
    memory.update(frames)
    out = memory.readout_tokens("breakpoint", current_frame=torch.randn(1, 2, 4))
    assert torch.equal(out, frames.flatten(1, 2))


def test_position_table_is_added_per_slot():
    memory = MovieChatMemory(merge_length=3)
    x = torch.randn(2, 3, 4, 5)
    memory.update(x)
    table = torch.arange(4 * 5.0).view(4, 5)
    out = memory.readout_tokens("global", position_table=table)
    expected = (x + table[:3, None, :]).flatten(1, 2)
    assert out.shape == (2, 12, 5)
    assert torch.allclose(out, expected)
    with pytest.raises(ValueError):
        memory.readout_tokens("global", position_table=table[:2])


def test_hierarchical_position_table():
    g = torch.Generator().manual_seed(3)
    table = torch.randn(32, 6, generator=g)
    positions = hierarchical_position_table(table, 16)
    assert positions.shape == (256, 6)
    assert torch.allclose(positions[:16], table[:16], atol=1e-6)
    assert not torch.allclose(positions[16:32], table[:16], atol=1e-3)  # coarse offset is present
    # Hand-checked with alpha = 1/4: u0 = [1, 0], u1 = [-1/3, 4/3], u2 = [7/3, 8/3].
    small = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    q = hierarchical_position_table(small, 3, alpha=0.25)
    assert torch.allclose(q[5], torch.tensor([5 / 3, 7 / 3]))  # i=1, j=2: u1/4 + 3·u2/4
    assert torch.allclose(q[7], torch.tensor([1 / 3, 5 / 3]))  # i=2, j=1: u2/4 + 3·u1/4
    with pytest.raises(ValueError):
        hierarchical_position_table(small, 4)


def test_adaptive_position_count():
    cases = {0: 0, 1: 1, 4: 2, 5: 3, 128: 12, 256: 16, 257: 17, 1024: 32, 5000: 32}
    assert {n: adaptive_position_count(n) for n in cases} == cases
    assert adaptive_position_count(300, max_base=16) == 16


# -- read, validation, reset -------------------------------------------------------------------
def test_read_is_softmax_attention_over_all_ltm_tokens(projections):
    key, value = projections
    memory = MovieChatMemory(merge_length=2)
    g = torch.Generator().manual_seed(4)
    memory.update(torch.randn(2, 8, 3, 48, generator=g))
    memory.update(torch.randn(2, 8, 3, 48, generator=g))
    queries = torch.randn(2, 5, 48, generator=g)
    out = memory.read(queries, key, value, 4)
    assert out.shape == (2, 5, 48)
    expected = manual_attention(queries, memory.long_memory.flatten(1, 2), key, value, 4)
    assert torch.allclose(out, expected, atol=1e-5)


def test_read_falls_back_to_the_stm_and_fails_when_empty(projections):
    key, value = projections
    memory = MovieChatMemory(window=16)
    queries = torch.randn(1, 2, 48)
    with pytest.raises(RuntimeError):
        memory.read(queries, key, value, 4)
    frames = torch.randn(1, 4, 48)
    memory.update(frames)
    expected = manual_attention(queries, frames, key, value, 4)
    assert torch.allclose(memory.read(queries, key, value, 4), expected, atol=1e-5)


def test_nan_input_is_rejected():
    x = torch.randn(1, 4, 2, 3)
    x[0, 2, 1, 0] = float("nan")
    with pytest.raises(ValueError, match="MovieChatMemory"):
        MovieChatMemory().update(x)


def test_reset_empties_the_state():
    memory = MovieChatMemory(window=4)
    memory.update(torch.randn(1, 6, 2, 3))
    assert memory.state_numel() == (2 + 4 + 2) * 2 * 3  # LTM 2 slots, last STM 4, pending 2
    memory.reset()
    assert memory.state_numel() == 0 and memory.num_slots == 0
    with pytest.raises(RuntimeError):
        memory.readout_tokens("global")


def test_empty_chunk_is_rejected():
    with pytest.raises(ValueError):
        MovieChatMemory().update(torch.randn(1, 0, 2, 3))
