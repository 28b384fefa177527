"""Original Video-LLaMA / ∞-Video checkpoints -> ``InfVideoLLaMA`` (the procedure: ``checkpoint_io``).

Each ``convert_*`` function is pure: original state dict in, ``(ours, unmatched)`` out, where
``ours`` uses the top-level attributes of ``InfVideoLLaMA`` (``vision_model``, ``query_tokens``,
``qformer``, ``video_query_tokens``, ``video_frame_position_embedding``, ``video_qformer``,
``llama_proj``) and ``unmatched`` lists the original keys nothing maps to. The rule tables restate
docs/reference-notes.md C2–C3; the finetune file's key list is inferred, so every leftover must be on
a declared drop list and every missing key on an allow-list, or loading fails.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import Tensor, nn

from ..checkpoint_io import (
    CheckpointFile,
    Converter,
    FileConversion,
    LoadReport,
    Rule,
    StateDict,
    bert_qformer_rules,
    checkpoint_paths,
    find_role,
    integer_at_least,
    load_files,
    load_hf_folder,
    rename,
)
from .config import InfVideoLLaMAConfig
from .modeling import InfVideoLLaMA

EVA_VIT_G_DEPTH = 39  # EVA-CLIP-g has 40 blocks; BLIP-2 builds 39 and loads with strict=False

# -- EVA ViT-g/14 (LAVIS eva_vit_g.pth) -> Blip2VisionModel -----------------------------------

_EVA_OPTIONAL_PREFIX = r"(?:visual_encoder\.)?"
_VISION = "vision_model."


def _eva_rules(depth: int) -> list[Rule]:
    block = rf"{_EVA_OPTIONAL_PREFIX}blocks\.(?!{integer_at_least(depth)}\.)(\d+)\."
    layer = f"{_VISION}encoder.layers.\\1."
    p = r"(weight|bias)"
    return [
        Rule(rf"{_EVA_OPTIONAL_PREFIX}cls_token", f"{_VISION}embeddings.class_embedding"),
        Rule(rf"{_EVA_OPTIONAL_PREFIX}pos_embed", f"{_VISION}embeddings.position_embedding"),
        Rule(rf"{_EVA_OPTIONAL_PREFIX}patch_embed\.proj\.{p}", f"{_VISION}embeddings.patch_embedding.\\1"),
        Rule(rf"{block}norm([12])\.{p}", f"{layer}layer_norm\\2.\\3"),
        Rule(rf"{block}attn\.qkv\.weight", f"{layer}self_attn.qkv.weight"),
        Rule(rf"{block}attn\.proj\.{p}", f"{layer}self_attn.projection.\\2"),
        Rule(rf"{block}mlp\.(fc1|fc2)\.{p}", f"{layer}mlp.\\2.\\3"),
    ]


def eva_vit_g_drops(depth: int = EVA_VIT_G_DEPTH) -> list[str]:
    """Original EVA keys we expect to leave unused: extra blocks and the classifier/final norms."""
    return [
        rf"{_EVA_OPTIONAL_PREFIX}blocks\.{integer_at_least(depth)}\..+",
        rf"{_EVA_OPTIONAL_PREFIX}(?:norm|head|fc_norm)\..+",
    ]


def convert_eva_vit_g(sd: Mapping[str, Tensor], depth: int = EVA_VIT_G_DEPTH) -> tuple[StateDict, list[str]]:
    """LAVIS ``eva_vit_g.pth`` -> ``vision_model.*`` (``post_layernorm`` comes from the BLIP-2 file).

    LAVIS keeps a learnable ``q_bias`` and ``v_bias`` and a fixed zero k-bias; ``Blip2Attention``
    has one ``qkv.bias``, so the two become ``concat(q_bias, zeros, v_bias)``.
    """
    bias_key = re.compile(rf"({_EVA_OPTIONAL_PREFIX}blocks\.(\d+)\.attn\.)(q_bias|v_bias)")
    biases: dict[int, dict[str, Tensor]] = {}
    rest: dict[str, Tensor] = {}
    for key, tensor in sd.items():
        match = bias_key.fullmatch(key)
        if match and int(match.group(2)) < depth:
            biases.setdefault(int(match.group(2)), {})[match.group(3)] = tensor
        else:
            rest[key] = tensor
    ours, unmatched = rename(rest, _eva_rules(depth))
    for index, pair in sorted(biases.items()):
        if set(pair) != {"q_bias", "v_bias"}:
            raise ValueError(f"EVA block {index}: expected both q_bias and v_bias, found {sorted(pair)}")
        q, v = pair["q_bias"], pair["v_bias"]
        ours[f"{_VISION}encoder.layers.{index}.self_attn.qkv.bias"] = torch.cat([q, torch.zeros_like(q), v])
    return ours, unmatched


# -- BLIP-2 stage-1 checkpoint (blip2_pretrained_flant5xxl.pth) -------------------------------

_BLIP2_RULES = [
    *bert_qformer_rules("Qformer.bert.", "qformer."),
    Rule(r"query_tokens", "query_tokens"),
    Rule(r"ln_vision\.(weight|bias)", f"{_VISION}post_layernorm.\\1"),
]

BLIP2_DROPS = [
    r"Qformer\.bert\.embeddings\.position_ids",  # buffer
    r"Qformer\.bert\.embeddings\.(?:word|position)_embeddings\..+",  # text path: unused by Video-LLaMA
    r"Qformer\.bert\.encoder\.layer\.\d+\.(?:intermediate|output)\..+",  # text FFN
    r"Qformer\.cls\..+",  # MLM head
    r"(?:t5_proj|opt_proj|llm_proj|vision_proj|text_proj|itm_head)\..+",  # stage-1/2 heads, not used here
    r"temp",
]


def convert_blip2_pretrained(sd: Mapping[str, Tensor]) -> tuple[StateDict, list[str]]:
    """BLIP-2 checkpoint -> ``qformer.*``, ``query_tokens`` and ``vision_model.post_layernorm.*`` (ln_vision)."""
    return rename(sd, _BLIP2_RULES)


# -- Video-LLaMA fine-tuned branch (finetune-vicuna7b-v2.pth) ---------------------------------

_FINETUNE_RULES = [
    *bert_qformer_rules("video_Qformer.bert.", "video_qformer."),
    Rule(r"video_query_tokens", "video_query_tokens"),
    Rule(r"video_frame_position_embedding\.weight", "video_frame_position_embedding.weight"),
    Rule(r"llama_proj\.(weight|bias)", "llama_proj.\\1"),
]

# Video-LLaMA's saver deletes frozen parameters but keeps every buffer (docs/reference-notes.md, C3).
FINETUNE_DROPS = [
    r"(?:video_)?Qformer\.bert\.embeddings\.position_ids",
    r"llama_model\.model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq",
]


def convert_video_llama_finetune(sd: Mapping[str, Tensor]) -> tuple[StateDict, list[str]]:
    """Video-LLaMA fine-tuned weights -> ``video_qformer.*``, ``video_query_tokens``, frame positions, ``llama_proj``."""
    return rename(sd, _FINETUNE_RULES)


# -- the expected files -----------------------------------------------------------------------


# What each file fills, as regexes matched at the start of OUR keys. Loading one file alone into the
# full model must leave exactly the complement missing; together the files cover everything but the LLM.
_PROVIDES: dict[str, tuple[str, ...]] = {
    "vision": (r"vision_model\.(?!post_layernorm\.)",),
    "blip2": (r"qformer\.", r"query_tokens$", r"vision_model\.post_layernorm\."),
    "finetune": (r"video_qformer\.", r"video_query_tokens$", r"video_frame_position_embedding\.", r"llama_proj\."),
    "llm": (r"language_model\.",),
}

CONVERTERS: dict[str, Converter] = {
    "convert_eva_vit_g": convert_eva_vit_g,
    "convert_blip2_pretrained": convert_blip2_pretrained,
    "convert_video_llama_finetune": convert_video_llama_finetune,
}


@dataclass(frozen=True)
class VideoLLaMACheckpointFile(CheckpointFile):
    """``CheckpointFile`` with Video-LLaMA's roles (vision, blip2, finetune, llm); ``converter`` is a key of CONVERTERS."""

    @property
    def provides(self) -> tuple[str, ...]:
        return _PROVIDES[self.role]


