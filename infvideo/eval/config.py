"""Typed run configuration: OmegaConf structured configs, YAML files, dotlist overrides, paper flags.

A run is ``PredictConfig``; every field has a default so ``infvideo predict data.annotations=... ``
works from the command line alone. The reference scripts' flags map onto fields (``FLAG_FIELDS``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from infvideo.configs import resolve as resolve_config
from infvideo.errors import UserError
from infvideo.memory import MemoryConfig
from infvideo.models.base import GenerationSettings

from .fingerprints import fingerprint


@dataclass
class ModelSettings:
    name: str = "video_llama"  # video_llama | videochat2
    preset: str = "tiny"  # tiny (random weights, CPU) | full (needs checkpoints)
    checkpoints: dict[str, str] = field(default_factory=dict)
    alpha: float = 0.75
    add_frame_pos: bool = True  # Video-LLaMA only
    reference_compat: bool = False  # the reference's numerics and quirks (see docs/architecture.md)
    dtype: str = (
        "float16"  # float16 | bfloat16 | float32 (or fp16, bf16, fp32): a full model's LLM and vision dtype; tiny presets run in fp32
    )
    device: str = "auto"  # auto (cuda when available) | cpu | cuda | cuda:N | mps
    # Q-former numerics (docs/performance.md): autocast (the reference: fp16/bf16 autocast following
    # dtype on CUDA, fp32 elsewhere) | float32 (the parity path) | float16 | bfloat16 (on any device)
    qformer_precision: str = "autocast"
    vision_batch_size: int | None = None  # Video-LLaMA: frames per ViT + frame Q-former forward; None = the whole chunk
    checkpoint_cache: str | None = (
        None  # folder for the full preset's converted checkpoint files (safetensors; later runs skip the slow read); None = none
    )


@dataclass
class SamplingSettings:
    frames_per_chunk: int = 16  # --max_int
    num_chunks: int = 8  # --num_samples: frames read = frames_per_chunk · num_chunks; not read by all_frames
    rule: str = "segment_centres"  # a rule of infvideo.video.indices.RULES; all_frames: every frame, chunks of frames_per_chunk
    backend: str = "auto"  # auto | decord | pyav
    image_size: int | None = None  # None: the model's own input size
    # Processes decoding + preprocessing the next chunks and videos while the model encodes this one
    # (infvideo.video.prefetch). 0: serial, in the main process (the default until the overlap has been
    # measured on a GPU, docs/performance.md). None (auto): 2 when the model is on CUDA, 0 on a CPU,
    # where the workers take cores from the model. Answers do not depend on it.
    decode_workers: int | None = 0
    prefetch_chunks: int = 4  # preprocessed chunks queued ahead of the model (host memory ~ 2x this + workers)
    # With decode_workers 0 and PyAV decoding: split each chunk's frames by keyframe interval over one
    # process per core (infvideo.video.parallel; identical frames). always | auto (videos of 2,500+
    # frames) | never. Default never: measured, the pool's start per video (~2 s) outweighed the gain
    # at 128 sampled frames even on a 10-minute video (docs/performance.md). Answers do not depend on it.
    parallel_decode: str = "never"


@dataclass
class DataSettings:
    benchmark: str = "nextqa"  # a task name of infvideo/eval/tasks.py (TASKS: nextqa, nextoe, egoschema, moviechat, video_mme, ...)
    annotations: str = ""
    video_folder: str = ""
    answers: str = ""  # EgoSchema: the subset's answers file (subset.json); empty = the full set, no answers
    mode: str = "global"  # MovieChat-1K: global | breakpoint
    limit: int | None = None  # first N questions (after sharding), for smoke runs
    on_error: str = "raise"  # a malformed annotation row: raise (stop, naming file and row) | skip (list it, go on)
    video_pattern: str | None = None  # where a question's video is under video_folder, e.g. "{video_id}.mkv"; None = the benchmark's layout


@dataclass
class RunSettings:
    output_dir: str = "outputs/runs"
    seed: int = 42
    shard: str | None = None  # i/n; else torchrun or SLURM array variables; else the whole set
    token_cache: str | None = None  # folder of cached frame tokens (infvideo extract)
    name: str | None = None  # run directory name; None = made from the hyperparameters


@dataclass
class ProtocolSettings:
    """How answers become numbers after ``predict``: read by ``match``, ``judge`` and ``score`` from the
    run's config.yaml (their flags override) and recorded in ``metrics.json``. Not part of the run's
    identity: the same predictions can be scored under either protocol. ``protocol/paper`` (``infvideo/configs/protocol/paper.yaml``)
    sets the reference's protocol (docs/protocol.md lists every difference and its effect)."""

    scoring: str = "lenient"  # lenient | reference: VideoChat2's answers by the reference scripts' own checks
    embedding_fallback: bool = False  # VideoChat2: an answer with no parsable letter goes to the nearest option (else invalid)
    matcher: str = "minilm"  # free-text answers (Video-LLaMA): minilm (offline) | openai:<model> (OPENAI_BASE_URL, OPENAI_API_KEY)
    match_first_four: bool = False  # only options A-D, as the reference's matcher (an answer E is then unreachable)
    judge_score: str = "keep"  # keep | truncate: the judge's 0-5 score as given, or int() as the reference does


