import copy

import pytest
import torch
from transformers import Blip2QFormerConfig, Blip2QFormerModel, InstructBlipQFormerConfig, InstructBlipQFormerModel

from infvideo.memory import ContinuousMemory
from infvideo.models.memory_attention import cross_attention_layers, install_memory, memory_layers, reset_memories

TOKENS_PER_FRAME = 4


def tiny_video_qformer():
    config = Blip2QFormerConfig(
        hidden_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=96,
        encoder_hidden_size=32,
        cross_attention_frequency=1,
    )
    torch.manual_seed(0)
    return Blip2QFormerModel(config).eval()


def run(qformer, queries, tokens):
    return qformer(query_embeds=queries, encoder_hidden_states=tokens).last_hidden_state


def chunk(seed, frames=6, batch=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, frames * TOKENS_PER_FRAME, 32, generator=g)


def test_alpha_one_is_bit_identical_and_never_touches_the_memory():
    plain = tiny_video_qformer()
    with_memory = copy.deepcopy(plain)
    layers = install_memory(with_memory, lambda: ContinuousMemory(num_basis=16, num_samples=32), 1.0, TOKENS_PER_FRAME)
    assert len(layers) == 2
    queries = torch.randn(1, 8, 48)
    for seed in range(3):
        assert torch.equal(run(plain, queries, chunk(seed)), run(with_memory, queries, chunk(seed)))
    assert all(layer.memory.chunks_seen == 0 and layer.memory.state_numel() == 0 for layer in layers)


def test_parameter_names_and_values_are_unchanged():
    plain = tiny_video_qformer()
    with_memory = copy.deepcopy(plain)
    install_memory(with_memory, lambda: ContinuousMemory(num_basis=16), 0.5, TOKENS_PER_FRAME)
    a, b = plain.state_dict(), with_memory.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_alpha_mixes_short_and_long_term_contexts_before_the_output_block():
    qformer = tiny_video_qformer()
    (first, _) = install_memory(qformer, lambda: ContinuousMemory(num_basis=16, num_samples=32), 0.75, TOKENS_PER_FRAME)
    queries = torch.randn(1, 8, 48)
    captured = {}
    block = cross_attention_layers(qformer)[0].crossattention
    block.output.register_forward_hook(lambda module, args, out: captured.update(mixed=args[0]))
    first.register_forward_pre_hook(
        lambda module, args, kwargs: captured.update(hidden=kwargs.get("hidden_states", args[0] if args else None)), with_kwargs=True
    )
    with torch.no_grad():
        run(qformer, queries, chunk(0))
    contexts = first.last_contexts
    assert torch.allclose(captured["mixed"], 0.75 * contexts["short_term"] + 0.25 * contexts["long_term"])
    assert first.memory.chunks_seen == 1
    # The long-term context is what the memory returns for this layer's own projected queries.
    with torch.no_grad():
        expected = first.memory.read(first.query(captured["hidden"]), first.key, first.value, 4)
    assert torch.allclose(contexts["long_term"], expected)


def test_memory_accumulates_over_chunks_and_resets():
    qformer = tiny_video_qformer()
    install_memory(qformer, lambda: ContinuousMemory(num_basis=16, num_samples=32), 0.5, TOKENS_PER_FRAME)
    queries = torch.randn(1, 8, 48)
    with torch.no_grad():
        run(qformer, queries, chunk(0))
        second = run(qformer, queries, chunk(1))
        reset_memories(qformer)
        assert all(layer.memory.chunks_seen == 0 for layer in memory_layers(qformer))
        fresh = run(qformer, queries, chunk(1))
    assert not torch.allclose(second, fresh)  # the first chunk was remembered before the reset


def test_tokens_must_be_whole_frames():
    qformer = tiny_video_qformer()
    install_memory(qformer, lambda: ContinuousMemory(num_basis=16), 0.5, TOKENS_PER_FRAME)
    with pytest.raises(ValueError, match="whole number of frames"):
        run(qformer, torch.randn(1, 8, 48), torch.randn(1, 10, 32))


def test_instructblip_qformer_with_text_and_extra_queries():
    config = InstructBlipQFormerConfig(
        vocab_size=100,
        hidden_size=48,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=96,
        encoder_hidden_size=32,
        cross_attention_frequency=2,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    qformer = InstructBlipQFormerModel(config).eval()
    plain = copy.deepcopy(qformer)
    layers = install_memory(qformer, lambda: ContinuousMemory(num_basis=16, num_samples=32), 0.9, TOKENS_PER_FRAME)
    assert len(layers) == 2  # cross-attention every 2nd of 4 layers
    ids = torch.randint(0, 100, (1, 5))
    queries = torch.randn(1, 12, 48)  # e.g. 32 + 64 in VideoChat2
    out = qformer(input_ids=ids, query_embeds=queries, encoder_hidden_states=chunk(0)).last_hidden_state
    ref = plain(input_ids=ids, query_embeds=queries, encoder_hidden_states=chunk(0)).last_hidden_state
    assert out.shape == ref.shape == (1, 17, 48)
    assert not torch.allclose(out[:, :12], ref[:, :12])
    assert all(layer.memory.chunks_seen == 1 for layer in layers)


def test_the_attention_plot_reads_any_family_through_the_model_and_the_memory_interface():
    from infvideo.data.record import QuestionRecord
    from infvideo.eval.backends import build_backend
    from infvideo.eval.config import load_config
    from infvideo.eval.plots import attention_over_video_time

    record = QuestionRecord(id="q", dataset="nextqa", video_id="v", video_path="v.mp4", question="why?", options=("a", "b"))
    for name, size in (("video_llama", 28), ("videochat2", 32)):
        backend = build_backend(load_config(overrides=[f"model.name={name}", "model.device=cpu", "memory.sticky=true"]))
        frames = torch.rand(3, 4, size, size, 3, generator=torch.Generator().manual_seed(1)).mul(255).byte().numpy()
        chunks = [backend.encode_chunk(chunk) for chunk in frames]
        density = attention_over_video_time(backend, record, chunks, torch.Generator().manual_seed(2), bins_per_chunk=4)
        assert density.shape == (3, 12) and torch.allclose(density.sum(-1) / 4, torch.ones(3), atol=1e-3)
    backend.reconfigure(load_config(overrides=["model.name=videochat2", "model.device=cpu", "memory.kind=moviechat"]))
    with pytest.raises(ValueError, match="memory.kind=continuous"):
        attention_over_video_time(backend, record, chunks, torch.Generator().manual_seed(2))