VIDEO_LLAMA_FILES: tuple[VideoLLaMACheckpointFile, ...] = (
    VideoLLaMACheckpointFile(
        role="vision",
        name="eva_vit_g.pth",
        holds="EVA-CLIP ViT-g/14 visual encoder (40 blocks; the first 39 are used)",
        published_at="https://storage.googleapis.com/sfr-vision-language-research/LAVIS/models/BLIP2/eva_vit_g.pth",
        converter="convert_eva_vit_g",
    ),
    VideoLLaMACheckpointFile(
        role="blip2",
        name="blip2_pretrained_flant5xxl.pth",
        holds="BLIP-2 stage-1 frame Q-former, its 32 query tokens and ln_vision",
        published_at="https://storage.googleapis.com/sfr-vision-language-research/LAVIS/models/BLIP2/blip2_pretrained_flant5xxl.pth",
        converter="convert_blip2_pretrained",
    ),
    VideoLLaMACheckpointFile(
        role="finetune",
        name="finetune-vicuna7b-v2.pth",
        holds="Video-LLaMA VL branch (Vicuna-7B): video Q-former, video query tokens, frame position table, llama_proj",
        published_at="https://huggingface.co/DAMO-NLP-SG/Video-LLaMA-Series (file finetune-vicuna7b-v2.pth)",
        converter="convert_video_llama_finetune",
    ),
    VideoLLaMACheckpointFile(
        role="llm",
        name="MovieChat-vicuna (HF folder)",
        holds="Vicuna-7B v0 in HF format (LlamaForCausalLM + tokenizer)",
        published_at="https://huggingface.co/Enxin/MovieChat-vicuna (or LLaMA-7B + lmsys/vicuna-7b-delta-v0 via FastChat apply_delta)",
        converter="",
    ),
)


