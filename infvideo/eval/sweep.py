"""``infvideo sweep GRID.yaml``: a grid over memory settings, one run directory per setting.

    base: [video_llama/nextqa]                       # run configs (shipped names or paths), merged in order
    overrides: [data.annotations=..., run.output_dir=outputs/sweeps/tau]   # every run
    grid:                                            # the product of these (dotted config keys)
      memory.tau: [0.25, 0.5, 0.75]
      memory.sticky: [false, true]
    runs:                                            # extra settings, each merged with the base
      - {model.alpha: 1.0}                           # e.g. the "No LTM" row

Frame tokens go through one token cache (``run.token_cache``, default ``<output_dir>/tokens``), so the
vision encoder sees each video once for the whole sweep; one loaded model is reused across runs that
differ only in alpha and memory. A finished run is skipped: ``run_predictions`` answers only the
questions its ``predictions.jsonl`` lacks, and builds nothing when there are none.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from infvideo.configs import resolve as resolve_config
from infvideo.errors import UserError

from .backends import Backend, build_backend
from .config import PredictConfig, load_config
from .predictions import latest_records
from .runner import finished_elsewhere, pending_questions, predictions_path, read_records, run_directory, run_predictions
from .validation import validate_config


@dataclass
class SweepRun:
    settings: dict[str, Any]  # the grid/run values that define this run
    config: PredictConfig

    @property
    def directory(self) -> Path:
        return run_directory(self.config)


def _dotlist(settings: dict[str, Any]) -> list[str]:
    return [f"{key}={OmegaConf.to_yaml(value).strip() if isinstance(value, (list, dict)) else value}" for key, value in settings.items()]


def expand_sweep(path: str | Path, extra_overrides: list[str] | None = None) -> list[SweepRun]:
    """The runs a sweep file describes, in order, without duplicates."""
    path = resolve_config(path, "sweep file")
    spec = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    if not isinstance(spec, dict):
        raise UserError(f"{path}: a sweep file is a mapping with base, overrides, grid and runs")
    unknown = set(spec) - {"base", "overrides", "grid", "runs"}
    if unknown:
        raise UserError(f"{path}: unknown sweep keys {sorted(unknown)}; expected base, overrides, grid, runs")
    bases = spec.get("base") or []
    bases = [bases] if isinstance(bases, str) else list(bases)
    here = Path(path).parent
    # A base is a path relative to the sweep file, or anything ``--config`` takes (a shipped name).
    bases = [str(here / b) if not Path(b).is_absolute() and (here / b).is_file() else str(b) for b in bases]
    common = list(spec.get("overrides") or []) + list(extra_overrides or [])
    grid = spec.get("grid") or {}
    settings = [dict(zip(grid, values)) for values in itertools.product(*grid.values())] if grid else []
    settings += [dict(run) for run in spec.get("runs") or []]
    if not settings:
        raise UserError(f"{path}: a sweep needs a grid or a list of runs")
    runs, seen, problems = [], set(), {}  # message -> the settings that have it
    for setting in settings:
        try:
            config = load_config(bases, common + _dotlist(setting))
            validate_config(config)
        except UserError as error:
            problems.setdefault(str(error), []).append(json.dumps(setting))
            continue
        if not config.run.token_cache:
            config.run.token_cache = str(Path(config.run.output_dir) / "tokens")
        run = SweepRun(setting, config)
        if run.directory not in seen:
            seen.add(run.directory)
            runs.append(run)
    if problems:  # every grid point is checked before the first run starts
        invalid = sum(len(where) for where in problems.values())
        said = [f"{message} (in {'every run' if len(where) == len(settings) else ', '.join(where)})" for message, where in problems.items()]
        raise UserError(f"{path}: {invalid} of {len(settings)} runs are invalid: " + " | ".join(said))
    return runs


def run_sweep(runs: list[SweepRun], progress: bool = True) -> list[dict[str, Any]]:
    """Predict every run, skipping finished ones; returns one summary per run."""
    backend: Backend | None = None
    summaries = []
    for run in runs:
        records = read_records(run.config)
        done = set(latest_records(predictions_path(run.config))) | finished_elsewhere(run.config)
        if not pending_questions(run.config, records, done):
            summaries.append({"run_dir": str(run.directory), "settings": run.settings, "skipped": True})
            continue
        if backend is not None and backend.reusable_for(run.config):
            backend.reconfigure(run.config)
        else:
            backend = build_backend(run.config)
        summary = run_predictions(run.config, records=records, backend=backend, progress=progress)
        summaries.append(
            {
                "run_dir": str(summary.directory),
                "settings": run.settings,
                "skipped": False,
                "answered": summary.answered,
                "errors": summary.errors_remaining,
            }
        )
    return summaries
