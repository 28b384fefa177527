import copy
import inspect
import re
from functools import cache, lru_cache

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import BertTokenizer, InstructBlipQFormerModel, MistralConfig, MistralForCausalLM
from transformers.models.videomae.modeling_videomae import get_sinusoid_encoding_table as _loop_table

from infvideo.eval.metrics.reference_rules import video_mme_letter
from infvideo.memory import MemoryConfig
from infvideo.models.base import GenerationSettings
from infvideo.models.memory_attention import memory_layers
from infvideo.models.tokenizers import tiny_llama_tokenizer
from infvideo.models.videochat2 import InfVideoChat2, InfVideoChat2Config, VideoChat2Tokenizers, umt
from infvideo.models.videochat2 import config as videochat2_config
from infvideo.models.videochat2 import modeling as videochat2_modeling
from infvideo.models.videochat2.lora import lora_factors, merge_lora
from infvideo.models.videochat2.prompts import (
    egoschema_prompt,
    moviechat_prompt,
    nextqa_prompt,
    parse_option_letter,
    segment_token_ids,
    split_prompt,
    video_mme_prompt,
)
from infvideo.models.videochat2.umt import UMTConfig, UMTVisionEncoder, position_table, sinusoid_table

SYSTEM = (
    "Carefully watch the video and pay attention to the cause and sequence of events, the detail and movement "
    "of objects, and the action and pose of persons. Based on your observations, select the best option that "
    "accurately addresses the question.\n"
)


@lru_cache(maxsize=1)
def tiny_qformer_vocab() -> dict[str, int]:
    """A WordPiece vocabulary over the system strings (the real one is bert-base-uncased's)."""
    words = re.findall(r"\w+|[^\w\s]", (SYSTEM + " you are able to understand the visual content").lower())
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *dict.fromkeys(words)]
    return {token: index for index, token in enumerate(tokens)}


def tiny_tokenizers() -> VideoChat2Tokenizers:
    qformer = BertTokenizer(vocab=tiny_qformer_vocab())
    qformer.add_special_tokens({"bos_token": "[DEC]"})  # as VideoChat2: 30522 + 1 ids for the real vocabulary
    return VideoChat2Tokenizers(qformer=qformer, llm=tiny_llama_tokenizer())


def make_model(**overrides) -> InfVideoChat2:
    tokenizers = tiny_tokenizers()
    config = InfVideoChat2Config.tiny(llm_vocab_size=len(tokenizers.llm), qformer_vocab_size=len(tokenizers.qformer), **overrides)
    torch.manual_seed(0)
    model = InfVideoChat2(config, tokenizers)
    with torch.no_grad():  # zero-initialised query tokens would hide the query path
        model.query_tokens.normal_()
        model.extra_query_tokens.normal_()
    return model


