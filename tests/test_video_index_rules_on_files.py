"""Each frame-index rule of ``indices.py``, applied to a real file's metadata, reads in range."""

from __future__ import annotations

import pytest
from helpers.make_videos import build_video_library, read_codes

from infvideo.video.indices import RULES
from infvideo.video.source import open_video


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return build_video_library(tmp_path_factory.getbasetemp() / "coded_videos")


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("name", ["h264_bframes.mp4", "vp9_odd.webm", "h264_one_frame.mp4"])
def test_rule_indices_are_readable_and_exact(videos, name, rule):
    with open_video(videos[name]) as source:
        meta = source.metadata
        for count in (1, 8, 32, 300):
            indices = RULES[rule](meta.num_frames, count)
            assert all(0 <= i < meta.num_frames for i in indices)
            assert read_codes(source.get_frames(indices)) == list(indices)
        if rule == "segment_midpoints" and meta.num_frames > 1:
            bounded = RULES[rule](meta.num_frames, 8, fps=meta.fps, bound=(0.5, meta.duration))
            assert read_codes(source.get_frames(bounded)) == bounded
