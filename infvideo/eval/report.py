"""``infvideo report RUN_DIR...``: runs side by side, laid out like the paper's tables.

One row per distinct setting (model, memory variant and every other setting that can change an
answer), one column per benchmark: accuracy in percent for multiple choice, "accuracy / score" for
judged benchmarks, and the questions predicted out of those scored. Runs of one setting that differ
only in their seed are one cell: mean ± sample standard deviation over the n seeds. Any setting
that differs between runs of one model and variant appears in the settings label, so no two
settings share a row. A partial run (questions never predicted, counted as wrong) or a
``data.limit`` run is marked with ``*`` and a footnote; a run whose free-text answers were matched
to options with the offline MiniLM instead of the paper's OpenAI embeddings, with ``†``. The
variant names follow the paper: No LTM (alpha = 1 or no memory), Uniform, Sticky, No STM
(alpha = 0), and the baselines MovieChat and MA-LMM-style. Also a tidy ``runs.csv`` (one line per
run, its seed and every setting, headline metrics) for pandas or a spreadsheet.
"""

from __future__ import annotations

import csv
import functools
import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from infvideo.errors import UserError
from infvideo.models.registry import FAMILIES
from infvideo.video.indices import RULES

from .config import PredictConfig
from .metrics.cells import UNITS
from .metrics.score import check_run_directory
from .run_files import CONFIG, JUDGMENTS, MATCHES, METRICS, PREDICTIONS, load_run_config, read_jsonl
from .tasks import TASK_TITLES

SWEPT = (
    "memory.kind",
    "memory.sticky",
    "memory.tau",
    "memory.num_basis",
    "model.alpha",
    "sampling.frames_per_chunk",
    "sampling.num_chunks",
)
VARIANT_ORDER = ["No LTM", "MovieChat", "MA-LMM-style", "Uniform", "Sticky", "No STM Uniform", "No STM Sticky"]
# Settings that cannot change an answer (where files go, which shard, the seed, which is
# aggregated over) or that the protocol reports instead (data.limit: the run is marked limited).
NOT_A_SETTING = ("run.output_dir", "run.shard", "run.seed", "run.token_cache", "run.name", "data.limit")
MINILM = "minilm"
MINILM_MARK = "†"
MINILM_NOTE = f"{MINILM_MARK} matched with MiniLM (offline), not the paper's text-embedding-ada-002"
# Settings that name the benchmark's files: compared between runs of one benchmark only.
BENCHMARK_FILES = ("data.benchmark", "data.annotations", "data.video_folder", "data.answers", "data.mode")


def flat_settings(config: PredictConfig) -> dict[str, Any]:
    """Every config field by its dotted name (``memory.tau``, ``model.checkpoints.llm``)."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            flat[prefix] = value

    walk("", OmegaConf.to_container(OmegaConf.structured(config)))
    return flat


@dataclass
class RunResult:
    directory: Path
    config: PredictConfig
    metrics: dict[str, Any]

    def setting(self, dotted: str) -> Any:
        return flat_settings(self.config)[dotted]

    @property
    def settings(self) -> dict[str, Any]:
        """What can change an answer: runs equal here differ only in seed (and limit)."""
        return {k: v for k, v in flat_settings(self.config).items() if k not in NOT_A_SETTING}

    @property
    def benchmark(self) -> str:
        return self.config.data.benchmark

    @property
    def variant(self) -> str:
        return variant_label(self.config)

    @property
    def accuracy(self) -> float | None:
        """The task's headline accuracy in percent (0–100), as metrics.json states in its ``units``: overall,
        or the mean of one breakdown's accuracies where the task reports that (``headline``, e.g. MLVU's M-Avg)."""
        return self.metrics.get("headline", self.metrics["overall"]).get("accuracy")

    @property
    def score(self) -> float | None:
        return self.metrics["overall"].get("score")

    @property
    def protocol(self) -> dict[str, Any]:
        return self.metrics.get("protocol", {})

    @property
    def questions(self) -> str:
        """predicted/scored, e.g. "14/30"."""
        scored = self.protocol.get("questions", self.metrics["overall"].get("total"))
        predicted = self.protocol.get("predicted")
        return f"{scored if predicted is None else predicted}/{scored}"

    @functools.cached_property
    def matchers(self) -> set[str]:
        """The embedders that chose this run's letters: metrics.json's ``protocol.matcher`` (a name, a
        list when mixed, null when none did); a metrics.json older than that field: the run's matches.jsonl."""
        if "matcher" in self.protocol:
            matcher = self.protocol["matcher"]
            return set(matcher if isinstance(matcher, list) else [matcher]) - {None}
        path = self.directory / MATCHES
        return {line["embedder"] for line in read_jsonl(path) if line.get("embedder")} if path.exists() else set()

    @property
    def minilm_matched(self) -> bool:
        """Letters chosen with the offline MiniLM, where the paper used OpenAI's ada-002."""
        return MINILM in self.matchers

    @property
    def caveat(self) -> str | None:
        """Why this run's number is not over its whole benchmark, or None."""
        protocol, notes = self.protocol, []
        if protocol.get("partial"):
            notes.append(f"partial: {protocol['predicted']}/{protocol['questions']} questions predicted")
        if protocol.get("limited"):
            notes.append(
                f"limited: data.limit={protocol['limit']} ({protocol['questions']} of "
                f"{protocol['questions_in_annotations']} annotated questions)"
            )
        return "; ".join(notes) or None


