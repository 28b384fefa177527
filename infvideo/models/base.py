"""What every ∞-Video backbone offers the evaluation layer.

The frame stage is separate from the memory stage so that sweeps over memory settings reuse cached
frame tokens and never re-run the vision encoder:

1. ``encode_chunk(frames)``: preprocessed frames of one chunk [frames, 3, H, W] -> frame tokens
   [frames, tokens_per_frame, width] (Video-LLaMA: frame Q-former outputs; VideoChat2: UMT patch
   tokens, which depend on the whole chunk because UMT attends across its frames).
2. ``embed_video(chunks, ...)``: a sequence of chunks of frame tokens -> the LLM-ready visual
   embedding [1, n_queries, llm_width]: the memory is reset at the first chunk, every chunk goes through
   the memory-aware Q-former, and the chunk embeddings are averaged (running mean).
3. ``answer(visual, prompt, ...)``: generate the answer text from the visual embedding and a prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol

import torch
from torch import Tensor


@dataclass
class GenerationSettings:
    """Decoding settings; the reference's Video-LLaMA values are sampling with top_p 0.9."""

    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 0.9
    num_beams: int = 1
    max_new_tokens: int = 300
    min_length: int = 1
    repetition_penalty: float = 1.0
    length_penalty: float = 1.0


def generate_from_embeddings(
    language_model, embeds: Tensor, settings: GenerationSettings, seed: int | None = None, **stopping
) -> Tensor:
    """``generate`` on prompt embeddings with the settings; a ``seed`` makes sampling reproducible
    without touching the caller's global RNG. ``stopping``: stop strings or EOS ids for the model."""
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        return language_model.generate(
            inputs_embeds=embeds,
            attention_mask=torch.ones(embeds.shape[:2], dtype=torch.long, device=embeds.device),
            max_new_tokens=settings.max_new_tokens,
            min_length=settings.min_length,
            do_sample=settings.do_sample,
            temperature=settings.temperature if settings.do_sample else None,
            top_p=settings.top_p if settings.do_sample else None,
            num_beams=settings.num_beams,
            repetition_penalty=settings.repetition_penalty,
            length_penalty=settings.length_penalty,
            **stopping,
        )


def strip_leading_special(ids: Tensor) -> Tensor:
    """Drop a leading <unk> (0) and then a leading <s> (1), a harmless guard kept from the reference."""
    if ids.numel() and ids[0] == 0:
        ids = ids[1:]
    if ids.numel() and ids[0] == 1:
        ids = ids[1:]
    return ids


class VideoLLM(Protocol):
    def encode_chunk(self, frames: Tensor) -> Tensor: ...

    def embed_video(self, chunks: Iterable[Tensor], generator: torch.Generator | None = None) -> Tensor: ...

    def answer(self, visual: Tensor, prompt: str, settings: GenerationSettings | None = None) -> str: ...


class RunningMean:
    """m_c = ((c − 1)/c)·m_{c−1} + (1/c)·E_c: the mean over chunks without holding them."""

    def __init__(self) -> None:
        self.count = 0
        self.value: Tensor | None = None

    def add(self, x: Tensor) -> None:
        self.count += 1
        self.value = x.clone() if self.value is None else self.value + (x - self.value) / self.count
