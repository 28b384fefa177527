"""Video decoding: sampling speed per backend, parallel speed-up, and streaming memory.

1. A long test video (default 15 min, 160×120 (``--size``), 25 fps, H.264 with B-frames, keyframe every 250
   frames, frame number burned into the pixels) is generated once and cached by path.
2. Sampling: T frames (default 256, the uniform rule) with every installed serial backend and
   with the keyframe-aligned ``ParallelDecoder`` (workers = CPU cores). "open" is the one-off cost
   of opening (the PyAV frame-index scan); "read" is the best of ``--repeats`` ``get_frames`` calls
   on the open source. Parallel "warm" reuses the worker pool; "cold" includes opening and
   starting the pool. Every result is checked: the burned-in frame numbers must equal the indices.
3. Memory: a child process per setting streams N sampled frames (1k and 20k) through
   ``iter_chunks`` and VideoChat2 preprocessing to 32 px, and reports its peak RSS (VmHWM); the
   peak right after imports and opening is the baseline, so "stream" is what streaming added.

    python benchmarks/bench_video.py                    # full run (first run generates ~10 s of video work)
    python benchmarks/bench_video.py --minutes 2 --stream-counts 500 2000   # quick look
    python benchmarks/bench_video.py --size 640x360 --minutes 3 --stream-counts 500 2000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from infvideo.video.indices import frame_indices_uniform
from infvideo.video.parallel import ParallelDecoder
from infvideo.video.source import available_backends, open_video
from infvideo.video.stream import iter_chunks

FPS, GOP, BLOCK = 25, 250, 8


# -- the test video -------------------------------------------------------------------------------


def bench_video_path(cache_dir: Path, minutes: float, width: int, height: int) -> Path:
    """Generate (once) the benchmark video; later runs reuse the cached file."""
    path = cache_dir / f"bench_{width}x{height}_{FPS}fps_gop{GOP}_{minutes:g}min.mp4"
    if path.exists():
        return path
    cache_dir.mkdir(parents=True, exist_ok=True)
    num_frames = int(minutes * 60 * FPS)
    started = time.perf_counter()
    texture = _smooth_texture(4 * height, 4 * width)
    partial = path.with_suffix(".part.mp4")
    with av.open(str(partial), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = GOP
        stream.codec_context.max_b_frames = 2
        stream.codec_context.options = {"preset": "veryfast", "crf": "23", "sc_threshold": "0"}
        stream.thread_type = "AUTO"
        for index in range(num_frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(_frame(texture, index, width, height), format="rgb24")))
        container.mux(stream.encode(None))
    partial.rename(path)
    print(f"generated {path} ({num_frames} frames) in {time.perf_counter() - started:.1f} s")
    return path


def _smooth_texture(height: int, width: int) -> np.ndarray:
    from PIL import Image

    coarse = np.random.default_rng(0).integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC))


def _frame(texture: np.ndarray, index: int, width: int, height: int) -> np.ndarray:
    """A panning view over the texture (so the encoder has motion to code) with the frame number
    as a row of 8×8 blocks along the top."""
    y = int((texture.shape[0] - height) / 2 * (1 + np.cos(index / 410)))
    x = int((texture.shape[1] - width) / 2 * (1 + np.sin(index / 300)))
    frame = np.ascontiguousarray(texture[y : y + height, x : x + width])
    for bit in range(min(2 * width // BLOCK, 30)):
        row, column = divmod(bit, width // BLOCK)
        frame[row * BLOCK : (row + 1) * BLOCK, column * BLOCK : (column + 1) * BLOCK] = 235 if (index >> bit) & 1 else 16
    return frame


def _codes(frames: np.ndarray) -> list[int]:
    values = []
    width = frames.shape[2]
    for frame in frames:
        value = 0
        for bit in range(min(2 * width // BLOCK, 30)):
            row, column = divmod(bit, width // BLOCK)
            if frame[row * BLOCK + 2 : (row + 1) * BLOCK - 2, column * BLOCK + 2 : (column + 1) * BLOCK - 2].mean() > 125:
                value |= 1 << bit
        values.append(value)
    return values


# -- sampling speed -------------------------------------------------------------------------------


def time_sampling(path: Path, count: int, repeats: int) -> list[dict]:
    """Open every setting first, then time them round-robin, so that a burst of load from other
    processes on the machine hits every setting alike; the best of ``repeats`` counts."""
    settings = [("pyav", {"threads": 1}, "pyav, 1 thread"), ("pyav", {"threads": 0}, "pyav, FFmpeg threads")]
    if "decord" in available_backends():
        settings += [("decord", {"threads": 1}, "decord, 1 thread"), ("decord", {"threads": 0}, "decord, own threads")]
    rows, readers = [], []
    for backend, options, label in settings:
        started = time.perf_counter()
        source = open_video(path, backend, **options)
        rows.append({"setting": label, "open_s": time.perf_counter() - started, "parallel": False})
        readers.append(source)
    workers = os.cpu_count() or 1
    for groups_per_worker in (1, 2, 4):
        started = time.perf_counter()
        decoder = ParallelDecoder(path, workers=workers, groups_per_worker=groups_per_worker)
        opened = time.perf_counter() - started
        indices = frame_indices_uniform(decoder.metadata.num_frames, count)
        _check(decoder.get_frames(indices), indices, "parallel, cold")
        cold = time.perf_counter() - started
        label = f"parallel pyav, {workers} workers × {groups_per_worker} groups"
        rows.append({"setting": label, "open_s": opened, "cold_s": cold, "parallel": True})
        readers.append(decoder)
    indices = frame_indices_uniform(readers[0].metadata.num_frames, count)
    for row in rows:
        row["read_s"] = float("inf")
    for _ in range(repeats):
        for row, reader in zip(rows, readers):
            started = time.perf_counter()
            frames = reader.get_frames(indices)
            row["read_s"] = min(row["read_s"], time.perf_counter() - started)
            _check(frames, indices, row["setting"])
    for reader in readers:
        reader.close()
    return rows


def _check(frames: np.ndarray, indices: list[int], label: str) -> None:
    if _codes(frames) != list(indices):
        raise SystemExit(f"{label}: decoded frames are not the requested ones")


# -- streaming memory -----------------------------------------------------------------------------


def _vm_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def stream_child(path: str, backend: str, count: int, chunk_size: int) -> None:
    """Run in a fresh process: stream ``count`` frames, print peak RSS figures as JSON."""
    import torch

    from infvideo.models.memory_attention import reset_memories
    from infvideo.models.tokenizers import tiny_llama_tokenizer
    from infvideo.models.video_llama import InfVideoLLaMA, InfVideoLLaMAConfig
    from infvideo.video.preprocess import preprocess_video_llama

    torch.set_num_threads(1)
    tokenizer = tiny_llama_tokenizer()
    model = InfVideoLLaMA(InfVideoLLaMAConfig.tiny(vocab_size=len(tokenizer)), tokenizer)
    size = model.vision_model.config.image_size
    source = open_video(path, backend)
    indices = frame_indices_uniform(source.metadata.num_frames, count)
    warm = preprocess_video_llama(np.zeros((2, source.metadata.height, source.metadata.width, 3), np.uint8), size=size)
    with torch.inference_mode():  # warm up the allocator paths of every stage
        reset_memories(model.video_qformer)
        model.embed_chunk(model.encode_chunk(warm))
    baseline = _vm_kib("VmHWM")
    started = time.perf_counter()
    checksum = 0.0
    # The whole tiny pipeline per chunk: decode -> preprocess -> ViT + frame Q-former -> memory + video Q-former.
    with torch.inference_mode():
        reset_memories(model.video_qformer)
        for chunk in iter_chunks(source, indices, chunk_size):
            checksum += float(model.embed_chunk(model.encode_chunk(preprocess_video_llama(chunk, size=size))).mean())
    elapsed = time.perf_counter() - started
    source.close()
    print(json.dumps({"baseline_kib": baseline, "peak_kib": _vm_kib("VmHWM"), "seconds": elapsed, "checksum": checksum}))


def measure_streaming(path: Path, backend: str, count: int, chunk_size: int) -> dict:
    command = [sys.executable, __file__, "--stream-child", str(path), backend, str(count), str(chunk_size)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


# -- main -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "infvideo-bench")
    parser.add_argument("--minutes", type=float, default=15.0, help="length of the generated video")
    parser.add_argument("--size", default="160x120", help="WIDTHxHEIGHT of the generated video")
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--stream-counts", type=int, nargs="+", default=[1000, 20000])
    parser.add_argument("--chunk-size", type=int, default=64)
    parser.add_argument("--stream-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream_child:
        path, backend, count, chunk_size = args.stream_child
        stream_child(path, backend, int(count), int(chunk_size))
        return

    width, height = (int(v) for v in args.size.split("x"))
    path = bench_video_path(args.cache_dir, args.minutes, width, height)
    with open_video(path, "pyav") as source:
        meta = source.metadata
    print(
        f"\nvideo: {meta.num_frames} frames, {meta.width}×{meta.height}, {meta.fps:g} fps, "
        f"{len(meta.keyframes)} keyframes, {os.cpu_count()} CPU cores\n"
    )

    rows = time_sampling(path, args.samples, args.repeats)
    best_serial = min(row["read_s"] for row in rows if not row["parallel"])
    print(f"sampling {args.samples} frames (uniform rule), best of {args.repeats}")
    print(f"| {'setting':<42} | open (s) | read (s) | vs best serial | cold: open+pool+read (s) |")
    print(f"| {'-' * 42} | -------- | -------- | -------------- | ------------------------ |")
    for row in rows:
        cold = f"{row['cold_s']:.3f}" if "cold_s" in row else ""
        print(f"| {row['setting']:<42} | {row['open_s']:8.3f} | {row['read_s']:8.3f} | {best_serial / row['read_s']:13.2f}× | {cold:>24} |")

    print(
        f"\nstreaming through the tiny ∞-Video-LLaMA pipeline (chunks of {args.chunk_size}: decode, preprocess, ViT, Q-formers, memory), one process each"
    )
    print("| backend | frames | baseline peak RSS (MiB) | peak RSS (MiB) | added by streaming (MiB) | time (s) |")
    print("| ------- | ------ | ----------------------- | -------------- | ------------------------ | -------- |")
    for backend in available_backends()[::-1]:
        peaks = []
        for count in args.stream_counts:
            result = measure_streaming(path, backend, count, args.chunk_size)
            peaks.append(result["peak_kib"])
            print(
                f"| {backend:<7} | {count:>6} | {result['baseline_kib'] / 1024:23.1f} | {result['peak_kib'] / 1024:14.1f} | "
                f"{(result['peak_kib'] - result['baseline_kib']) / 1024:24.1f} | {result['seconds']:8.2f} |"
            )
        print(f"| {backend:<7} | peak ratio {args.stream_counts[-1]} / {args.stream_counts[0]} frames: {peaks[-1] / peaks[0]:.3f} |")


if __name__ == "__main__":
    main()
