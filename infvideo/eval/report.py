"""``infvideo report RUN_DIR...``: runs side by side, laid out like the paper's tables.

One row per (model, memory variant, settings), one column per benchmark: accuracy for multiple
choice, "accuracy / score" for judged benchmarks. The variant names follow the paper: No LTM
(alpha = 1 or no memory), Uniform, Sticky, No STM (alpha = 0), and the baselines MovieChat and
MA-LMM-style. Also a tidy ``runs.csv`` (one line per run, every swept setting and headline metric)
for pandas or a spreadsheet.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import PredictConfig
from .run_files import METRICS, load_run_config

SWEPT = ("memory.kind", "memory.sticky", "memory.tau", "memory.num_basis", "model.alpha", "sampling.frames_per_chunk", "sampling.num_chunks")
BENCHMARK_TITLES = {"nextqa": "NExT-QA", "nextoe": "NExT-OE", "egoschema": "EgoSchema", "moviechat": "MovieChat-1K", "video_mme": "Video-MME"}
MODEL_TITLES = {"video_llama": "∞-Video-LLaMA", "videochat2": "∞-VideoChat2"}


@dataclass
class RunResult:
    directory: Path
    config: PredictConfig
    metrics: dict[str, Any]

    def setting(self, dotted: str) -> Any:
        section, name = dotted.split(".")
        return getattr(getattr(self.config, section), name)

    @property
    def benchmark(self) -> str:
        return self.config.data.benchmark

    @property
    def variant(self) -> str:
        return variant_label(self.config)

    @property
    def accuracy(self) -> float | None:
        return self.metrics["overall"].get("accuracy")

    @property
    def score(self) -> float | None:
        return self.metrics["overall"].get("score")


def variant_label(config: PredictConfig) -> str:
    memory, alpha = config.memory, config.model.alpha
    if alpha >= 1 or memory.kind == "none":
        return "No LTM"
    label = {"continuous": "Sticky" if memory.sticky else "Uniform", "moviechat": "MovieChat", "malmm": "MA-LMM-style"}[memory.kind]
    return f"No STM {label}" if alpha == 0 else label


def settings_label(config: PredictConfig) -> str:
    """What distinguishes runs of one variant: the memory's own knobs, then the frames read."""
    memory, parts = config.memory, []
    if config.model.alpha < 1 and memory.kind != "none":
        if memory.kind == "continuous":
            parts += [f"N={memory.num_basis}", f"τ={memory.tau:g}"]
        if config.model.alpha > 0:
            parts.append(f"α={config.model.alpha:g}")
    parts.append(f"{config.sampling.num_chunks}×{config.sampling.frames_per_chunk}f")
    return " ".join(parts)


def load_results(run_dirs: list[str | Path]) -> list[RunResult]:
    results = []
    for run_dir in map(Path, run_dirs):
        path = run_dir / METRICS
        if not path.exists():
            raise FileNotFoundError(f"{run_dir}: no {METRICS}; run `infvideo score {run_dir}` first")
        results.append(RunResult(run_dir, load_run_config(run_dir), json.loads(path.read_text())))
    return results


def _cell(result: RunResult) -> str:
    if result.accuracy is None:
        return "–"
    text = f"{100 * result.accuracy:.1f}"
    return text + (f" / {result.score:.2f}" if result.score is not None else "")


def comparison_table(results: list[RunResult]) -> str:
    """The markdown table: rows (model, variant, settings), columns benchmarks."""
    benchmarks = [b for b in BENCHMARK_TITLES if any(r.benchmark == b for r in results)]
    rows: dict[tuple[str, str, str], dict[str, str]] = {}
    for result in results:
        key = (MODEL_TITLES.get(result.config.model.name, result.config.model.name), result.variant, settings_label(result.config))
        rows.setdefault(key, {})[result.benchmark] = _cell(result)
    order = ["No LTM", "MovieChat", "MA-LMM-style", "Uniform", "Sticky", "No STM Uniform", "No STM Sticky"]
    keys = sorted(rows, key=lambda k: (k[0], order.index(k[1]) if k[1] in order else len(order), k[2]))
    header = ["model", "memory", "settings", *(BENCHMARK_TITLES[b] for b in benchmarks)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key in keys:
        lines.append("| " + " | ".join([*key, *(rows[key].get(b, "") for b in benchmarks)]) + " |")
    lines.append("")
    lines.append("Accuracy in %; judged benchmarks show accuracy / mean score (0–5). Matching and judging protocols are in each run's metrics.json.")
    return "\n".join(lines) + "\n"


def write_runs_csv(results: list[RunResult], path: str | Path) -> Path:
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["run", "model", "benchmark", "variant", *SWEPT, "accuracy", "score", "questions"])
        for r in results:
            overall = r.metrics["overall"]
            writer.writerow([r.directory.name, r.config.model.name, r.benchmark, r.variant, *(r.setting(s) for s in SWEPT),
                             r.accuracy, r.score, overall.get("total")])
    return path
