"""Keyframe-aligned parallel decoding in worker processes (the QuickVideo idea on PyAV).

Each sampled frame belongs to the interval of the keyframe at or before it; an interval can be
decoded on its own (it starts at a keyframe), so contiguous runs of intervals are handed to worker
processes, each with its own file handle and single-threaded decoder, and the frames are put back
in the requested order. Frames are identical to the serial ``PyAVSource`` (same decoder, same
index table, passed to the workers so they skip the scan).

Workers write frames straight into one shared buffer (a file in /dev/shm, mapped by every process)
instead of pickling them back: at 640×360, pickling 256 frames cost as much as a fifth of the
decoding. Worth it when decoding dominates: sparse samples from a long video with long GOPs. Not
useful when all requested frames sit in one keyframe interval (nothing to split).
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from infvideo.video.pyav_index import FrameIndex, Verify
from infvideo.video.pyav_source import PyAVSource
from infvideo.video.source import plan_request


def plan_keyframe_groups(unique_indices: np.ndarray, keyframes: Sequence[int] | np.ndarray, num_groups: int) -> list[np.ndarray]:
    """Split sorted, duplicate-free frame indices into at most ``num_groups`` contiguous groups that
    never split a keyframe interval, balancing the decoding work (frames from each interval's
    keyframe up to its last wanted frame)."""
    if num_groups < 1:
        raise ValueError(f"num_groups must be at least 1, got {num_groups}")
    indices = np.asarray(unique_indices, dtype=np.int64)
    if indices.size == 0:
        return []
    keys = np.asarray(keyframes, dtype=np.int64)
    interval = np.searchsorted(keys, indices, side="right") - 1
    # work per occupied interval: decode from its keyframe to its last wanted frame
    starts = np.flatnonzero(np.r_[True, interval[1:] != interval[:-1]])
    ends = np.r_[starts[1:], indices.size]
    work = indices[ends - 1] - keys[interval[starts]] + 1
    # cut at the interval boundary nearest to each multiple of total / num_groups
    cumulative = np.cumsum(work)
    targets = cumulative[-1] * np.arange(1, num_groups) / num_groups
    crossing = np.searchsorted(cumulative, targets, side="left")  # interval where the target falls
    before = np.where(crossing > 0, cumulative[np.maximum(crossing - 1, 0)], 0)
    after = cumulative[crossing]
    cuts = np.unique(np.where(targets - before < after - targets, crossing, crossing + 1))
    cuts = cuts[(cuts > 0) & (cuts < starts.size)]
    bounds = np.r_[0, starts[cuts], indices.size]
    return [indices[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


class ParallelDecoder:
    """A ``VideoSource`` that decodes keyframe-aligned groups in a process pool.

    ``workers``: processes (default: CPU count). ``start_method``: "forkserver" (default on
    Linux; forking a parent that already runs torch threads is unsafe) or "spawn".
    ``groups_per_worker``: more groups than workers lets the pool even out uneven intervals.
    ``apply_rotation``: as for ``open_video`` (display matrix applied by default).
    The pool starts on the first call that needs it and lives until ``close()``. As with any
    spawn/forkserver pool, a script using it needs the ``if __name__ == "__main__":`` guard.
    """

    backend = "pyav-parallel"

    def __init__(
        self,
        path: str | os.PathLike[str],
        workers: int | None = None,
        *,
        start_method: str | None = None,
        groups_per_worker: int = 2,
        verify: Verify = "tail",
        apply_rotation: bool = True,
        source: PyAVSource | None = None,
    ) -> None:
        # the scan, once (or that of ``source``, an open PyAVSource of ``path`` handed over to this
        # decoder, which closes it); it also serves requests too small to split
        self._serial = source if source is not None else PyAVSource(path, verify=verify, apply_rotation=apply_rotation)
        self.path = self._serial.path
        self.metadata = self._serial.metadata
        self.workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
        self.groups_per_worker = max(1, groups_per_worker)
        self._start_method = start_method or default_start_method()
        self._pool: ProcessPoolExecutor | None = None

    def get_frames(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """uint8 [T, H, W, 3] RGB frames at ``indices``, equal to ``PyAVSource.get_frames``."""
        unique, inverse = plan_request(indices, self.metadata.num_frames, self.path)
        groups = plan_keyframe_groups(unique, self._serial.index.keyframes, self.workers * self.groups_per_worker)
        if self.workers == 1 or len(groups) <= 1:
            return self._serial.get_frames(unique)[inverse]
        shape = (unique.size, self.metadata.height, self.metadata.width, 3)
        offsets = np.cumsum([0] + [len(group) for group in groups[:-1]]).tolist()
        with SharedFrameBuffer(shape) as shared:
            tasks = [(shared.path, shape, offset, group) for offset, group in zip(offsets, groups)]
            for _ in self._ensure_pool().map(_decode_group_into, tasks):
                pass  # re-raises a worker's exception here
            return shared.array[inverse]  # fancy indexing copies out of the shared file

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._serial.close()

    def __enter__(self) -> ParallelDecoder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context(self._start_method),
                initializer=_open_in_worker,
                initargs=(self.path, self._serial.index, self._serial.apply_rotation),
            )
        return self._pool


class SharedFrameBuffer:
    """A uint8 array backed by a temporary file that worker processes map by path.

    Placed in /dev/shm (RAM) when it has room, else in the temp directory (page cache; the file is
    deleted before it would need writing back). Checking the room matters: writing past a full
    tmpfs kills the writer with SIGBUS, and Docker gives /dev/shm 64 MiB by default.
    """

    def __init__(self, shape: tuple[int, ...]) -> None:
        size = int(np.prod(shape))
        fd, self.path = tempfile.mkstemp(prefix="infvideo-frames-", dir=_buffer_dir(size))
        try:
            os.ftruncate(fd, max(size, 1))
        finally:
            os.close(fd)
        self.array = np.memmap(self.path, dtype=np.uint8, mode="r+", shape=shape)

    def close(self) -> None:
        self.array = None
        if os.path.exists(self.path):
            os.unlink(self.path)

    def __enter__(self) -> SharedFrameBuffer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _buffer_dir(size: int) -> str | None:
    shm = "/dev/shm"
    try:
        stats = os.statvfs(shm)
    except OSError:
        return None
    # leave half of the free space to everyone else
    return shm if stats.f_bavail * stats.f_frsize >= 2 * size else None


def default_start_method() -> str:
    """How worker processes start (also the prefetch workers'): forkserver where the platform has it, else
    spawn; never fork, whose child inherits locks the parent's threads may hold at that moment."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


_worker_source: PyAVSource | None = None  # one open file per worker process


def _open_in_worker(path: str, index: FrameIndex, apply_rotation: bool) -> None:
    global _worker_source
    _worker_source = PyAVSource(path, threads=1, index=index, apply_rotation=apply_rotation)


def _decode_group_into(task: tuple[str, tuple[int, ...], int, np.ndarray]) -> None:
    buffer_path, shape, offset, indices = task
    assert _worker_source is not None, "worker not initialised"
    frames = np.memmap(buffer_path, dtype=np.uint8, mode="r+", shape=shape)
    _worker_source.read_into(indices, frames[offset : offset + indices.size])
    del frames  # unmap; the pages stay in the shared file for the parent
