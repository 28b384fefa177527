"""Frames through decord (the ``decord`` package, or ``decord2``, which installs the same import).

The default backend because the reference's VideoChat2 path read frames with decord, so index
semantics match it. Metadata does not come from decord: decord trusts the container's announced
frame count, and asking it for frames a truncated file does not have can hang. The
frame count, timing and keyframes come from the PyAV scan (``pyav_index``), and decord is only
asked for frames that scan verified.

decord always turns frames by the stream's display matrix (quarter turns only; it ignores a
mirror), so its output is brought to what ``apply_rotation`` asks for, the same frames PyAV
returns (see ``orientation``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from infvideo.video.metadata import VideoDecodeError, VideoMetadata, checked_path
from infvideo.video.orientation import Orientation, decord_quarter_turns
from infvideo.video.pyav_index import FrameIndex, Verify
from infvideo.video.source import plan_request


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

    def __init__(self, path: str | os.PathLike[str], *, threads: int = 1, verify: Verify = "tail", apply_rotation: bool = True) -> None:
        import decord

        from infvideo.video.pyav_source import PyAVSource

        self.path = checked_path(path)
        with PyAVSource(self.path, verify=verify, apply_rotation=apply_rotation) as probe:
            self.metadata = replace(probe.metadata, backend=self.backend)
            index, wanted = probe.index, probe.orientation
        # what turns decord's output into the wanted frames: undo decord's turn, then orient as asked
        self._correction = Orientation.quarter_turns(decord_quarter_turns(index.display_matrix)).inverse().then(wanted)
        try:
            self._reader = decord.VideoReader(self.path, ctx=decord.cpu(0), num_threads=threads)
        except (decord.DECORDError, RuntimeError) as error:
            raise VideoDecodeError(f"{self.path}: decord cannot open the file ({_short_message(error)})") from error
        # Only frames both libraries can deliver are ever requested, so keyframes at or past that
        # count (a damaged tail one of them still lists) cannot make a seek wrong.
        count = min(len(self._reader), self.metadata.num_frames)
        decord_keyframes = tuple(k for k in (int(k) for k in self._reader.get_key_indices()) if k < count)
        pyav_keyframes = tuple(k for k in self.metadata.keyframes if k < count)
        if decord_keyframes and decord_keyframes != pyav_keyframes:
            # decord numbers keyframes by decode order; with B-frames that precede a keyframe in
            # presentation but follow it in decoding (MPEG-4 part 2, open GOPs) its seeks then land
            # frames off (seen: frame 12 returned for 14). Refuse rather than return wrong frames.
            raise VideoDecodeError(
                f"{self.path}: decord's keyframe table disagrees with the presentation order "
                f"{_first_difference(decord_keyframes, pyav_keyframes)}; its seeks would return wrong frames, "
                "use the PyAV backend"
            )
        if len(self._reader) < self.metadata.num_frames:
            # decord sees fewer frames than PyAV verified: never ask it for the ones it lacks
            self.metadata = _with_num_frames(self.metadata, index, len(self._reader))

    def get_frames(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """uint8 [T, H, W, 3] RGB frames at ``indices`` (any order, duplicates allowed)."""
        import decord

        unique, inverse = plan_request(indices, self.metadata.num_frames, self.path)
        if unique.size == 0:
            return np.empty((0, self.metadata.height, self.metadata.width, 3), dtype=np.uint8)
        try:
            frames = self._correction.apply(self._reader.get_batch(unique.tolist()).asnumpy())
        except (decord.DECORDError, RuntimeError) as error:
            raise VideoDecodeError(f"{self.path}: decord failed to decode frames ({_short_message(error)})") from error
        finally:
            # decord keeps decoded state that grows with large batches (a known decord memory leak);
            # seeking back to 0 releases it.
            self._reader.seek(0)
        return frames[inverse]

    def close(self) -> None:
        self._reader = None

    def __enter__(self) -> DecordSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _with_num_frames(metadata: VideoMetadata, index: FrameIndex, num_frames: int) -> VideoMetadata:
    from infvideo.video.pyav_source import frame_timing

    keyframes = tuple(k for k in metadata.keyframes if k < num_frames) or (0,)
    fps, duration = frame_timing(index, num_frames, metadata.fps)
    return replace(metadata, num_frames=num_frames, fps=fps, duration=duration, keyframes=keyframes)


def _first_difference(decord_keyframes: tuple[int, ...], pyav_keyframes: tuple[int, ...]) -> str:
    """Where two keyframe tables part, with a little context, e.g. 'from position 7 on: decord has
    (..., 60, 72, 85, 96, ...) where the presentation order has (..., 60, 72, 84, 96, ...)'."""
    position = next(
        (i for i, (a, b) in enumerate(zip(decord_keyframes, pyav_keyframes)) if a != b),
        min(len(decord_keyframes), len(pyav_keyframes)),  # one table is a prefix of the other
    )
    start = max(position - 2, 0)

    def excerpt(table: tuple[int, ...]) -> str:
        shown = [str(k) for k in table[start : position + 2]]
        return "(" + ", ".join((["..."] if start else []) + shown + (["..."] if len(table) > position + 2 else [])) + ")"

    return (
        f"from position {position} on: decord has {excerpt(decord_keyframes)} ({len(decord_keyframes)} keyframes) "
        f"where the presentation order has {excerpt(pyav_keyframes)} ({len(pyav_keyframes)})"
    )


def _short_message(error: BaseException) -> str:
    """decord's messages carry a log prefix and sometimes a C++ trace; the last line says what failed."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(error).__name__
