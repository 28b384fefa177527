"""Memories that sit inside a Q-former cross-attention layer: the continuous-time LTM of ∞-Video
and the MovieChat and MA-LMM baselines, all behind the ``Memory`` interface."""

from .base import Memory, attend_tokens
from .basis import GaussianBasis, RectangularBasis, make_basis
from .continuous import ContinuousMemory
from .timeline import MemoryTimeline

__all__ = [
    "ContinuousMemory",
    "GaussianBasis",
    "Memory",
    "MemoryTimeline",
    "RectangularBasis",
    "attend_tokens",
    "make_basis",
]
