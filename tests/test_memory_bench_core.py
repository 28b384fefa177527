"""The memory bench's haystacks, probes and cells (``infvideo.memory_bench``)."""

import json

import pytest
import torch

from infvideo.eval.token_cache import TokenCache
from infvideo.memory_bench import MEMORIES, Cell, run_cell
from infvideo.memory_bench.cell import measure_cell
from infvideo.memory_bench.haystack import (
    build_haystack,
    cached_background,
    content,
    decode_time,
    frame_times,
    needle_starts,
)
from infvideo.memory_bench.probes import (
    Projections,
    candidate_values,
    localisation_error,
    needle_queries,
    probe_needles,
    reconstruction_error,
    retrieval_scores,
)
from infvideo.memory_bench.zoo import ShortTermMemory

TIMINGS = ("seconds_per_chunk",)


def haystack(**overrides):
    settings = dict(chunks=8, frames_per_chunk=16, depth=0.5, needles=3, needle_frames=2, width=64, tokens_per_frame=1, seed=0)
    settings.update(overrides)
    return build_haystack(**settings)


class FixedReadout:
    """A hand-made memory whose read returns one chosen vector for every query."""

    def __init__(self, vector):
        self.vector = vector

    def reset(self):
        pass

    def update(self, x):
        pass

    def read(self, queries, key, value, num_heads):
        return self.vector.expand(queries.shape[0], queries.shape[1], -1)

    def state_numel(self):
        return self.vector.numel()


# -- generator ---------------------------------------------------------------------------------
@pytest.mark.parametrize("depth, expected", [(0.0, 0), (1.0, 128 - 3), (0.5, round(0.5 * 125)), (0.25, round(0.25 * 125))])
def test_the_probed_needle_sits_at_its_depth(depth, expected):
    hay = haystack(depth=depth, needle_frames=3, needles=1)
    assert hay.starts == (expected,)
    # Its direction stands out on exactly its frames, on every token.
    along = content(hay.pooled) @ content(hay.directions[0])
    top = set(along.topk(3).indices.tolist())
    assert top == set(range(expected, expected + 3))
    assert along[expected : expected + 3].min() > along[hay.needle_mask().logical_not()].max() + hay.needle_norm / 2
    assert abs(hay.needle_time(0) - (expected + 1.5) / 128) < 1e-9


def test_needles_are_spread_evenly_distinct_and_apart():
    starts = needle_starts(256, 4, 2, 0.1)
    assert starts[0] == round(0.1 * 254)
    assert sorted(starts) == sorted(round(((0.1 + j / 4) % 1) * 254) for j in range(4))
    hay = haystack(needles=4, depth=0.1)
    gram = content(hay.directions) @ content(hay.directions).T
    assert torch.allclose(gram, torch.eye(4), atol=1e-5)
    # ... and orthogonal to the background mean (a needle is not "the average frame").
    mean = content(hay.pooled[~hay.needle_mask()]).mean(0)
    assert (content(hay.directions) @ mean).abs().max() < 0.01 * mean.norm()
    with pytest.raises(ValueError):
        needle_starts(16, 8, 8, 0.0)  # they cannot fit apart
    with pytest.raises(ValueError):
        needle_starts(256, 1, 9, 0.0)


def test_time_code_and_background_statistics():
    hay = haystack(chunks=16, needles=1)
    assert torch.allclose(decode_time(hay.pooled), frame_times(256), atol=1e-5)
    # Temporally correlated: neighbouring frames are far closer than frames a video apart.
    fluctuation = content(hay.pooled) - content(hay.pooled).mean(0)
    near = torch.nn.functional.cosine_similarity(fluctuation[1:], fluctuation[:-1]).mean()
    far = torch.nn.functional.cosine_similarity(fluctuation[128:], fluctuation[:-128]).mean()
    assert near > 0.5 and abs(far) < 0.3
    assert hay.frames.shape == (256, 1, 64)
    assert haystack(tokens_per_frame=4).frames.shape == (128, 4, 64)


def test_haystacks_are_seeded():
    assert torch.equal(haystack(seed=3).frames, haystack(seed=3).frames)
    assert not torch.equal(haystack(seed=3).frames, haystack(seed=4).frames)


