"""The model families by name: everything the evaluation layer and ``infvideo inspect`` need to know
about one, as data (one row per family; the family's own code lives in its folder).

A row says which config class and model class the family has, which run-config switches only it reads,
the original files its full preset loads, how frames are preprocessed, its prompt per task, and how a
question becomes a video embedding and an answer. Adding a family is a folder under ``infvideo/models/``
and a row here; adding a benchmark is one prompt entry in each family's ``prompts.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from infvideo.data.record import QuestionRecord
from infvideo.errors import UserError
from infvideo.memory import MemoryConfig
from infvideo.video.preprocess import preprocess_video_llama, preprocess_videochat2

from . import video_llama, videochat2
from .checkpoint_io import CheckpointFile
from .video_llama import family as video_llama_family
from .videochat2 import family as videochat2_family


@dataclass(frozen=True)
class Family:
    name: str  # model.name in a run config
    title: str
    config_class: type  # with full() and tiny() presets
    model_class: type  # model_class(config) builds it with random weights and no tokenizer
    switches: tuple[str, ...]  # ModelSettings fields only this family reads; elsewhere they must keep their defaults
    files: tuple[CheckpointFile, ...]  # what the full preset loads, by role
    preprocess: Callable[[np.ndarray, int], Tensor]  # a module function: prefetch workers receive it pickled
    prompts: Mapping[str, Callable[[QuestionRecord], Any]]  # task (QuestionRecord.dataset) -> its prompt
    configure: Callable[[Any, Any, MemoryConfig], Any]  # (base config, model settings, memory) -> config
    build: Callable[..., nn.Module]  # (model settings, memory, dtype, device, checkpoint cache) -> model
    embed: Callable[..., Tensor]  # (model, chunks of frame tokens, prompt, generator) -> visual input
    answer: Callable[..., list[tuple[str, str | None]]]  # (model, visuals, prompts, records, generation, seed) -> (text, letter)
    signature: Callable[[nn.Module, Any, Any], dict]  # (model, model settings, sampling) -> what else frame tokens depend on
    # Prompted to answer with an option letter ("Best option:(X)"): text without one is a failed answer, not free
    # text to match, unless the protocol asks for the embedding fallback; the reference scores its text directly.
    letter_answers: bool = False

    def prompt(self, record: QuestionRecord):
        build = self.prompts.get(record.dataset)
        if build is None:
            raise UserError(f"{self.name} has no prompt for task {record.dataset!r}; it has: {', '.join(self.prompts)}")
        return build(record)

    def checkpoint_files(self) -> list[dict]:
        return [vars(entry) for entry in self.files]


FAMILIES: dict[str, Family] = {
    "video_llama": Family(
        name="video_llama",
        title="∞-Video-LLaMA",
        config_class=video_llama.InfVideoLLaMAConfig,
        model_class=video_llama.InfVideoLLaMA,
        switches=video_llama_family.SWITCHES,
        files=video_llama.VIDEO_LLAMA_FILES,
        preprocess=preprocess_video_llama,
        prompts=video_llama.PROMPTS,
        configure=video_llama_family.configure,
        build=video_llama_family.build,
        embed=video_llama_family.embed,
        answer=video_llama_family.answer,
        signature=video_llama_family.signature,
    ),
    "videochat2": Family(
        name="videochat2",
        title="∞-VideoChat2",
        config_class=videochat2.InfVideoChat2Config,
        model_class=videochat2.InfVideoChat2,
        switches=videochat2_family.SWITCHES,
        files=videochat2.VIDEOCHAT2_FILES,
        preprocess=preprocess_videochat2,
        prompts=videochat2.PROMPTS,
        configure=videochat2_family.configure,
        build=videochat2_family.build,
        embed=videochat2_family.embed,
        answer=videochat2_family.answer,
        signature=videochat2_family.signature,
        letter_answers=True,
    ),
}


def answers_with_letters(name: str | None) -> bool:
    """Whether model ``name`` (a run config's model.name; None or unknown: no) answers with option letters."""
    return name in FAMILIES and FAMILIES[name].letter_answers


def family(name: str) -> Family:
    if name not in FAMILIES:
        raise UserError(f"unknown model {name!r}; expected one of {', '.join(FAMILIES)}")
    return FAMILIES[name]


def switch_problems(settings) -> list[str]:
    """One phrase per family-only switch of ``settings`` (a run's ModelSettings) that is set away from its
    default for a family that does not have it (it would be silently ignored)."""
    if settings.name not in FAMILIES:
        return []  # the unknown name is its own problem
    defaults = {field.name: field.default for field in dataclasses.fields(settings)}
    problems = []
    for switch in dict.fromkeys(s for f in FAMILIES.values() for s in f.switches):
        if switch not in FAMILIES[settings.name].switches and getattr(settings, switch) != defaults[switch]:
            owners = ", ".join(f.name for f in FAMILIES.values() if switch in f.switches)
            problems.append(f"model.{switch}: {settings.name} has no such switch (only {owners})")
    return problems


def _dtype(name: str) -> torch.dtype:
    return {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}[name]


def _device(name: str) -> str:
    return ("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name


def build_model(settings, memory: MemoryConfig) -> nn.Module:
    """The model a run's model settings describe: the tiny preset with its fixed random weights, or the
    full one from the original files (converted through ``settings.checkpoint_cache`` when set)."""
    spec = family(settings.name)
    problems = switch_problems(settings)
    if problems:
        raise UserError("; ".join(problems))
    cache = Path(settings.checkpoint_cache).expanduser() if settings.checkpoint_cache else None
    return spec.build(settings, memory, _dtype(settings.dtype), _device(settings.device), cache)


def parameter_table(model: nn.Module) -> list[tuple[str, int]]:
    """Parameters per top-level component (direct parameters listed by name)."""
    rows = [(name, sum(p.numel() for p in child.parameters())) for name, child in model.named_children()]
    rows += [(name, p.numel()) for name, p in model.named_parameters(recurse=False)]
    return rows


def build_on_meta(name: str) -> nn.Module:
    """The full-size model with no memory allocated (for counting and key listing)."""
    spec = family(name)
    with torch.device("meta"):
        return spec.model_class(spec.config_class.full())