def video(seed: int, frames: int = 12, chunk: int = 4, size: int = 32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(frames, 3, size, size, generator=g).split(chunk)


# -- UMT -------------------------------------------------------------------------------------------
@cache
def get_sinusoid_encoding_table(positions: int, width: int) -> torch.Tensor:
    """transformers' VideoMAE table: UMT's per-element numpy formula (slow loops, so cached)."""
    return _loop_table(positions, width)


def test_sinusoid_table_is_the_reference_formula_bit_for_bit():
    # transformers' VideoMAE table is the same per-element numpy formula as UMT's get_sinusoid_encoding_table.
    assert torch.equal(sinusoid_table(4 * 196, 1024), get_sinusoid_encoding_table(4 * 196, 1024)[0])
    assert torch.equal(sinusoid_table(12, 10), get_sinusoid_encoding_table(12, 10)[0])


@pytest.mark.parametrize("frames", [2, 3, 8, 16])
def test_position_table_interpolates_the_checkpoint_table_linearly_in_time(frames):
    tokens, width, checkpoint = 4, 10, 4
    base = get_sinusoid_encoding_table(checkpoint * tokens, width)[0].double().view(checkpoint, tokens, width)
    expected = []
    for t in range(frames):
        # F.interpolate(mode="linear", align_corners=False): half-pixel centres, clamped at the ends.
        source = max((t + 0.5) * checkpoint / frames - 0.5, 0.0)
        lower = int(np.floor(source))
        upper = min(lower + 1, checkpoint - 1)
        weight = source - lower
        expected.append((1 - weight) * base[lower] + weight * base[upper])
    expected = torch.stack(expected).reshape(frames * tokens, width)
    table = position_table(frames, tokens, width, checkpoint)
    assert table.shape == (frames * tokens, width) and table.dtype == torch.float32
    assert torch.allclose(table.double(), expected, atol=1e-6)


def test_position_table_for_four_frames_is_the_plain_table_and_one_frame_the_image_table():
    assert torch.equal(position_table(4, 196, 1024), get_sinusoid_encoding_table(784, 1024)[0])
    assert torch.equal(position_table(1, 196, 1024), get_sinusoid_encoding_table(196, 1024)[0])


def reference_umt_forward(encoder: UMTVisionEncoder, frames: torch.Tensor) -> torch.Tensor:
    """UMT written out from its description (docs/reference-notes.md, C4): Conv3d tubelet-1 patches, the time-
    interpolated sinusoid table, pre-norm blocks with qkv = [W_q; W_k; W_v] and bias [q_bias; 0; v_bias]."""
    host, config = encoder.videomae, encoder.config
    batch, length = frames.shape[:2]
    patch = host.embeddings.patch_embeddings.projection
    x = F.conv3d(frames.permute(0, 2, 1, 3, 4), patch.weight, patch.bias, stride=patch.stride).flatten(2).transpose(1, 2)
    x = x + position_table(length, config.tokens_per_frame, config.hidden_size, config.checkpoint_frames)
    heads = config.num_attention_heads
    for layer in host.encoder.layer:
        attention = layer.attention.attention
        assert attention.key.bias is None  # UMT has no k bias
        qkv_weight = torch.cat([attention.query.weight, attention.key.weight, attention.value.weight])
        qkv_bias = torch.cat([attention.query.bias, torch.zeros_like(attention.value.bias), attention.value.bias])
        h = F.layer_norm(x, (config.hidden_size,), layer.layernorm_before.weight, layer.layernorm_before.bias, 1e-6)
        q, k, v = F.linear(h, qkv_weight, qkv_bias).reshape(batch, x.shape[1], 3, heads, -1).permute(2, 0, 3, 1, 4)
        scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, x.shape[1], -1)
        x = x + layer.attention.output.dense(context)
        h = F.layer_norm(x, (config.hidden_size,), layer.layernorm_after.weight, layer.layernorm_after.bias, 1e-6)
        x = x + layer.output.dense(F.gelu(layer.intermediate.dense(h)))
    return x.view(batch, length, config.tokens_per_frame, config.hidden_size)


def test_umt_on_videomae_matches_a_hand_written_umt_for_any_chunk_length():
    torch.manual_seed(0)
    config = UMTConfig(image_size=32, patch_size=16, hidden_size=32, num_layers=2, num_attention_heads=4, intermediate_size=64)
    encoder = UMTVisionEncoder(config).eval()
    assert encoder.videomae.layernorm is None  # no final norm inside (UMT's with_ln=False)
    with torch.no_grad():
        for length in (1, 3, 4, 6):
            frames = torch.randn(2, length, 3, 32, 32)
            out = encoder(frames)
            assert out.shape == (2, length, 4, 32)
            assert torch.allclose(out, reference_umt_forward(encoder, frames), atol=1e-5)
    assert {key[0] for key in encoder._tables} == {1, 3, 4, 6}  # one table per chunk length


# -- model -----------------------------------------------------------------------------------------
def test_frames_to_answer_text_end_to_end():
    model = make_model()
    assert not model.training
    chunks = [model.encode_chunk(frames) for frames in video(0, frames=11)]  # chunks of 4, 4 and 3 frames
    assert [c.shape for c in chunks] == [(4, 4, 64), (4, 4, 64), (3, 4, 64)]
    visual = model.embed_video(chunks)
    assert visual.shape == (1, 12, 64)
    prompt = nextqa_prompt("what does the dog do?", ["runs", "sits", "eats"])
    text = model.answer(visual, prompt.text, GenerationSettings(max_new_tokens=8))
    assert isinstance(text, str) and "</s>" not in text
    assert isinstance(prompt.clean(text), str)
    assert all(memory.chunks_seen == 3 for memory in model.memories())
    assert len(model.memories()) == 2  # cross-attention in layers 0 and 2 of 4


