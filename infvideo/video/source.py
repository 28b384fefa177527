"""The one interface the rest of infvideo reads video through, and the function that picks a backend."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from infvideo.video.errors import VideoDecodeError
from infvideo.video.metadata import VideoMetadata
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

    def __enter__(self) -> "VideoSource": ...

    def __exit__(self, *exc_info: object) -> None: ...


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
