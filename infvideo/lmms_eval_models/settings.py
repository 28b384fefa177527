"""lmms-eval's ``--model_args`` and a task's ``generation_kwargs`` as our run settings.

``model_args`` become ``load_config`` overrides, so every setting ``infvideo predict`` takes is available
under its dotted name (``memory.tau=0.5``, ``run.token_cache=/cache``), under the reference scripts' flag
names that ``eval/config.py`` already maps (``tau``, ``num_basis``, ``sticky``, ``alpha``, ``max_int``, ...),
or under the short names below; ``config=video_llama/videomme+memory/sticky`` composes shipped config files
(``+`` because lmms-eval splits model_args at commas). Nothing here imports lmms_eval.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from infvideo.errors import UserError
from infvideo.eval.config import FLAG_FIELDS, PredictConfig, load_config
from infvideo.models.base import GenerationSettings

# lmms-eval model name -> our model family (models/registry.py)
MODEL_FAMILIES = {"infvideo_llama": "video_llama", "infvideo_chat2": "videochat2"}

# The reference flags that concern the model (data and output places are lmms-eval's business).
_SECTIONS = ("model.", "memory.", "sampling.", "generation.")
SHORT_NAMES = {name: field for name, field in FLAG_FIELDS.items() if field.startswith(_SECTIONS)} | {
    "preset": "model.preset",
    "reference_compat": "model.reference_compat",
    "qformer_precision": "model.qformer_precision",
    "checkpoint_cache": "model.checkpoint_cache",
    "memory": "memory.kind",
    "frames_per_chunk": "sampling.frames_per_chunk",
    "num_chunks": "sampling.num_chunks",
    "rule": "sampling.rule",
    "decoder": "sampling.backend",
    "token_cache": "run.token_cache",
    "seed": "run.seed",
}
# What lmms-eval itself passes to every model (``lmms.create_from_arg_string``): the batch size is ours to
# choose (a video's questions are batched, see adapter.py), the device is model.device.
LMMS_EVAL_ARGUMENTS = ("batch_size", "max_batch_size", "device")


def config_from_model_args(model: str, args: Mapping[str, Any]) -> PredictConfig:
    """The run config of lmms-eval model ``model`` with ``args`` (lmms-eval's parsed ``model_args``)."""
    overrides = [f"model.name={MODEL_FAMILIES[model]}"]
    files: list[str] = []
    unknown = []
    for key, value in args.items():
        if value is None or key in ("batch_size", "max_batch_size"):
            continue
        if key == "config":
            files += [name for name in str(value).split("+") if name]
        elif key == "device":
            overrides.append(f"model.device={value}")
        elif key.startswith("checkpoints."):
            overrides.append(f"model.{key}={value}")
        elif key in SHORT_NAMES:
            overrides.append(f"{SHORT_NAMES[key]}={value}")
        elif "." in key and key.split(".", 1)[0] in {f.name for f in dataclasses.fields(PredictConfig)}:
            overrides.append(f"{key}={value}")
        else:
            unknown.append(key)
    if unknown:
        names = ", ".join(sorted(SHORT_NAMES))
        raise UserError(
            f"{model}: unknown model_args {', '.join(unknown)}; use config=FILE[+FILE], a run-config key such as memory.tau, "
            f"checkpoints.ROLE, or one of: {names}"
        )
    config = load_config(files, overrides)
    if config.model.name != MODEL_FAMILIES[model]:
        raise UserError(f"{model} is model.name={MODEL_FAMILIES[model]}; model_args asked for {config.model.name}")
    return config


@dataclasses.dataclass(frozen=True)
class TaskGeneration:
    """One request's decoding: our settings with the task's ``generation_kwargs`` on top."""

    settings: GenerationSettings
    until: tuple[str, ...]  # stop strings: the answer is cut at the first one

    @property
    def greedy(self) -> bool:
        return not self.settings.do_sample and self.settings.num_beams == 1

    def cut(self, text: str) -> str:
        ends = [text.find(stop) for stop in self.until if stop and stop in text]
        return text[: min(ends)] if ends else text


_PASSED = ("max_new_tokens", "top_p", "num_beams", "min_length", "repetition_penalty", "length_penalty")


def task_generation(base: GenerationSettings, gen_kwargs: Mapping[str, Any]) -> TaskGeneration:
    """``base`` (the run config's generation) with a task's ``generation_kwargs``: max_new_tokens, top_p,
    num_beams, ..., ``temperature`` (0 = greedy; above 0 samples unless ``do_sample`` says otherwise) and
    ``until``. Keys for other backends (``image_aspect_ratio``, ...) are not ours and are left alone."""
    changes = {name: gen_kwargs[name] for name in _PASSED if gen_kwargs.get(name) is not None}
    temperature = gen_kwargs.get("temperature")
    if temperature is not None:
        changes["do_sample"] = bool(gen_kwargs.get("do_sample", float(temperature) > 0))
        if float(temperature) > 0:
            changes["temperature"] = float(temperature)
    elif gen_kwargs.get("do_sample") is not None:
        changes["do_sample"] = bool(gen_kwargs["do_sample"])
    until = gen_kwargs.get("until") or ()
    return TaskGeneration(dataclasses.replace(base, **changes), (until,) if isinstance(until, str) else tuple(until))
