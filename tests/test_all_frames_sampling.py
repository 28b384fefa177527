"""The ``all_frames`` sampling mode: every frame of the video, in consecutive chunks of
``frames_per_chunk``, the last one shorter — as the reference feeds Video-LLaMA on NExT-QA and NExT-OE.

The reference (deep-spin/Infinite-Video, commit 908be51,
``infty-Video-LLaMA/eval_code/eval/run_inference_inf_video_llama_nextqa.py``; ``..._nextoe.py`` has
the same lines) loads the video's whole frame tensor (line 219), cuts it with
``torch.split(video, max_int, dim=1)`` (line 228) and encodes every piece in order, the short last one
as it is (lines 184-192); the model keeps all of a piece's frames (``InfVideoLLaMA/models/infinityqa.py``
lines 272-278) and sizes its frame-position table to the piece (line 286, ceil(sqrt(L)) per side).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from helpers.make_videos import VideoSpec, read_codes, write_coded_video

from infvideo.cli.paper import inference_config
from infvideo.data.record import QuestionRecord
from infvideo.eval.backends import build_backend
from infvideo.eval.config import load_config
from infvideo.eval.predictions import read_records
from infvideo.eval.runner import encode_video, run_predictions, sample_chunks
from infvideo.eval.token_cache import TokenCache

REPO = Path(__file__).resolve().parents[1]
OPTIONS = ("a", "b", "c", "d", "e")


def reference_fragments(num_frames: int, max_int: int) -> list[list[int]]:
    """The reference's ``get_video_fragments`` for ``task != "video_llama"`` (nextqa.py lines 218-229),
    on frame numbers instead of pixels: ``torch.split(video, n_frames, dim=1)``."""
    video = torch.arange(num_frames).reshape(1, num_frames)  # [C=1, T]
    return [piece[0].tolist() for piece in torch.split(video, max_int, dim=1)]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("all_frames_videos")
    specs = {"long": 300, "seventeen": 17, "one": 1}
    return {name: write_coded_video(folder / f"{name}.mp4", VideoSpec(name, frames)) for name, frames in specs.items()}


def config_for(tmp_path, **extra):
    overrides = [
        "model.name=video_llama",
        f"run.output_dir={tmp_path / 'runs'}",
        "sampling.rule=all_frames",
        "sampling.frames_per_chunk=16",
        "sampling.num_chunks=8",
        "sampling.backend=pyav",
        "memory.num_basis=16",
        "memory.num_samples=32",
        "memory.sticky=true",
        "model.alpha=0.5",
        "generation.max_new_tokens=6",
        *[f"{k}={v}" for k, v in extra.items()],
    ]
    return load_config(overrides=overrides)


def record(video: Path, name: str, **extra) -> QuestionRecord:
    return QuestionRecord(f"{name}_0", "nextqa", name, str(video), "what happens?", OPTIONS, 1, **extra)


class RecordingBackend:
    """Only ``encode_chunk``: logs each call and returns one small token row per frame."""

    def __init__(self, log: list):
        self.log = log

    def encode_chunk(self, frames):
        self.log.append(("encode", read_codes(frames)))
        return torch.zeros(len(frames), 2, 4)


def spy_on_decoding(monkeypatch, log: list) -> None:
    """Make every video source the runner opens (through the prefetcher) log each frame request."""
    from infvideo.video import source as source_module

    original = source_module.open_video

    class Spy:
        def __init__(self, source):
            self.source, self.metadata = source, source.metadata

        def get_frames(self, indices):
            log.append(("decode", list(indices)))
            return self.source.get_frames(indices)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.source.__exit__(*exc)

    monkeypatch.setattr(source_module, "open_video", lambda path, backend, **options: Spy(original(path, backend, **options).__enter__()))


def test_sample_chunks_is_the_references_split_of_the_whole_video(tmp_path):
    """nextqa.py line 228: ``torch.split(video, max_int, dim=1)`` over every frame; ``num_chunks`` is not read."""
    for chunks in (1, 8):
        config = config_for(tmp_path, **{"sampling.frames_per_chunk": 256, "sampling.num_chunks": chunks})
        for frames in (1, 255, 256, 257, 1300, 2048, 2049, 5400):
            assert sample_chunks(config, frames) == reference_fragments(frames, 256), (frames, chunks)
    assert [len(c) for c in sample_chunks(config, 1300)] == [256] * 5 + [20]


def test_a_long_video_is_decoded_one_chunk_at_a_time(tmp_path, videos, monkeypatch):
    """Memory stays flat: the source is asked for at most one chunk of frames, and each chunk is
    encoded before the next is decoded, so only one chunk of pixels is ever alive."""
    log = []
    spy_on_decoding(monkeypatch, log)
    config = config_for(tmp_path)
    tokens = encode_video(config, RecordingBackend(log), record(videos["long"], "long"), cache=None)
    requests = [indices for kind, indices in log if kind == "decode"]
    assert max(len(r) for r in requests) == 16
    assert requests == reference_fragments(300, 16) and len(requests) == math.ceil(300 / 16)
    assert [kind for kind, _ in log] == ["decode", "encode"] * len(requests)  # interleaved, never read ahead
    assert [indices for kind, indices in log if kind == "encode"] == requests  # the right frames, in order
    assert [t.shape[0] for t in tokens] == [16] * 18 + [12]


def test_breakpoint_mode_reads_every_frame_up_to_the_breakpoint(tmp_path, videos, monkeypatch):
    log = []
    spy_on_decoding(monkeypatch, log)
    question = record(videos["long"], "long", mode="breakpoint", time=49)
    encode_video(config_for(tmp_path), RecordingBackend(log), question, cache=None)
    assert [indices for kind, indices in log if kind == "decode"] == reference_fragments(50, 16)


def test_the_token_cache_tells_all_frames_from_sampled_frames(tmp_path, videos):
    log = []
    backend = RecordingBackend(log)
    cache = TokenCache(tmp_path / "tokens", {"model": "recording"})
    question = record(videos["seventeen"], "seventeen")
    sampled = config_for(tmp_path, **{"sampling.rule": "uniform", "sampling.frames_per_chunk": 8, "sampling.num_chunks": 2})
    every = config_for(tmp_path, **{"sampling.frames_per_chunk": 8, "sampling.num_chunks": 2})
    assert [t.shape[0] for t in encode_video(sampled, backend, question, cache)] == [8, 8]
    assert [t.shape[0] for t in encode_video(every, backend, question, cache)] == [8, 8, 1]  # not the cached 8 x 2
    assert cache.misses == 2 and cache.hits == 0
    # num_chunks is not read in this mode, so it does not split the cache either.
    encoded = len(log)
    other_count = config_for(tmp_path, **{"sampling.frames_per_chunk": 8, "sampling.num_chunks": 5})
    assert [t.shape[0] for t in encode_video(other_count, backend, question, cache)] == [8, 8, 1]
    assert len(log) == encoded and cache.hits == 1


@pytest.mark.parametrize("compat", [False, True], ids=["exact", "reference_compat"])
def test_tiny_video_llama_answers_with_a_one_frame_last_chunk(tmp_path, videos, compat):
    """17 frames in chunks of 8 end with a 1-frame chunk; a 1-frame video is a single 1-frame chunk.
    The reference encodes such a piece like any other (infinityqa.py lines 272-278: every frame kept;
    line 286: a 1x1 position table) and averages its embedding with the others (nextqa.py line 194)."""
    config = config_for(tmp_path, **{"sampling.frames_per_chunk": 8, "model.reference_compat": compat})
    backend = build_backend(config)
    lengths = []
    original = backend.encode_chunk
    backend.encode_chunk = lambda frames: lengths.append(len(frames)) or original(frames)
    questions = [record(videos["seventeen"], "seventeen"), record(videos["one"], "one")]
    directory = run_predictions(config, questions, backend=backend, progress=False).directory
    lines = list(read_records(directory / "predictions.jsonl"))
    assert [line["id"] for line in lines] == ["seventeen_0", "one_0"]
    assert all("error" not in line and isinstance(line["prediction"], str) for line in lines), lines
    assert lengths == [8, 8, 1, 1]


@pytest.mark.parametrize("benchmark", ["nextqa", "nextoe"])
def test_video_llama_next_configs_and_scripts_feed_every_frame_in_chunks_of_256(benchmark):
    """The reference's README runs NExT-QA with ``--max_int 256`` (README.md line 39)."""
    for config in (load_config(f"video_llama/{benchmark}"), inference_config("video_llama", benchmark, ["--max_int", "256", "--sticky"])):
        assert (config.sampling.rule, config.sampling.frames_per_chunk) == ("all_frames", 256)
        assert sample_chunks(config, 1300) == reference_fragments(1300, 256)