def plain_qformer_chunk_embedding(model: InfVideoChat2, tokens: torch.Tensor, text) -> torch.Tensor:
    """The same chunk through transformers' unmodified Q-former class with the model's weights."""
    plain = InstructBlipQFormerModel(model.qformer.config).eval()
    plain.load_state_dict(model.qformer.state_dict())
    queries = torch.cat([model.query_tokens, model.extra_query_tokens], dim=1)
    ids, mask = text
    encoder_tokens = tokens.reshape(1, -1, tokens.shape[-1])
    out = plain(
        input_ids=ids,
        attention_mask=torch.cat([torch.ones(1, queries.shape[1], dtype=mask.dtype), mask], dim=1),
        query_embeds=queries,
        encoder_hidden_states=encoder_tokens,
        encoder_attention_mask=torch.ones(encoder_tokens.shape[:2], dtype=torch.long),
    ).last_hidden_state
    return model.mistral_proj(out[:, : queries.shape[1]])


def test_alpha_one_equals_the_plain_qformer_exactly_and_never_touches_the_memory():
    with_memory = make_model(alpha=1.0, memory=MemoryConfig(num_basis=16, num_samples=32, sticky=True))
    no_memory = make_model(memory=MemoryConfig(kind="none"))
    chunks = [with_memory.encode_chunk(frames) for frames in video(1)]
    assert torch.equal(with_memory.embed_video(chunks), no_memory.embed_video(chunks))
    assert all(memory.chunks_seen == 0 for memory in with_memory.memories())
    text = with_memory.instruction_tokens(SYSTEM)
    with torch.no_grad():
        expected = plain_qformer_chunk_embedding(with_memory, chunks[0], text)
        assert torch.equal(with_memory.embed_chunk(chunks[0], text), expected)


def test_memory_changes_the_embedding_and_sees_every_chunk():
    model = make_model(alpha=0.5)
    plain = make_model(alpha=1.0)
    chunks = [model.encode_chunk(frames) for frames in video(2, frames=20)]
    assert not torch.allclose(model.embed_video(chunks), plain.embed_video(chunks))
    assert [memory.chunks_seen for memory in model.memories()] == [5, 5]
    assert all(layer.tokens_per_frame == model.tokens_per_frame == 4 for layer in memory_layers(model.qformer))


def test_memory_is_reset_between_videos():
    model = make_model(alpha=0.5)
    a = [model.encode_chunk(frames) for frames in video(3)]
    b = [model.encode_chunk(frames) for frames in video(4)]
    alone = model.embed_video(b)
    model.embed_video(a)
    assert torch.equal(model.embed_video(b), alone)


def test_sticky_memory_is_deterministic_under_a_generator():
    model = make_model(alpha=0.5, memory=MemoryConfig(num_basis=16, num_samples=32, sticky=True))
    chunks = [model.encode_chunk(frames) for frames in video(5, frames=16)]
    first = model.embed_video(chunks, torch.Generator().manual_seed(7))
    again = model.embed_video(chunks, torch.Generator().manual_seed(7))
    other = model.embed_video(chunks, torch.Generator().manual_seed(8))
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_instruction_changes_the_embedding_and_keeps_its_end_when_truncated():
    model = make_model(alpha=0.5, max_txt_len=8)
    chunks = [model.encode_chunk(frames) for frames in video(6)]
    assert not torch.equal(model.embed_video(chunks), model.embed_video(chunks, instruction="you are able to understand"))
    ids, mask = model.instruction_tokens(SYSTEM)
    tokenizer = model.tokenizers.qformer
    assert ids.shape == mask.shape == (1, 8)
    # Truncated on the left, as VideoChat2's tokenizer: [CLS] + the last 6 word pieces + [SEP].
    assert tokenizer.convert_ids_to_tokens(ids[0]) == ["[CLS]", "that", "accurately", "addresses", "the", "question", ".", "[SEP]"]