# -- probes on hand-made memories ----------------------------------------------------------------
def _parts(**overrides):
    hay = haystack(**overrides)
    projections = Projections.random_orthogonal(hay.frames.shape[-1], seed=0)
    generator = torch.Generator().manual_seed(1)
    queries = needle_queries(hay, projections, generator)
    return hay, projections, queries, candidate_values(hay, projections, generator)


def test_a_readout_equal_to_the_needle_is_retrieved_and_localised():
    hay, projections, queries, candidates = _parts()
    for k in range(3):
        readout = projections.values(hay.pooled[hay.needle_slice(k)].mean(0))
        scores = probe_needles(FixedReadout(readout), hay, projections, queries, candidates)[k]
        assert scores["retrieved"] and scores["rank"] == 1 and scores["margin"] > 0.1
        assert scores["cosine"] == pytest.approx(1.0, abs=1e-5)
        assert scores["localisation_error"] < 0.5 / hay.num_frames
        assert scores["reconstruction_error"] is None  # it keeps no tokens


def test_a_readout_equal_to_a_distractor_is_not_retrieved():
    hay, projections, queries, candidates = _parts()
    other_needle = projections.values(hay.pooled[hay.needle_slice(1)].mean(0))
    scores = retrieval_scores(other_needle, 0, candidates)
    assert not scores["retrieved"] and scores["rank"] >= 2 and scores["margin"] < 0
    background = projections.values(hay.pooled[~hay.needle_mask()].mean(0))
    scores = retrieval_scores(background, 0, candidates)
    assert not scores["retrieved"] and scores["margin"] < 0
    # The background's time code is the middle of the video: localisation is off by |0.5 − t|.
    assert localisation_error(background, hay.needle_time(2)) == pytest.approx(abs(0.5 - hay.needle_time(2)), abs=0.02)


def test_reconstruction_is_exact_where_the_needle_is_kept_and_poor_where_it_is_not():
    hay, *_ = _parts()
    memory = ShortTermMemory()
    memory.update(hay.pooled[None, hay.needle_slice(0)])
    assert reconstruction_error(memory, hay, 0, None) == pytest.approx(0.0, abs=1e-6)
    memory.update(hay.pooled[None, hay.needle_slice(0).stop + 20 : hay.needle_slice(0).stop + 36])
    assert reconstruction_error(memory, hay, 0, None) > 0.5


def test_the_continuous_density_peaks_at_a_needle_it_holds():
    # One chunk: the memory is a fit of the frames themselves, so the density must peak at the needle.
    metrics = run_cell(Cell("continuous", (("num_basis", 64),), chunks=1, frames_per_chunk=64, depth=0.3))
    assert metrics["retrieved"]
    assert metrics["density_peak_error"] < 2 / 64
    assert metrics["localisation_error"] < 2 / 64
    assert metrics["reconstruction_error"] < 0.5


# -- sanity rows ---------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [0.0, 0.25, 0.5, 0.75, 1.0])
def test_full_attention_retrieves_every_needle_at_every_depth(depth):
    metrics = run_cell(Cell("full", chunks=16, depth=depth, needles=4))
    assert metrics["retrieved"] and metrics["recall"] == 1.0 and metrics["rank"] == 1
    assert metrics["localisation_error"] < 2 / 256
    assert metrics["reconstruction_error"] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("depth", [0.0, 0.3, 0.97])
def test_short_term_retrieves_exactly_the_needles_in_the_last_chunk(depth):
    cell = Cell("short_term", chunks=4, frames_per_chunk=16, depth=depth, needles=8, needle_frames=2)
    metrics, per_needle, hay = measure_cell(cell)
    last = cell.chunks - 1
    in_last = [hay.needle_chunks(k) == {last} for k in range(8)]
    assert any(in_last) and not all(in_last)
    assert [p["retrieved"] for p in per_needle] == in_last
    assert metrics["recall"] == sum(in_last) / 8
    assert metrics["state_bytes"] == 16 * 64 * 4


