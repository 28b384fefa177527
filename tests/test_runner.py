"""The prediction runner end to end on tiny models and generated videos (no readers needed)."""

import json

import pytest
from helpers.make_videos import VideoSpec, write_coded_video

from infvideo.data.record import QuestionRecord
from infvideo.eval.backends import build_backend
from infvideo.eval.config import load_config
from infvideo.eval.predictions import merge_shards, read_records
from infvideo.eval.runner import run_predictions


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    return {name: write_coded_video(folder / f"{name}.mp4", VideoSpec(name, frames)) for name, frames in (("v1", 40), ("v2", 25))}


def records(videos, broken_path):
    rows = [
        QuestionRecord("v1_0", "nextqa", "v1", str(videos["v1"]), "what happens first?", ("a", "b", "c", "d", "e"), 2),
        QuestionRecord("v1_1", "nextqa", "v1", str(videos["v1"]), "why?", ("a", "b", "c", "d", "e"), 0),
        QuestionRecord("bad_0", "nextqa", "bad", str(broken_path), "what?", ("a", "b", "c", "d", "e"), 1),
        QuestionRecord("v2_0", "nextqa", "v2", str(videos["v2"]), "how many?", ("a", "b", "c", "d", "e"), 4),
    ]
    return rows


def config_for(tmp_path, model="video_llama", **extra):
    overrides = [
        f"model.name={model}",
        f"run.output_dir={tmp_path / 'runs'}",
        "sampling.frames_per_chunk=4",
        "sampling.num_chunks=2",
        "memory.num_basis=16",
        "memory.num_samples=32",
        "memory.sticky=true",
        "model.alpha=0.5",
        "generation.max_new_tokens=6",
        *[f"{k}={v}" for k, v in extra.items()],
    ]
    return load_config(overrides=overrides)


@pytest.mark.parametrize("model", ["video_llama", "videochat2"])
def test_a_run_answers_records_errors_and_resumes(tmp_path, videos, model):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"")  # a zero-byte file
    config = config_for(tmp_path, model)
    directory = run_predictions(config, records(videos, broken), progress=False).directory
    lines = list(read_records(directory / "predictions.jsonl"))
    assert [line["id"] for line in lines] == ["v1_0", "v1_1", "bad_0", "v2_0"]
    bad = lines[2]
    assert bad["prediction"] is None and "broken.mp4" in bad["error"]
    good = [line for line in lines if "error" not in line]
    assert all(isinstance(line["prediction"], str) and line["answer"] for line in good)
    assert good[0]["timings"]["encode"] > 0 and good[1]["timings"]["encode"] == 0  # one encoding per video
    assert (directory / "config.yaml").exists() and json.loads((directory / "env.json").read_text())["packages"]["torch"]
    # A second run finds everything done and touches nothing.
    before = (directory / "predictions.jsonl").read_bytes()
    assert run_predictions(config, records(videos, broken), progress=False).directory == directory
    assert (directory / "predictions.jsonl").read_bytes() == before


def test_resume_after_a_torn_line_and_shards_merge_to_the_single_run(tmp_path, videos):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    config = config_for(tmp_path)
    backend = build_backend(config)
    single = run_predictions(config, records(videos, broken), backend=backend, progress=False).directory
    full = {line["id"]: line for line in read_records(single / "predictions.jsonl")}

    # Kill mid-way: keep the first line and half of the second, then resume.
    resumed_config = config_for(tmp_path, **{"run.name": "resumed"})
    path = single.parent / "resumed" / "predictions.jsonl"
    path.parent.mkdir(parents=True)
    text = (single / "predictions.jsonl").read_text().splitlines(keepends=True)
    path.write_text(text[0] + text[1][: len(text[1]) // 2])
    run_predictions(resumed_config, records(videos, broken), backend=backend, progress=False)
    resumed = {line["id"]: line for line in read_records(path)}
    assert resumed.keys() == full.keys()
    assert all(resumed[k]["prediction"] == full[k]["prediction"] for k in full)

    # Two shards, merged, give the same answers as the single run.
    for index in range(2):
        sharded = config_for(tmp_path, **{"run.name": "sharded", "run.shard": f"{index}/2"})
        directory = run_predictions(sharded, records(videos, broken), backend=backend, progress=False).directory
    assert merge_shards(directory).records_after == 4
    merged = {line["id"]: line for line in read_records(directory / "predictions.jsonl")}
    assert {k: v["prediction"] for k, v in merged.items()} == {k: v["prediction"] for k, v in full.items()}


def test_token_cache_reuses_frame_tokens_across_memory_settings(tmp_path, videos, monkeypatch):
    broken = tmp_path / "missing.mp4"
    cache = tmp_path / "tokens"
    first = config_for(tmp_path, **{"run.token_cache": str(cache)})
    backend = build_backend(first)
    calls = []
    original = backend.encode_chunk
    monkeypatch.setattr(backend, "encode_chunk", lambda frames: calls.append(1) or original(frames))
    run_predictions(first, records(videos, broken), backend=backend, progress=False)
    encoded = len(calls)
    assert encoded == 4  # two videos × two chunks (the missing file fails before encoding)
    second = config_for(tmp_path, **{"run.token_cache": str(cache), "memory.tau": 0.5})
    run_predictions(second, records(videos, broken), backend=backend, progress=False)
    assert len(calls) == encoded  # the sweep point reused every token


def test_extract_fills_the_cache_so_predict_never_encodes(tmp_path, videos, monkeypatch):
    from infvideo.eval.runner import extract_tokens

    broken = tmp_path / "missing.mp4"
    config = config_for(tmp_path, **{"run.token_cache": str(tmp_path / "tokens")})
    backend = build_backend(config)
    summary = extract_tokens(config, records(videos, broken), backend=backend)
    assert summary["videos"] == 3 and summary["encoded"] == 3 and list(summary["failures"]) == [str(broken)]
    monkeypatch.setattr(backend, "encode_chunk", lambda frames: pytest.fail("the vision encoder ran"))
    directory = run_predictions(config, records(videos, broken), backend=backend, progress=False).directory
    assert sum("error" not in line for line in read_records(directory / "predictions.jsonl")) == 3
