"""Which video time each point of the memory's [0, 1] timeline stands for.

Every consolidation squeezes the old timeline into [0, τ] (read at the sample times, placed at
fixed slots) and appends the new chunk in [τ, 1]. Sticky sampling warps time non-uniformly, so the
map is tracked as knots (memory time -> video time) rather than derived from τ alone. Video time is
in chunk units: chunk c (1-based) covers [c − 1, c]. Used for plots and reconstruction checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:  # the memory keeps a timeline of its own (``attention_over_video_time``)
    from .continuous import ContinuousMemory


def interpolate(x: Tensor, xp: Tensor, fp: Tensor) -> Tensor:
    """Piecewise-linear interpolation like numpy.interp (xp increasing, clamped at the ends)."""
    x = x.double().clamp(xp[0], xp[-1])
    right = torch.searchsorted(xp, x, right=True).clamp(1, xp.numel() - 1)
    left = right - 1
    span = (xp[right] - xp[left]).clamp(min=1e-12)
    weight = (x - xp[left]) / span
    return fp[left] + weight * (fp[right] - fp[left])


class MemoryTimeline:
    """Track the memory-time -> video-time map of one batch item of a ``ContinuousMemory``."""

    def __init__(self, memory: ContinuousMemory, item: int = 0) -> None:
        self.memory = memory
        self.item = item
        self.memory_knots = torch.tensor([0.0, 1.0], dtype=torch.float64)
        self.video_knots = torch.tensor([0.0, 1.0], dtype=torch.float64)

    def advance(self) -> None:
        """Call after each ``memory.update``."""
        self.place(self.memory.chunks_seen, self.memory.last_sample_times)

    def place(self, chunks_seen: int, sample_times: Tensor | None) -> None:
        """The map after update number ``chunks_seen``, which read the old memory at ``sample_times``
        (``advance`` with values recorded at that update, so the map can be brought up to date later)."""
        c = chunks_seen
        if c <= 1:
            self.memory_knots = torch.tensor([0.0, 1.0], dtype=torch.float64)
            self.video_knots = torch.tensor([0.0, 1.0], dtype=torch.float64)
            return
        times = sample_times[self.item] if sample_times.dim() == 2 else sample_times
        old_video = self.to_video_time(times.detach().cpu())
        placement = self.memory.old_sample_placement().double()
        tau = self.memory.tau
        memory_knots = torch.cat([torch.tensor([0.0]).double(), placement, torch.tensor([tau, 1.0]).double()])
        video_knots = torch.cat([self.to_video_time(torch.zeros(1)), old_video, torch.tensor([c - 1.0, float(c)]).double()])
        order = torch.argsort(memory_knots, stable=True)
        self.memory_knots, self.video_knots = memory_knots[order], video_knots[order]

    def to_video_time(self, memory_time: Tensor) -> Tensor:
        return interpolate(memory_time, self.memory_knots, self.video_knots)

    def to_memory_time(self, video_time: Tensor) -> Tensor:
        """Inverse map; defined while time order is kept (not in reference mode with sticky)."""
        if (self.video_knots[1:] < self.video_knots[:-1]).any():
            raise ValueError("the memory's timeline is not monotone (unsorted sticky samples)")
        return interpolate(video_time, self.video_knots, self.memory_knots)

    def density_over_video_time(self, video_edges: Tensor, points: int = 4096) -> Tensor:
        """Attention mass per video-time bin (edges in chunk units) divided by bin width: [batch, K].

        Mass is taken on a fine memory-time grid and moved to the video time each point stands for,
        so it stays right when sticky sampling has warped (or, in reference mode, shuffled) time.
        """
        grid = (torch.arange(points, dtype=torch.float64) + 0.5) / points
        mass = self.memory.density(grid.float()).double().cpu() / points  # [batch, points]
        video = self.to_video_time(grid)
        bins = (torch.searchsorted(video_edges.double(), video, right=True) - 1).clamp(0, video_edges.numel() - 2)
        out = torch.zeros(mass.shape[0], video_edges.numel() - 1, dtype=torch.float64)
        out.index_add_(1, bins, mass)
        return (out / (video_edges[1:] - video_edges[:-1]).double()).float()