@dataclass
class PredictConfig:
    model: ModelSettings = field(default_factory=ModelSettings)
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    data: DataSettings = field(default_factory=DataSettings)
    run: RunSettings = field(default_factory=RunSettings)
    protocol: ProtocolSettings = field(default_factory=ProtocolSettings)


# Command-line flags -> config fields: the reference scripts' flags under their own names, and the
# machine flags. Each sets exactly one field; ``--sticky``'s meaning when absent is the caller's (cli.py).
FLAG_FIELDS = {
    "device": "model.device",
    "dtype": "model.dtype",
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


# Names people type for a dtype -> the torch name the config stores (so fp16 and float16 are one run).
DTYPE_ALIASES = {"fp16": "float16", "half": "float16", "bf16": "bfloat16", "fp32": "float32", "float": "float32"}
DTYPES = ("float16", "bfloat16", "float32")


def load_config(
    path: str | Path | list[str | Path] | None = None, overrides: list[str] | None = None, flags: dict[str, Any] | None = None
) -> PredictConfig:
    """Defaults <- YAML file(s), in order <- paper flags <- dotlist overrides (later wins). Several files
    compose, e.g. a (model x benchmark) file then a memory file (``video_llama/nextqa`` then ``memory/sticky``:
    names of shipped files in ``infvideo/configs/``, or paths).
    A missing file, an unknown key or a value of the wrong type is a ``UserError`` naming it."""
    try:
        merged = OmegaConf.structured(PredictConfig)
        for file in [path] if isinstance(path, (str, Path)) else list(path or []):
            merged = OmegaConf.merge(merged, OmegaConf.load(resolve_config(file)))
        if flags:
            dotted = [f"{FLAG_FIELDS[name]}={value}" for name, value in flags.items() if value is not None]
            merged = OmegaConf.merge(merged, OmegaConf.from_dotlist(dotted))
        if overrides:
            malformed = [item for item in overrides if "=" not in item]
            if malformed:
                raise UserError(f"overrides take key=value (e.g. memory.tau=0.5), got {', '.join(malformed)}")
            merged = OmegaConf.merge(merged, OmegaConf.from_dotlist(list(overrides)))
        config = OmegaConf.to_object(merged)
    except UserError:
        raise
    except OmegaConfBaseException as error:
        raise UserError(_omegaconf_message(error)) from error
    except yaml.YAMLError as error:  # a dotlist value is read as YAML: `{...}` is a mapping unless quoted
        raise UserError(
            f"config: cannot read a value as YAML ({' '.join(str(error).split())[:120]}); quote values with braces "
            """or colons, e.g. 'data.video_pattern="{video_id}.mkv"'"""
        ) from error
    except ValueError as error:  # a settings class's own check, e.g. an unknown memory.kind
        raise UserError(f"config: {error}") from error
    config.model.dtype = DTYPE_ALIASES.get(config.model.dtype, config.model.dtype)
    if config.model.dtype not in DTYPES:
        raise UserError(f"model.dtype={config.model.dtype!r} is not one of {', '.join(DTYPES)} (or fp16, bf16, fp32)")
    return config


def _omegaconf_message(error: OmegaConfBaseException) -> str:
    """OmegaConf's first line plus the dotted key it concerns (its own message spans several lines)."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    key = getattr(error, "full_key", None)
    return f"config: {first}" + (f" (key {key})" if key and key not in first else "")


def to_yaml(config: PredictConfig) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(config))


def identity(config: PredictConfig) -> dict[str, Any]:
    """Everything that can change an answer, and nothing about where files sit: settings as they are,
    the annotation and checkpoint files by content (``fingerprints``), not by path. Output places,
    the shard, the token cache, ``data.limit``, the error policy, the video folder and the scoring
    ``protocol`` are left out,
    so staging data or checkpoints elsewhere resumes the same run. ``config.yaml`` records the paths."""
    data = OmegaConf.to_container(OmegaConf.structured(config))
    data["run"] = {"seed": data["run"]["seed"]}
    # How fast, not what: each of these gives the same answers (greedy, tested equal), so changing one
    # resumes the same run.
    for name in ("decode_workers", "prefetch_chunks", "parallel_decode"):
        del data["sampling"][name]
    for name in ("batch_questions", "cache", "cache_length", "compile", "compile_mode"):
        data["generation"].pop(name, None)
    data["model"].pop("vision_batch_size", None)
    data["model"].pop("checkpoint_cache", None)  # where converted weights are kept, not what they are
    del data["protocol"]  # scoring, not answering
    for name in ("limit", "on_error", "video_folder", "video_pattern"):
        data["data"].pop(name, None)
    for name in ("annotations", "answers"):
        data["data"][name] = fingerprint(data["data"][name]) if data["data"][name] else ""
    if not _reads_num_chunks(config):
        data["sampling"]["num_chunks"] = None  # a rule that takes every frame decides the count itself
    data["model"]["checkpoints"] = {role: fingerprint(path) for role, path in sorted(data["model"]["checkpoints"].items())}
    return data


def config_hash(config: PredictConfig, length: int = 8) -> str:
    """A short hash of ``identity``: the run directory's name ends with it."""
    return hashlib.sha256(json.dumps(identity(config), sort_keys=True).encode()).hexdigest()[:length]


def _reads_num_chunks(config: PredictConfig) -> bool:
    from infvideo.video.indices import RULES

    rule = RULES.get(config.sampling.rule)
    return rule is None or rule.reads_num_chunks


def run_name(config: PredictConfig) -> str:
    """The reference's naming, generalised: what matters for a sweep is readable, the rest is hashed."""
    sampling, memory = config.sampling, config.memory
    chunks = sampling.num_chunks if _reads_num_chunks(config) else "all"
    parts = [config.model.name, f"nframes_{sampling.frames_per_chunk}", f"nchunks_{chunks}"]
    if memory.kind == "continuous" and config.model.alpha < 1:
        parts += [f"nbasis_{memory.num_basis}", "sticky" if memory.sticky else "uniform", f"tau_{memory.tau:g}"]
    elif config.model.alpha < 1:
        parts.append(memory.kind)
    parts.append(f"alpha_{config.model.alpha:g}")
    if config.model.reference_compat:
        parts.append("refcompat")
    return "_".join(parts) + "_" + config_hash(config)