def variant_label(config: PredictConfig) -> str:
    memory, alpha = config.memory, config.model.alpha
    if alpha >= 1 or memory.kind == "none":
        return "No LTM"
    label = {"continuous": "Sticky" if memory.sticky else "Uniform", "moviechat": "MovieChat", "malmm": "MA-LMM-style"}[memory.kind]
    return f"No STM {label}" if alpha == 0 else label


def _label_parts(config: PredictConfig) -> list[tuple[str, str]]:
    """(dotted setting, text) of the usual label: the memory's own knobs, then the frames read."""
    memory, parts = config.memory, []
    if config.model.alpha < 1 and memory.kind != "none":
        if memory.kind == "continuous":
            parts += [("memory.num_basis", f"N={memory.num_basis}"), ("memory.tau", f"τ={memory.tau:g}")]
        if config.model.alpha > 0:
            parts.append(("model.alpha", f"α={config.model.alpha:g}"))
    if RULES[config.sampling.rule].reads_num_chunks:
        parts.append(("sampling.num_chunks", f"{config.sampling.num_chunks}×{config.sampling.frames_per_chunk}f"))
    else:  # every frame, in as many chunks as the video needs
        parts.append(("sampling.rule", f"all×{config.sampling.frames_per_chunk}f"))
    return parts


def _shown(config: PredictConfig) -> set[str]:
    """Settings the model column, the variant and the usual label already tell apart."""
    shown = {"model.name", "data.benchmark", "sampling.frames_per_chunk", *(key for key, _ in _label_parts(config))}
    if variant_label(config) != "No LTM":
        shown.add("memory.kind")
        shown.update(("memory.sticky",) if config.memory.kind == "continuous" else ())
        shown.update(("model.alpha",) if config.model.alpha == 0 else ())
    return shown


def settings_label(config: PredictConfig, differing: Iterable[str] = ()) -> str:
    """The usual label, then ``key=value`` for each of ``differing`` it does not show already."""
    extra = [f"{key}={flat_settings(config)[key]}" for key in sorted(differing) if key not in _shown(config)]
    return " ".join([text for _, text in _label_parts(config)] + extra)


def differing_settings(results: list[RunResult]) -> set[str]:
    """Settings whose value is not the same across ``results`` (the benchmark's file paths only
    between runs of one benchmark: two benchmarks always read different files)."""
    differing: set[str] = set()
    by_benchmark: dict[str, list[RunResult]] = defaultdict(list)
    for result in results:
        by_benchmark[result.benchmark].append(result)
    keys = set().union(*(r.settings for r in results))
    for key in keys:
        groups = list(by_benchmark.values()) if key in BENCHMARK_FILES else [results]
        if any(len({json.dumps(r.settings.get(key), sort_keys=True, default=str) for r in group}) > 1 for group in groups):
            differing.add(key)
    return differing


def _stale_metrics(run_dir: Path) -> str | None:
    """metrics.json scored before the predictions, letters or judgments last changed."""
    metrics = (run_dir / METRICS).stat().st_mtime_ns
    for name in (PREDICTIONS, MATCHES, JUDGMENTS):
        if (run_dir / name).exists() and (run_dir / name).stat().st_mtime_ns > metrics:
            return f"{METRICS} is older than {name}; re-run `infvideo score {run_dir}`"
    return None


def load_result(run_dir: str | Path) -> RunResult:
    """A scored run; ``UserError`` naming what to run when it is not one (or its metrics are stale)."""
    run_dir = Path(run_dir)
    check_run_directory(run_dir)
    if not (run_dir / CONFIG).exists():
        raise UserError(f"{run_dir}: no {CONFIG}; not a run directory written by `infvideo predict`")
    path = run_dir / METRICS
    if not path.exists():
        raise UserError(f"{run_dir}: no {METRICS}; run `infvideo score {run_dir}` first")
    metrics = json.loads(path.read_text())
    if metrics.get("units", {}).get("accuracy") != UNITS["accuracy"]:
        # Older metrics.json: accuracy as a fraction, and a partial run scored over its answered questions only.
        raise UserError(f"{run_dir}: {METRICS} was written by an older `infvideo score`; re-run `infvideo score {run_dir}`")
    if (stale := _stale_metrics(run_dir)) is not None:
        raise UserError(f"{run_dir}: {stale}")
    return RunResult(run_dir, load_run_config(run_dir), metrics)


