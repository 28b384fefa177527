"""``infvideo demo``: the whole pipeline on a synthetic long video, on a CPU, in a few minutes.

A generated video with scripted events and a small NExT-QA-format question file go through the tiny
∞-Video-LLaMA: decode → frame tokens → memory → answer → option matching → metrics, into a run
directory with ``predictions.jsonl``, ``metrics.json`` and the attention-density plot. Running it
again on the same output directory resumes (finished questions are skipped).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from infvideo.eval.config import load_config
from infvideo.eval.matching import nearest_option
from infvideo.eval.predictions import read_records
from infvideo.eval.runner import encode_video, read_records as read_questions, run_predictions
from infvideo.eval.seeding import question_generator

# (start, end) in seconds, colour (RGB) and shape of each scripted event.
EVENTS = (
    (20.0, 35.0, (230, 40, 40), "square"),
    (75.0, 85.0, (40, 200, 60), "bar"),
    (130.0, 150.0, (50, 80, 230), "square"),
)
QUESTIONS = (
    ("what colour is the first square?", ("red", "green", "blue", "yellow", "white"), 0, "DC"),
    ("what appears in the middle of the video?", ("a red square", "a green bar", "a blue square", "nothing", "a circle"), 1, "TC"),
    ("what happens at the end?", ("a red square", "a green bar", "a blue square appears", "the video fades", "text scrolls"), 2, "TN"),
)


@dataclass
class DemoSettings:
    seconds: float = 180.0
    fps: int = 8
    size: int = 64
    frames_per_chunk: int = 16
    num_chunks: int = 8


def frame_at(t: float, size: int) -> np.ndarray:
    """A drifting grey background with the event active at time ``t`` drawn on top."""
    y, x = np.mgrid[0:size, 0:size]
    base = 90 + 40 * np.sin(0.05 * t + x / 9.0) * np.cos(y / 11.0)
    frame = np.repeat(base[..., None], 3, axis=2)
    for start, end, colour, shape in EVENTS:
        if start <= t < end:
            offset = int((t - start) / (end - start) * size / 3)
            if shape == "square":
                frame[size // 4 + offset // 2 : size // 2 + offset // 2, size // 4 : size // 2] = colour
            else:
                frame[size // 3 : size // 3 + 6, 4 : size - 4] = colour
    return frame.clip(0, 255).astype(np.uint8)


def write_video(path: Path, settings: DemoSettings) -> Path:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=settings.fps)
        stream.width = stream.height = settings.size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.options = {"crf": "23", "preset": "veryfast"}
        for index in range(int(settings.seconds * settings.fps)):
            frame = av.VideoFrame.from_ndarray(frame_at(index / settings.fps, settings.size), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def write_questions(path: Path, video: str, frames: int, size: int) -> Path:
    """The NExT-QA multiple-choice csv layout."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video", "frame_count", "width", "height", "question", "answer", "qid", "type", "a0", "a1", "a2", "a3", "a4"])
        for qid, (question, options, answer, qtype) in enumerate(QUESTIONS):
            writer.writerow([video, frames, size, size, question, answer, qid, qtype, *options])
    return path


def score(run_dir: Path, questions) -> dict:
    """Match free-text answers to options, then accuracy overall and per question type."""
    by_id = {q.id: q for q in questions}
    rows, per_type = [], {}
    for line in read_records(run_dir / "predictions.jsonl"):
        question = by_id[line["id"]]
        letter = None if line.get("error") else nearest_option(line["prediction"], question.options)
        correct = letter == question.answer_letter
        rows.append({"id": line["id"], "prediction": line.get("prediction"), "matched": letter, "answer": question.answer_letter, "correct": correct})
        stats = per_type.setdefault(question.question_type, [0, 0])
        stats[0] += correct
        stats[1] += 1
    total = len(rows)
    return {
        "questions": total,
        "accuracy": sum(r["correct"] for r in rows) / total if total else 0.0,  # invalid answers stay in the denominator
        "per_type": {k: v[0] / v[1] for k, v in sorted(per_type.items())},
        "matched": rows,
    }


def plot_attention(config, run_dir: Path, question) -> Path:
    """Where the first memory layer's attention sits over video time after every chunk."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from infvideo.eval.backends import build_backend
    from infvideo.memory import ContinuousMemory, MemoryTimeline
    from infvideo.models.memory_attention import reset_memories

    backend = build_backend(config)
    chunks = encode_video(config, backend, question, None)
    model = backend.model
    reset_memories(model.video_qformer, question_generator(config.run.seed, question.id))
    memory = model.memories()[0]
    if not isinstance(memory, ContinuousMemory):
        raise ValueError("the attention plot needs the continuous memory")
    timeline = MemoryTimeline(memory)
    edges = torch.linspace(0, len(chunks), 32 * len(chunks) + 1)
    rows = []
    with torch.inference_mode():
        for tokens in chunks:
            model.embed_chunk(tokens)
            timeline.advance()
            rows.append(timeline.density_over_video_time(edges)[0])
    fig, ax = plt.subplots(figsize=(7, 4))
    image = ax.imshow(torch.stack(rows).numpy(), aspect="auto", origin="lower", extent=(0, len(chunks), 0.5, len(chunks) + 0.5), cmap="magma")
    ax.set_xlabel("video time (chunks)")
    ax.set_ylabel("after chunk")
    ax.set_title("attention density of the video Q-former's memory (layer 1)")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    path = run_dir / "attention_density.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_demo(output_dir: str | Path, settings: DemoSettings | None = None, progress: bool = True) -> dict:
    settings = settings or DemoSettings()
    output_dir = Path(output_dir)
    data = output_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    video = data / "1001.mp4"
    if not video.exists():
        write_video(video, settings)
    annotations = write_questions(data / "questions.csv", "1001", int(settings.seconds * settings.fps), settings.size)
    config = load_config(
        overrides=[
            "model.name=video_llama", "model.preset=tiny", "model.alpha=0.5",
            "memory.kind=continuous", "memory.num_basis=64", "memory.num_samples=128", "memory.sticky=true",
            f"sampling.frames_per_chunk={settings.frames_per_chunk}", f"sampling.num_chunks={settings.num_chunks}",
            "sampling.rule=segment_midpoints", "sampling.backend=pyav", "generation.max_new_tokens=20",
            "data.benchmark=nextqa", f"data.annotations={annotations}", f"data.video_folder={data}",
            f"run.output_dir={output_dir / 'runs'}", f"run.token_cache={output_dir / 'tokens'}",
        ]
    )
    run_dir = run_predictions(config, progress=progress)
    questions = read_questions(config)
    metrics = score(run_dir, questions)
    plot_attention(config, run_dir, questions[0])
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return {"run_dir": str(run_dir), **{k: v for k, v in metrics.items() if k != "matched"}}
