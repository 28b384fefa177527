"""The whole ``predict`` path, stage by stage: generated long videos → decode → preprocess → ViT →
memory → generation, serial (``sampling.decode_workers=0``) against prefetching workers.

Per setting it prints seconds per video per stage (decode and preprocess: summed over workers;
encode: the ViT on the model's device; memory; generate), the wall time per video, and the overlap
ratio = wall per video / max(decode + preprocess, encode + memory + generate): 2 when the stages
alternate and are equal, 1 when the CPU work hides completely behind the model's (or the reverse).
Also peak host RSS (this process; worker processes separately), peak GPU memory and GPU utilisation
over the run (pynvml or nvidia-smi; n/a without a GPU). The target is a ratio of at most 1.2 with
workers; that is a figure printed here, not a test assertion.

    python benchmarks/bench_pipeline.py --tiny                 # CPU, seconds: tiny model, small videos
    python benchmarks/bench_pipeline.py                        # GPU: full-size ∞-Video-LLaMA, random weights
    python benchmarks/bench_pipeline.py --workers 0 2 4 --videos 8 --seconds 600

``--parallel-decode`` measures instead the serial path's decoding alone (``decode_workers=0``): the
sampled frames of one generated video per length (bench_video.py's H.264, keyframe every 250
frames), chunk by chunk through ``prefetch_videos``, with ``sampling.parallel_decode`` never and
always (one process per core, the pool started per video as predict does); frames/s and equality:

    python benchmarks/bench_pipeline.py --parallel-decode --minutes 1 10 --size 320
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import torch

from infvideo.data.record import QuestionRecord
from infvideo.demo.synthetic_data import QUESTIONS, DemoSettings, write_video
from infvideo.eval.backends import Backend, build_backend
from infvideo.eval.config import load_config
from infvideo.eval.predictions import read_records
from infvideo.eval.runner import run_predictions


def make_videos(folder: Path, count: int, seconds: float, size: int, fps: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    settings = DemoSettings(seconds=seconds, fps=fps, size=size)
    return [write_video(folder / f"video{i}.mp4", settings) for i in range(count)]


def questions(videos: list[Path], per_video: int) -> list[QuestionRecord]:
    rows = []
    for path in videos:
        for q, (text, options, answer, _) in enumerate(QUESTIONS[:per_video]):
            rows.append(QuestionRecord(f"{path.stem}_{q}", "nextqa", path.stem, str(path), text, options, answer))
    return rows


def random_full_backend(config) -> Backend:
    """∞-Video-LLaMA at full size (ViT-g, Q-formers, 7B LLaMA) with random weights, built on the
    device in fp16 as the loader leaves it (Q-formers and memory in fp32); no checkpoints needed."""
    from infvideo.models.registry import family
    from infvideo.models.tokenizers import tiny_llama_tokenizer
    from infvideo.models.video_llama import InfVideoLLaMA, InfVideoLLaMAConfig

    tokenizer = tiny_llama_tokenizer()
    base = InfVideoLLaMAConfig.full()
    model_config = dataclasses.replace(base, alpha=config.model.alpha, memory=config.memory, llm={**base.llm, "vocab_size": len(tokenizer)})
    backend = Backend.__new__(Backend)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = InfVideoLLaMA(model_config, tokenizer)
    model.vision_model.half()
    model.language_model.half()
    backend.family, backend.model, backend.config = family("video_llama"), model.eval(), config
    backend.image_size = model.image_size
    backend.preprocess = backend.family.preprocess
    return backend


class GpuSampler:
    """GPU utilisation every 0.2 s in a thread (pynvml, else nvidia-smi); ``mean()`` is None without a GPU."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._read = self._reader()
        self._thread = threading.Thread(target=self._run, daemon=True) if self._read else None

    def _reader(self):
        if not torch.cuda.is_available():
            return None
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
            return lambda: float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        except Exception:
            pass
        if shutil.which("nvidia-smi"):
            query = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", f"--id={torch.cuda.current_device()}"]
            return lambda: float(subprocess.run(query, capture_output=True, text=True, check=True).stdout.split()[0])
        return None

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.samples.append(self._read())
            except Exception:
                return

    def __enter__(self) -> GpuSampler:
        if self._thread:
            self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def mean(self) -> float | None:
        return sum(self.samples) / len(self.samples) if self.samples else None


