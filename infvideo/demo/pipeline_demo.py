"""``infvideo demo``: the whole pipeline on a synthetic long video, on a CPU, in under a minute.

A generated video with scripted events and a small NExT-QA-format question file go through the tiny
∞-Video-LLaMA: decode → frame tokens → memory → answer → option matching → metrics, into a run
directory with ``predictions.jsonl``, ``matches.jsonl``, ``metrics.json``/``metrics.md`` and the
attention-density plot. Running it again on the same output directory resumes (finished questions
are skipped).
"""

from __future__ import annotations

from pathlib import Path

from infvideo.eval.backends import build_backend
from infvideo.eval.config import load_config
from infvideo.eval.match_run import match_run
from infvideo.eval.metrics.score import score_run
from infvideo.eval.plots import attention_over_video_time, plot_attention_density
from infvideo.eval.runner import encode_video, run_predictions
from infvideo.eval.runner import read_records as read_questions
from infvideo.eval.seeding import question_generator

from .synthetic_data import DemoSettings, write_demo_data

__all__ = ["DEMO_MODEL", "DemoSettings", "run_demo"]


# The tiny random-weight ∞-Video-LLaMA with a sticky continuous memory: what `infvideo demo` runs and what
# `infvideo app` starts with when given no config (seconds on any CPU).
DEMO_MODEL = [
    "model.name=video_llama",
    "model.preset=tiny",
    "model.alpha=0.5",
    "memory.kind=continuous",
    "memory.num_basis=64",
    "memory.num_samples=128",
    "memory.sticky=true",
    "sampling.rule=segment_midpoints",
    "sampling.backend=pyav",
    "generation.max_new_tokens=20",
]


def demo_config(output_dir: Path, annotations: Path, video_folder: Path, settings: DemoSettings):
    return load_config(
        overrides=[
            *DEMO_MODEL,
            f"sampling.frames_per_chunk={settings.frames_per_chunk}",
            f"sampling.num_chunks={settings.num_chunks}",
            "data.benchmark=nextqa",
            f"data.annotations={annotations}",
            f"data.video_folder={video_folder}",
            f"run.output_dir={output_dir / 'runs'}",
            f"run.token_cache={output_dir / 'tokens'}",
        ]
    )


def run_demo(output_dir: str | Path, settings: DemoSettings | None = None, progress: bool = True) -> dict:
    settings = settings or DemoSettings()
    output_dir = Path(output_dir)
    data = write_demo_data(output_dir / "data", settings)
    config = demo_config(output_dir, data.nextqa, data.folder, settings)
    run_dir = run_predictions(config, progress=progress).directory
    match_run(run_dir, progress=progress)
    metrics = score_run(run_dir)
    question = read_questions(config)[0]
    backend = build_backend(config)
    chunks = encode_video(config, backend, question, None)
    density = attention_over_video_time(backend, question, chunks, question_generator(config.run.seed, question.id))
    plot_attention_density(density, run_dir / "attention_density.png", "attention density of the video Q-former's memory (layer 1)")
    return {
        "run_dir": str(run_dir),
        "accuracy_percent": metrics["overall"]["accuracy"],
        "per_type": {name: cell["accuracy"] for name, cell in metrics["breakdowns"].get("type", {}).items()},
    }
