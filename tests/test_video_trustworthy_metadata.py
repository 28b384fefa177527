"""The same file gives the same frames and the same metadata whichever backend reads it, and the
metadata describes the frames returned: display matrix (rotation, mirror) applied by default,
duration and fps from the frame timestamps, one warning per damaged file."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers.make_special_videos import displayed, write_rotated, write_variable_rate
from helpers.make_videos import build_video_library, read_codes

import infvideo.video.pyav_index as pyav_index_module
from infvideo.video.metadata import VideoDecodeError
from infvideo.video.parallel import ParallelDecoder
from infvideo.video.pyav_index import DamagedVideoWarning
from infvideo.video.source import available_backends, open_video
from infvideo.video.stream import iter_chunks

BACKENDS = available_backends()
NUM_FRAMES = 24
# (degrees counter-clockwise, mirrored): a phone held upright, upside down, the other way, and a
# front camera's mirrored portrait
ORIENTATIONS = [(90, False), (180, False), (270, False), (90, True)]


@pytest.fixture(scope="module")
def rotated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rotated")
    return {
        (degrees, hflip): write_rotated(folder / f"rot{degrees}{'_mirrored' if hflip else ''}.mp4", NUM_FRAMES, degrees, hflip=hflip)
        for degrees, hflip in ORIENTATIONS
    }


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return build_video_library(tmp_path_factory.getbasetemp() / "coded_videos")


def assert_pictures(frames: np.ndarray, expected: list[np.ndarray]) -> None:
    assert frames.shape == (len(expected), *expected[0].shape)
    for frame, picture in zip(frames, expected):
        # lossy coding and the RGB conversion move flat blocks by a few levels, never more on average
        assert np.abs(frame.astype(int) - picture.astype(int)).mean() < 3


# -- display matrix ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("degrees", "hflip"), ORIENTATIONS)
def test_frames_come_back_as_a_player_shows_them(rotated, backend, degrees, hflip):
    indices = [0, 7, 23, 6, 6, 13]
    with open_video(rotated[degrees, hflip], backend) as source:
        frames = source.get_frames(indices)
        meta = source.metadata
    expected = [displayed(i, degrees, hflip) for i in indices]
    assert_pictures(frames, expected)
    # the metadata describes the frames returned, not the stored grid
    assert (meta.height, meta.width) == expected[0].shape[:2] == frames.shape[1:3]
    assert (meta.width, meta.height) == ((64, 128) if degrees in (90, 270) else (128, 64))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("degrees", "hflip"), ORIENTATIONS)
def test_the_stored_pixel_grid_on_request(rotated, backend, degrees, hflip):
    indices = [5, 0, 23]
    with open_video(rotated[degrees, hflip], backend, apply_rotation=False) as source:
        frames = source.get_frames(indices)
        assert (source.metadata.width, source.metadata.height) == (128, 64)
    assert frames.shape == (3, 64, 128, 3)
    assert read_codes(frames) == indices


@pytest.mark.parametrize("apply_rotation", [True, False])
@pytest.mark.parametrize(("degrees", "hflip"), ORIENTATIONS)
def test_decord_pyav_and_parallel_agree_on_rotated_files(rotated, degrees, hflip, apply_rotation):
    path = rotated[degrees, hflip]
    indices = list(range(NUM_FRAMES))[::-1]
    with open_video(path, "pyav", apply_rotation=apply_rotation) as pyav_source:
        from_pyav = pyav_source.get_frames(indices)
        pyav_meta = pyav_source.metadata
    with open_video(path, "decord", apply_rotation=apply_rotation) as decord_source:
        from_decord = decord_source.get_frames(indices)
        decord_meta = decord_source.metadata
    with ParallelDecoder(path, workers=2, apply_rotation=apply_rotation) as parallel:
        from_parallel = parallel.get_frames(indices)
        parallel_meta = parallel.metadata
    assert from_decord.shape == from_pyav.shape == from_parallel.shape
    assert np.array_equal(from_parallel, from_pyav)
    # decord turns the picture before its RGB conversion, PyAV after: chroma rounding may differ a little
    assert np.abs(from_decord.astype(int) - from_pyav.astype(int)).max() <= 8
    assert np.abs(from_decord.astype(int) - from_pyav.astype(int)).mean() < 0.5
    for meta in (decord_meta, parallel_meta):
        assert (meta.width, meta.height, meta.num_frames, meta.fps, meta.duration, meta.keyframes) == (
            pyav_meta.width,
            pyav_meta.height,
            pyav_meta.num_frames,
            pyav_meta.fps,
            pyav_meta.duration,
            pyav_meta.keyframes,
        )


# -- variable frame rate ----------------------------------------------------------------------

# 10 frames 100 ms apart, then 10 frames 500 ms apart: 5.9 s from the first frame to the last, plus
# the last frame's own display time. The nominal rate (10 fps) would say 2 s.
VFR_PTS_MS = [100 * i for i in range(10)] + [900 + 500 * i for i in range(1, 11)]


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_variable_frame_rate_duration_and_fps_come_from_timestamps(tmp_path, suffix, backend):
    path = write_variable_rate(tmp_path / f"vfr{suffix}", VFR_PTS_MS, nominal_fps=10)
    with open_video(path, backend) as source:
        meta = source.metadata
        assert read_codes(source.get_frames(range(20))) == list(range(20))
    assert meta.num_frames == 20
    # the last frame is shown for somewhere between the nominal 100 ms and the last gap, 500 ms
    assert 6.0 - 1e-6 <= meta.duration <= 6.4 + 1e-6
    assert meta.fps == pytest.approx(meta.num_frames / meta.duration)


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_both_backends_report_the_same_timing_for_a_variable_rate_file(tmp_path, suffix):
    path = write_variable_rate(tmp_path / f"vfr{suffix}", VFR_PTS_MS, nominal_fps=10)
    with open_video(path, "pyav") as pyav_source, open_video(path, "decord") as decord_source:
        assert (pyav_source.metadata.duration, pyav_source.metadata.fps) == (decord_source.metadata.duration, decord_source.metadata.fps)


# -- decord's keyframe cross-check ------------------------------------------------------------


def patch_decord_reader(monkeypatch, key_indices=None, length=None):
    """decord's reader with its keyframe table and frame count replaced, to stand for what decord
    reports on damaged files (a keyframe whose packet is there but whose picture cannot be decoded)."""
    import decord  # imported late: loaded before PyAV, decord's bundled FFmpeg breaks PyAV's VP9 encoder

    class Reader(decord.VideoReader):
        def get_key_indices(self):
            real = list(super().get_key_indices())
            return key_indices(real) if key_indices else real

        def __len__(self):
            return length if length is not None else super().__len__()

    monkeypatch.setattr(decord, "VideoReader", Reader)


def test_decord_keyframes_past_the_decodable_frames_are_not_a_disagreement(videos, monkeypatch):
    path = videos["h264_bframes.mp4"]  # 120 frames, keyframes every 12
    patch_decord_reader(monkeypatch, key_indices=lambda real: real + [120])
    with open_video(path, "decord") as source:
        assert source.metadata.keyframes == tuple(range(0, 120, 12))
        assert read_codes(source.get_frames([119, 0, 60])) == [119, 0, 60]


def test_pyav_keyframes_past_the_frames_decord_can_read_are_not_a_disagreement(videos, monkeypatch):
    path = videos["h264_bframes.mp4"]
    patch_decord_reader(monkeypatch, key_indices=lambda real: [k for k in real if k < 100], length=100)
    with open_video(path, "decord") as source:
        assert source.metadata.num_frames == 100
        assert source.metadata.keyframes == tuple(range(0, 100, 12))
        assert read_codes(source.get_frames([99, 0, 97])) == [99, 0, 97]


def test_the_keyframe_disagreement_message_shows_where_the_tables_differ(videos, monkeypatch):
    path = videos["h264_bframes.mp4"]
    patch_decord_reader(monkeypatch, key_indices=lambda real: [k + 1 if k == 84 else k for k in real])
    with pytest.raises(VideoDecodeError, match="keyframe table") as raised:
        open_video(path, "decord")
    message = str(raised.value)
    assert "85" in message and "84" in message, message


# -- damaged files ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["truncated_faststart.mp4", "starts_mid_gop.mkv"])
def test_a_damaged_file_is_reported_once(videos, monkeypatch, name):
    monkeypatch.setattr(pyav_index_module, "_WARNED_FILES", set(), raising=False)  # forget earlier tests' opens
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # Python's own once-per-location filter must not be what hides repeats
        with open_video(videos[name]) as source:  # auto: decord is tried first, then PyAV
            for _ in iter_chunks(source, range(source.metadata.num_frames), 8):
                pass
        with open_video(videos[name], "pyav") as source:
            source.get_frames([0])
        with ParallelDecoder(videos[name], workers=2) as parallel:
            parallel.get_frames(range(parallel.metadata.num_frames))
    damaged = [w for w in caught if issubclass(w.category, DamagedVideoWarning)]
    assert len(damaged) == 1, [str(w.message) for w in damaged]
    assert name in str(damaged[0].message)
