"""Keyframe-aligned parallel decoding returns exactly the serial decoder's frames."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.make_videos import build_video_library, read_codes

from infvideo.video.metadata import FrameIndexError
from infvideo.video.parallel import ParallelDecoder, plan_keyframe_groups
from infvideo.video.pyav_source import PyAVSource
from infvideo.video.stream import iter_chunks


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return build_video_library(tmp_path_factory.getbasetemp() / "coded_videos")


def test_groups_start_at_keyframes_and_cover_every_index_once():
    keyframes = [0, 12, 24, 36, 48, 60, 72, 84, 96]
    indices = np.array([0, 5, 13, 14, 30, 50, 51, 90, 99])
    for num_groups in (1, 2, 3, 4, 8, 50):
        groups = plan_keyframe_groups(indices, keyframes, num_groups)
        assert 1 <= len(groups) <= num_groups
        assert np.array_equal(np.concatenate(groups), indices)
        intervals = [set(np.searchsorted(keyframes, g, side="right")) for g in groups]
        for a, b in zip(intervals, intervals[1:]):
            assert max(a) < min(b)  # no keyframe interval is split between groups
    assert [g.tolist() for g in plan_keyframe_groups(indices, keyframes, 2)] == [[0, 5, 13, 14, 30], [50, 51, 90, 99]]
    assert plan_keyframe_groups(np.array([], dtype=np.int64), keyframes, 3) == []
    assert len(plan_keyframe_groups(np.arange(100), [0], 4)) == 1  # one keyframe: nothing to split


def test_groups_balance_the_decoding_work():
    keyframes = np.arange(0, 10_000, 250)
    indices = np.unique(np.linspace(0, 9_999, 256).astype(int))
    groups = plan_keyframe_groups(indices, keyframes, 4)
    work = [g[-1] - keyframes[np.searchsorted(keyframes, g[0], side="right") - 1] for g in groups]
    assert len(groups) == 4 and max(work) < 1.2 * min(work)


@pytest.mark.parametrize("name", ["h264_long_gop.mkv", "h264_bframes.mp4", "mpeg4_bframes.mp4"])
def test_parallel_equals_serial(videos, name):
    rng = np.random.default_rng(7)
    with PyAVSource(videos[name]) as serial, ParallelDecoder(videos[name], workers=2, start_method="forkserver") as parallel:
        num_frames = serial.metadata.num_frames
        assert parallel.metadata == serial.metadata
        for indices in (rng.integers(0, num_frames, 40), np.arange(num_frames)[::-3], [num_frames - 1, 0, 0]):
            expected = serial.get_frames(indices)
            got = parallel.get_frames(indices)
            assert np.array_equal(got, expected)
            assert read_codes(got) == list(indices)
        with pytest.raises(FrameIndexError, match=name):
            parallel.get_frames([num_frames])
        # a parallel decoder is a VideoSource: it streams like the serial one
        indices = list(range(0, num_frames, 2))
        assert np.array_equal(np.concatenate(list(iter_chunks(parallel, indices, 16))), serial.get_frames(indices))
