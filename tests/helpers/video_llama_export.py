"""Write a tiny InfVideoLLaMA's weights back into the three ORIGINAL files' key layouts (the inverse of
the converters), so a load can be checked against the very model the files came from."""

from __future__ import annotations

import re

import torch
from torch import Tensor


def _qformer_original(state: dict[str, Tensor], ours: str, theirs: str) -> dict[str, Tensor]:
    out = {}
    for key, value in state.items():
        if not key.startswith(ours):
            continue
        rest = key[len(ours) :]
        rest = re.sub(r"^layernorm\.", "embeddings.LayerNorm.", rest)
        rest = re.sub(r"\.(attention|crossattention)\.attention\.", r".\1.self.", rest)
        out[theirs + rest] = value.clone()
    return out


def video_llama_originals(model) -> dict[str, dict[str, Tensor]]:
    """{"vision": eva_vit_g.pth, "blip2": blip2_pretrained_flant5xxl.pth, "finetune": finetune-vicuna7b-v2.pth}."""
    state = model.state_dict()
    vision = {}
    for key, value in state.items():
        if not key.startswith("vision_model.") or ".post_layernorm." in key:
            continue
        rest = key[len("vision_model.") :]
        rest = rest.replace("embeddings.class_embedding", "cls_token").replace("embeddings.position_embedding", "pos_embed")
        rest = rest.replace("embeddings.patch_embedding", "patch_embed.proj").replace("encoder.layers.", "blocks.")
        rest = rest.replace("layer_norm1", "norm1").replace("layer_norm2", "norm2")
        rest = rest.replace("self_attn.projection", "attn.proj").replace("self_attn.qkv", "attn.qkv")
        if rest.endswith("attn.qkv.bias"):
            q, _, v = value.chunk(3)
            vision[rest.replace("qkv.bias", "q_bias")] = q.clone()
            vision[rest.replace("qkv.bias", "v_bias")] = v.clone()
            continue
        vision[rest] = value.clone()
    blip2 = _qformer_original(state, "qformer.", "Qformer.bert.")
    blip2["query_tokens"] = state["query_tokens"].clone()
    blip2.update(
        {
            k.replace("vision_model.post_layernorm.", "ln_vision."): v.clone()
            for k, v in state.items()
            if k.startswith("vision_model.post_layernorm.")
        }
    )
    finetune = _qformer_original(state, "video_qformer.", "video_Qformer.bert.")
    for key in ("video_query_tokens", "video_frame_position_embedding.weight", "llama_proj.weight", "llama_proj.bias"):
        finetune[key] = state[key].clone()
    return {"vision": vision, "blip2": blip2, "finetune": finetune}


def zero_key_biases(model) -> None:
    """EVA has no key bias (its slot in the fused qkv bias is fixed at zero)."""
    with torch.no_grad():
        for layer in model.vision_model.encoder.layers:
            bias = layer.self_attn.qkv.bias
            width = bias.numel() // 3
            bias[width : 2 * width] = 0
