"""The model families by name, with their full-size and tiny presets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .video_llama import InfVideoLLaMA, InfVideoLLaMAConfig
from .videochat2 import InfVideoChat2, InfVideoChat2Config


@dataclass(frozen=True)
class ModelFamily:
    name: str
    build: Callable[..., nn.Module]  # (config, tokenizer) -> model
    full: Callable[[], object]
    tiny: Callable[[], object]
    checkpoint_files: Callable[[], list[dict]]


def _video_llama_files() -> list[dict]:
    from .checkpoints.video_llama import VIDEO_LLAMA_FILES

    return [vars(entry) for entry in VIDEO_LLAMA_FILES]


def _videochat2_files() -> list[dict]:
    from .checkpoints.videochat2 import VIDEOCHAT2_FILES

    return [vars(entry) for entry in VIDEOCHAT2_FILES]


FAMILIES: dict[str, ModelFamily] = {
    "video_llama": ModelFamily(
        "video_llama", lambda config, tokenizer=None: InfVideoLLaMA(config, tokenizer),
        InfVideoLLaMAConfig.full, InfVideoLLaMAConfig.tiny, _video_llama_files,
    ),
    "videochat2": ModelFamily(
        "videochat2", lambda config, tokenizers=None: InfVideoChat2(config, tokenizers),
        InfVideoChat2Config.full, InfVideoChat2Config.tiny, _videochat2_files,
    ),
}


def family(name: str) -> ModelFamily:
    if name not in FAMILIES:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(FAMILIES)}")
    return FAMILIES[name]


def parameter_table(model: nn.Module) -> list[tuple[str, int]]:
    """Parameters per top-level component (direct parameters listed by name)."""
    rows = [(name, sum(p.numel() for p in child.parameters())) for name, child in model.named_children()]
    rows += [(name, p.numel()) for name, p in model.named_parameters(recurse=False)]
    return rows


def build_on_meta(name: str) -> nn.Module:
    """The full-size model with no memory allocated (for counting and key listing)."""
    spec = family(name)
    with torch.device("meta"):
        return spec.build(spec.full())
