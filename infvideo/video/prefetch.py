"""Decoding and preprocessing the next videos while the model encodes this one.

``predict`` alternates two kinds of work per chunk: CPU work (decode the sampled frames, resize and
normalise them) and model work (ViT, memory, LLM). Done in turn, a video costs the sum of both;
overlapped, the larger. ``prefetch_videos`` yields, for each video in run order, a ``PreparedVideo``
whose chunks of preprocessed pixels are produced ahead of time:

* ``workers=0``: in this process, lazily, one chunk at a time (the serial path; nothing runs ahead);
* ``workers=N``: N worker processes, video k going to worker k mod N, each streaming its chunks into
  its own bounded queue; one thread of this process takes them in run order (pinning them when the
  model is on CUDA, so the host-to-device copy can be asynchronous) into one bounded queue that the
  model reads. Host memory is bounded by the queue depths, never by the length of a video.

A video's failure (unreadable file, decoder error, a worker process that died) is delivered in its
place in the order and raised when the consumer takes that video's chunks, so it fails that video
only; a dead worker is replaced for the videos after it. Pixels are the same in both paths (same
decoder, same preprocessing function, same dtype), so answers do not depend on ``workers``.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import pickle
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from infvideo.video.indices import RULES

_POLL_SECONDS = 0.5  # how often a blocked side checks that the other is still alive


@dataclass(frozen=True)
class ChunkPlan:
    """How a video's frames are cut into the chunks the memory reads (a frame rule and its sizes)."""

    rule: str
    frames_per_chunk: int
    num_chunks: int

    def chunks(self, num_frames: int) -> list[list[int]]:
        if self.rule not in RULES:
            raise ValueError(f"unknown frame rule {self.rule!r}; expected one of {sorted(RULES)}")
        return RULES[self.rule].chunks(num_frames, self.frames_per_chunk, self.num_chunks)


@dataclass(frozen=True)
class VideoJob:
    """Everything a worker needs for one video; picklable (``preprocess`` a module-level function)."""

    path: str
    decoder: str  # open_video's backend
    limit: int | None  # frames after this are not read (MovieChat breakpoints); None = all
    plan: ChunkPlan
    preprocess: Callable[[np.ndarray, int], torch.Tensor] | None  # None: chunks are the decoded uint8 frames
    image_size: int | None  # None with no preprocess
    parallel_decode: str = "never"  # PARALLEL_DECODE: the keyframe-parallel decoder for this video's chunks


@dataclass
class StageTimes:
    """Seconds spent per stage over a run (summed over worker processes, so decode + preprocess can
    exceed the wall time when they run in parallel); ``wait`` is the consumer idle for pixels."""

    decode: float = 0.0
    preprocess: float = 0.0
    wait: float = 0.0
    chunks: int = 0

    def as_dict(self) -> dict[str, float]:
        return {"decode": self.decode, "preprocess": self.preprocess, "wait": self.wait, "chunks": self.chunks}


def video_messages(job: VideoJob) -> Iterator[tuple[str, Any]]:
    """One video as messages: ("plan", chunk index lists), then ("chunk", (pixels, decode s,
    preprocess s)) per non-empty chunk, then ("end", None); any failure ends it with ("error", exc).
    Frames are decoded only when the next message is asked for, so memory stays one chunk."""
    from infvideo.video.source import open_video

    try:
        with _parallel_if_it_pays(open_video(job.path, job.decoder), job.parallel_decode) as source:
            total = source.metadata.num_frames
            num_frames = total if job.limit is None else min(job.limit, total)
            plan = job.plan.chunks(num_frames)
            yield "plan", plan
            for indices in plan:
                if not len(indices):
                    continue
                start = time.perf_counter()
                frames = source.get_frames(indices)
                decoded = time.perf_counter()
                pixels = frames if job.preprocess is None else job.preprocess(frames, job.image_size)
                yield "chunk", (pixels, decoded - start, time.perf_counter() - decoded)
        yield "end", None
    except Exception as error:  # delivered to the consumer, which fails this video only
        yield "error", error


# sampling.parallel_decode: "never"; "always": every video decoded by PyAV; "auto": those of at least
# PARALLEL_MIN_FRAMES frames (docs/performance.md has the measurement behind the threshold).
# Not "on"/"off": YAML reads those as booleans.
PARALLEL_DECODE = ("auto", "always", "never")
PARALLEL_MIN_FRAMES = 2_500


