"""Reading a long video chunk by chunk, so only one chunk of frames is ever in memory.

The two ways the reference cuts T sampled frames into chunks, as index lists:
* ``split_like_torch_chunk(indices, n)`` — ``torch.chunk(frames, n)`` (VideoChat2 scripts and the
  Video-LLaMA EgoSchema-full / Video-MME scripts): every chunk has ``ceil(T / n)`` frames except a
  shorter last one, so there can be *fewer* than n chunks (T=6, n=4 → 2, 2, 2);
* ``split_like_torch_split(indices, size)`` — ``torch.split(frames, max_int)`` (Video-LLaMA
  NExT-QA / NExT-OE / MovieChat, on every frame the video holds): consecutive chunks of ``size``, the
  last shorter.

Which split a run uses is its frame rule's (``indices.FrameRule.chunks``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the splits are used by ``indices``, which must not pull in a decoder (PyAV)
    from infvideo.video.source import VideoSource


def split_like_torch_chunk(indices: Sequence[int] | np.ndarray, num_chunks: int) -> list[list[int]]:
    """``torch.chunk`` semantics on a list; for T = 0 torch returns ``num_chunks`` empty chunks, and so does this."""
    if num_chunks < 1:
        raise ValueError(f"num_chunks must be at least 1, got {num_chunks}")
    items = [int(i) for i in indices]
    if not items:
        return [[] for _ in range(num_chunks)]
    return split_like_torch_split(items, math.ceil(len(items) / num_chunks))


def split_like_torch_split(indices: Sequence[int] | np.ndarray, chunk_size: int) -> list[list[int]]:
    """``torch.split(x, chunk_size)`` semantics on a list (T = 0 gives one empty chunk, as torch does)."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    items = [int(i) for i in indices]
    if not items:
        return [[]]
    return [items[start : start + chunk_size] for start in range(0, len(items), chunk_size)]


def iter_chunks(source: VideoSource, indices: Sequence[int] | np.ndarray, chunk_size: int) -> Iterator[np.ndarray]:
    """uint8 [≤chunk_size, H, W, 3] arrays for consecutive runs of ``indices``, in order."""
    return iter_index_chunks(source, split_like_torch_split(indices, chunk_size))


def iter_index_chunks(source: VideoSource, chunks: Iterable[Sequence[int]]) -> Iterator[np.ndarray]:
    """One ``get_frames`` call per chunk, made only when the consumer asks for the chunk.

    Nothing is kept between chunks, so memory is one chunk (plus whatever the consumer keeps).
    With sorted indices the PyAV source continues decoding across chunk boundaries instead of
    seeking back, so the whole pass decodes each needed keyframe interval once.
    """
    for chunk in chunks:
        if len(chunk):
            yield source.get_frames(chunk)