def run_setting(base_overrides: list[str], root: Path, records: list[QuestionRecord], backend, workers: int) -> dict:
    config = load_config(
        overrides=[*base_overrides, f"run.output_dir={root / 'runs'}", f"run.name=workers_{workers}", f"sampling.decode_workers={workers}"]
    )
    preprocess_seconds = [0.0]
    original = backend.preprocess
    if workers == 0:  # in this process: time the preprocessing inside encode_chunk (workers time their own)

        def timed(frames, size):
            start = time.perf_counter()
            try:
                return original(frames, size)
            finally:
                preprocess_seconds[0] += time.perf_counter() - start

        backend.preprocess = timed
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    try:
        with GpuSampler() as gpu:
            start = time.perf_counter()
            summary = run_predictions(config, records, backend=backend, progress=False)
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            wall = time.perf_counter() - start
    finally:
        backend.preprocess = original
    lines = list(read_records(summary.predictions))
    stages = summary.stages
    preprocess = stages["preprocess"] + preprocess_seconds[0]
    # encode_video = waiting for frames + (serial: preprocessing +) the ViT
    encode = stages["encode_video"] - stages["wait"] - preprocess_seconds[0]
    videos = len({r.video_path for r in records})
    per_video = {
        "decode": stages["decode"] / videos,
        "preprocess": preprocess / videos,
        "encode": encode / videos,
        "memory": sum(line.get("timings", {}).get("memory", 0.0) for line in lines) / videos,
        "generate": sum(line.get("timings", {}).get("generate", 0.0) for line in lines) / videos,
    }
    cpu = per_video["decode"] + per_video["preprocess"]
    model = per_video["encode"] + per_video["memory"] + per_video["generate"]
    return {
        "workers": workers,
        "wall": wall / videos,
        **per_video,
        "ratio": (wall / videos) / max(cpu, model),
        "answers": [line.get("prediction") for line in lines],
        "errors": summary.errors,
        "gpu_util": gpu.mean(),
        "gpu_peak": torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None,
    }


