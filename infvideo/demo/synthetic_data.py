"""A synthetic long video with scripted events, and questions about it in two benchmark formats
(NExT-QA multiple choice, MovieChat-1K open-ended), for the demo, the tiny end-to-end commands of
the README and the tests. ``infvideo demo-data DIR`` writes them."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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


# MovieChat-1K global questions about the same events, with reference answers for the judge.
OPEN_QUESTIONS = (
    ("What colour is the first square?", "The first square is red."),
    ("What appears in the middle of the video?", "A green bar appears in the middle."),
    ("What happens at the end?", "A blue square appears near the end."),
)


def write_moviechat_annotation(folder: Path, video_file: str, settings: DemoSettings) -> Path:
    """One MovieChat-1K per-video JSON (info, global questions, one breakpoint question)."""
    folder.mkdir(parents=True, exist_ok=True)
    frames = int(settings.seconds * settings.fps)
    data = {
        "info": {"video_path": video_file, "fps": settings.fps, "num_frame": frames},
        "global": [{"question": q, "answer": a} for q, a in OPEN_QUESTIONS],
        "breakpoint": [{"time": int(30 * settings.fps), "question": "What is on screen now?", "answer": "A red square."}],
    }
    path = folder / (Path(video_file).stem + ".json")
    path.write_text(json.dumps(data, indent=2))
    return path


@dataclass
class DemoData:
    folder: Path
    video: Path
    nextqa: Path  # the NExT-QA csv
    moviechat: Path  # the folder of MovieChat-1K JSONs


def write_demo_data(folder: str | Path, settings: DemoSettings | None = None) -> DemoData:
    """Write (or reuse) the video and both annotation files under ``folder``."""
    settings = settings or DemoSettings()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    video = folder / "1001.mp4"
    if not video.exists():
        write_video(video, settings)
    frames = int(settings.seconds * settings.fps)
    nextqa = write_questions(folder / "questions.csv", "1001", frames, settings.size)
    moviechat = folder / "moviechat"
    write_moviechat_annotation(moviechat, video.name, settings)
    return DemoData(folder, video, nextqa, moviechat)
