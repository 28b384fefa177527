"""Speed paths: a host-sync-free memory, static-cache generation, Q-former autocast, ViT sub-batches.

The machine running the suite may have no GPU, so the device properties are checked by proxy: the
memory's hot path is run with every Python-level way of reading a tensor value back to the host
patched to raise (which is what a host-device synchronisation would need), and the generation and
precision switches are compared against their eager / fp32 counterparts on the tiny models.
"""

from __future__ import annotations

import contextlib

import pytest
import torch
from torch import nn

import infvideo.memory.base as memory_base
from infvideo.memory import ContinuousMemory


@contextlib.contextmanager
def no_host_reads(monkeypatch):
    """Fail on any read of a tensor value into Python: ``.item()``, ``.tolist()``, ``bool``/``float``/
    ``int`` of a tensor (so also ``if tensor:``), and ``.cpu()``/``.numpy()``. Value checks take the
    device branch (``torch._assert_async``), as they would on a GPU."""

    def refuse(name):
        def raise_(*args, **kwargs):
            raise AssertionError(f"host read of a tensor value: Tensor.{name}")

        return raise_

    with monkeypatch.context() as patch:
        for name in ("item", "tolist", "__bool__", "__float__", "__int__", "cpu", "numpy"):
            patch.setattr(torch.Tensor, name, refuse(name))
        patch.setattr(memory_base, "checks_wait_for_values", lambda x: False)
        yield


def _stream(memory: ContinuousMemory, chunks, queries, key, value, heads=4):
    out = []
    for x in chunks:
        memory.update(x)
        out.append(memory.read(queries, key, value, heads))
    return out


@pytest.mark.parametrize(
    "options",
    [
        dict(),
        dict(sticky=True),
        dict(sticky=True, sticky_sort=False, sticky_jitter=False),
        dict(attention="gaussian"),
        dict(attention="gibbs", basis="gaussian", sticky=True),
    ],
    ids=["uniform", "sticky", "sticky-plain", "gaussian", "gibbs-grid-sticky"],
)
def test_memory_update_read_make_no_host_reads_and_same_numbers(monkeypatch, options):
    torch.manual_seed(0)
    width, batch = 32, 2
    key, value = nn.Linear(width, width), nn.Linear(width, width)
    chunks = [torch.randn(batch, length, width) for length in (8, 8, 5, 8)]
    queries = torch.randn(batch, 6, width)

    def run(guard):
        memory = ContinuousMemory(num_basis=16, num_samples=24, **options)
        memory.reset(generator=torch.Generator().manual_seed(3))
        with torch.no_grad(), guard:
            out = _stream(memory, chunks, queries, key, value)
        return out, memory.coefficients

    # Warm the per-device constant caches (built once, outside the hot path) before guarding.
    expected, coefficients = run(contextlib.nullcontext())
    got, got_coefficients = run(no_host_reads(monkeypatch))
    for a, b in zip(expected, got):
        assert torch.equal(a, b)
    assert torch.equal(coefficients, got_coefficients)


def test_memory_device_checks_still_fire(monkeypatch):
    """With the device branch forced on a CPU, a bad input still fails (as a device assertion)."""
    memory = ContinuousMemory(num_basis=8, num_samples=8)
    monkeypatch.setattr(memory_base, "checks_wait_for_values", lambda x: False)
    with pytest.raises(RuntimeError):
        memory.update(torch.full((1, 4, 8), float("nan")))


def test_memory_host_checks_raise_value_error():
    memory = ContinuousMemory(num_basis=8, num_samples=8)
    with pytest.raises(ValueError, match="NaN or Inf"):
        memory.update(torch.full((1, 4, 8), float("nan")))


# -- generation: static KV cache (and the compiled step) give the eager greedy tokens -------------------
from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM  # noqa: E402

from infvideo.models.base import GenerationSettings, generate_from_embeddings  # noqa: E402


def _tiny_llm(kind):
    torch.manual_seed(0)
    common = dict(vocab_size=400, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4)
    if kind == "llama":
        return LlamaForCausalLM(LlamaConfig(num_key_value_heads=4, max_position_embeddings=2048, **common)).eval()
    return MistralForCausalLM(MistralConfig(num_key_value_heads=2, max_position_embeddings=512, sliding_window=None, **common)).eval()


def _greedy(model, embeds, **settings):
    with torch.inference_mode():
        return generate_from_embeddings(model, embeds, GenerationSettings(max_new_tokens=24, **settings), eos_token_id=None, pad_token_id=0)


@pytest.mark.parametrize("kind", ["llama", "mistral"])
def test_static_cache_greedy_tokens_equal_the_dynamic_cache(kind):
    model = _tiny_llm(kind)
    embeds = torch.randn(1, 30, 64, generator=torch.Generator().manual_seed(1))
    expected = _greedy(model, embeds)
    assert torch.equal(_greedy(model, embeds, cache="static"), expected)
    assert torch.equal(_greedy(model, embeds, cache="static", cache_length=200), expected)


