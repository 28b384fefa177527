"""What the model registry needs from ∞-VideoChat2: its config from a run's model settings, the model
(tiny: random weights; full: the original files), and how a question becomes a video embedding and an
answer. VideoChat2's Q-former reads the prompt's instruction, and it answers with an option letter,
parsed here from the text its scripts keep."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import torch
from torch import Tensor

from infvideo.memory import MemoryConfig

from ..base import GenerationSettings
from ..tokenizers import tiny_bert_tokenizer, tiny_llama_tokenizer
from .config import InfVideoChat2Config, VideoChat2Tokenizers
from .convert import load_videochat2
from .modeling import InfVideoChat2
from .prompts import VideoChat2Prompt, parse_option_letter

# The run-config switches (ModelSettings fields) only this family reads: none.
SWITCHES: tuple[str, ...] = ()


def configure(base: InfVideoChat2Config, settings, memory: MemoryConfig) -> InfVideoChat2Config:
    """``base`` (a preset, or a loaded model's own config) with a run's model settings and memory."""
    return replace(
        base, alpha=settings.alpha, memory=memory, checkpoints=dict(settings.checkpoints), qformer_precision=settings.qformer_precision
    )


def build(settings, memory: MemoryConfig, dtype: torch.dtype, device: str, cache_dir: Path | None) -> InfVideoChat2:
    if settings.preset == "full":
        return load_videochat2(configure(InfVideoChat2Config.full(), settings, memory), dtype, device, cache_dir)
    tokenizers = VideoChat2Tokenizers(qformer=tiny_bert_tokenizer(), llm=tiny_llama_tokenizer())
    tiny = InfVideoChat2Config.tiny(llm_vocab_size=len(tokenizers.llm), qformer_vocab_size=len(tokenizers.qformer))
    config = configure(tiny, settings, memory)
    torch.manual_seed(0)  # the tiny preset's random weights are the same in every run
    return InfVideoChat2(config, tokenizers).to(device)


def embed(model: InfVideoChat2, chunks: Iterable[Tensor], prompt: VideoChat2Prompt, generator: torch.Generator) -> Tensor:
    return model.embed_video(chunks, generator, instruction=prompt.instruction)


def answer(
    model: InfVideoChat2, visuals: list[Tensor], prompts: list[VideoChat2Prompt], records, settings: GenerationSettings, seed: int | None
) -> list[tuple[str, str | None]]:
    """(the scripts' kept text, its option letter or None) per question; no letter without options."""
    texts = model.answer_many(visuals, [prompt.text for prompt in prompts], settings, seed=seed)
    answers = []
    for record, prompt, text in zip(records, prompts, texts, strict=True):
        text = prompt.clean(text)
        letters = record.option_letters
        answers.append((text, parse_option_letter(text, letters) if letters else None))
    return answers


def signature(model: InfVideoChat2, settings, sampling) -> dict:
    """What the frame tokens depend on beyond the shared keys: UMT attends across a chunk's frames."""
    return {"frames_per_chunk": sampling.frames_per_chunk}
