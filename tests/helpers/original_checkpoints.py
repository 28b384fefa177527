"""Synthetic checkpoints in the ORIGINAL (LAVIS / Video-LLaMA) key layout, at toy sizes.

Keys and shapes follow docs/reference-notes.md C2–C3 (the layouts the real files are documented or
inferred to have); values are random so that any wrong mapping shows up as a value mismatch.
Also builds a stand-in module with ``InfVideoLLaMA``'s top-level attribute layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from transformers import Blip2QFormerConfig, Blip2QFormerModel, Blip2VisionConfig, Blip2VisionModel, LlamaConfig, LlamaForCausalLM


@dataclass(frozen=True)
class TinySizes:
    vision_width: int = 32  # differs from the Q-former width so transposed cross-attn weights cannot load
    vision_heads: int = 4
    vision_mlp: int = 64
    vision_depth: int = 3
    image_size: int = 28
    patch_size: int = 14
    qformer_width: int = 48  # frame and video Q-former (both BERT-base in the real model)
    qformer_heads: int = 4
    qformer_ffn: int = 96
    qformer_layers: int = 2
    cross_every: int = 2
    video_layers: int = 2
    num_queries: int = 4
    frame_positions: int = 8
    llm_width: int = 64
    llm_layers: int = 2
    llm_heads: int = 4
    text_vocab: int = 30  # BERT text path that Video-LLaMA deletes (real: 30522)
    text_positions: int = 16  # (real: 512)

    @classmethod
    def of(cls, config) -> TinySizes:
        """The sizes of an ``InfVideoLLaMAConfig`` (so original files fit that model)."""
        v, q, vq = config.vision, config.qformer, config.video_qformer
        return cls(
            vision_width=v["hidden_size"],
            vision_heads=v["num_attention_heads"],
            vision_mlp=v["intermediate_size"],
            vision_depth=v["num_hidden_layers"],
            image_size=v["image_size"],
            patch_size=v["patch_size"],
            qformer_width=q["hidden_size"],
            qformer_heads=q["num_attention_heads"],
            qformer_ffn=q["intermediate_size"],
            qformer_layers=q["num_hidden_layers"],
            cross_every=q["cross_attention_frequency"],
            video_layers=vq["num_hidden_layers"],
            num_queries=config.num_query_tokens,
            frame_positions=config.max_frame_pos,
            llm_width=config.llm["hidden_size"],
        )

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2


def _rand(generator: torch.Generator, *shape: int) -> Tensor:
    return torch.randn(*shape, generator=generator) * 0.2


def _linear(sd: dict, prefix: str, g: torch.Generator, out_features: int, in_features: int) -> None:
    sd[f"{prefix}.weight"] = _rand(g, out_features, in_features)
    sd[f"{prefix}.bias"] = _rand(g, out_features)


def _layer_norm(sd: dict, prefix: str, g: torch.Generator, width: int) -> None:
    sd[f"{prefix}.weight"] = 1 + _rand(g, width)
    sd[f"{prefix}.bias"] = _rand(g, width)


def eva_vit_g_original(sizes: TinySizes, extra_blocks: int = 1, seed: int = 0) -> dict[str, Tensor]:
    """LAVIS ``eva_vit_g.pth`` layout: no prefix, fused qkv weight without bias + q_bias/v_bias.

    ``extra_blocks`` blocks beyond ``vision_depth`` mimic EVA-CLIP-g's 40th block that BLIP-2 drops.
    """
    g = torch.Generator().manual_seed(seed)
    d, h = sizes.vision_width, sizes.vision_mlp
    sd: dict[str, Tensor] = {
        "cls_token": _rand(g, 1, 1, d),
        "pos_embed": _rand(g, 1, sizes.num_patches + 1, d),
        "patch_embed.proj.weight": _rand(g, d, 3, sizes.patch_size, sizes.patch_size) * 0.1,
        "patch_embed.proj.bias": _rand(g, d),
    }
    for i in range(sizes.vision_depth + extra_blocks):
        b = f"blocks.{i}"
        _layer_norm(sd, f"{b}.norm1", g, d)
        sd[f"{b}.attn.q_bias"] = _rand(g, d)
        sd[f"{b}.attn.v_bias"] = _rand(g, d)
        sd[f"{b}.attn.qkv.weight"] = _rand(g, 3 * d, d)
        _linear(sd, f"{b}.attn.proj", g, d, d)
        _layer_norm(sd, f"{b}.norm2", g, d)
        _linear(sd, f"{b}.mlp.fc1", g, h, d)
        _linear(sd, f"{b}.mlp.fc2", g, d, h)
    return sd


def _bert_qformer(
    sd: dict, prefix: str, g: torch.Generator, sizes: TinySizes, layers: int, cross_every: int, encoder_width: int, text_path: bool
) -> None:
    """LAVIS ``Qformer.py`` BERT names under ``prefix`` (e.g. ``Qformer.bert.``)."""
    w, f = sizes.qformer_width, sizes.qformer_ffn
    sd[f"{prefix}embeddings.position_ids"] = torch.arange(sizes.text_positions).unsqueeze(0)  # a buffer
    if text_path:
        sd[f"{prefix}embeddings.word_embeddings.weight"] = _rand(g, sizes.text_vocab, w)
        sd[f"{prefix}embeddings.position_embeddings.weight"] = _rand(g, sizes.text_positions, w)
    _layer_norm(sd, f"{prefix}embeddings.LayerNorm", g, w)
    for i in range(layers):
        layer = f"{prefix}encoder.layer.{i}"
        for name in ("query", "key", "value"):
            _linear(sd, f"{layer}.attention.self.{name}", g, w, w)
        _linear(sd, f"{layer}.attention.output.dense", g, w, w)
        _layer_norm(sd, f"{layer}.attention.output.LayerNorm", g, w)
        if i % cross_every == 0:
            _linear(sd, f"{layer}.crossattention.self.query", g, w, w)
            _linear(sd, f"{layer}.crossattention.self.key", g, w, encoder_width)
            _linear(sd, f"{layer}.crossattention.self.value", g, w, encoder_width)
            _linear(sd, f"{layer}.crossattention.output.dense", g, w, w)
            _layer_norm(sd, f"{layer}.crossattention.output.LayerNorm", g, w)
        if text_path:
            _linear(sd, f"{layer}.intermediate.dense", g, f, w)
            _linear(sd, f"{layer}.output.dense", g, w, f)
            _layer_norm(sd, f"{layer}.output.LayerNorm", g, w)
        _linear(sd, f"{layer}.intermediate_query.dense", g, f, w)
        _linear(sd, f"{layer}.output_query.dense", g, w, f)
        _layer_norm(sd, f"{layer}.output_query.LayerNorm", g, w)


def blip2_pretrained_original(sizes: TinySizes, seed: int = 1) -> dict[str, Tensor]:
    """LAVIS BLIP-2 stage-1 checkpoint: full Q-former (text path included), heads, ln_vision."""
    g = torch.Generator().manual_seed(seed)
    w = sizes.qformer_width
    sd: dict[str, Tensor] = {}
    _bert_qformer(sd, "Qformer.bert.", g, sizes, sizes.qformer_layers, sizes.cross_every, sizes.vision_width, text_path=True)
    # BERT MLM head, which Video-LLaMA deletes
    _linear(sd, "Qformer.cls.predictions.transform.dense", g, w, w)
    _layer_norm(sd, "Qformer.cls.predictions.transform.LayerNorm", g, w)
    sd["Qformer.cls.predictions.bias"] = _rand(g, sizes.text_vocab)
    sd["Qformer.cls.predictions.decoder.weight"] = _rand(g, sizes.text_vocab, w)
    sd["query_tokens"] = _rand(g, 1, sizes.num_queries, w)
    _layer_norm(sd, "ln_vision", g, sizes.vision_width)
    _linear(sd, "vision_proj", g, 16, w)  # contrastive heads of stage 1
    _linear(sd, "text_proj", g, 16, w)
    _linear(sd, "itm_head", g, 2, w)
    sd["temp"] = torch.tensor(0.07)
    return sd


def video_llama_finetune_original(sizes: TinySizes, seed: int = 2) -> dict[str, Tensor]:
    """``finetune-vicuna7b-v2.pth`` as inferred: trainable parameters plus every buffer."""
    g = torch.Generator().manual_seed(seed)
    w = sizes.qformer_width
    sd: dict[str, Tensor] = {}
    _bert_qformer(sd, "video_Qformer.bert.", g, sizes, sizes.video_layers, 1, w, text_path=False)
    sd["Qformer.bert.embeddings.position_ids"] = torch.arange(sizes.text_positions).unsqueeze(0)
    sd["video_query_tokens"] = _rand(g, 1, sizes.num_queries, w)
    sd["video_frame_position_embedding.weight"] = _rand(g, sizes.frame_positions, w)
    _linear(sd, "llama_proj", g, sizes.llm_width, w)
    head_dim = sizes.llm_width // sizes.llm_heads
    for i in range(sizes.llm_layers):
        sd[f"llama_model.model.layers.{i}.self_attn.rotary_emb.inv_freq"] = 1.0 / (10000 ** (torch.arange(0, head_dim, 2) / head_dim))
    return sd


def wrap_like_lavis(sd: dict[str, Tensor]) -> dict:
    """What LAVIS/Video-LLaMA runners save: the weights under "model" next to training state."""
    return {"model": sd, "optimizer": {"state": {}, "param_groups": []}, "config": {"run": {"lr": 1e-4}}, "epoch": 3}


class VideoLLaMALayout(nn.Module):
    """Stand-in with ``InfVideoLLaMA``'s top-level attributes (no memory, no forward logic)."""

    def __init__(self, sizes: TinySizes, vision_depth: int | None = None) -> None:
        super().__init__()
        self.vision_model = Blip2VisionModel(
            Blip2VisionConfig(
                hidden_size=sizes.vision_width,
                intermediate_size=sizes.vision_mlp,
                num_attention_heads=sizes.vision_heads,
                num_hidden_layers=vision_depth or sizes.vision_depth,
                image_size=sizes.image_size,
                patch_size=sizes.patch_size,
            )
        )
        # LAVIS's ln_vision uses torch's default eps, as the lead's model does.
        self.vision_model.post_layernorm = nn.LayerNorm(sizes.vision_width, eps=1e-5)
        common = dict(
            hidden_size=sizes.qformer_width,
            num_attention_heads=sizes.qformer_heads,
            intermediate_size=sizes.qformer_ffn,
            use_qformer_text_input=False,
        )
        self.query_tokens = nn.Parameter(torch.zeros(1, sizes.num_queries, sizes.qformer_width))
        self.qformer = Blip2QFormerModel(
            Blip2QFormerConfig(
                num_hidden_layers=sizes.qformer_layers,
                cross_attention_frequency=sizes.cross_every,
                encoder_hidden_size=sizes.vision_width,
                **common,
            )
        )
        self.video_query_tokens = nn.Parameter(torch.zeros(1, sizes.num_queries, sizes.qformer_width))
        self.video_frame_position_embedding = nn.Embedding(sizes.frame_positions, sizes.qformer_width)
        self.video_qformer = Blip2QFormerModel(
            Blip2QFormerConfig(
                num_hidden_layers=sizes.video_layers, cross_attention_frequency=1, encoder_hidden_size=sizes.qformer_width, **common
            )
        )
        self.llama_proj = nn.Linear(sizes.qformer_width, sizes.llm_width)
        self.language_model = LlamaForCausalLM(
            LlamaConfig(
                vocab_size=50,
                hidden_size=sizes.llm_width,
                intermediate_size=2 * sizes.llm_width,
                num_hidden_layers=sizes.llm_layers,
                num_attention_heads=sizes.llm_heads,
                num_key_value_heads=sizes.llm_heads,
            )
        )
        self.eval()

    @torch.no_grad()
    def visual_pipeline(self, pixels: Tensor) -> Tensor:
        """Frames -> vision -> frame Q-former -> (+frame positions) video Q-former -> llama_proj."""
        image_tokens = self.vision_model(pixel_values=pixels).last_hidden_state
        frames = self.qformer(
            query_embeds=self.query_tokens.expand(pixels.shape[0], -1, -1), encoder_hidden_states=image_tokens
        ).last_hidden_state
        frames = frames + self.video_frame_position_embedding.weight[: frames.shape[0]].unsqueeze(1)
        video = self.video_qformer(
            query_embeds=self.video_query_tokens, encoder_hidden_states=frames.reshape(1, -1, frames.shape[-1])
        ).last_hidden_state
        return self.llama_proj(video)
