"""Where the old memory is read before it is contracted: uniform or sticky sample times.

Sticky memories (∞-former, ∞-Video): positions are drawn from the previous chunk's attention
density, so regions the model attended to get more of the M samples and keep more resolution in
the contracted memory. Times are sorted so the old memory keeps its temporal order (the reference
does not sort; see ``reference.sticky_sample_times`` for its exact behaviour).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import check_values


def uniform_sample_times(num_samples: int, device: torch.device | str | None = None) -> Tensor:
    """Cell midpoints (k − ½)/M, k = 1..M: every part of [0, 1] read equally."""
    return (torch.arange(num_samples, device=device, dtype=torch.float32) + 0.5) / num_samples


def sticky_sample_times(
    bin_masses: Tensor,
    num_samples: int,
    generator: torch.Generator | None = None,
    jitter: bool = True,
    sort: bool = True,
) -> Tensor:
    """Draw M times per batch item from a density given by its mass on K equal bins of [0, 1].

    ``bin_masses`` [batch, K] (need not be normalised). Each time is the left edge of its bin plus,
    with ``jitter``, a uniform offset inside the bin. Returns [batch, M] on ``bin_masses``' device.

    Draws run on ``generator``'s device (the default generator of ``bin_masses``' device when None).
    A generator on the masses' device keeps the draws free of host-device synchronisation (the GPU
    hot path); a CPU generator with masses on a GPU copies the masses to the host first, which syncs
    but gives the same draws as a CPU run (the two devices' random streams differ).
    """
    device = bin_masses.device
    masses = bin_masses.detach().float()
    if generator is not None:
        masses = masses.to(generator.device)
    check_values(
        torch.isfinite(masses).all() & (masses >= 0).all(),
        "sticky sampling got a non-finite or negative attention density",
    )
    batch, num_bins = masses.shape
    totals = masses.sum(-1, keepdim=True)
    # An item whose density has no mass on [0, 1] is read uniformly rather than failing.
    probs = torch.where(totals > 0, masses, torch.ones_like(masses))
    drawn = torch.multinomial(probs, num_samples, replacement=True, generator=generator)
    offset = (
        torch.rand(batch, num_samples, generator=generator, device=masses.device)
        if jitter
        else torch.zeros(batch, num_samples, device=masses.device)
    )
    times = (drawn.float() + offset) / num_bins
    if sort:
        times = times.sort(dim=-1).values
    return times.to(device)
