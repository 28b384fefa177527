"""Video sources return exactly the requested frames (the frame number is read back from the
pixels), report the frames a file really has, and fail on bad files with errors naming them."""

from __future__ import annotations

import warnings

import av
import numpy as np
import pytest
from helpers.make_videos import SPECS, build_video_library, read_code, read_codes

import infvideo.video.pyav_index as pyav_index_module
import infvideo.video.pyav_source as pyav_source_module
from infvideo.video.metadata import FrameIndexError, NoVideoStreamError, VideoDecodeError
from infvideo.video.pyav_index import DamagedVideoWarning
from infvideo.video.pyav_source import PyAVSource
from infvideo.video.source import VideoSource, available_backends, open_video

BACKENDS = available_backends()
GOOD = sorted(SPECS)
# decord 0.6 numbers keyframes in decode order, so with MPEG-4 part 2 B-frames its seeks land up to
# two frames off; DecordSource detects this and refuses the file (tested below).
DECORD_SEEKS_EXACTLY = [name for name in GOOD if SPECS[name].codec != "mpeg4"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return build_video_library(tmp_path_factory.getbasetemp() / "coded_videos")


@pytest.fixture(autouse=True)
def forget_damaged_files_already_reported(monkeypatch):
    # A damaged file is reported once per process; each test here asserts its own warning.
    monkeypatch.setattr(pyav_index_module, "_WARNED_FILES", set())


def plain_decode_codes(path) -> list[int]:
    """Codes of every frame a plain PyAV decode produces, in presentation order."""
    with av.open(str(path)) as container:
        frames = [(f.pts, read_code(f.to_ndarray(format="rgb24"))) for f in container.decode(video=0)]
    return [code for _, code in sorted(frames)]


def test_the_written_codes_survive_compression(videos):
    for name in GOOD:
        assert plain_decode_codes(videos[name]) == list(range(SPECS[name].num_frames)), name


def test_the_h264_and_mpeg4_files_have_b_frames(videos):
    # Decode order differs from presentation order: what makes index-by-decode-order wrong.
    for name in ("h264_bframes.mp4", "h264_long_gop.mkv", "mpeg4_bframes.mp4"):
        with av.open(str(videos[name])) as container:
            pts = [p.pts for p in container.demux(video=0) if p.size]
        assert pts != sorted(pts), name


def cases(names):
    """(name, backend) pairs; decord is refused for files where its seeks are off (MPEG-4 part 2 B-frames)."""
    return [(name, backend) for name in names for backend in BACKENDS if backend == "pyav" or name in DECORD_SEEKS_EXACTLY]


@pytest.mark.parametrize(("name", "backend"), cases(GOOD))
def test_metadata_counts_the_frames_written(videos, name, backend):
    spec = SPECS[name]
    with open_video(videos[name], backend) as source:
        assert isinstance(source, VideoSource)
        meta = source.metadata
        assert meta.backend == backend
        assert meta.num_frames == spec.num_frames
        assert (meta.width, meta.height) == (spec.width, spec.height)
        assert meta.fps == pytest.approx(spec.fps)
        assert meta.duration == pytest.approx(spec.num_frames / spec.fps)
        assert meta.keyframes[0] == 0 and list(meta.keyframes) == sorted(set(meta.keyframes))
        assert meta.keyframes[-1] < meta.num_frames
        if spec.codec == "libx264":  # scene cuts are off, so keyframes are exactly every gop frames
            assert meta.keyframes == tuple(range(0, spec.num_frames, spec.gop))


@pytest.mark.parametrize(("name", "backend"), cases(GOOD))
def test_frames_are_exactly_the_requested_ones(videos, name, backend):
    num_frames = SPECS[name].num_frames
    rng = np.random.default_rng(len(name))
    requests = [
        list(range(num_frames)),
        rng.integers(0, num_frames, size=25).tolist(),  # random, unsorted, with repeats
        [num_frames - 1, 0, num_frames // 2, 0, num_frames - 1],  # sparse, unsorted, duplicated
        np.arange(num_frames)[::-7],  # descending numpy array
    ]
    with open_video(videos[name], backend) as source:
        for indices in requests:
            frames = source.get_frames(indices)
            assert frames.dtype == np.uint8 and frames.shape == (len(indices), SPECS[name].height, SPECS[name].width, 3)
            assert read_codes(frames) == list(indices)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_empty_request_gives_an_empty_batch(videos, backend):
    with open_video(videos["h264_bframes.mp4"], backend) as source:
        assert source.get_frames([]).shape == (0, 48, 64, 3)


def test_sparse_requests_seek_instead_of_decoding_the_whole_video(videos, monkeypatch):
    decoded = []
    real = pyav_source_module.iter_decoded_frames

    def counting(stream, packets):
        for frame in real(stream, packets):
            decoded.append(frame.pts)
            yield frame

    monkeypatch.setattr(pyav_source_module, "iter_decoded_frames", counting)
    with PyAVSource(videos["h264_long_gop.mkv"]) as source:  # 150 frames, keyframes every 50
        decoded.clear()
        assert read_codes(source.get_frames([140, 3])) == [140, 3]
    # frame 3: decode from keyframe 0; frame 140: seek to keyframe 100 (plus B-frame reordering delay)
    assert len(decoded) <= 4 + 41 + 8


def test_reading_on_from_the_current_position_does_not_seek(videos, monkeypatch):
    seeks = []
    real = pyav_source_module.seek_keyframe
    monkeypatch.setattr(pyav_source_module, "seek_keyframe", lambda *a: (seeks.append(a[2]), real(*a))[1])
    with PyAVSource(videos["h264_long_gop.mkv"]) as source:
        for start in range(0, 150, 10):
            assert read_codes(source.get_frames(range(start, start + 10))) == list(range(start, start + 10))
    assert len(seeks) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_out_of_range_indices_raise_naming_the_file(videos, backend):
    path = videos["h264_bframes.mp4"]
    with open_video(path, backend) as source:
        for bad in ([120], [-1], [0, 5, 1000]):
            with pytest.raises(FrameIndexError, match="h264_bframes.mp4.*out of range"):
                source.get_frames(bad)
        with pytest.raises(IndexError):
            source.get_frames([120])
        with pytest.raises(FrameIndexError, match="integers"):
            source.get_frames([1.5])


@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
def test_bad_files_raise_clear_errors_naming_them(videos, backend, tmp_path):
    missing = tmp_path / "no_such_video.mp4"
    with pytest.raises(FileNotFoundError, match="no_such_video.mp4"):
        open_video(missing, backend)
    with pytest.raises(VideoDecodeError, match="zero_bytes.mp4.*empty"):
        open_video(videos["zero_bytes.mp4"], backend)
    with pytest.raises(NoVideoStreamError, match="audio_only.m4a.*no video stream"):
        open_video(videos["audio_only.m4a"], backend)
    with pytest.raises(VideoDecodeError, match="truncated_moov_at_end.mp4"):
        open_video(videos["truncated_moov_at_end.mp4"], backend)  # MP4 index (moov) was at the cut-off end
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("not a video at all\n" * 20)
    with pytest.raises(VideoDecodeError, match="notes.mp4"):
        open_video(not_video, backend)


def test_errors_are_value_errors():
    assert issubclass(VideoDecodeError, ValueError)
    assert issubclass(NoVideoStreamError, VideoDecodeError)
    assert issubclass(FrameIndexError, IndexError) and issubclass(FrameIndexError, VideoDecodeError)


def test_unknown_backend_is_rejected(videos):
    with pytest.raises(ValueError, match="unknown video backend"):
        open_video(videos["h264_bframes.mp4"], "opencv")


def test_a_truncated_mp4_promises_only_frames_it_can_deliver(videos):
    # faststart: the index (moov) is at the front and announces 100 frames; the data stops at 70%.
    path = videos["truncated_faststart.mp4"]
    with pytest.warns(DamagedVideoWarning, match="truncated_faststart.mp4.*of 100 announced"):
        source = PyAVSource(path)
    with source:
        num_frames = source.metadata.num_frames
        assert 20 < num_frames < 100
        codes = read_codes(source.get_frames(range(num_frames)))
        assert codes == sorted(set(codes)) and codes[0] == 0
        with pytest.raises(FrameIndexError):
            source.get_frames([num_frames])


def test_a_truncated_matroska_file_counts_the_frames_a_full_decode_produces(videos):
    path = videos["truncated.mkv"]
    expected = plain_decode_codes(path)  # Matroska: a plain decode survives the cut
    assert len(expected) < 150
    for verify in ("tail", "full"):
        with PyAVSource(path, verify=verify) as source:
            assert source.metadata.num_frames == len(expected)
            assert read_codes(source.get_frames(range(len(expected)))) == expected


def test_a_stream_starting_mid_gop_counts_from_its_first_decodable_frame(videos):
    path = videos["starts_mid_gop.mkv"]
    expected = plain_decode_codes(path)  # the decoder skips what precedes the first keyframe
    assert expected[0] == 12 and len(expected) == 108
    with pytest.warns(DamagedVideoWarning, match="starts_mid_gop.mkv"):
        source = PyAVSource(path)
    with source:
        assert source.metadata.num_frames == len(expected) and source.metadata.keyframes[0] == 0
        assert read_codes(source.get_frames(range(len(expected)))) == expected
        assert read_codes(source.get_frames([3, 0, 50])) == [expected[3], expected[0], expected[50]]


@pytest.mark.parametrize("name", ["h264_bframes.mp4", "truncated_faststart.mp4", "vp9_odd.webm", "starts_mid_gop.mkv"])
def test_full_verification_agrees_with_the_tail_check(videos, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DamagedVideoWarning)
        with PyAVSource(videos[name], verify="tail") as tail, PyAVSource(videos[name], verify="full") as full:
            assert tail.metadata == full.metadata


@pytest.mark.parametrize("name", [*DECORD_SEEKS_EXACTLY, "truncated.mkv"])
def test_decord_and_pyav_return_the_same_frames(videos, name):
    with open_video(videos[name], "decord") as decord_source, open_video(videos[name], "pyav") as pyav_source:
        assert decord_source.metadata.num_frames == pyav_source.metadata.num_frames
        assert decord_source.metadata.keyframes == pyav_source.metadata.keyframes
        indices = list(range(pyav_source.metadata.num_frames))[::-1]
        from_decord, from_pyav = decord_source.get_frames(indices), pyav_source.get_frames(indices)
    assert read_codes(from_decord) == read_codes(from_pyav)
    # The same decoded pictures; RGB conversion may differ by a rounding step between FFmpeg builds.
    assert np.abs(from_decord.astype(int) - from_pyav.astype(int)).max() <= 2


@pytest.mark.parametrize("name", ["mpeg4_bframes.mp4", "starts_mid_gop.mkv"])
def test_decord_is_refused_where_its_keyframe_table_disagrees_and_auto_uses_pyav(videos, name):
    # MPEG-4 part 2: keyframes numbered in decode order, seeks land 2 frames off; mid-GOP start:
    # decord counts the 7 undecodable leading frames.
    path = videos[name]
    expected = plain_decode_codes(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DamagedVideoWarning)
        with pytest.raises(VideoDecodeError, match=f"{name}.*keyframe table"):
            open_video(path, "decord")
        with open_video(path) as source:
            assert source.metadata.backend == "pyav"
            assert read_codes(source.get_frames([len(expected) - 1, 12, 13])) == [expected[-1], expected[12], expected[13]]


def test_auto_prefers_decord_and_falls_back_to_pyav_for_files_decord_cannot_open(videos):
    with open_video(videos["h264_bframes.mp4"]) as source:
        assert source.metadata.backend == "decord"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DamagedVideoWarning)
        with open_video(videos["truncated_faststart.mp4"]) as source:  # decord 0.6 fails to open this one
            assert source.metadata.num_frames > 20
            assert read_codes(source.get_frames([0, 1, 2])) == [0, 1, 2]


def test_both_backends_are_installed_for_the_tests():
    # decord is a dev dependency: without it the decord comparisons above would silently not run.
    assert set(BACKENDS) == {"decord", "pyav"}