def _parallel_if_it_pays(source: Any, mode: str) -> Any:
    """``source``, or a ``ParallelDecoder`` over it (same frames, reusing its index scan) splitting
    each chunk's frames by keyframe interval over one process per core.

    PyAV only: the parallel decoder is PyAV's, and a decord source's frames would change. Used only
    in the serial path (``workers=0``): prefetch workers are daemon processes, which may not start
    a pool, and with workers the cores are already busy decoding other videos. The pool's start
    (about 2 s measured on 2 cores) is paid once per video, hence the length threshold of "auto"."""
    from infvideo.video.parallel import ParallelDecoder
    from infvideo.video.pyav_source import PyAVSource

    cores = os.cpu_count() or 1
    if mode == "never" or cores < 2 or not isinstance(source, PyAVSource):
        return source
    if mode == "auto" and source.metadata.num_frames < PARALLEL_MIN_FRAMES:
        return source
    return ParallelDecoder(source.path, cores, source=source)


class PreparedVideo:
    """One video's preprocessed chunks, in order. Iterating yields float32 pixel tensors
    [frames, 3, size, size] and raises the video's error where it occurred; ``plan`` (the chunk
    index lists) is known once iteration has started."""

    def __init__(self, job: VideoJob, messages: Iterator[tuple[str, Any]], times: StageTimes) -> None:
        self.job = job
        self.plan: list[list[int]] | None = None
        self._messages = messages
        self._times = times

    def __iter__(self) -> Iterator[torch.Tensor]:
        while True:
            start = time.perf_counter()
            kind, payload = next(self._messages)
            self._times.wait += time.perf_counter() - start
            if kind == "plan":
                self.plan = payload
            elif kind == "chunk":
                pixels, decode_seconds, preprocess_seconds = payload
                self._times.decode += decode_seconds
                self._times.preprocess += preprocess_seconds
                self._times.chunks += 1
                yield pixels
            elif kind == "error":
                raise payload
            else:
                return


def prefetch_videos(
    jobs: Iterable[VideoJob | None], workers: int = 0, depth: int = 4, pin_memory: bool = False, times: StageTimes | None = None
) -> Iterator[PreparedVideo | None]:
    """A ``PreparedVideo`` per job, in order (``None`` for a ``None`` job: nothing to decode, e.g. a
    token-cache hit). ``workers``: decoding processes (0 = this process, lazily). ``depth``: chunks
    buffered ahead; in host memory at once are at most about 2·depth + workers chunks of pixels.
    The consumer must take each video's chunks before asking for the next video (or abandon them:
    the rest of an abandoned video is skipped). Closing the iterator stops the workers."""
    jobs = list(jobs)
    times = times if times is not None else StageTimes()
    if workers <= 0 or not any(jobs):
        for job in jobs:
            yield None if job is None else PreparedVideo(job, video_messages(job), times)
        return
    pool = _WorkerPool(jobs, min(workers, sum(job is not None for job in jobs)), depth, pin_memory)
    try:
        for index, job in enumerate(jobs):
            yield None if job is None else PreparedVideo(job, pool.messages(index), times)
    finally:
        pool.close()


# -- the worker processes -------------------------------------------------------------------------


class WorkerCrashed(RuntimeError):
    """A decoding worker process died (a crash in the decoder) while preparing a video."""


@dataclass
class _Worker:
    process: Any
    tasks: Any  # multiprocessing queue of (index, job), None to stop
    results: Any  # multiprocessing queue of (index, kind, payload), bounded
    assigned: list[int] = field(default_factory=list)  # video indices, in order


