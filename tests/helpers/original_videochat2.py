"""Synthetic VideoChat2 (Mistral) checkpoints in the ORIGINAL key layout, built from a tiny model.

The original names are written out by hand from the documented layout (docs/reference-notes.md C2 and C4, and
OpenGVLab/Ask-Anything ``video_chat2/models``): UMT ``vision_encoder.encoder.*`` with a fused qkv
weight and q/v biases, LAVIS BERT names under ``qformer.bert.``, ``query_tokens``,
``extra_query_tokens``, ``mistral_proj`` and peft LoRA factors under ``mistral_model.base_model.model.``.
The values are read from an ``InfVideoChat2`` — the inverse of the converter, written independently
of its regex rules — so a converted-and-loaded copy must reproduce that model's outputs.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import torch
from torch import Tensor, nn

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head")
PEFT_PREFIX = "mistral_model.base_model.model."


def _put(sd: dict, prefix: str, module: nn.Module) -> None:
    """``prefix.weight`` / ``prefix.bias`` of a Linear, LayerNorm or Conv (bias only if it has one)."""
    sd[f"{prefix}.weight"] = module.weight.detach().clone()
    if getattr(module, "bias", None) is not None:
        sd[f"{prefix}.bias"] = module.bias.detach().clone()


def umt_original(encoder: nn.Module, sd: dict, extra_blocks: int = 0, seed: int = 0) -> None:
    """UMT-L/16 names (``video_chat2/models/blip2/vit.py``) from a ``UMTVisionEncoder``.

    ``extra_blocks`` random blocks after the ones the encoder runs mimic UMT-L's 24th block.
    """
    host = encoder.videomae
    src = "vision_encoder.encoder."
    _put(sd, f"{src}patch_embed.proj", host.embeddings.patch_embeddings.projection)  # Conv3d [w, 3, 1, p, p]
    layers = list(host.encoder.layer)
    for i, layer in enumerate(layers):
        b = f"{src}blocks.{i}."
        attention = layer.attention.attention
        assert attention.key.bias is None
        _put(sd, f"{b}norm1", layer.layernorm_before)
        sd[f"{b}attn.qkv.weight"] = torch.cat([attention.query.weight, attention.key.weight, attention.value.weight]).detach().clone()
        sd[f"{b}attn.q_bias"] = attention.query.bias.detach().clone()
        sd[f"{b}attn.v_bias"] = attention.value.bias.detach().clone()
        _put(sd, f"{b}attn.proj", layer.attention.output.dense)
        _put(sd, f"{b}norm2", layer.layernorm_after)
        _put(sd, f"{b}mlp.fc1", layer.intermediate.dense)
        _put(sd, f"{b}mlp.fc2", layer.output.dense)
    g = torch.Generator().manual_seed(seed)
    template = {k[len(f"{src}blocks.0.") :]: v for k, v in sd.items() if k.startswith(f"{src}blocks.0.")}
    for i in range(len(layers), len(layers) + extra_blocks):
        for name, value in template.items():
            sd[f"{src}blocks.{i}.{name}"] = torch.randn(value.shape, generator=g)


def qformer_original(qformer: nn.Module, sd: dict, text_positions: int) -> None:
    """LAVIS ``Qformer.py`` BertModel names under ``qformer.bert.`` from an ``InstructBlipQFormerModel``."""
    src = "qformer.bert."
    embeddings = qformer.embeddings
    _put(sd, f"{src}embeddings.word_embeddings", embeddings.word_embeddings)
    _put(sd, f"{src}embeddings.position_embeddings", embeddings.position_embeddings)
    _put(sd, f"{src}embeddings.LayerNorm", embeddings.layernorm)
    sd[f"{src}embeddings.position_ids"] = torch.arange(text_positions).unsqueeze(0)  # the BERT buffer
    for i, layer in enumerate(qformer.encoder.layer):
        b = f"{src}encoder.layer.{i}."
        blocks = [("attention", layer.attention)]
        if layer.has_cross_attention:
            blocks.append(("crossattention", layer.crossattention))
        for name, block in blocks:
            for projection in ("query", "key", "value"):
                _put(sd, f"{b}{name}.self.{projection}", getattr(block.attention, projection))
            _put(sd, f"{b}{name}.output.dense", block.output.dense)
            _put(sd, f"{b}{name}.output.LayerNorm", block.output.LayerNorm)
        _put(sd, f"{b}intermediate.dense", layer.intermediate.dense)  # text FFN
        _put(sd, f"{b}output.dense", layer.output.dense)
        _put(sd, f"{b}output.LayerNorm", layer.output.LayerNorm)
        _put(sd, f"{b}intermediate_query.dense", layer.intermediate_query.dense)  # query FFN
        _put(sd, f"{b}output_query.dense", layer.output_query.dense)
        _put(sd, f"{b}output_query.LayerNorm", layer.output_query.LayerNorm)


def umt_qformer_original(model: nn.Module, extra_blocks: int = 1, seed: int = 0) -> dict[str, Tensor]:
    """``umt_l16_qformer.pth`` as the stage-1 model (``VideoChat2_qformer``) saves it: UMT, vision
    LayerNorm, the Q-former with its MLM head, 32 query tokens and the stage-1-only parts."""
    g = torch.Generator().manual_seed(seed + 1)
    sd: dict[str, Tensor] = {}
    umt_original(model.vision_encoder, sd, extra_blocks, seed)
    _put(sd, "vision_layernorm", model.vision_layernorm)
    qformer = model.qformer
    qformer_original(qformer, sd, qformer.config.max_position_embeddings)
    sd["query_tokens"] = model.query_tokens.detach().clone()
    width, vocab = qformer.config.hidden_size, qformer.config.vocab_size
    # BertLMHeadModel's head (qformer.cls), which the it model deletes
    sd["qformer.cls.predictions.transform.dense.weight"] = torch.randn(width, width, generator=g)
    sd["qformer.cls.predictions.transform.dense.bias"] = torch.randn(width, generator=g)
    sd["qformer.cls.predictions.transform.LayerNorm.weight"] = torch.randn(width, generator=g)
    sd["qformer.cls.predictions.transform.LayerNorm.bias"] = torch.randn(width, generator=g)
    sd["qformer.cls.predictions.bias"] = torch.randn(vocab, generator=g)
    sd["qformer.cls.predictions.decoder.weight"] = torch.randn(vocab, width, generator=g)
    sd["qformer.cls.predictions.decoder.bias"] = sd["qformer.cls.predictions.bias"]
    # stage-1 only: temporal embedding, contrastive/matching heads, temperature
    sd["vision_temp_embed"] = torch.randn(1, 4, 1, model.vision_encoder.width, generator=g)
    for head, out in (("vision_proj", 16), ("text_proj", 16), ("itm_head", 2)):
        sd[f"{head}.weight"] = torch.randn(out, width, generator=g)
        sd[f"{head}.bias"] = torch.randn(out, generator=g)
    sd["temp"] = torch.tensor(0.07)
    return sd


def random_lora(language_model: nn.Module, r: int = 16, seed: int = 0, scale: float = 0.05) -> dict[str, Tensor]:
    """peft factors for every LoRA target Linear: ``mistral_model.base_model.model.<name>.lora_{A,B}.default.weight``.

    peft initialises B to zero; trained factors are not, so both are random here.
    """
    g = torch.Generator().manual_seed(seed)
    sd: dict[str, Tensor] = {}
    for name, module in language_model.named_modules():
        if isinstance(module, nn.Linear) and name.split(".")[-1] in LORA_TARGETS:
            sd[f"{PEFT_PREFIX}{name}.lora_A.default.weight"] = torch.randn(r, module.in_features, generator=g) * scale
            sd[f"{PEFT_PREFIX}{name}.lora_B.default.weight"] = torch.randn(module.out_features, r, generator=g) * scale
    return sd


@torch.no_grad()
def merge_by_hand(language_model: nn.Module, lora: dict[str, Tensor], r: int = 16, alpha: float = 32) -> nn.Module:
    """W + (alpha/r)·B·A for every adapted Linear, written out (no infvideo code), in place."""
    for name, module in language_model.named_modules():
        a = lora.get(f"{PEFT_PREFIX}{name}.lora_A.default.weight")
        if a is not None:
            b = lora[f"{PEFT_PREFIX}{name}.lora_B.default.weight"]
            module.weight.copy_(module.weight + (alpha / r) * (b @ a))
    return language_model


def stage3_original(model: nn.Module, lora: dict[str, Tensor]) -> dict[str, Tensor]:
    """``videochat2_mistral_7b_stage3.pth``: what train_it.py saves for the stage-3 config — every
    trainable parameter (UMT's 23 run blocks, vision LayerNorm, Q-former, both query-token sets,
    mistral_proj, LoRA factors) and every buffer (BERT's position_ids); no frozen Mistral weights."""
    sd: dict[str, Tensor] = {}
    umt_original(model.vision_encoder, sd)
    _put(sd, "vision_layernorm", model.vision_layernorm)
    qformer_original(model.qformer, sd, model.qformer.config.max_position_embeddings)
    sd["query_tokens"] = model.query_tokens.detach().clone()
    sd["extra_query_tokens"] = model.extra_query_tokens.detach().clone()
    _put(sd, "mistral_proj", model.mistral_proj)
    sd.update(lora)
    return sd


class EasyDict(dict):
    """Like VideoChat2's ``utils.easydict.EasyDict``: pickled under a module that will not exist."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as error:
            raise AttributeError(name) from error


EasyDict.__module__ = "utils.easydict"


def save_like_videochat2_trainer(sd: dict[str, Tensor], path: str | Path) -> None:
    """``torch.save`` as train_it.py does: weights under "model" next to the optimiser state and the
    EasyDict config, which makes a ``weights_only`` load fail. The fake ``utils`` module exists only
    while saving."""
    package, module = types.ModuleType("utils"), types.ModuleType("utils.easydict")
    module.EasyDict = EasyDict
    saved = {name: sys.modules.get(name) for name in ("utils", "utils.easydict")}
    sys.modules["utils"], sys.modules["utils.easydict"] = package, module
    try:
        config = EasyDict(model=EasyDict(model_cls="VideoChat2_it_mistral", use_lora=True, lora_r=16), lr=2e-5)
        torch.save({"model": sd, "optimizer": {"state": {}, "param_groups": []}, "config": config, "epoch": 2}, path)
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
