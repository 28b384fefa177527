"""``infvideo memory-demo``: a long synthetic feature stream through the continuous memory.

The stream is a slowly drifting background with a few salient events (short segments of strong,
distinct features). Queries look for the events' content, as a question about them would. The same
stream goes through a uniform and a sticky memory; we plot where the attention density sits over
video time after every chunk, and how well the final memory still reconstructs each segment.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from infvideo.memory import ContinuousMemory, MemoryTimeline


@dataclass
class DemoConfig:
    chunks: int = 12
    frames_per_chunk: int = 64
    width: int = 64
    heads: int = 4
    num_basis: int = 64
    num_samples: int = 256
    tau: float = 0.75
    events: tuple[tuple[float, float], ...] = ((1.3, 1.6), (5.2, 5.4), (8.5, 8.9))  # in chunk units
    event_strength: float = 4.0
    query_scale: float = 16.0
    seed: int = 0
    samplers: tuple[str, ...] = field(default=("uniform", "sticky"))


def synthetic_stream(config: DemoConfig) -> tuple[Tensor, Tensor, Tensor]:
    """Frames [T, width], the event label of each frame (-1 = background), event directions."""
    g = torch.Generator().manual_seed(config.seed)
    total = config.chunks * config.frames_per_chunk
    drift = torch.randn(total, config.width, generator=g).cumsum(0) / total**0.5
    background = 0.3 * drift + 0.1 * torch.randn(total, config.width, generator=g)
    directions = torch.nn.functional.normalize(torch.randn(len(config.events), config.width, generator=g), dim=-1)
    labels = torch.full((total,), -1, dtype=torch.long)
    video_time = (torch.arange(total) + 0.5) / config.frames_per_chunk
    frames = background.clone()
    for k, (start, end) in enumerate(config.events):
        inside = (video_time >= start) & (video_time < end)
        labels[inside] = k
        frames[inside] += config.event_strength * directions[k]
    return frames, labels, directions


def run_sampler(config: DemoConfig, sampler: str, frames: Tensor, directions: Tensor) -> dict:
    g = torch.Generator().manual_seed(config.seed)
    key = torch.nn.Linear(config.width, config.width, bias=False)
    value = torch.nn.Linear(config.width, config.width, bias=False)
    with torch.no_grad():
        key.weight.copy_(torch.linalg.qr(torch.randn(config.width, config.width, generator=g))[0])
        value.weight.copy_(torch.eye(config.width))
    queries = config.query_scale * key(directions).unsqueeze(0)  # one query per event: [1, events, width]

    memory = ContinuousMemory(
        num_basis=config.num_basis,
        tau=config.tau,
        sticky=sampler == "sticky",
        num_samples=config.num_samples,
        generator=torch.Generator().manual_seed(config.seed),
    )
    timeline = MemoryTimeline(memory)
    video_edges = torch.linspace(0, config.chunks, config.chunks * 32 + 1)
    densities, seconds = [], []
    with torch.no_grad():
        for chunk in frames.split(config.frames_per_chunk):
            start = time.perf_counter()
            memory.update(chunk.unsqueeze(0))
            memory.read(queries, key, value, config.heads)
            seconds.append(time.perf_counter() - start)
            timeline.advance()
            densities.append(timeline.density_over_video_time(video_edges)[0])
    return {"memory": memory, "timeline": timeline, "densities": torch.stack(densities), "seconds": seconds, "edges": video_edges}


def segment_errors(config: DemoConfig, run: dict, frames: Tensor, labels: Tensor) -> dict[str, dict[str, float]]:
    """Relative L2 error and cosine similarity of the final memory's reconstruction, per segment."""
    video_time = (torch.arange(frames.shape[0]) + 0.5) / config.frames_per_chunk
    memory_time = run["timeline"].to_memory_time(video_time)
    recon = run["memory"].reconstruct(memory_time.float())[0]
    names = {-1: "background", **{k: f"event_{k}" for k in range(len(config.events))}}
    out = {}
    for label, name in names.items():
        mask = labels == label
        error = (recon[mask] - frames[mask]).norm() / frames[mask].norm()
        cosine = torch.nn.functional.cosine_similarity(recon[mask], frames[mask], dim=-1).mean()
        out[name] = {"relative_error": float(error), "cosine": float(cosine), "frames": int(mask.sum())}
    return out


def event_mass(config: DemoConfig, density: Tensor, edges: Tensor) -> float:
    """Share of the final attention mass that lies on event segments."""
    centres = (edges[:-1] + edges[1:]) / 2
    on_event = torch.zeros_like(centres, dtype=torch.bool)
    for start, end in config.events:
        on_event |= (centres >= start) & (centres < end)
    mass = density * (edges[1:] - edges[:-1])
    return float(mass[on_event].sum() / mass.sum())


def plot_densities(config: DemoConfig, runs: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(runs), figsize=(6 * len(runs), 4.5), squeeze=False, sharey=True)
    for ax, (name, run) in zip(axes[0], runs.items()):
        image = ax.imshow(
            run["densities"].numpy(),
            aspect="auto",
            origin="lower",
            extent=(0, config.chunks, 0.5, config.chunks + 0.5),
            cmap="magma",
        )
        for start, end in config.events:
            ax.axvspan(start, end, ymin=0, ymax=0.03, color="cyan")
        ax.set_title(f"{name}: attention density over video time")
        ax.set_xlabel("video time (chunks)")
        ax.set_ylabel("after chunk")
        fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_errors(metrics: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samplers = list(metrics["samplers"])
    segments = list(metrics["samplers"][samplers[0]]["segments"])
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / len(samplers)
    for i, sampler in enumerate(samplers):
        values = [metrics["samplers"][sampler]["segments"][s]["relative_error"] for s in segments]
        ax.bar([x + i * width for x in range(len(segments))], values, width, label=sampler)
    ax.set_xticks([x + width * (len(samplers) - 1) / 2 for x in range(len(segments))], segments)
    ax.set_ylabel("relative L2 reconstruction error")
    ax.set_title("final memory vs. the frames it stands for")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_memory_demo(output_dir: str | Path, config: DemoConfig | None = None) -> dict:
    config = config or DemoConfig()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    frames, labels, directions = synthetic_stream(config)
    runs = {name: run_sampler(config, name, frames, directions) for name in config.samplers}
    metrics = {"config": asdict(config), "samplers": {}}
    for name, run in runs.items():
        metrics["samplers"][name] = {
            "segments": segment_errors(config, run, frames, labels),
            "final_event_attention_mass": event_mass(config, run["densities"][-1], run["edges"]),
            "mean_seconds_per_chunk": sum(run["seconds"]) / len(run["seconds"]),
            "state_numel": run["memory"].state_numel(),
        }
    plot_densities(config, runs, output_dir / "attention_density.png")
    plot_errors(metrics, output_dir / "reconstruction_error.png")
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics
