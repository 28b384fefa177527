"""Prefetching videos in worker processes: same answers as the serial path, failures stay with
their video, cached tokens skip decoding (infvideo.video.prefetch, runner with decode_workers)."""

import os

import numpy as np
import pytest
from helpers.make_videos import VideoSpec, read_codes, write_coded_video

from infvideo.data.record import QuestionRecord
from infvideo.errors import UserError
from infvideo.eval.backends import build_backend
from infvideo.eval.config import config_hash, load_config
from infvideo.eval.predictions import read_records
from infvideo.eval.runner import run_predictions
from infvideo.video.prefetch import ChunkPlan, StageTimes, VideoJob, WorkerCrashed, prefetch_videos


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    return {
        name: write_coded_video(folder / f"{name}.mp4", VideoSpec(name, frames)) for name, frames in (("v1", 40), ("v2", 25), ("v3", 33))
    }


def records(videos, broken):
    options = ("a", "b", "c", "d", "e")
    return [
        QuestionRecord("v1_0", "nextqa", "v1", str(videos["v1"]), "what happens first?", options, 2),
        QuestionRecord("v1_1", "nextqa", "v1", str(videos["v1"]), "why?", options, 0),
        QuestionRecord("bad_0", "nextqa", "bad", str(broken), "what?", options, 1),
        QuestionRecord("v2_0", "nextqa", "v2", str(videos["v2"]), "how many?", options, 4),
        QuestionRecord("v3_0", "nextqa", "v3", str(videos["v3"]), "where?", options, 3),
    ]


def config_for(tmp_path, model="video_llama", **extra):
    overrides = [
        f"model.name={model}",
        f"run.output_dir={tmp_path / 'runs'}",
        "sampling.frames_per_chunk=4",
        "sampling.num_chunks=3",
        "memory.num_basis=16",
        "memory.num_samples=32",
        "memory.sticky=true",
        "model.alpha=0.5",
        "generation.max_new_tokens=6",
        *[f"{k}={v}" for k, v in extra.items()],
    ]
    return load_config(overrides=overrides)


def answers(directory):
    return {line["id"]: (line["prediction"], line.get("error")) for line in read_records(directory / "predictions.jsonl")}


@pytest.mark.parametrize("model", ["video_llama", "videochat2"])
def test_workers_give_the_serial_answers_and_a_bad_video_fails_alone(tmp_path, videos, model):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    serial = run_predictions(
        config_for(tmp_path, model, **{"sampling.decode_workers": 0, "run.name": "serial"}), records(videos, broken), progress=False
    )
    parallel = run_predictions(
        config_for(tmp_path, model, **{"sampling.decode_workers": 2, "sampling.prefetch_chunks": 2, "run.name": "workers"}),
        records(videos, broken),
        progress=False,
    )
    expected = answers(serial.directory)
    assert answers(parallel.directory) == expected
    assert expected["bad_0"][0] is None and "broken.mp4" in expected["bad_0"][1]
    assert sum(error is None for _, error in expected.values()) == 4
    assert parallel.stages["chunks"] == 9 and parallel.stages["decode"] > 0 and parallel.stages["preprocess"] > 0  # 3 videos x 3 chunks


def test_cached_tokens_are_never_decoded(tmp_path, videos):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"")
    cache = tmp_path / "tokens"
    first = config_for(tmp_path, **{"run.token_cache": str(cache), "sampling.decode_workers": 2, "run.name": "first"})
    backend = build_backend(first)
    run_predictions(first, records(videos, broken), backend=backend, progress=False)
    # The videos are gone: a run that decoded anything would now fail on them.
    moved = {name: path.with_suffix(".gone") for name, path in videos.items()}
    for name, path in videos.items():
        path.rename(moved[name])
    try:
        second = config_for(
            tmp_path, **{"run.token_cache": str(cache), "sampling.decode_workers": 2, "memory.tau": 0.5, "run.name": "second"}
        )
        summary = run_predictions(second, records(videos, broken), backend=backend, progress=False)
    finally:
        for name, path in videos.items():
            moved[name].rename(path)
    assert summary.answered == 4 and summary.errors == 1 and summary.stages["chunks"] == 0


def _crash_on_three_frames(frames, size):
    """Passes frames on, but kills its worker process on a chunk of 3 frames, as a decoder crash would."""
    if frames.shape[0] == 3:
        os._exit(3)
    return frames


PLAN = ChunkPlan("segment_centres", 4, 3)


def job(path, plan=PLAN, preprocess=None):
    return VideoJob(str(path), "pyav", None, plan, preprocess, 0)


def test_a_dead_worker_fails_its_video_and_a_new_worker_goes_on(videos):
    every, three = ChunkPlan("all_frames", 9, 1), ChunkPlan("segment_centres", 3, 1)  # only the second job has a 3-frame chunk
    jobs = [job(videos[name], plan, _crash_on_three_frames) for name, plan in (("v1", every), ("v2", three), ("v3", every), ("v1", every))]
    results = []
    for video in prefetch_videos(jobs, workers=1, depth=2):
        try:
            results.append([read_codes(chunk) for chunk in video])
        except WorkerCrashed as error:
            results.append(str(error))
    assert results[0][0] == list(range(9)) and len(results[0]) == 5
    assert "v2.mp4" in results[1] and "worker died" in results[1]
    assert sum(map(len, results[2])) == 33 and results[3] == results[0]


@pytest.mark.parametrize("workers", [0, 2])
def test_an_abandoned_video_does_not_leak_into_the_next(videos, workers):
    plan = ChunkPlan("all_frames", 4, 1)
    times = StageTimes()
    prepared = prefetch_videos([job(videos["v1"], plan), None, job(videos["v2"], plan)], workers=workers, depth=1, times=times)
    first = next(prepared)
    assert read_codes(next(iter(first))) == [0, 1, 2, 3]  # then abandoned: 9 more chunks never taken
    assert next(prepared) is None
    second = [codes for chunk in next(prepared) for codes in read_codes(chunk)]
    assert second == list(range(25))
    assert times.chunks == 8 and times.decode > 0
    prepared.close()


def test_settings_are_checked_and_do_not_change_the_run_identity(tmp_path):
    base = config_for(tmp_path)
    assert config_hash(config_for(tmp_path, **{"sampling.decode_workers": 3, "sampling.prefetch_chunks": 8})) == config_hash(base)
    with pytest.raises(UserError, match="decode_workers.*prefetch_chunks"):
        run_predictions(config_for(tmp_path, **{"sampling.decode_workers": -1, "sampling.prefetch_chunks": 0}), [], progress=False)


def test_pixels_cross_the_process_boundary_unchanged(videos):
    from infvideo.video.preprocess import preprocess_videochat2

    plan = ChunkPlan("segment_centres", 4, 2)
    serial = [
        chunk for video in prefetch_videos([VideoJob(str(videos["v3"]), "pyav", 20, plan, preprocess_videochat2, 32)]) for chunk in video
    ]
    workers = [
        chunk
        for video in prefetch_videos([VideoJob(str(videos["v3"]), "pyav", 20, plan, preprocess_videochat2, 32)], workers=1)
        for chunk in video
    ]
    assert len(serial) == 2 and all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(serial, workers))


def test_extract_caches_the_same_tokens_with_workers_and_a_bad_video_fails_alone(tmp_path, videos):
    from infvideo.eval.runner import _token_key, extract_tokens
    from infvideo.eval.token_cache import TokenCache

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    rows = records(videos, broken)
    caches = {}
    for workers in (0, 2):
        config = config_for(tmp_path, **{"run.token_cache": str(tmp_path / f"tokens{workers}"), "sampling.decode_workers": workers})
        backend = build_backend(config)
        summary = extract_tokens(config, rows, backend=backend)
        assert summary["videos"] == 4 and summary["encoded"] == 4 and list(summary["failures"]) == [str(broken)]
        caches[workers] = (config, TokenCache(config.run.token_cache, backend.vision_signature()))
    for row in rows[:2] + rows[3:]:
        serial, parallel = (cache.load(_token_key(config, row)) for config, cache in caches.values())
        assert len(serial) == 3 and all(a.equal(b) for a, b in zip(serial, parallel, strict=True))