def bench_parallel_decode(minutes: list[float], size: int, frames_per_chunk: int, num_chunks: int, repeats: int = 3) -> None:
    """Frames/s of the serial path's decoding with the keyframe-parallel decoder off and on."""
    import numpy as np
    from bench_video import bench_video_path

    from infvideo.video.prefetch import ChunkPlan, VideoJob, prefetch_videos

    width, height = size, size * 3 // 4
    plan = ChunkPlan("segment_centres", frames_per_chunk, num_chunks)
    print(
        f"{os.cpu_count()} cores; {num_chunks} chunks x {frames_per_chunk} frames (segment_centres), {width}x{height}, "
        f"best of {repeats}, pool start included"
    )
    print(f"{'minutes':>7} {'frames':>7} {'never f/s':>10} {'always f/s':>11} {'gain':>6} {'equal':>6}")
    for length in minutes:
        path = bench_video_path(Path(tempfile.gettempdir()) / "infvideo-bench", length, width, height)
        results = {}
        for mode in ("never", "always"):
            best, chunks = float("inf"), None
            for _ in range(repeats):
                start = time.perf_counter()
                video = next(prefetch_videos([VideoJob(str(path), "pyav", None, plan, None, None, mode)]))
                chunks = list(video)
                best = min(best, time.perf_counter() - start)
            results[mode] = (best, chunks)
        frames = sum(len(chunk) for chunk in results["never"][1])
        equal = all(np.array_equal(a, b) for a, b in zip(results["never"][1], results["always"][1], strict=True))
        serial, parallel = (frames / results[mode][0] for mode in ("never", "always"))
        print(f"{length:>7g} {int(length * 60 * 25):>7} {serial:>10.0f} {parallel:>11.0f} {parallel / serial:>6.2f} {str(equal):>6}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="the tiny preset on a CPU (seconds); default: full size, random weights, GPU")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1], help="decode_workers settings to compare")
    parser.add_argument("--videos", type=int, default=None, help="generated videos (default 6 tiny, 8 full)")
    parser.add_argument("--seconds", type=float, default=None, help="length of each video (default 60 tiny, 600 full)")
    parser.add_argument("--size", type=int, default=None, help="frame side in pixels (default 256 tiny, 480 full)")
    parser.add_argument("--fps", type=int, default=8)
    parser.add_argument("--num-chunks", type=int, default=None, help="--parallel-decode: chunks per video (default 8)")
    parser.add_argument("--questions", type=int, default=1, help="questions per video (one batched generate when enabled)")
    parser.add_argument("--prefetch", type=int, default=4, help="sampling.prefetch_chunks")
    parser.add_argument("--parallel-decode", action="store_true", help="measure the keyframe-parallel decoder in the serial path instead")
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0], help="--parallel-decode: video lengths")
    args = parser.parse_args()
    if args.parallel_decode:
        bench_parallel_decode(args.minutes, args.size or 320, 16, args.num_chunks or 8)
        return
    tiny = args.tiny
    videos_count = args.videos or (6 if tiny else 8)
    seconds = args.seconds or (40.0 if tiny else 600.0)
    size = args.size or (320 if tiny else 480)
    if tiny:
        # One core for the model, the others for the decode workers: otherwise they take turns on
        # the same cores and no overlap can show.
        torch.set_num_threads(1)
    if not tiny and not torch.cuda.is_available():
        raise SystemExit("full size needs a CUDA GPU; use --tiny on a CPU")
    overrides = [
        "model.name=video_llama",
        "model.preset=tiny",
        "model.device=" + ("cpu" if tiny else "cuda"),
        "sampling.frames_per_chunk=16",
        f"sampling.num_chunks={8 if tiny else 16}",
        "sampling.backend=pyav",
        f"sampling.prefetch_chunks={args.prefetch}",
        "generation.max_new_tokens=" + ("16" if tiny else "32"),
    ]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        started = time.perf_counter()
        videos = make_videos(root / "videos", videos_count, seconds, size, args.fps)
        print(f"{videos_count} videos of {seconds:g} s, {size}x{size}, {args.fps} fps generated in {time.perf_counter() - started:.1f} s")
        config = load_config(overrides=overrides)
        backend = build_backend(config) if tiny else random_full_backend(config)
        records = questions(videos, args.questions)
        # Warm-up: one-off costs (allocator, kernels, imports, the worker fork server) paid by no setting.
        for workers in sorted({0, max(args.workers)}):
            run_setting(overrides, root / f"warm{workers}", records[: 2 * args.questions], backend, workers)
        results = [run_setting(overrides, root / f"w{w}", records, backend, w) for w in args.workers]
    model = "tiny ∞-Video-LLaMA (CPU)" if tiny else "full-size ∞-Video-LLaMA, random weights"
    print(f"{model}; {config.sampling.num_chunks} chunks x 16 frames per video, {args.questions} questions per video")
    print(
        f"{'workers':>7} {'decode':>8} {'prepro':>8} {'encode':>8} {'memory':>8} {'generate':>8} {'wall':>8} {'ratio':>6} {'GPU %':>6} {'GPU GiB':>8}"
    )
    for r in results:
        util = "n/a" if r["gpu_util"] is None else f"{r['gpu_util']:.0f}"
        peak = "n/a" if r["gpu_peak"] is None else f"{r['gpu_peak']:.1f}"
        print(
            f"{r['workers']:>7} {r['decode']:>8.3f} {r['preprocess']:>8.3f} {r['encode']:>8.3f} {r['memory']:>8.3f} "
            f"{r['generate']:>8.3f} {r['wall']:>8.3f} {r['ratio']:>6.2f} {util:>6} {peak:>8}"
        )
    print("seconds per video; ratio = wall / max(decode + preprocess, encode + memory + generate)")
    host = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    workers_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    print(f"peak host RSS: {host:.2f} GiB (this process), {workers_peak:.2f} GiB (largest worker process)")
    same = all(r["answers"] == results[0]["answers"] for r in results)
    print(f"identical answers across settings: {same}")
    if not same or any(r["errors"] for r in results):
        raise SystemExit("the settings answered differently (or with errors)")


if __name__ == "__main__":
    main()
