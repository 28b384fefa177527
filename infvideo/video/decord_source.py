"""Frames through decord (the ``decord`` package, or ``decord2``, which installs the same import).

The default backend because the reference's VideoChat2 path read frames with decord, so index
semantics match it. Metadata does not come from decord: decord trusts the container's announced
frame count, and asking it for frames a truncated file does not have can hang (decord #373). The
frame count, fps and keyframes come from the PyAV scan (``pyav_index``), and decord is only asked
for frames that scan verified.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from infvideo.video.errors import VideoDecodeError
from infvideo.video.file_checks import checked_path
from infvideo.video.frame_request import plan_request
from infvideo.video.metadata import VideoMetadata
from infvideo.video.pyav_index import Verify


def decord_available() -> bool:
    try:
        import decord  # noqa: F401
    except (ImportError, OSError):  # OSError: the wheel's native library cannot be loaded
        return False
    return True


class DecordSource:
    """A video file read with ``decord.VideoReader``; ``threads`` is decord's ``num_threads``
    (0 = decord's choice). Default 1: on the 2-core benchmark machine decord's own threading made
    sparse sampling 1.5× slower (benchmarks/bench_video.py); raise it for large frames on many cores."""

    backend = "decord"

    def __init__(self, path: str | os.PathLike[str], *, threads: int = 1, verify: Verify = "tail") -> None:
        import decord

        self.path = checked_path(path)
        self.metadata = _scan_with_pyav(self.path, verify)
        try:
            self._reader = decord.VideoReader(self.path, ctx=decord.cpu(0), num_threads=threads)
        except (decord.DECORDError, RuntimeError) as error:
            raise VideoDecodeError(f"{self.path}: decord cannot open the file ({_short_message(error)})") from error
        decord_keyframes = tuple(int(k) for k in self._reader.get_key_indices())
        if decord_keyframes and decord_keyframes != self.metadata.keyframes:
            # decord numbers keyframes by decode order; with B-frames that precede a keyframe in
            # presentation but follow it in decoding (MPEG-4 part 2, open GOPs) its seeks then land
            # frames off (seen: frame 12 returned for 14). Refuse rather than return wrong frames.
            raise VideoDecodeError(
                f"{self.path}: decord's keyframe table {decord_keyframes[:6]}... disagrees with the presentation "
                f"order {self.metadata.keyframes[:6]}..., so its seeks would return wrong frames; use the PyAV backend"
            )
        if len(self._reader) < self.metadata.num_frames:
            # decord sees fewer frames than PyAV verified: never ask it for the ones it lacks
            self.metadata = _with_num_frames(self.metadata, len(self._reader))

    def get_frames(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """uint8 [T, H, W, 3] RGB frames at ``indices`` (any order, duplicates allowed)."""
        import decord

        unique, inverse = plan_request(indices, self.metadata.num_frames, self.path)
        if unique.size == 0:
            return np.empty((0, self.metadata.height, self.metadata.width, 3), dtype=np.uint8)
        try:
            frames = self._reader.get_batch(unique.tolist()).asnumpy()
        except (decord.DECORDError, RuntimeError) as error:
            raise VideoDecodeError(f"{self.path}: decord failed to decode frames ({_short_message(error)})") from error
        finally:
            # decord keeps decoded state that grows with large batches (decord #197/#208);
            # seeking back to 0 releases it.
            self._reader.seek(0)
        return frames[inverse]

    def close(self) -> None:
        self._reader = None

    def __enter__(self) -> "DecordSource":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _scan_with_pyav(path: str, verify: Verify) -> VideoMetadata:
    from infvideo.video.pyav_source import PyAVSource

    with PyAVSource(path, verify=verify) as probe:
        metadata = probe.metadata
    return replace(metadata, backend=DecordSource.backend)


def _with_num_frames(metadata: VideoMetadata, num_frames: int) -> VideoMetadata:
    keyframes = tuple(k for k in metadata.keyframes if k < num_frames) or (0,)
    duration = num_frames / metadata.fps if metadata.fps > 0 else 0.0
    return replace(metadata, num_frames=num_frames, duration=duration, keyframes=keyframes)


def _short_message(error: BaseException) -> str:
    """decord's messages carry a log prefix and sometimes a C++ trace; the last line says what failed."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(error).__name__