def video_llama_file(role: str) -> VideoLLaMACheckpointFile:
    """The entry of ``VIDEO_LLAMA_FILES`` for ``role`` (vision, blip2, finetune, llm)."""
    return find_role(VIDEO_LLAMA_FILES, role, "Video-LLaMA")


def load_video_llama_weights(
    model: nn.Module,
    vision: str | Path,
    blip2: str | Path,
    finetune: str | Path,
    cache_dir: str | Path | None = None,
) -> dict[str, LoadReport]:
    """Load the three ``.pth`` files into ``model`` (an ``InfVideoLLaMA`` or same layout) by the
    ``checkpoint_io`` procedure: all converted and checked (leftovers on each file's drop list, missing
    keys outside what it provides, every key outside ``language_model`` filled by some file) before any
    is copied. The LLM comes from ``load_llama_folder``."""
    depth = len(model.vision_model.encoder.layers)
    drops = {"vision": eva_vit_g_drops(depth), "blip2": BLIP2_DROPS, "finetune": FINETUNE_DROPS}
    conversions = []
    for role, path in (("vision", vision), ("blip2", blip2), ("finetune", finetune)):
        spec = video_llama_file(role)
        convert = CONVERTERS[spec.converter]
        if role == "vision":  # blocks beyond the model's depth are dropped (EVA-CLIP-g's 40th block)
            convert = partial(convert, depth=depth)
        conversions.append(FileConversion(spec, Path(path), convert, drops[role]))
    return load_files(model, conversions, cache_dir)


def load_llama_folder(path: str | Path, dtype: torch.dtype = torch.float16) -> nn.Module:
    """The Vicuna LLM from a local HF-format folder (never downloads)."""
    from transformers import LlamaForCausalLM

    return load_hf_folder(LlamaForCausalLM, path, "LLaMA/Vicuna", video_llama_file("llm").published_at, dtype)


def load_video_llama(
    config: InfVideoLLaMAConfig,
    dtype: torch.dtype = torch.float16,
    device: torch.device | str = "cpu",
    cache_dir: str | Path | None = None,
) -> InfVideoLLaMA:
    """∞-Video-LLaMA with real weights from the files ``config.checkpoints`` names (all checked present
    first): the LLM and its tokenizer from the HF folder, the rest from the three LAVIS/Video-LLaMA
    ``.pth`` files. The ViT runs in ``dtype`` (fp16 in the reference); the Q-formers and the memory stay
    in fp32."""
    from transformers import AutoTokenizer

    paths = checkpoint_paths(config.checkpoints, VIDEO_LLAMA_FILES)
    language_model = load_llama_folder(paths["llm"], dtype)
    tokenizer = AutoTokenizer.from_pretrained(str(paths["llm"]), local_files_only=True)
    model = InfVideoLLaMA(config, tokenizer, language_model=language_model)
    load_video_llama_weights(model, paths["vision"], paths["blip2"], paths["finetune"], cache_dir=cache_dir)
    model.vision_model.to(dtype)
    return model.to(device).eval()
