"""∞-Video-LLaMA on transformers classes (docs/reference-notes.md, S1–S2, R9).

EVA ViT-g/14 (``Blip2VisionModel``) → BLIP-2 frame Q-former (``Blip2QFormerModel``) per frame →
video Q-former (``Blip2QFormerModel``, 2 layers, memory in both cross-attention layers) per chunk →
``llama_proj`` → running mean over chunks → ``LlamaForCausalLM`` on the prompt with the video embedding
in place of ``<ImageHere>``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor, nn
from transformers import Blip2QFormerConfig, Blip2QFormerModel, Blip2VisionConfig, Blip2VisionModel, LlamaConfig, LlamaForCausalLM

from infvideo.memory import build_memory

from ..base import GenerationSettings, RunningMean, qformer_precision, strip_leading_special
from ..batching import generate_padded
from ..memory_attention import install_memory, memory_layers, reset_memories
from .config import InfVideoLLaMAConfig
from .prompts import clean_answer, split_prompt

# Frame positions past the learned table: MovieChat+'s hierarchical positions (docs/reference-notes.md, B3),
# which ∞-Video-LLaMA uses for its frame Q-former tokens (``add_frame_pos``).


def hierarchical_position_table(table: Tensor, n_base: int, alpha: float = 0.01) -> Tensor:
    """n_base² positions from the first ``n_base`` rows of a learned table [rows, width].

    u_i = (p_i − α·p_0)/(1 − α); position i·n_base + j gets α·u_i + (1 − α)·u_j. For i = 0 this is
    p_j, so the first n_base positions are the original table (short inputs are unchanged).
    """
    if not 1 <= n_base <= table.shape[0]:
        raise ValueError(f"n_base must lie in [1, {table.shape[0]}] (table rows), got {n_base}")
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"alpha must lie in [0, 1), got {alpha}")
    p = table[:n_base]
    u = (p - alpha * p[0]) / (1 - alpha)
    return (alpha * u[:, None, :] + (1 - alpha) * u[None, :, :]).reshape(n_base * n_base, -1)


def adaptive_position_count(n: int, max_base: int = 32) -> int:
    """MovieChat+'s base size for ``n`` slots: min(⌈√n⌉, max_base) (so up to max_base² positions)."""
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    ceil_sqrt = 0 if n == 0 else math.isqrt(n - 1) + 1  # exact, unlike math.ceil(math.sqrt(n))
    return min(ceil_sqrt, max_base)


