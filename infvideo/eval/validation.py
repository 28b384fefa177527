"""Every setting of a run checked before anything costly happens.

``validate_config`` runs before a model is built, a video decoded or a run directory created: a typo
in the vision checkpoint path must not surface after the 7B LLM has loaded, and a tau of 1.5 must not
leave an empty run directory behind. All problems are reported at once, as one ``UserError``.
"""

from __future__ import annotations

import re
from pathlib import Path

from infvideo.errors import UserError
from infvideo.video.prefetch import PARALLEL_DECODE

from .config import PredictConfig, ProtocolSettings
from .tasks import TASKS

PRESETS = ("tiny", "full")
DECODERS = ("auto", "decord", "pyav")
SCORING_RULES = ("lenient", "reference")
JUDGE_SCORES = ("keep", "truncate")
DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def validate_config(config: PredictConfig, data: bool = True) -> None:
    """Raise one ``UserError`` naming every setting that cannot work, or return. ``data=False`` skips
    the annotation and video paths (for callers that hand the questions over themselves)."""
    problems = _settings_problems(config) + protocol_problems(config.protocol) + (_data_problems(config) if data else [])
    if config.data.benchmark in TASKS:  # the paper protocol needs a task the reference scored
        problems += TASKS[config.data.benchmark].protocol_problems(config.protocol)
    if config.model.preset == "full":
        problems += _checkpoint_problems(config)
    if problems:
        raise UserError("invalid run config: " + "; ".join(problems))


def _settings_problems(config: PredictConfig) -> list[str]:
    from infvideo.memory import build_memory
    from infvideo.models.registry import FAMILIES, switch_problems
    from infvideo.video.indices import RULES
    from infvideo.video.source import available_backends

    model, sampling, generation = config.model, config.sampling, config.generation
    problems = []
    if model.name not in FAMILIES:
        problems.append(f"model.name={model.name!r} is not one of {', '.join(FAMILIES)}")
    problems += switch_problems(model)  # a switch its family does not have would be silently ignored
    if model.preset not in PRESETS:
        problems.append(f"model.preset={model.preset!r} is not one of {', '.join(PRESETS)}")
    if not 0.0 <= model.alpha <= 1.0:
        problems.append(f"model.alpha={model.alpha} must lie in [0, 1] (1 = no long-term memory, 0 = long-term memory only)")
    if not DEVICE.match(model.device):
        problems.append(f"model.device={model.device!r} is not auto, cpu, mps, cuda or cuda:N")
    elif model.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            problems.append(f"model.device={model.device} but torch sees no CUDA device (use auto or cpu)")
    if model.alpha < 1.0:
        try:
            build_memory(config.memory)  # the memory's own checks (tau in (0, 1), num_basis > 0, ...)
        except (ValueError, TypeError) as error:
            problems.append(f"memory: {error}")
        if config.memory.kind == "continuous" and config.memory.reference_compat and config.memory.num_samples % 2:
            # Known before any video: the reference's padding breaks on odd chunks with odd num_samples.
            problems.append(
                f"memory.num_samples={config.memory.num_samples} must be even with memory.reference_compat "
                "(the reference's fit fails on an odd chunk length with an odd number of old samples)"
            )
    for name in ("frames_per_chunk", "num_chunks"):
        if getattr(sampling, name) < 1:
            problems.append(f"sampling.{name}={getattr(sampling, name)} must be at least 1")
    if sampling.rule not in RULES:
        problems.append(f"sampling.rule={sampling.rule!r} is not one of {', '.join(sorted(RULES))}")
    if sampling.backend not in DECODERS:
        problems.append(f"sampling.backend={sampling.backend!r} is not one of {', '.join(DECODERS)}")
    elif sampling.backend == "decord" and "decord" not in available_backends():
        problems.append("sampling.backend=decord but decord is not installed (pip install decord, or use auto/pyav)")
    if sampling.decode_workers is not None and sampling.decode_workers < 0:
        problems.append(f"sampling.decode_workers={sampling.decode_workers} must be 0 (serial), a number of processes, or null (auto)")
    if sampling.parallel_decode not in PARALLEL_DECODE:
        problems.append(f"sampling.parallel_decode={sampling.parallel_decode!r} is not one of {', '.join(PARALLEL_DECODE)}")
    elif sampling.parallel_decode == "always" and sampling.backend == "decord":
        problems.append("sampling.parallel_decode=always needs PyAV decoding (the parallel decoder is PyAV's); sampling.backend is decord")
    if sampling.prefetch_chunks < 1:
        problems.append(f"sampling.prefetch_chunks={sampling.prefetch_chunks} must be at least 1")
    if sampling.image_size is not None and sampling.image_size < 1:
        problems.append(f"sampling.image_size={sampling.image_size} must be positive")
    if generation.max_new_tokens < 1 or generation.num_beams < 1:
        problems.append("generation.max_new_tokens and generation.num_beams must be at least 1")
    if generation.do_sample and generation.temperature <= 0:
        problems.append(f"generation.temperature={generation.temperature} must be positive when sampling")
    return problems


