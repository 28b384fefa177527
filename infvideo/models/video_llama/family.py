"""What the model registry needs from ∞-Video-LLaMA: its config from a run's model settings, the model
(tiny: random weights; full: the original files), and how a question becomes a video embedding and an
answer. Video-LLaMA answers in free text: the options are matched to it later (eval's ``match``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import torch
from torch import Tensor

from infvideo.memory import MemoryConfig

from ..base import GenerationSettings, qformer_autocast_dtype
from ..tokenizers import tiny_llama_tokenizer
from .config import InfVideoLLaMAConfig
from .convert import load_video_llama
from .modeling import InfVideoLLaMA

# The run-config switches (ModelSettings fields) only this family reads.
SWITCHES = ("add_frame_pos", "reference_compat", "vision_batch_size")


def configure(base: InfVideoLLaMAConfig, settings, memory: MemoryConfig) -> InfVideoLLaMAConfig:
    """``base`` (a preset, or a loaded model's own config) with a run's model settings and memory."""
    config = replace(
        base,
        alpha=settings.alpha,
        memory=memory,
        add_frame_pos=settings.add_frame_pos,
        checkpoints=dict(settings.checkpoints),
        qformer_precision=settings.qformer_precision,
        vision_batch_size=settings.vision_batch_size,
    )
    return InfVideoLLaMAConfig.reference_compat(config) if settings.reference_compat else config


def build(settings, memory: MemoryConfig, dtype: torch.dtype, device: str, cache_dir: Path | None) -> InfVideoLLaMA:
    if settings.preset == "full":
        return load_video_llama(configure(InfVideoLLaMAConfig.full(), settings, memory), dtype, device, cache_dir)
    tokenizer = tiny_llama_tokenizer()
    config = configure(InfVideoLLaMAConfig.tiny(vocab_size=len(tokenizer)), settings, memory)
    torch.manual_seed(0)  # the tiny preset's random weights are the same in every run
    return InfVideoLLaMA(config, tokenizer).to(device)


def embed(model: InfVideoLLaMA, chunks: Iterable[Tensor], prompt: str, generator: torch.Generator) -> Tensor:
    return model.embed_video(chunks, generator)  # the video Q-former reads no text


def answer(
    model: InfVideoLLaMA, visuals: list[Tensor], prompts: list[str], records, settings: GenerationSettings, seed: int | None
) -> list[tuple[str, str | None]]:
    """(text, None) per question: free text, no option letter."""
    return [(text, None) for text in model.answer_many(visuals, prompts, settings, seed=seed)]


def signature(model: InfVideoLLaMA, settings, sampling) -> dict:
    """What the frame tokens depend on beyond the shared keys: half-precision frame Q-former tokens
    differ from fp32 ones (fp32 keeps the signature it always had)."""
    device = next(model.parameters()).device
    dtype = qformer_autocast_dtype(settings.qformer_precision, device, model.vision_model.dtype)
    return {} if dtype is None else {"qformer_precision": str(dtype).removeprefix("torch.")}
