"""The report's figures: accuracy against a swept setting, and where the memory attends over video
time after every chunk (the paper's "sticky memories" figure)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on a cluster node
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from infvideo.data.record import QuestionRecord  # noqa: E402

from .report import BENCHMARK_TITLES, RunResult  # noqa: E402

PARAMETERS = {"tau": ("memory.tau", "τ (contraction)"), "alpha": ("model.alpha", "α (STM weight)"), "num_basis": ("memory.num_basis", "N (basis functions)")}


def _others(result: RunResult, varied: str) -> str:
    """The line a run belongs to: everything swept except the plotted setting."""
    keys = [k for k in ("memory.kind", "memory.sticky", "memory.tau", "memory.num_basis", "model.alpha") if k != varied]
    label = {"memory.kind": "", "memory.sticky": "sticky" if result.setting("memory.sticky") else "uniform"}
    parts = [result.config.model.name, result.benchmark, result.setting("memory.kind")]
    parts += [label.get(k) or f"{k.split('.')[1]}={result.setting(k):g}" for k in keys if k != "memory.kind"]
    return " ".join(parts)


def plot_accuracy_against(results: list[RunResult], parameter: str, path: str | Path) -> Path | None:
    """Accuracy (%) against ``parameter`` (tau | alpha | num_basis), one line per combination of the
    other settings that has at least two values of it; None when no run varies it."""
    dotted, axis_label = PARAMETERS[parameter]
    lines: dict[str, list[tuple[float, float]]] = defaultdict(list)
    benchmarks: dict[str, set[str]] = defaultdict(set)
    for result in results:
        if result.accuracy is not None and result.setting("memory.kind") != "none":
            lines[_others(result, dotted)].append((result.setting(dotted), 100 * result.accuracy))
            benchmarks[_others(result, dotted)].add(BENCHMARK_TITLES.get(result.benchmark, result.benchmark))
    lines = {name: sorted(points) for name, points in lines.items() if len({x for x, _ in points}) > 1}
    if not lines:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, points in sorted(lines.items()):
        ax.plot([x for x, _ in points], [y for _, y in points], marker="o", label=name)
    plotted = sorted(set().union(*(benchmarks[name] for name in lines)))
    ax.set_xlabel(axis_label)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"{', '.join(plotted)}: accuracy against {parameter}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def attention_over_video_time(backend, record: QuestionRecord, chunks: list[torch.Tensor], generator: torch.Generator, bins_per_chunk: int = 32) -> torch.Tensor:
    """[chunks, chunks·bins] density of the first memory layer's attention over video time, read
    after each chunk (batch item 0), through the backend's own ``embed`` (any backbone).
    Needs the continuous memory."""
    from infvideo.memory import ContinuousMemory, MemoryTimeline
    from infvideo.models.memory_attention import memory_layers

    edges = torch.linspace(0, len(chunks), bins_per_chunk * len(chunks) + 1)
    rows: list[torch.Tensor] = []

    def observed():
        # embed_video pulls the next chunk only after the previous one went through the memory.
        timeline = None
        for tokens in chunks:
            yield tokens
            if timeline is None:
                memory = next(memory_layers(backend.model)).memory
                if not isinstance(memory, ContinuousMemory):
                    raise ValueError("the attention-density plot needs memory.kind=continuous")
                timeline = MemoryTimeline(memory)
            timeline.advance()
            rows.append(timeline.density_over_video_time(edges)[0])

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