def _use_parallel_decoder(monkeypatch, min_frames):
    """Counts the parallel decoder's calls; two cores whatever the machine, ``min_frames`` for auto."""
    import infvideo.video.prefetch as prefetch
    from infvideo.video.parallel import ParallelDecoder

    calls = []
    original = ParallelDecoder.get_frames
    monkeypatch.setattr(ParallelDecoder, "get_frames", lambda self, indices: calls.append(self.path) or original(self, indices))
    monkeypatch.setattr(prefetch.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(prefetch, "PARALLEL_MIN_FRAMES", min_frames)
    return calls


@pytest.mark.parametrize("preprocess", [False, True])
def test_the_parallel_decoder_gives_the_same_chunks_and_leaves_no_process(videos, monkeypatch, preprocess):
    import multiprocessing

    from infvideo.video.preprocess import preprocess_videochat2

    calls = _use_parallel_decoder(monkeypatch, min_frames=30)
    before = set(multiprocessing.active_children())
    plan = ChunkPlan("segment_centres", 8, 2)  # 8 frames spread over half the video: several keyframe intervals

    def chunks(mode):
        jobs = [
            VideoJob(str(videos[name]), "pyav", None, plan, preprocess_videochat2 if preprocess else None, 32, mode)
            for name in ("v1", "v2")
        ]
        return [[np.asarray(chunk) for chunk in video] for video in prefetch_videos(jobs)]

    off = chunks("never")
    assert not calls
    on = chunks("always")
    assert calls.count(str(videos["v1"])) == 2 and calls.count(str(videos["v2"])) == 2
    calls.clear()
    auto = chunks("auto")
    assert calls == [str(videos["v1"])] * 2  # v2's 25 frames are under the threshold: decoded serially
    for got in (on, auto):
        assert all(np.array_equal(a, b) for video, expected in zip(got, off) for a, b in zip(video, expected, strict=True))
    if not preprocess:
        assert [read_codes(chunk) for chunk in on[0]] == [read_codes(chunk) for chunk in off[0]]
    assert set(multiprocessing.active_children()) <= before  # every video's pool was shut down


def test_workers_never_start_the_parallel_decoder(videos, monkeypatch):
    """Prefetch workers are daemon processes (no pools): a job asking for it is decoded serially there."""
    plan = ChunkPlan("all_frames", 10, 1)
    jobs = [VideoJob(str(videos["v1"]), "pyav", None, plan, None, 0, "always")]
    got = [codes for video in prefetch_videos(jobs, workers=1) for chunk in video for codes in read_codes(chunk)]
    assert got == list(range(40))


def test_predict_answers_do_not_depend_on_the_parallel_decoder(tmp_path, videos, monkeypatch):
    calls = _use_parallel_decoder(monkeypatch, min_frames=30)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    runs = {
        mode: run_predictions(
            config_for(tmp_path, **{"sampling.backend": "pyav", "sampling.parallel_decode": mode, "run.name": mode}),
            records(videos, broken),
            progress=False,
        )
        for mode in ("never", "always")
    }
    assert calls and answers(runs["always"].directory) == answers(runs["never"].directory)
    assert runs["always"].answered == 4 and runs["always"].errors == 1


def test_parallel_decode_is_checked(tmp_path):
    with pytest.raises(UserError, match="parallel_decode='sometimes'"):
        run_predictions(config_for(tmp_path, **{"sampling.parallel_decode": "sometimes"}), [], progress=False)
    with pytest.raises(UserError, match="parallel_decode=always needs PyAV"):
        run_predictions(config_for(tmp_path, **{"sampling.parallel_decode": "always", "sampling.backend": "decord"}), [], progress=False)