def test_static_cache_stays_eager_unless_compile_is_asked(monkeypatch):
    seen = {}
    model = _tiny_llm("llama")
    original = model.generate

    def spy(**kwargs):
        seen.update(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(model, "generate", spy)
    _greedy(model, torch.randn(1, 5, 64), cache="static")
    assert seen["cache_implementation"] == "static" and seen["disable_compile"] is True


def test_compile_needs_a_static_cache():
    with pytest.raises(ValueError, match="static"):
        GenerationSettings(compile=True)
    with pytest.raises(ValueError, match="cache"):
        GenerationSettings(cache="paged")


def test_compiled_static_decoding_gives_the_eager_tokens(monkeypatch):
    """The compiled step on a CPU (inductor, ~30 s; the machine image has the C++ compiler it needs):
    same greedy tokens, and every decode step goes through our step, which marks a CUDA-graph step
    boundary first."""
    model = _tiny_llm("llama")
    embeds = torch.randn(1, 30, 64, generator=torch.Generator().manual_seed(1))
    expected = _greedy(model, embeds)
    marks = []
    original = torch.compiler.cudagraph_mark_step_begin
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: (marks.append(1), original())[1])
    got = _greedy(model, embeds, cache="static", cache_length=128, compile=True)
    assert torch.equal(got, expected)
    assert len(marks) == 23  # one per decode step (the prefill runs eagerly)


# -- vision: Q-former autocast and ViT sub-batches ------------------------------------------------------
from infvideo.models.base import qformer_autocast_dtype  # noqa: E402


def test_qformer_precision_resolution():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert qformer_autocast_dtype("float32", cuda, torch.float16) is None
    assert qformer_autocast_dtype("autocast", cuda, torch.float16) is torch.float16
    assert qformer_autocast_dtype("autocast", cuda, torch.bfloat16) is torch.bfloat16
    assert qformer_autocast_dtype("autocast", cuda, torch.float32) is None
    assert qformer_autocast_dtype("autocast", cpu, torch.float16) is None  # fp32 on a CPU
    assert qformer_autocast_dtype("bfloat16", cpu, torch.float32) is torch.bfloat16
    with pytest.raises(ValueError):
        qformer_autocast_dtype("half", cpu, torch.float32)


def _video_llama(**overrides):
    from infvideo.models.tokenizers import tiny_llama_tokenizer
    from infvideo.models.video_llama import InfVideoLLaMA, InfVideoLLaMAConfig

    tokenizer = tiny_llama_tokenizer()
    torch.manual_seed(0)
    model = InfVideoLLaMA(InfVideoLLaMAConfig.tiny(vocab_size=len(tokenizer), **overrides), tokenizer)
    with torch.no_grad():
        model.query_tokens.normal_()
        model.video_query_tokens.normal_()
    return model


def test_video_llama_bf16_frame_qformer_is_close_to_fp32_and_tokens_stay_fp32():
    frames = torch.randn(6, 3, 28, 28, generator=torch.Generator().manual_seed(2))
    exact = _video_llama().encode_chunk(frames)
    half = _video_llama(qformer_precision="bfloat16").encode_chunk(frames)
    assert half.dtype == exact.dtype == torch.float32
    assert not torch.equal(half, exact)  # the switch reaches the Q-former
    assert torch.allclose(half, exact, atol=0.1, rtol=0.05)
    # "autocast" on a CPU is the fp32 path, bit for bit.
    assert torch.equal(_video_llama(qformer_precision="autocast").encode_chunk(frames), exact)


def test_video_llama_vision_batch_size_keeps_the_tokens():
    frames = torch.randn(7, 3, 28, 28, generator=torch.Generator().manual_seed(3))
    whole = _video_llama().encode_chunk(frames)
    assert torch.allclose(_video_llama(vision_batch_size=3).encode_chunk(frames), whole, atol=1e-5, rtol=1e-5)


def test_videochat2_bf16_qformer_keeps_the_memory_in_fp32(monkeypatch):
    from infvideo.models.tokenizers import tiny_bert_tokenizer, tiny_llama_tokenizer
    from infvideo.models.videochat2 import InfVideoChat2, InfVideoChat2Config, VideoChat2Tokenizers

    tokenizers = VideoChat2Tokenizers(qformer=tiny_bert_tokenizer(), llm=tiny_llama_tokenizer())

    def build(precision):
        torch.manual_seed(0)
        config = InfVideoChat2Config.tiny(
            llm_vocab_size=len(tokenizers.llm), qformer_vocab_size=len(tokenizers.qformer), qformer_precision=precision
        )
        return InfVideoChat2(config, tokenizers)

    frames = torch.randn(2, 4, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    exact_model, half_model = build("float32"), build("bfloat16")
    chunks = [exact_model.encode_chunk(f) for f in frames]
    dtypes = []
    original = ContinuousMemory.update
    monkeypatch.setattr(ContinuousMemory, "update", lambda self, x: (original(self, x), dtypes.append(self.coefficients.dtype))[0])
    exact = exact_model.embed_video(chunks)
    half = half_model.embed_video(chunks)
    assert set(dtypes) == {torch.float32}
    assert half.dtype == exact.dtype and not torch.equal(half, exact)
    assert torch.allclose(half, exact, atol=0.1, rtol=0.05)
