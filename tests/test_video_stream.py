"""Chunked reading equals one big read, and the index splits follow torch.chunk / torch.split."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.make_videos import build_video_library, read_codes

from infvideo.video.indices import frame_indices_segment_centres
from infvideo.video.pyav_source import PyAVSource
from infvideo.video.source import available_backends, open_video
from infvideo.video.stream import iter_chunks, iter_index_chunks, split_like_torch_chunk, split_like_torch_split


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return build_video_library(tmp_path_factory.getbasetemp() / "coded_videos")


def test_split_like_torch_chunk_matches_torch_chunk():
    for length in range(0, 45):
        for num_chunks in range(1, 12):
            expected = [c.tolist() for c in torch.chunk(torch.arange(length) * 3, num_chunks)]
            assert split_like_torch_chunk([3 * i for i in range(length)], num_chunks) == expected, (length, num_chunks)
    # chunks are ceil(T/n) long, so there can be fewer than n of them
    assert [len(c) for c in split_like_torch_chunk(range(6), 4)] == [2, 2, 2]
    assert [len(c) for c in split_like_torch_chunk(range(2048), 7)] == [293] * 6 + [290]


def test_split_like_torch_split_matches_torch_split():
    for length in range(0, 45):
        for size in range(1, 12):
            expected = [c.tolist() for c in torch.split(torch.arange(length), size)]
            assert split_like_torch_split(np.arange(length), size) == expected, (length, size)


def test_splits_reject_non_positive_sizes():
    with pytest.raises(ValueError):
        split_like_torch_chunk(range(4), 0)
    with pytest.raises(ValueError):
        split_like_torch_split(range(4), 0)


@pytest.mark.parametrize("backend", available_backends())
def test_streaming_yields_the_frames_of_one_get_frames_call(videos, backend):
    with open_video(videos["h264_long_gop.mkv"], backend) as source:
        indices = frame_indices_segment_centres(source.metadata.num_frames, 40)
        whole = source.get_frames(indices)
        chunks = list(iter_chunks(source, indices, chunk_size=7))
        assert [len(c) for c in chunks] == [7] * 5 + [5]
        assert np.array_equal(np.concatenate(chunks), whole)
        assert read_codes(whole) == indices
        by_count = list(iter_index_chunks(source, split_like_torch_chunk(indices, 4)))
        assert np.array_equal(np.concatenate(by_count), whole)


def test_streaming_is_lazy(videos):
    calls = []

    class Spy:
        def __init__(self, source):
            self.source, self.metadata, self.path = source, source.metadata, source.path

        def get_frames(self, indices):
            calls.append(list(indices))
            return self.source.get_frames(indices)

    with PyAVSource(videos["h264_bframes.mp4"]) as source:
        chunks = iter_chunks(Spy(source), range(100), chunk_size=30)
        assert calls == []
        first = next(chunks)
        assert len(calls) == 1 and read_codes(first) == list(range(30))
