"""The one interface the rest of infvideo reads video through, the function that picks a backend,
and how a caller's list of frame indices becomes the sorted, duplicate-free work a decoder does.

Decoders read forward, so every backend decodes ``unique`` (sorted, each frame once) and hands
back ``frames_unique[inverse]``: the requested order, duplicates included (``plan_request``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from infvideo.video.metadata import FrameIndexError, VideoDecodeError, VideoMetadata
from infvideo.video.pyav_index import Verify

Backend = Literal["auto", "decord", "pyav"]


@runtime_checkable
class VideoSource(Protocol):
    """An open video: metadata up front, exact frames on request.

    ``get_frames(indices)`` returns uint8 RGB [T, H, W, 3] in the requested order (duplicates and
    any order allowed); frame i is the i-th decodable frame in presentation order. Indices outside
    ``0 .. metadata.num_frames - 1`` raise ``FrameIndexError``.
    """

    path: str
    metadata: VideoMetadata

    def get_frames(self, indices: Sequence[int] | np.ndarray) -> np.ndarray: ...

    def close(self) -> None: ...

    def __enter__(self) -> VideoSource: ...

    def __exit__(self, *exc_info: object) -> None: ...


def plan_request(indices: Sequence[int] | np.ndarray, num_frames: int, path: str) -> tuple[np.ndarray, np.ndarray]:
    """Check ``indices`` against ``0 .. num_frames - 1``; return ``(unique, inverse)`` with
    ``unique[inverse] == indices``. Raises ``FrameIndexError`` (naming ``path``) when out of range."""
    requested = np.asarray(indices)
    if requested.ndim != 1:
        raise FrameIndexError(f"{path}: frame indices must be a flat sequence, got shape {requested.shape}")
    if requested.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    if not np.issubdtype(requested.dtype, np.integer):
        raise FrameIndexError(f"{path}: frame indices must be integers, got dtype {requested.dtype}")
    requested = requested.astype(np.int64, copy=False)
    bad = requested[(requested < 0) | (requested >= num_frames)]
    if bad.size:
        raise FrameIndexError(
            f"{path}: frame index {int(bad[0])} out of range; the video has {num_frames} decodable frames "
            f"(valid indices 0..{num_frames - 1})"
        )
    unique, inverse = np.unique(requested, return_inverse=True)
    return unique, inverse.reshape(-1)


def available_backends() -> list[str]:
    """Installed backends, preferred first."""
    from infvideo.video.decord_source import decord_available

    return (["decord"] if decord_available() else []) + ["pyav"]


def open_video(
    path: str | os.PathLike[str],
    backend: Backend = "auto",
    *,
    threads: int | None = None,
    verify: Verify = "tail",
    apply_rotation: bool = True,
) -> VideoSource:
    """Open ``path`` with ``backend``: "auto" is decord when importable, else PyAV.

    ``threads``: decoder threads (default 1; 0 lets the library choose). ``verify``: how much the
    frame count is checked by decoding ("tail" = the last keyframe interval, "full" = everything;
    see ``pyav_index``). ``apply_rotation``: frames as a player shows them, the display matrix of a
    phone's portrait or upside-down recording applied (default), or False for the stored pixel
    grid; every backend returns the same frames either way, and ``metadata.width``/``height`` are
    those of the frames returned (see ``orientation``). Raises ``FileNotFoundError``,
    ``VideoDecodeError`` or ``NoVideoStreamError``, each naming the file.
    """
    if backend == "auto":
        if "decord" in available_backends():
            try:
                return open_video(path, "decord", threads=threads, verify=verify, apply_rotation=apply_rotation)
            except VideoDecodeError:
                pass  # some files decord cannot open (a truncated MP4) PyAV still reads; a truly bad file raises again below
        backend = "pyav"
    if backend == "decord":
        from infvideo.video.decord_source import DecordSource

        return DecordSource(path, threads=1 if threads is None else threads, verify=verify, apply_rotation=apply_rotation)
    if backend == "pyav":
        from infvideo.video.pyav_source import PyAVSource

        return PyAVSource(path, threads=1 if threads is None else threads, verify=verify, apply_rotation=apply_rotation)
    raise ValueError(f"unknown video backend {backend!r}; choose 'auto', 'decord' or 'pyav'")
