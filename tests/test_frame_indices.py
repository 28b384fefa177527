import numpy as np
import pytest
import torch

from infvideo.video.indices import (
    RULES,
    frame_indices_all,
    frame_indices_arange,
    frame_indices_segment_centres,
    frame_indices_segment_midpoints,
    frame_indices_uniform,
)


def test_uniform_gives_exactly_the_count_in_range():
    for frames in (1, 7, 100, 2049, 10_007):
        for count in (1, 8, 256, 2048):
            indices = frame_indices_uniform(frames, count)
            assert len(indices) == count
            assert all(0 <= i < frames for i in indices)
            assert indices == sorted(indices)
    assert frame_indices_uniform(10, 5) == [0, 2, 4, 6, 8]


def test_arange_rule_can_return_one_index_too_many():
    # The reference's float step arange(0, F, F/T) rounds so that some lengths get one index too many.
    extra = [(f, t) for f in range(50, 400) for t in (7, 8, 16, 32) if len(frame_indices_arange(f, t)) != min(f, t)]
    assert extra, "expected at least one length where arange returns T + 1 indices"
    assert frame_indices_arange(5, 16) == [0, 1, 2, 3, 4]  # T capped at the video length


def test_segment_centres_match_the_reference_formula():
    # VideoChat2 get_index(num_frames=100, num_segments=8): seg = 99/8 = 12.375, start = 6.
    assert frame_indices_segment_centres(100, 8) == [6, 18, 31, 43, 56, 68, 80, 93]
    assert frame_indices_segment_centres(1, 4) == [0, 0, 0, 0]
    indices = frame_indices_segment_centres(3000, 128)
    assert len(indices) == 128 and max(indices) < 3000


def test_segment_midpoints_match_the_reference_formula():
    # Video-MME get_index(bound=None, max_frame=99, num_segments=8): seg = 12.375.
    expected = [int(12.375 / 2 + np.round(12.375 * k)) for k in range(8)]
    assert frame_indices_segment_midpoints(100, 8) == expected == [6, 18, 31, 43, 56, 68, 80, 93]
    # A 2-second window at 10 fps from second 3: frames 30..50.
    assert frame_indices_segment_midpoints(1000, 4, fps=10.0, bound=(3.0, 5.0)) == [32, 37, 42, 47]
    with pytest.raises(ValueError, match="fps"):
        frame_indices_segment_midpoints(100, 4, bound=(0, 1))


def test_empty_video_or_zero_count_is_an_error():
    with pytest.raises(ValueError, match="no decodable frame"):
        frame_indices_uniform(0, 8)
    with pytest.raises(ValueError, match="asked for 0"):
        frame_indices_segment_centres(10, 0)


def test_all_frames_is_every_frame_whatever_the_count():
    assert frame_indices_all(5, 16) == [0, 1, 2, 3, 4]
    assert frame_indices_all(3000, 2048) == list(range(3000))
    with pytest.raises(ValueError, match="no decodable frame"):
        frame_indices_all(0, 8)


def test_all_frames_chunks_as_the_reference_splits_the_whole_video():
    """Port of the reference's Video-LLaMA NExT-QA / NExT-OE frame feeding (deep-spin/Infinite-Video,
    commit 908be51, ``infty-Video-LLaMA/eval_code/eval/run_inference_inf_video_llama_nextqa.py``;
    ``..._nextoe.py`` is the same): line 219 loads every frame the video's tensor holds, line 228
    ``video_list = torch.split(video, n_frames, dim=1)`` with ``n_frames = args.max_int`` (line 255),
    and lines 184-192 encode every piece in turn, the last one as it is (shorter, never padded or
    dropped). So: ceil(F / K) chunks of K consecutive frames, the last one F mod K frames long."""
    rule = RULES["all_frames"]
    for frames in (1, 2, 255, 256, 257, 300, 511, 513, 2048, 2049, 5401):
        for size in (1, 16, 256):
            reference = [piece.tolist() for piece in torch.split(torch.arange(frames), size)]
            for num_chunks in (1, 8, 50):  # not read: the video's length sets the number of chunks
                assert rule.chunks(frames, size, num_chunks) == reference, (frames, size, num_chunks)
    assert [len(c) for c in rule.chunks(513, 256, 8)] == [256, 256, 1]


@pytest.mark.parametrize("name", ["uniform", "arange", "segment_centres", "segment_midpoints"])
def test_the_sampling_rules_chunk_like_torch_chunk(name):
    """The reference's sampled-frame scripts pick T = max_int · num_samples frames, then cut them with
    ``torch.chunk(video, num_samples, dim=1)`` (deep-spin/Infinite-Video, commit 908be51,
    ``infty-VideoChat2/eval_code/run_nextqa_mistral.py`` line 141;
    ``infty-Video-LLaMA/eval_code/eval/run_inference_inf_video_llama_egochema_full.py`` line 258)."""
    rule = RULES[name]
    for frames in (5, 100, 3001):
        indices = rule(frames, 16 * 8)
        expected = [piece.tolist() for piece in torch.chunk(torch.tensor(indices), 8)]
        assert rule.chunks(frames, 16, 8) == expected