def load_finished(run_dirs: Iterable[str | Path]) -> tuple[list[RunResult], list[tuple[Path, UserError]]]:
    """The scored runs among ``run_dirs``, and the others with the reason (a glob may catch
    directories still predicting, or stray files)."""
    results, skipped = [], []
    for run_dir in map(Path, run_dirs):
        try:
            results.append(load_result(run_dir))
        except UserError as error:
            skipped.append((run_dir, error))
    return results, skipped


@dataclass
class Cell:
    """One setting on one benchmark: its runs (one per seed, usually)."""

    runs: list[RunResult]

    def text(self) -> str:
        accuracies = [r.accuracy for r in self.runs if r.accuracy is not None]
        if not accuracies:
            return "–"
        scores = [r.score for r in self.runs if r.score is not None]
        mark = ("*" if any(r.caveat for r in self.runs) else "") + (MINILM_MARK if any(r.minilm_matched for r in self.runs) else "")
        if len(self.runs) == 1:
            return f"{accuracies[0]:.1f}{mark}" + (f" / {scores[0]:.2f}" if scores else "")
        text = _mean_std(accuracies, "{:.1f}") + mark + (f" / {_mean_std(scores, '{:.2f}')}" if scores else "")
        return f"{text} (n={len(accuracies)})"

    def questions(self) -> str:
        return ", ".join(dict.fromkeys(r.questions for r in self.runs))


def _mean_std(values: list[float], form: str) -> str:
    if len(values) == 1:
        return form.format(values[0])
    return f"{form.format(statistics.mean(values))} ± {form.format(statistics.stdev(values))}"


def _row_key(result: RunResult, differing: set[str]) -> tuple[str, str, str]:
    model = FAMILIES[result.config.model.name].title if result.config.model.name in FAMILIES else result.config.model.name
    return model, result.variant, settings_label(result.config, differing)


def comparison_table(results: list[RunResult]) -> str:
    """The markdown table: rows (model, variant, settings), per benchmark its numbers and questions."""
    benchmarks = [b for b in TASK_TITLES if any(r.benchmark == b for r in results)]
    benchmarks += sorted({r.benchmark for r in results} - set(benchmarks))
    peers: dict[tuple[str, str], list[RunResult]] = defaultdict(list)
    for result in results:
        peers[result.config.model.name, result.variant].append(result)
    differing = {key: differing_settings(group) for key, group in peers.items()}
    rows: dict[tuple[str, str, str], dict[str, Cell]] = defaultdict(dict)
    for result in results:
        key = _row_key(result, differing[result.config.model.name, result.variant])
        cells = rows[key]
        if result.benchmark in cells and cells[result.benchmark].runs[0].settings != result.settings:
            raise AssertionError(f"two settings share the row {key}: {cells[result.benchmark].runs[0].directory}, {result.directory}")
        cells.setdefault(result.benchmark, Cell([])).runs.append(result)
    order = {variant: index for index, variant in enumerate(VARIANT_ORDER)}
    keys = sorted(rows, key=lambda k: (k[0], order.get(k[1], len(order)), k[2]))
    header = ["model", "memory", "settings"]
    for b in benchmarks:
        header += [TASK_TITLES.get(b, b), f"{TASK_TITLES.get(b, b)} questions"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key in keys:
        cells = []
        for b in benchmarks:
            cell = rows[key].get(b)
            cells += [cell.text(), cell.questions()] if cell else ["", ""]
        lines.append("| " + " | ".join([*key, *cells]) + " |")
    lines += [
        "",
        "Accuracy in percent (0–100); judged benchmarks show accuracy / mean judge score (0–5). A setting run with "
        "several seeds shows mean ± sample standard deviation (n = seeds). questions = predicted/scored: every "
        "annotated question is scored, one never predicted counts as wrong. Matching and judging protocols are in "
        "each run's metrics.json.",
    ]
    caveats = [f"* {r.directory.name}: {r.caveat}" for r in results if r.caveat]
    if caveats:
        lines += ["", *caveats]
    if any(r.minilm_matched for r in results):
        lines += ["", MINILM_NOTE]
    return "\n".join(lines) + "\n"


def write_runs_csv(results: list[RunResult], path: str | Path) -> Path:
    """One line per run: its seed and every setting (dotted names), then its numbers (percent)."""
    path = Path(path)
    keys = list(dict.fromkeys(key for r in results for key in flat_settings(r.config)))
    keys = [*SWEPT, "run.seed", *sorted(k for k in keys if k not in SWEPT and k != "run.seed")]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["run", "model", "benchmark", "variant", *keys, "accuracy (%)", "score (0-5)", "questions", "predicted", "partial", "limited"]
        )
        for r in results:
            settings = flat_settings(r.config)
            writer.writerow(
                [
                    r.directory.name,
                    r.config.model.name,
                    r.benchmark,
                    r.variant,
                    *(settings.get(k) for k in keys),
                    r.accuracy,
                    r.score,
                    r.protocol.get("questions", r.metrics["overall"].get("total")),
                    r.protocol.get("predicted"),
                    bool(r.protocol.get("partial")),
                    bool(r.protocol.get("limited")),
                ]
            )
    return path