class InfVideoLLaMA(nn.Module):
    def __init__(self, config: InfVideoLLaMAConfig, tokenizer=None, language_model: nn.Module | None = None) -> None:
        """``language_model``: an already loaded LLM (real runs), else one is built from ``config.llm``."""
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer
        self.vision_model = Blip2VisionModel(Blip2VisionConfig(**config.vision))
        vision_width = self.vision_model.config.hidden_size
        self.vision_model.post_layernorm = nn.LayerNorm(vision_width, eps=config.ln_vision_eps)
        self.qformer = Blip2QFormerModel(Blip2QFormerConfig(**config.qformer))
        width = self.qformer.config.hidden_size
        self.query_tokens = nn.Parameter(torch.zeros(1, config.num_query_tokens, width))
        self.video_qformer = Blip2QFormerModel(Blip2QFormerConfig(**config.video_qformer))
        video_width = self.video_qformer.config.hidden_size
        self.video_query_tokens = nn.Parameter(torch.zeros(1, config.num_video_query_tokens, video_width))
        self.video_frame_position_embedding = nn.Embedding(config.max_frame_pos, width)
        self.language_model = language_model if language_model is not None else LlamaForCausalLM(LlamaConfig(**config.llm))
        self.llama_proj = nn.Linear(video_width, self.language_model.config.hidden_size)
        # The frame Q-former emits num_query_tokens tokens per frame: that is the memory's frame size.
        install_memory(self.video_qformer, lambda: build_memory(config.memory), config.alpha, config.num_query_tokens)
        self.eval()

    @property
    def image_size(self) -> int:
        """The frame size the ViT was built for (what preprocessing resizes to unless a run says otherwise)."""
        return self.vision_model.config.image_size

    # -- frame stage -------------------------------------------------------------------------
    @torch.inference_mode()
    def encode_chunk(self, frames: Tensor) -> Tensor:
        """Preprocessed frames [L, 3, H, W] -> frame Q-former tokens [L, num_query_tokens, width] (fp32)."""
        size = self.config.vision_batch_size
        if size is None or frames.shape[0] <= size:
            return self._encode_frames(frames)
        return torch.cat([self._encode_frames(part) for part in frames.split(size)])

    def _encode_frames(self, frames: Tensor) -> Tensor:
        dtype = self.vision_model.embeddings.patch_embedding.weight.dtype
        image_tokens = self.vision_model(pixel_values=frames.to(dtype)).last_hidden_state
        # The Q-former weights stay fp32; with an autocast precision its matmuls run in half precision.
        image_tokens = image_tokens.to(self.query_tokens.dtype)
        queries = self.query_tokens.expand(frames.shape[0], -1, -1)
        with qformer_precision(self.config.qformer_precision, frames.device, dtype):
            tokens = self.qformer(query_embeds=queries, encoder_hidden_states=image_tokens).last_hidden_state
        return tokens.to(self.query_tokens.dtype)  # cached frame tokens are fp32 whatever the precision

    # -- memory stage ------------------------------------------------------------------------
    def frame_positions(self, num_frames: int) -> Tensor:
        """MovieChat's hierarchical extension of the learned frame table to ``num_frames`` rows."""
        base = adaptive_position_count(num_frames, self.config.max_frame_pos)
        return hierarchical_position_table(self.video_frame_position_embedding.weight, base)[:num_frames]

    def embed_chunk(self, tokens: Tensor) -> Tensor:
        """Frame tokens of one chunk [L, n, width] -> projected video embedding [1, n_video_queries, llm]."""
        if self.config.add_frame_pos:
            limit = self.config.max_frame_pos**2
            tokens = tokens[-limit:]  # beyond max_frame_pos² frames the earliest are dropped, as MovieChat+
            tokens = tokens + self.frame_positions(tokens.shape[0]).unsqueeze(1).to(tokens.dtype)
        frames = tokens.reshape(1, -1, tokens.shape[-1])
        out = self.video_qformer(query_embeds=self.video_query_tokens, encoder_hidden_states=frames).last_hidden_state
        return self.llama_proj(out)

    @torch.inference_mode()
    def embed_video(self, chunks: Iterable[Tensor], generator: torch.Generator | None = None) -> Tensor:
        """Chunks of frame tokens -> the LLM's visual input [1, n_video_queries, llm_hidden]: memory reset at
        the first chunk, then the mean of the chunk embeddings."""
        reset_memories(self.video_qformer, generator)
        self.video_qformer.train(self.config.dropout_at_inference)
        mean = RunningMean()
        try:
            for tokens in chunks:
                mean.add(self.embed_chunk(tokens))
        finally:
            self.video_qformer.eval()
        if mean.value is None:
            raise ValueError("embed_video needs at least one chunk")
        return mean.value.to(self.language_model.dtype)

    # -- answer ------------------------------------------------------------------------------
    def prompt_embeddings(self, visual: Tensor, prompt: str) -> Tensor:
        before, after = split_prompt(prompt)
        embed = self.language_model.get_input_embeddings()
        device = embed.weight.device
        ids_before = self.tokenizer(before, return_tensors="pt", add_special_tokens=True).input_ids.to(device)
        ids_after = self.tokenizer(after, return_tensors="pt", add_special_tokens=False).input_ids.to(device)
        return torch.cat([embed(ids_before), visual.to(device, embed.weight.dtype), embed(ids_after)], dim=1)

    @torch.inference_mode()
    def answer(self, visual: Tensor, prompt: str, settings: GenerationSettings | None = None, seed: int | None = None) -> str:
        """Generate from the prompt with the video in place of ``<ImageHere>``; stop at "###"."""
        return self.answer_many([visual], [prompt], settings, seed)[0]

    @torch.inference_mode()
    def answer_many(
        self, visuals: list[Tensor], prompts: list[str], settings: GenerationSettings | None = None, seed: int | None = None
    ) -> list[str]:
        """One answer per (visual [1, n, hidden], prompt) pair from one left-padded ``generate``; each row
        stops at its own "###" (or EOS). Greedy, each answer is the one ``answer`` gives alone (beam
        search may differ); a ``seed`` seeds the batch as a whole, not each row."""
        if self.tokenizer is None:
            raise RuntimeError("InfVideoLLaMA.answer needs a tokenizer")
        settings = settings or GenerationSettings()
        rows = [self._truncate(self.prompt_embeddings(visual, prompt), settings) for visual, prompt in zip(visuals, prompts, strict=True)]
        outputs = generate_padded(
            self.language_model,
            rows,
            settings,
            seed,
            stop_strings=["###"],
            tokenizer=self.tokenizer,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        # Rows that stopped early are filled with the pad id, a special token that decoding skips.
        return [clean_answer(self.tokenizer.decode(strip_leading_special(ids), skip_special_tokens=True)) for ids in outputs]

    def _truncate(self, embeds: Tensor, settings: GenerationSettings) -> Tensor:
        """The reference keeps the last (max_context − max_new_tokens) prompt positions."""
        overflow = embeds.shape[1] + settings.max_new_tokens - self.config.max_context
        return embeds[:, overflow:] if overflow > 0 else embeds

    def memories(self):
        return [layer.memory for layer in memory_layers(self.video_qformer)]
