"""∞-VideoChat2 (Mistral): config (full and tiny presets), UMT, model, LoRA merge, prompts and the
original checkpoint files."""

from .config import DEFAULT_GENERATION, InfVideoChat2Config, VideoChat2Tokenizers
from .convert import VIDEOCHAT2_FILES, load_videochat2
from .modeling import InfVideoChat2
from .prompts import PROMPTS

__all__ = [
    "DEFAULT_GENERATION",
    "PROMPTS",
    "VIDEOCHAT2_FILES",
    "InfVideoChat2",
    "InfVideoChat2Config",
    "VideoChat2Tokenizers",
    "load_videochat2",
]