class _WorkerPool:
    """Video k is prepared by worker k mod N; a feeder thread takes messages in run order into one
    bounded queue (a dead worker's current video becomes an error, the rest go to a new worker)."""

    def __init__(self, jobs: list[VideoJob | None], workers: int, depth: int, pin_memory: bool) -> None:
        from infvideo.video.parallel import default_start_method

        self._jobs = jobs
        self._context = multiprocessing.get_context(default_start_method())
        if self._context.get_start_method() == "forkserver":
            # The fork server imports torch once; each worker (and a replacement after a crash) then
            # starts in milliseconds instead of a second. No effect once the server runs.
            self._context.set_forkserver_preload(["infvideo.video.prefetch"])
        self._worker_depth = max(1, depth // workers)
        self._pin = pin_memory
        self._ready: queue.Queue = queue.Queue(maxsize=max(1, depth))  # (index, kind, payload)
        self._stop = threading.Event()
        pending = [index for index, job in enumerate(jobs) if job is not None]
        self._workers = [self._start(pending[slot::workers]) for slot in range(workers)]
        self._owner = {index: slot for slot, worker in enumerate(self._workers) for index in worker.assigned}
        self._feeder = threading.Thread(target=self._feed, name="infvideo-prefetch", daemon=True)
        self._feeder.start()

    def _start(self, assigned: list[int]) -> _Worker:
        tasks = self._context.Queue()
        results = self._context.Queue(maxsize=self._worker_depth)
        for index in assigned:
            # a daemon process may not start the parallel decoder's pool (see _parallel_if_it_pays)
            tasks.put((index, dataclasses.replace(self._jobs[index], parallel_decode="never")))
        tasks.put(None)
        process = self._context.Process(target=_worker_main, args=(tasks, results), name="infvideo-decode", daemon=True)
        process.start()
        return _Worker(process, tasks, results, list(assigned))

    def messages(self, index: int) -> Iterator[tuple[str, Any]]:
        """The messages of video ``index`` (earlier videos' leftovers are dropped)."""
        while True:
            item = self._get_ready()
            if item[0] < index:
                continue  # the rest of a video the consumer abandoned
            yield item[1], item[2]
            if item[1] in ("end", "error"):
                return

    def _get_ready(self) -> tuple[int, str, Any]:
        while True:
            try:
                return self._ready.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if not self._feeder.is_alive():
                    raise RuntimeError("the prefetch thread stopped") from None

    def _put_ready(self, item: tuple[int, str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._ready.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _feed(self) -> None:
        for index, job in enumerate(self._jobs):
            if job is None:
                continue
            slot = self._owner[index]
            while True:
                message = self._receive(slot, index)
                if message is None:
                    return  # closing
                kind, payload = message
                if kind == "chunk":
                    chunk, decode_seconds, preprocess_seconds, was_tensor = payload
                    if was_tensor:
                        chunk = torch.from_numpy(chunk)
                        chunk = chunk.pin_memory() if self._pin else chunk
                    payload = (chunk, decode_seconds, preprocess_seconds)
                if not self._put_ready((index, kind, payload)):
                    return
                if kind in ("end", "error"):
                    break

    def _receive(self, slot: int, index: int) -> tuple[str, Any] | None:
        worker = self._workers[slot]
        while not self._stop.is_set():
            try:
                got, kind, payload = worker.results.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if worker.process.is_alive():
                    continue
                try:  # it may have put its last message just before exiting
                    got, kind, payload = worker.results.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    error = WorkerCrashed(f"{self._jobs[index].path}: the decoding worker died (exit code {worker.process.exitcode})")
                    rest = worker.assigned[worker.assigned.index(index) + 1 :]
                    self._workers[slot] = self._start(rest)
                    return "error", error
            if got != index:  # cannot happen: a worker sends its videos in order, each to its end
                raise RuntimeError(f"prefetch: expected video {index}, got {got}")
            return kind, payload
        return None

    def close(self) -> None:
        self._stop.set()
        for worker in self._workers:
            if worker.process.is_alive():
                worker.process.terminate()  # it may sit on a full queue; it holds nothing worth saving
        for worker in self._workers:
            worker.process.join(timeout=5)
            worker.results.cancel_join_thread()
            worker.tasks.cancel_join_thread()
        self._feeder.join(timeout=5)


def _worker_main(tasks: Any, results: Any) -> None:
    torch.set_num_threads(1)  # N workers beside the model: one core each, no oversubscription
    while (task := tasks.get()) is not None:
        index, job = task
        for kind, payload in video_messages(job):
            if kind == "chunk":
                chunk, *seconds = payload
                was_tensor = isinstance(chunk, torch.Tensor)
                # numpy is pickled as bytes through the pipe: no /dev/shm (64 MiB in Docker) needed
                payload = (chunk.numpy() if was_tensor else chunk, *seconds, was_tensor)
            elif kind == "error":
                payload = _transportable(payload)
            results.put((index, kind, payload))


def _transportable(error: Exception) -> Exception:
    """``error`` if it survives pickling (some exceptions' constructors do not take their message
    back), else a RuntimeError carrying its type and message."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