def test_tokens_per_frame_and_widths_come_from_the_config():
    tokenizers = tiny_tokenizers()
    config = InfVideoChat2Config.tiny(llm_vocab_size=len(tokenizers.llm), qformer_vocab_size=len(tokenizers.qformer), alpha=0.5)
    config.vision.image_size = 48  # 3×3 patches per frame
    model = InfVideoChat2(config, tokenizers)
    assert model.tokens_per_frame == 9
    assert all(layer.tokens_per_frame == 9 for layer in memory_layers(model.qformer))
    chunks = [model.encode_chunk(frames) for frames in video(7, frames=6, chunk=3, size=48)]
    assert chunks[0].shape == (3, 9, 64)
    assert model.embed_video(chunks).shape == (1, 12, 64)
    # No full-size literal (14 × 14 patches, 196 tokens, 1024 wide) outside the presets.
    for module, presets in (
        (umt, [umt.UMTConfig]),
        (videochat2_modeling, []),
        (videochat2_config, [videochat2_config.InfVideoChat2Config]),
    ):
        source = inspect.getsource(module)
        for preset in presets:
            source = source.replace(inspect.getsource(preset), "")
        assert not re.search(r"\b(14|196|1024)\b", source), module.__name__


def test_batch_of_videos_is_embedded_like_each_alone():
    model = make_model(memory=MemoryConfig(kind="none"))
    clips = torch.randn(2, 4, 3, 32, 32, generator=torch.Generator().manual_seed(8))
    batched = model.embed_video([model.encode_chunk(clips)])
    single = torch.cat([model.embed_video([model.encode_chunk(clip)]) for clip in clips])
    assert batched.shape == (2, 12, 64) and torch.allclose(batched, single, atol=1e-5)


def test_visual_embedding_is_cast_to_the_llm_dtype_and_the_memory_stays_float32():
    model = make_model(alpha=0.5)
    model.language_model.to(torch.bfloat16)
    visual = model.embed_video([model.encode_chunk(frames) for frames in video(9)])
    assert visual.dtype == torch.bfloat16
    model.to(torch.bfloat16)  # a half-precision visual stack, as the reference's fp16 autocast
    chunks = [model.encode_chunk(frames) for frames in video(9)]
    assert chunks[0].dtype == torch.bfloat16
    assert model.embed_video(chunks).dtype == torch.bfloat16
    assert all(memory.coefficients.dtype == torch.float32 for memory in model.memories())


def test_generation_defaults_and_post_processing(monkeypatch):
    model = make_model()
    llm = model.tokenizers.llm
    visual = model.embed_video([model.encode_chunk(frames) for frames in video(10)])
    prompt = egoschema_prompt("what is c doing?", ["cooking", "reading"]).text
    answer_ids = llm("B) reading", add_special_tokens=False).input_ids
    seen = {}

    def fake_generate(**kwargs):
        seen.update(kwargs)
        return torch.tensor([[0, 1, *answer_ids, 2, *answer_ids]])  # <unk>, <s>, answer, </s>, junk

    monkeypatch.setattr(model.language_model, "generate", fake_generate)
    assert model.answer(visual, prompt) == llm.decode(answer_ids) == "B) reading"
    assert seen["do_sample"] is False and seen["max_new_tokens"] == 100 and seen["num_beams"] == 1
    assert seen["eos_token_id"] == 2
    # The visual embedding sits between the two text segments; BOS only on the first.
    before, after = segment_token_ids(llm, prompt)
    assert before[0, 0] == llm.bos_token_id and after[0, 0] != llm.bos_token_id
    assert seen["inputs_embeds"].shape[1] == before.shape[1] + 12 + after.shape[1]
    embed = model.language_model.get_input_embeddings()
    assert torch.equal(seen["inputs_embeds"][:, before.shape[1] : before.shape[1] + 12], visual)
    assert torch.equal(seen["inputs_embeds"][:, : before.shape[1]], embed(before))


