"""Typed run configuration: OmegaConf structured configs, YAML files, dotlist overrides, paper flags.

A run is ``PredictConfig``; every field has a default so ``infvideo predict data.annotations=... ``
works from the command line alone. The reference scripts' flags map onto fields (``PAPER_FLAGS``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from infvideo.memory import MemoryConfig
from infvideo.models.base import GenerationSettings


@dataclass
class ModelSettings:
    name: str = "video_llama"  # video_llama | videochat2
    preset: str = "tiny"  # tiny (random weights, CPU) | full (needs checkpoints)
    checkpoints: dict[str, str] = field(default_factory=dict)
    alpha: float = 0.75
    add_frame_pos: bool = True  # Video-LLaMA only
    reference_compat: bool = False  # the reference's numerics and quirks (see docs/architecture.md)
    dtype: str = "float16"  # the LLM and vision dtype of a full model; tiny presets run in fp32
    device: str = "auto"  # auto = cuda when available


@dataclass
class SamplingSettings:
    frames_per_chunk: int = 16  # --max_int
    num_chunks: int = 8  # --num_samples: frames read = frames_per_chunk · num_chunks
    rule: str = "segment_centres"  # a rule of infvideo.video.indices.RULES
    backend: str = "auto"  # auto | decord | pyav
    image_size: int | None = None  # None: the model's own input size


@dataclass
class DataSettings:
    benchmark: str = "nextqa"  # nextqa | nextoe | egoschema | moviechat | video_mme
    annotations: str = ""
    video_folder: str = ""
    answers: str = ""  # EgoSchema: the subset's answers file (subset.json); empty = the full set, no answers
    mode: str = "global"  # MovieChat-1K: global | breakpoint
    limit: int | None = None  # first N questions (after sharding), for smoke runs


@dataclass
class RunSettings:
    output_dir: str = "outputs/runs"
    seed: int = 42
    shard: str | None = None  # i/n; else torchrun or SLURM array variables; else the whole set
    token_cache: str | None = None  # folder of cached frame tokens (infvideo extract)
    name: str | None = None  # run directory name; None = made from the hyperparameters


@dataclass
class PredictConfig:
    model: ModelSettings = field(default_factory=ModelSettings)
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    data: DataSettings = field(default_factory=DataSettings)
    run: RunSettings = field(default_factory=RunSettings)


# The reference scripts' flags (reference-spec §4.2) -> config fields.
PAPER_FLAGS = {
    "max_int": "sampling.frames_per_chunk",
    "num_samples": "sampling.num_chunks",
    "n_samples": "sampling.num_chunks",
    "num_basis": "memory.num_basis",
    "tau": "memory.tau",
    "alpha": "model.alpha",
    "sticky": "memory.sticky",
    "num_beams": "generation.num_beams",
    "temperature": "generation.temperature",
    "video_folder": "data.video_folder",
    "q_folder": "data.annotations",
    "qa_folder": "data.annotations",
    "a_folder": "data.answers",
    "data_path": "data.annotations",
    "output_dir": "run.output_dir",
}


def load_config(
    path: str | Path | list[str | Path] | None = None, overrides: list[str] | None = None, flags: dict[str, Any] | None = None
) -> PredictConfig:
    """Defaults <- YAML file(s), in order <- paper flags <- dotlist overrides (later wins). Several files
    compose, e.g. a (model x benchmark) file then a memory file from ``eval_configs/memory/``."""
    merged = OmegaConf.structured(PredictConfig)
    for file in [path] if isinstance(path, (str, Path)) else list(path or []):
        merged = OmegaConf.merge(merged, OmegaConf.load(file))
    if flags:
        dotted = [f"{PAPER_FLAGS[name]}={value}" for name, value in flags.items() if value is not None]
        merged = OmegaConf.merge(merged, OmegaConf.from_dotlist(dotted))
    if overrides:
        merged = OmegaConf.merge(merged, OmegaConf.from_dotlist(list(overrides)))
    return OmegaConf.to_object(merged)


def to_yaml(config: PredictConfig) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(config))


def config_hash(config: PredictConfig, length: int = 8) -> str:
    """A short hash of everything that can change an answer (not where outputs go or which shard)."""
    data = OmegaConf.to_container(OmegaConf.structured(config))
    data["run"] = {"seed": data["run"]["seed"]}
    data["data"].pop("limit", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:length]


def run_name(config: PredictConfig) -> str:
    """The reference's naming, generalised: what matters for a sweep is readable, the rest is hashed."""
    sampling, memory = config.sampling, config.memory
    parts = [config.model.name, f"nframes_{sampling.frames_per_chunk}", f"nchunks_{sampling.num_chunks}"]
    if memory.kind == "continuous" and config.model.alpha < 1:
        parts += [f"nbasis_{memory.num_basis}", "sticky" if memory.sticky else "uniform", f"tau_{memory.tau:g}"]
    elif config.model.alpha < 1:
        parts.append(memory.kind)
    parts.append(f"alpha_{config.model.alpha:g}")
    if config.model.reference_compat:
        parts.append("refcompat")
    return "_".join(parts) + "_" + config_hash(config)
