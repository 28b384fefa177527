import dataclasses

import pytest
import torch

from infvideo.memory import ContinuousMemory, MemoryConfig
from infvideo.models.base import GenerationSettings
from infvideo.models.tokenizers import tiny_llama_tokenizer
from infvideo.models.video_llama import InfVideoLLaMA, InfVideoLLaMAConfig
from infvideo.models.video_llama.prompts import (
    clean_answer,
    egoschema_prompt,
    moviechat_prompt,
    nextqa_prompt,
    split_prompt,
    video_mme_prompt,
)


def make_model(**overrides):
    tokenizer = tiny_llama_tokenizer()
    torch.manual_seed(0)
    model = InfVideoLLaMA(InfVideoLLaMAConfig.tiny(vocab_size=len(tokenizer), **overrides), tokenizer)
    with torch.no_grad():  # zero-initialised tables would hide the position and query paths
        model.video_frame_position_embedding.weight.normal_()
        model.query_tokens.normal_()
        model.video_query_tokens.normal_()
    return model


def video(seed, frames=12, chunk=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(frames, 3, 28, 28, generator=g).split(chunk)


def test_frames_to_answer_text_end_to_end():
    model = make_model()
    chunks = [model.encode_chunk(frames) for frames in video(0)]
    assert chunks[0].shape == (4, 4, 48)
    visual = model.embed_video(chunks)
    assert visual.shape == (1, 4, 64)
    text = model.answer(visual, nextqa_prompt("what does the dog do?"), GenerationSettings(max_new_tokens=12))
    assert isinstance(text, str) and "###" not in text
    assert all(m.chunks_seen == 3 for m in model.memories())


def test_alpha_one_equals_the_plain_video_qformer_and_leaves_memory_untouched():
    with_memory = make_model(alpha=1.0, memory=MemoryConfig(num_basis=16, num_samples=32, sticky=True))
    plain = make_model(memory=MemoryConfig(kind="none"))
    chunks = [with_memory.encode_chunk(frames) for frames in video(1)]
    assert torch.equal(with_memory.embed_video(chunks), plain.embed_video(chunks))
    assert all(m.chunks_seen == 0 for m in with_memory.memories())


def test_without_memory_the_video_embedding_is_the_mean_of_chunk_embeddings():
    model = make_model(memory=MemoryConfig(kind="none"))
    chunks = [model.encode_chunk(frames) for frames in video(2)]
    with torch.no_grad():
        expected = torch.stack([model.embed_chunk(c) for c in chunks]).mean(0)
    assert torch.allclose(model.embed_video(chunks), expected, atol=1e-6)


def test_memory_changes_the_embedding_and_is_reset_between_videos():
    model = make_model(alpha=0.5)
    plain = make_model(alpha=1.0)
    a = [model.encode_chunk(frames) for frames in video(3)]
    b = [model.encode_chunk(frames) for frames in video(4)]
    assert not torch.allclose(model.embed_video(b), plain.embed_video(b))
    alone = model.embed_video(b)
    model.embed_video(a)
    assert torch.equal(model.embed_video(b), alone)


def test_sticky_memory_is_deterministic_under_a_generator():
    model = make_model(alpha=0.5, memory=MemoryConfig(num_basis=16, num_samples=32, sticky=True))
    chunks = [model.encode_chunk(frames) for frames in video(5, frames=20)]
    first = model.embed_video(chunks, torch.Generator().manual_seed(7))
    again = model.embed_video(chunks, torch.Generator().manual_seed(7))
    other = model.embed_video(chunks, torch.Generator().manual_seed(8))
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_frame_positions_switch():
    on = make_model(memory=MemoryConfig(kind="none"))
    off = make_model(memory=MemoryConfig(kind="none"), add_frame_pos=False)
    chunks = [on.encode_chunk(frames) for frames in video(6)]
    assert not torch.allclose(on.embed_video(chunks), off.embed_video(chunks))
    # n frames use a base of ⌈√n⌉ learned rows (docs/reference-notes.md, B3): its first rows are the table.
    table = on.video_frame_position_embedding.weight
    assert torch.allclose(on.frame_positions(9)[:3], table[:3])
    assert torch.allclose(on.frame_positions(9)[3], 0.01 * (table[1] - 0.01 * table[0]) / 0.99 + 0.99 * (table[0] - 0.01 * table[0]) / 0.99)
    assert on.frame_positions(20).shape == (20, 48)


def test_reference_compat_preset():
    config = InfVideoLLaMAConfig.reference_compat(InfVideoLLaMAConfig.tiny())
    assert not config.add_frame_pos and config.dropout_at_inference and config.memory.reference_compat
    model = make_model(
        **{
            f.name: getattr(config, f.name)
            for f in dataclasses.fields(config)
            if f.name in ("add_frame_pos", "dropout_at_inference", "memory")
        }
    )
    assert isinstance(model.memories()[0], ContinuousMemory) and model.memories()[0].reference_compat
    chunks = [model.encode_chunk(frames) for frames in video(7)]
    model.embed_video(chunks)
    assert not model.video_qformer.training  # dropout only while embedding


def test_prompt_is_left_truncated_to_the_context_window(monkeypatch):
    model = make_model(max_context=40)
    visual = model.embed_video([model.encode_chunk(frames) for frames in video(8)])
    seen = {}
    original = model.language_model.generate

    def spy(**kwargs):
        seen["length"] = kwargs["inputs_embeds"].shape[1]
        return original(**kwargs)

    monkeypatch.setattr(model.language_model, "generate", spy)
    model.answer(visual, nextqa_prompt("why " * 30), GenerationSettings(max_new_tokens=10))
    assert seen["length"] == 30


def test_sampling_is_reproducible_with_a_seed():
    model = make_model()
    visual = model.embed_video([model.encode_chunk(frames) for frames in video(9)])
    settings = GenerationSettings(do_sample=True, max_new_tokens=10)
    assert model.answer(visual, egoschema_prompt("q"), settings, seed=1) == model.answer(visual, egoschema_prompt("q"), settings, seed=1)


S1 = (
    "You are able to understand the visual content that the user provides.Follow the instructions carefully "
    "and explain your brief answers with no more than 20 words."
)


def test_prompts_match_the_reference_character_for_character():
    assert nextqa_prompt("why did the boy run?") == S1 + "###Human: <Video><ImageHere></Video>why did the boy run?###Assistant:"
    assert egoschema_prompt("What is c doing?") == "###Human: <Video><ImageHere></Video> What is c doing?###Assistant:"
    assert moviechat_prompt("Where is it?") == (
        "You are able to understand the visual content that the user provides.Follow the instructions carefully "
        "and explain your answers.###Human: <Video><ImageHere></Video> Where is it?###Assistant:"
    )
    assert video_mme_prompt("Who wins?", ["A. red", "B. blue", "C. green", "D. none"]) == (
        "###Human: <Video><ImageHere></Video>\nWho wins?\nChoose the best answer from the options below:\n"
        "A. red\nB. blue\nC. green\nD. none\n###Assistant:"
    )
    before, after = split_prompt(egoschema_prompt("q"))
    assert before == "###Human: <Video>" and after == "</Video> q###Assistant:"
    with pytest.raises(ValueError, match="exactly one"):
        split_prompt("no placeholder")


def test_answer_post_processing():
    assert clean_answer(" He runs away.###Human: more") == "He runs away."
    assert clean_answer("###Assistant: yes") == ""
    assert clean_answer("Assistant: it rains ") == "it rains"


def test_full_size_parameter_counts_on_the_meta_device():
    with torch.device("meta"):
        model = InfVideoLLaMA(InfVideoLLaMAConfig.full())
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert count(model.language_model) == 6_738_415_616  # LLaMA-7B as published
    # EVA ViT-g/14 without its 40th block: 39 × 25,233,920 per block + embeddings 1,408·(3·14·14 + 1 + 257 + 1) + ln_vision.
    per_block = 4 * 1408 + 1408 * 3 * 1408 + 3 * 1408 + 1408 * 1408 + 1408 + 2 * 1408 * 6144 + 6144 + 1408
    embeddings = 1408 * 3 * 14 * 14 + 1408 + 1408 + 257 * 1408
    assert count(model.vision_model) == 39 * per_block + embeddings + 2 * 1408
    assert count(model.llama_proj) == 768 * 4096 + 4096
    assert model.query_tokens.shape == model.video_query_tokens.shape == (1, 32, 768)
    assert len(model.memories()) == 2


def test_reference_generation_settings():
    from infvideo.models.video_llama import REFERENCE_GENERATION

    assert (REFERENCE_GENERATION.do_sample, REFERENCE_GENERATION.top_p, REFERENCE_GENERATION.max_new_tokens) == (True, 0.9, 300)
    assert not GenerationSettings().do_sample  # greedy by default
