"""∞-Video-LLaMA: config (full and tiny presets), model, prompts and the original checkpoint files."""

from .config import REFERENCE_GENERATION, InfVideoLLaMAConfig
from .convert import VIDEO_LLAMA_FILES, load_video_llama
from .modeling import InfVideoLLaMA
from .prompts import PROMPTS

__all__ = ["PROMPTS", "REFERENCE_GENERATION", "VIDEO_LLAMA_FILES", "InfVideoLLaMA", "InfVideoLLaMAConfig", "load_video_llama"]