# -- determinism, memories, real tokens --------------------------------------------------------
@pytest.mark.parametrize("memory, options", [("continuous", (("sticky", True), ("num_basis", 64))), ("moviechat", ()), ("malmm", ())])
def test_same_seed_same_metrics(memory, options):
    cell = Cell(memory, options, chunks=8, needles=2, seed=5)
    first, second = run_cell(cell), run_cell(cell)
    for name in TIMINGS:
        first.pop(name), second.pop(name)
    assert first == second
    json.dumps(first)  # JSON-serialisable as it is


@pytest.mark.parametrize(
    "options",
    [(("sticky", False),), (("sticky", True),), (("attention", "gaussian"), ("num_basis", 64)), (("tau", 0.5), ("num_samples", 128))],
)
def test_continuous_variants_run(options):
    metrics = run_cell(Cell("continuous", options, chunks=8, needles=2))
    assert isinstance(metrics["retrieved"], bool) and 0.0 <= metrics["recall"] <= 1.0
    assert metrics["density_peak_error"] is not None and metrics["reconstruction_error"] is not None
    assert metrics["state_bytes"] <= metrics["state_bytes_max"]


def test_every_memory_runs_and_bounded_memories_stay_bounded():
    for name in MEMORIES:
        short, long = run_cell(Cell(name, chunks=4)), run_cell(Cell(name, chunks=32))
        if name == "full":
            assert long["state_bytes"] == 8 * short["state_bytes"]
        elif name != "moviechat":  # MovieChat's LTM grows by 2 slots a window up to 256
            assert long["state_bytes_max"] <= max(short["state_bytes_max"], 70_000)


def test_cell_key_is_stable_and_options_are_sorted():
    a = Cell("continuous", (("tau", 0.5), ("sticky", True)))
    b = Cell("continuous", (("sticky", True), ("tau", 0.5)))
    assert a == b and a.key() == b.key()
    assert a.options == (("sticky", True), ("tau", 0.5))
    assert json.loads(a.key())["options"] == {"sticky": True, "tau": 0.5}
    assert a.key() != Cell("continuous", (("tau", 0.5),)).key()
    with pytest.raises(ValueError):
        Cell("nope")
    with pytest.raises(TypeError):
        run_cell(Cell("continuous", (("bogus", 1),)))


def test_real_source_from_a_token_cache(tmp_path):
    cache = TokenCache(tmp_path, {"model": "test"})
    g = torch.Generator().manual_seed(0)
    # Two short "videos" of 3 chunks × 8 frames × 4 tokens × 96 channels, smooth over time.
    for name in ("a", "b"):
        walk = torch.randn(24, 4, 96, generator=g).cumsum(0) * 0.1 + torch.randn(96, generator=g)
        cache.save({"video": name}, list(walk.split(8)), {"chunks": []})
    background = cached_background(tmp_path, 64, 2, 62, torch.Generator().manual_seed(0))
    assert background.shape == (64, 2, 62)  # 48 cached frames tiled to 64; 4 tokens -> 2; 96 -> 62
    assert torch.equal(background[48:], background[:16])  # tiled from the first video on
    cell = Cell("full", chunks=8, frames_per_chunk=8, depth=0.4, needles=2, tokens_per_frame=2, source=str(tmp_path))
    metrics = run_cell(cell)
    assert metrics["retrieved"] and metrics["recall"] == 1.0
    assert run_cell(cell)["margin"] == metrics["margin"]
    short = run_cell(Cell("short_term", chunks=8, frames_per_chunk=8, depth=0.4, source=str(tmp_path)))
    assert not short["retrieved"]


def test_a_real_layers_projections_from_a_run_config(tmp_path):
    """The probe through a model's own memory-layer key/value (here the tiny preset's), not random ones;
    the cells say which projections they used, so results of the two never mix."""

    from infvideo.memory_bench.probes import layer_projections

    config = "tiny/nextqa"  # a shipped config, by name
    projections, label, width = layer_projections(str(config))
    assert label.startswith("video_llama/tiny/") and width == projections.key.linear.in_features
    cell = Cell("full", chunks=4, frames_per_chunk=8, width=width, projections=label)
    metrics = run_cell(cell, projections)
    assert metrics["retrieved"] and metrics["rank"] == 1
    assert Cell("full", chunks=4, frames_per_chunk=8, width=width).key() != cell.key()
    with pytest.raises(ValueError, match="projections"):
        run_cell(cell)  # a labelled cell without its projections