# -- prompts ---------------------------------------------------------------------------------------
def test_multiple_choice_prompts_match_the_reference_character_for_character():
    nextqa = nextqa_prompt("why did the BOY run to the door?", ["to open it", "to hide", "to play", "to eat", "to sleep  "])
    assert nextqa.text == (
        "Carefully watch the video and pay attention to the cause and sequence of events, the detail and movement "
        "of objects, and the action and pose of persons. Based on your observations, select the best option that "
        "accurately addresses the question.\n"
        "[INST] <Video><VideoHere></Video> [/INST] [INST] Question: Why did the boy run to the door?\nOptions:\n"
        "(A) to open it\n(B) to hide\n(C) to play\n(D) to eat\n(E) to sleep\nOnly give the best option. [/INST] Best option:("
    )
    assert nextqa.instruction == SYSTEM
    ego = egoschema_prompt("What is C doing in the kitchen?", ["C cooks", "C reads"])
    assert ego.text == (
        SYSTEM + "[INST] <Video><VideoHere></Video> [/INST] [INST] Question: What is c doing in the kitchen?\n"
        "Options:\n(A) C cooks\n(B) C reads\nOnly give the best option. [/INST] Best option:("
    )
    assert nextqa.clean(" A) to open it\nBecause the bell rang.") == "(A) to open it"


def test_video_mme_prompt_matches_the_reference_character_for_character():
    mme = video_mme_prompt("What color is the Car?", ["A. Red", "B. Blue", "C. Green", "D. Black"])
    assert mme.text == (
        SYSTEM + "[INST] <Video><VideoHere></Video> [/INST] [INST] " + SYSTEM + "Question: What color is the Car?\n"
        "Options:\n(A) Red\n(B) Blue\n(C) Green\n(D) Black\nOnly give the best option. [/INST] Best option:("
    )
    assert mme.instruction == SYSTEM
    assert video_mme_letter(mme.clean("B) Blue</s>")) == "B"
    assert video_mme_letter(mme.clean("")) == ""


def test_moviechat_prompt_matches_the_reference_character_for_character():
    movie = moviechat_prompt("Where does the movie take place?")
    system = (
        "You are able to understand the visual content that the user provides.Follow the instructions carefully and explain your answers."
    )
    assert movie.text == system + "[INST] <Video><VideoHere></Video> [/INST] [INST] Where does the movie take place? [/INST]"
    assert movie.instruction == system
    assert movie.clean("  In Paris.\nIt is sunny.") == "In Paris."
    assert split_prompt(movie.text) == [
        system + "[INST] <Video>",
        "</Video> [/INST] [INST] Where does the movie take place? [/INST]",
    ]
    with pytest.raises(ValueError):
        split_prompt("no video here")


@pytest.mark.parametrize(
    "text, letter",
    [
        ("(A) to open it", "A"),
        ("B) to hide", "B"),
        ("Best option:(C", "C"),
        ("Best option: (D) to eat", "D"),
        ("E.", "E"),
        ("C", "C"),
        ("The answer is (B).", "B"),
        ("I think it is (C) to play", "C"),
        ("answer: D", "D"),
        ("Option E is right", "E"),
        ("A man opens the door", None),
        ("a dog", None),
        ("(F) nothing", None),
        ("", None),
    ],
)
def test_option_letter_parser(text, letter):
    assert parse_option_letter(text, "ABCDE") == letter


# -- LoRA ------------------------------------------------------------------------------------------
TARGETS = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head"}


def tiny_mistral(layers: int) -> MistralForCausalLM:
    config = MistralConfig(
        vocab_size=40, hidden_size=32, intermediate_size=48, num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2
    )
    return MistralForCausalLM(config)


