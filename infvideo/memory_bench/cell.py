"""One cell of the memory bench: one memory on one haystack, and ``run_cell`` that measures it.

``run_cell`` builds the haystack, streams it chunk by chunk through a fresh memory (update, then a read
with the needle queries, as the memory-aware Q-former layer does every chunk), then probes it with
each needle's query alone. The queries are aimed at the needles during the stream too: the question
is known while the video is watched (as with VideoChat2's instruction-conditioned Q-former), which is
what gives sticky sampling something to follow.

Metrics (flat, JSON-serialisable; needle 0 is the probed one, at ``depth``):

* retrieved, rank, margin, cosine: retrieval of the probed needle (see ``probes``).
* recall: fraction of all needles retrieved, each by its own query (capacity).
* localisation_error: |Δt| of the time the read-out carries, as a fraction of the video; every memory
  has one (the time code rides along with the values). density_peak_error: the continuous memory's
  density peak mapped to video time by ``MemoryTimeline`` (None for the others).
* reconstruction_error: relative L2 at the needle's time (see ``probes``), or None.
* seconds_per_chunk: mean wall time of one chunk's update + read (no probe, no haystack building).
* state_bytes / state_bytes_max: ``state_numel()`` × 4 (the memories keep fp32) at the end / over the
  stream.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

import torch

from infvideo.memory import ContinuousMemory, Memory, MemoryTimeline

from .haystack import Haystack, build_haystack
from .probes import Projections, candidate_values, needle_queries, probe_needles
from .zoo import MEMORIES

__all__ = ["MEMORIES", "Cell", "measure_cell", "run_cell"]

BYTES_PER_SCALAR = 4


@dataclass(frozen=True)
class Cell:
    memory: str
    options: tuple[tuple[str, object], ...] = ()
    chunks: int = 16
    frames_per_chunk: int = 16
    depth: float = 0.5
    needles: int = 1
    needle_frames: int = 2
    width: int = 64
    tokens_per_frame: int = 1
    seed: int = 0
    source: str = "synthetic"
    projections: str = "random"  # "random" (orthogonal, seeded), or the label of a real layer's (``layer_projections``)

    def __post_init__(self) -> None:
        if self.memory not in MEMORIES:
            raise ValueError(f"unknown memory {self.memory!r}; expected one of {sorted(MEMORIES)}")
        # Sorted pairs, whatever order they came in, so equal settings give equal keys.
        object.__setattr__(self, "options", tuple(sorted((str(k), v) for k, v in dict(self.options).items())))

    def as_dict(self) -> dict:
        out = asdict(self)
        out["options"] = dict(self.options)
        return out

    def key(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)


def run_cell(cell: Cell, projections: Projections | None = None) -> dict:
    """Measure ``cell`` (see the module docstring). ``projections``: a real layer's, whose label is
    ``cell.projections`` (default: random orthogonal, seeded by the cell's seed)."""
    return measure_cell(cell, projections)[0]


def measure_cell(cell: Cell, projections: Projections | None = None) -> tuple[dict, list[dict], Haystack]:
    """``run_cell``'s metrics, plus the scores of every needle and the haystack they refer to."""
    haystack = build_haystack(
        cell.chunks,
        cell.frames_per_chunk,
        cell.depth,
        cell.needles,
        cell.needle_frames,
        cell.width,
        cell.tokens_per_frame,
        cell.seed,
        cell.source,
    )
    if (projections is None) != (cell.projections == "random"):
        raise ValueError(f"cell.projections={cell.projections!r} but projections were {'not ' if projections is None else ''}given")
    projections = projections or Projections.random_orthogonal(cell.width, cell.seed)
    generator = torch.Generator().manual_seed(cell.seed + 1)  # queries and distractors
    queries = needle_queries(haystack, projections, generator)
    candidates = candidate_values(haystack, projections, generator)
    memory = MEMORIES[cell.memory](dict(cell.options))
    timeline = None
    if isinstance(memory, ContinuousMemory):
        memory.reset(generator=torch.Generator().manual_seed(cell.seed + 2))  # sticky draws
        timeline = MemoryTimeline(memory)
    seconds, state_max = _stream(memory, haystack.pooled, cell.frames_per_chunk, queries, projections, timeline)
    with torch.inference_mode():
        per_needle = probe_needles(memory, haystack, projections, queries, candidates, timeline)
    probed = per_needle[0]
    metrics = {
        "retrieved": probed["retrieved"],
        "recall": sum(p["retrieved"] for p in per_needle) / len(per_needle),
        "rank": probed["rank"],
        "margin": probed["margin"],
        "cosine": probed["cosine"],
        "localisation_error": probed["localisation_error"],
        "density_peak_error": probed["density_peak_error"],
        "reconstruction_error": probed["reconstruction_error"],
        "seconds_per_chunk": seconds,
        "state_bytes": memory.state_numel() * BYTES_PER_SCALAR,
        "state_bytes_max": state_max * BYTES_PER_SCALAR,
    }
    return metrics, per_needle, haystack


def _stream(
    memory: Memory,
    frames: torch.Tensor,
    frames_per_chunk: int,
    queries: torch.Tensor,
    projections: Projections,
    timeline: MemoryTimeline | None,
) -> tuple[float, int]:
    """Feed ``frames`` [T, width] chunk by chunk; returns (mean seconds per chunk, max state numel)."""
    total, state_max, chunks = 0.0, 0, 0
    with torch.inference_mode():
        for chunk in frames.split(frames_per_chunk):
            start = time.perf_counter()
            memory.update(chunk.unsqueeze(0))
            memory.read(queries, projections.key, projections.value, projections.num_heads)
            total += time.perf_counter() - start
            chunks += 1
            if timeline is not None:
                timeline.advance()
            state_max = max(state_max, memory.state_numel())
    return total / chunks, state_max
