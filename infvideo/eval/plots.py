"""The report's figures: accuracy (percent, 0–100) against a swept setting, one axis per benchmark,
and where the memory attends over video time after every chunk (the paper's "sticky memories" figure)."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on a cluster node
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from infvideo.data.record import QuestionRecord  # noqa: E402

from .report import RunResult, differing_settings, settings_label  # noqa: E402
from .tasks import TASK_TITLES as BENCHMARK_TITLES  # noqa: E402

PARAMETERS = {
    "tau": ("memory.tau", "τ (contraction)"),
    "alpha": ("model.alpha", "α (STM weight)"),
    "num_basis": ("memory.num_basis", "N (basis functions)"),
}
NO_LTM = "No LTM"


def _line_name(result: RunResult, varied: str, differing: set[str]) -> str:
    """The line a run belongs to: its model, variant and label without the plotted setting."""
    label = settings_label(result.config, differing - {varied})
    hidden = {"memory.tau": "τ=", "memory.num_basis": "N=", "model.alpha": "α="}[varied]
    label = " ".join(part for part in label.split() if not part.startswith(hidden))
    return f"{result.config.model.name} {result.variant} {label}"


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def accuracy_figure(results: list[RunResult], parameter: str):
    """Accuracy (%) against ``parameter`` (tau | alpha | num_basis): one axis per benchmark (y 0–100),
    one line per combination of the other settings with at least two values of it, seeds averaged
    (error bar: sample std). No-LTM runs are a labelled point (alpha) or a labelled horizontal line.
    None when no run varies the parameter."""
    dotted, axis_label = PARAMETERS[parameter]
    scored = [r for r in results if r.accuracy is not None]
    differing = differing_settings(scored) - {dotted} if scored else set()
    # A line: the runs of one benchmark equal in every setting but the plotted one (and the seed).
    members: dict[tuple[str, str], list[RunResult]] = defaultdict(list)
    baselines: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for result in scored:
        if result.variant != NO_LTM or (parameter == "alpha" and result.config.memory.kind != "none"):
            others = {k: v for k, v in result.settings.items() if k != dotted}
            members[result.benchmark, json.dumps(others, sort_keys=True, default=str)].append(result)
        else:
            baselines[result.benchmark][f"{NO_LTM} ({result.config.model.name})"].append(result.accuracy)
    lines: dict[str, dict[str, dict[float, list[float]]]] = defaultdict(dict)
    for (benchmark, _), runs in members.items():
        points: dict[float, list[float]] = defaultdict(list)
        for run in runs:
            points[run.setting(dotted)].append(run.accuracy)
        if len(points) > 1:
            named_by = next((r for r in runs if r.variant != NO_LTM), runs[0])  # alpha = 1 has no memory label
            lines[benchmark][_line_name(named_by, dotted, differing)] = points
    benchmarks = [b for b in BENCHMARK_TITLES if lines.get(b)] + sorted(b for b in lines if lines[b] and b not in BENCHMARK_TITLES)
    if not benchmarks:
        return None
    fig, axes = plt.subplots(1, len(benchmarks), figsize=(5.5 * len(benchmarks), 4), squeeze=False)
    for ax, benchmark in zip(axes[0], benchmarks):
        for name, points in sorted(lines[benchmark].items()):
            xs = sorted(points)
            means, stds = zip(*(_mean_std(points[x]) for x in xs))
            ax.errorbar(xs, means, yerr=stds if any(stds) else None, marker="o", capsize=3, label=name)
            if parameter == "alpha" and xs[-1] >= 1:  # alpha = 1: the memory is off
                ax.annotate(NO_LTM, (xs[-1], means[-1]), textcoords="offset points", xytext=(-10, 8), ha="right", fontsize=8)
        for name, values in sorted(baselines[benchmark].items()):
            level = statistics.mean(values)
            ax.axhline(level, linestyle="--", color="grey", linewidth=1, label=name)
            ax.annotate(
                NO_LTM, (1, level), xycoords=("axes fraction", "data"), textcoords="offset points", xytext=(-4, 3), ha="right", fontsize=8
            )
        ax.set_ylim(0, 100)
        ax.set_xlabel(axis_label)
        ax.set_ylabel("accuracy (%)")  # metrics.json stores percent: no conversion here
        ax.set_title(BENCHMARK_TITLES.get(benchmark, benchmark))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"accuracy against {parameter}", fontsize=10)
    fig.tight_layout()
    return fig


def plot_accuracy_against(results: list[RunResult], parameter: str, path: str | Path) -> Path | None:
    """``accuracy_figure`` saved to ``path``; None (nothing written) when no run varies the parameter."""
    fig = accuracy_figure(results, parameter)
    if fig is None:
        return None
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def attention_over_video_time(
    backend, record: QuestionRecord, chunks: list[torch.Tensor], generator: torch.Generator, bins_per_chunk: int = 32
) -> torch.Tensor:
    """[chunks, chunks·bins] density of the first memory layer's attention over video time, read
    after each chunk (batch item 0), through the backend's own ``embed`` (any family). Needs a memory
    whose read is a density over time (memory.kind=continuous)."""
    from infvideo.models.memory_attention import memory_layers

    edges = torch.linspace(0, len(chunks), bins_per_chunk * len(chunks) + 1)
    rows: list[torch.Tensor] = []

    def observed():
        # embed_video pulls the next chunk only after the previous one went through the memory.
        for tokens in chunks:
            yield tokens
            memory = next(memory_layers(backend.model)).memory
            density = None if memory is None else memory.attention_over_video_time(edges)
            if density is None:
                raise ValueError(
                    f"the attention-density plot needs a memory that attends over time (memory.kind=continuous), not {memory!r}"
                )
            rows.append(density)

    with torch.inference_mode():
        backend.embed(observed(), record, generator)
    return torch.stack(rows)


def plot_attention_density(density: torch.Tensor, path: str | Path, title: str) -> Path:
    chunks = density.shape[0]
    fig, ax = plt.subplots(figsize=(7, 4))
    image = ax.imshow(density.float().numpy(), aspect="auto", origin="lower", extent=(0, chunks, 0.5, chunks + 0.5), cmap="magma")
    ax.set_xlabel("video time (chunks)")
    ax.set_ylabel("after chunk")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, label="attention density")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def attention_figure(result: RunResult, record: QuestionRecord, path: str | Path) -> Path:
    """Rebuild the run's model, encode the question's video and draw its memory's attention."""
    from .backends import build_backend
    from .runner import encode_video
    from .seeding import question_generator
    from .token_cache import TokenCache

    config = result.config
    backend = build_backend(config)
    cache = TokenCache(config.run.token_cache, backend.vision_signature()) if config.run.token_cache else None
    chunks = encode_video(config, backend, record, cache)
    density = attention_over_video_time(backend, record, chunks, question_generator(config.run.seed, record.id))
    return plot_attention_density(density, path, f"{result.directory.name}\nquestion {record.id}: memory attention (layer 1)")