def test_merge_lora_equals_running_the_adapter():
    torch.manual_seed(0)
    adapted = tiny_mistral(layers=2).eval()
    merged = copy.deepcopy(adapted)
    r, alpha = 4, 8
    state, hooks = {"mistral_model.base_model.model.model.norm.weight": torch.ones(32)}, []
    for name, module in adapted.named_modules():
        if name.split(".")[-1] not in TARGETS:
            continue
        a = torch.randn(r, module.in_features) * 0.2
        b = torch.randn(module.out_features, r) * 0.2
        state[f"mistral_model.base_model.model.{name}.lora_A.default.weight"] = a
        state[f"mistral_model.base_model.model.{name}.lora_B.default.weight"] = b
        # The adapter run explicitly: x·Wᵀ (+ bias) + (alpha/r)·x·Aᵀ·Bᵀ.
        hooks.append(module.register_forward_hook(lambda m, inputs, out, a=a, b=b: out + (alpha / r) * inputs[0] @ a.T @ b.T))
    names = merge_lora(state, merged, r=r, alpha=alpha)
    assert len(names) == 2 * 7 + 1 and "lm_head" in names and "model.layers.1.mlp.down_proj" in names
    ids = torch.randint(0, 40, (2, 7))
    with torch.no_grad():
        expected = adapted(ids).logits
        actual = merged(ids).logits
    assert torch.allclose(actual, expected, atol=1e-5)
    for hook in hooks:
        hook.remove()
    with torch.no_grad():
        assert not torch.allclose(adapted(ids).logits, actual, atol=1e-3)


def test_lora_keys_are_checked():
    a, b = torch.zeros(4, 32), torch.zeros(32, 4)

    def adapter(module: str, a_factor: torch.Tensor, b_factor: torch.Tensor) -> dict[str, torch.Tensor]:
        prefix = f"mistral_model.base_model.model.{module}.lora_"
        return {prefix + "A.default.weight": a_factor, prefix + "B.default.weight": b_factor}

    assert set(lora_factors(adapter("lm_head", a, b))) == {"lm_head"}
    with pytest.raises(ValueError, match="partner"):
        lora_factors({"x.base_model.model.lm_head.lora_A.default.weight": a})
    model = tiny_mistral(layers=1)
    with pytest.raises(ValueError, match="rank"):
        merge_lora(adapter("lm_head", a, torch.zeros(40, 4)), model, r=8)
    with pytest.raises(KeyError):
        merge_lora(adapter("model.nope", a, b), model, r=4)


# -- full size -------------------------------------------------------------------------------------
def test_full_size_parameter_counts_on_the_meta_device():
    with torch.device("meta"):
        model = InfVideoChat2(InfVideoChat2Config.full(), tokenizers=None)
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    # UMT-L/16, 23 blocks: per block 2 LayerNorms ×2, qkv 3·1024² without bias + q/v biases, proj 1024²+1024,
    # MLP 1024·4096+4096 + 4096·1024+1024 = 12,595,200; patch embedding Conv3d 1024·3·16·16 + 1024.
    block = 4 * 1024 + 3 * 1024 * 1024 + 2 * 1024 + 1024 * 1024 + 1024 + 1024 * 4096 + 4096 + 4096 * 1024 + 1024
    assert block == 12_595_200
    assert count(model.vision_encoder) == 23 * block + 1024 * 3 * 16 * 16 + 1024 == 290_477_056
    assert count(model.vision_layernorm) == 2 * 1024
    # BERT-base Q-former: word (30523) + position (512) embeddings + LayerNorm; 12 layers of self-attention,
    # a text FFN and a query FFN; cross-attention (keys/values from 1024-wide tokens) in the 6 even layers.
    embeddings = (30523 + 512) * 768 + 2 * 768
    self_attention = 4 * (768 * 768 + 768) + 2 * 768
    ffn = 768 * 3072 + 3072 + 3072 * 768 + 768 + 2 * 768
    cross_attention = 2 * (768 * 768 + 768) + 2 * (1024 * 768 + 768) + 2 * 768
    assert count(model.qformer) == embeddings + 12 * (self_attention + 2 * ffn) + 6 * cross_attention == 182_121_216
    # Mistral-7B: 7,241,732,096 parameters as published (32 layers of 218,112,000; untied 32000×4096 tables).
    assert count(model.language_model) == 7_241_732_096
    assert count(model.mistral_proj) == 768 * 4096 + 4096
    assert model.query_tokens.shape == (1, 32, 768) and model.extra_query_tokens.shape == (1, 64, 768)
    assert len(model.memories()) == 6
    assert all(layer.tokens_per_frame == 196 for layer in memory_layers(model.qformer))
    assert model.language_model.config.rope_parameters["rope_theta"] == 1e6 and model.language_model.config.sliding_window is None