def protocol_problems(protocol: ProtocolSettings) -> list[str]:
    """The scoring protocol's values (``match``, ``judge`` and ``score`` check them again, since a user
    may edit a run's config.yaml or pass flags)."""
    problems = []
    if protocol.scoring not in SCORING_RULES:
        problems.append(f"protocol.scoring={protocol.scoring!r} is not one of {', '.join(SCORING_RULES)}")
    if protocol.judge_score not in JUDGE_SCORES:
        problems.append(f"protocol.judge_score={protocol.judge_score!r} is not one of {', '.join(JUDGE_SCORES)}")
    if protocol.matcher != "minilm" and not (protocol.matcher.startswith("openai:") and len(protocol.matcher) > len("openai:")):
        problems.append(f"protocol.matcher={protocol.matcher!r} is not minilm or openai:<model>")
    return problems


def _data_problems(config: PredictConfig) -> list[str]:
    data = config.data
    problems = []
    if data.benchmark not in TASKS:
        return [f"data.benchmark={data.benchmark!r} is not one of {', '.join(TASKS)}"]
    if not data.annotations:
        problems.append(
            f"data.annotations is not set (the {data.benchmark} annotation file; --q-folder/--data_path in the reference's flags)"
        )
    elif not Path(data.annotations).expanduser().exists():
        problems.append(f"data.annotations: {data.annotations} does not exist")
    if not data.video_folder:
        problems.append("data.video_folder is not set (the folder of the benchmark's videos; --video-folder)")
    elif not Path(data.video_folder).expanduser().is_dir():
        problems.append(f"data.video_folder: {data.video_folder} is not a directory")
    if data.answers and not Path(data.answers).expanduser().is_file():
        problems.append(f"data.answers: {data.answers} is not a file")
    problems += TASKS[data.benchmark].option_problems(data)
    if data.limit is not None and data.limit < 1:
        problems.append(f"data.limit={data.limit} must be at least 1 (or null for every question)")
    return problems


def _checkpoint_problems(config: PredictConfig) -> list[str]:
    """Every file the full model will read, present and of the right kind (a folder for an HF LLM)."""
    from infvideo.models.registry import family

    checkpoints = config.model.checkpoints
    expected = family(config.model.name).checkpoint_files()
    known = [entry["role"] for entry in expected]
    problems = [
        f"model.checkpoints.{role} is not a {config.model.name} checkpoint role (known: {', '.join(known)})"
        for role in checkpoints
        if role not in known
    ]
    for entry in expected:
        role, is_folder = entry["role"], not entry["converter"]
        given = checkpoints.get(role)
        if not given:
            problems.append(f"model.checkpoints.{role} is not set (expected {entry['name']}: {entry['holds']})")
            continue
        path = Path(given).expanduser()
        if not path.exists():
            problems.append(f"model.checkpoints.{role}: {given} does not exist")
        elif is_folder != path.is_dir():
            problems.append(f"model.checkpoints.{role}: {given} should be a {'folder' if is_folder else 'file'} ({entry['name']})")
    return problems
