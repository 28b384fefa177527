"""Memories that sit inside a Q-former cross-attention layer: the continuous-time LTM of ∞-Video
and the MovieChat and MA-LMM baselines, all behind the ``Memory`` interface."""

from .base import Memory, attend_tokens
from .basis import GaussianBasis, RectangularBasis, make_basis
from .continuous import ContinuousMemory
from .factory import MEMORY_KINDS, MemoryConfig, build_memory
from .malmm import MALMMMemory, memory_bank_compress
from .moviechat import MovieChatMemory, merge_adjacent_most_similar
from .timeline import MemoryTimeline

__all__ = [
    "MEMORY_KINDS",
    "ContinuousMemory",
    "GaussianBasis",
    "MALMMMemory",
    "Memory",
    "MemoryConfig",
    "MemoryTimeline",
    "MovieChatMemory",
    "RectangularBasis",
    "attend_tokens",
    "build_memory",
    "make_basis",
    "memory_bank_compress",
    "merge_adjacent_most_similar",
]
