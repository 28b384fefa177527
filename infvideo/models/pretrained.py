"""Build a model and load the original checkpoint files its config names."""

from __future__ import annotations

from pathlib import Path

import torch

from .checkpoints.video_llama import VIDEO_LLAMA_FILES, load_llama_folder, load_video_llama_weights
from .video_llama import InfVideoLLaMA, InfVideoLLaMAConfig


def _path(checkpoints: dict, role: str, files) -> Path:
    spec = next(entry for entry in files if entry.role == role)
    if not checkpoints.get(role):
        raise ValueError(
            f"the config names no checkpoint for '{role}': expected {spec.name} ({spec.holds}), "
            f"published at {spec.published_at}"
        )
    return Path(checkpoints[role]).expanduser()


def load_video_llama(
    config: InfVideoLLaMAConfig,
    dtype: torch.dtype = torch.float16,
    device: torch.device | str = "cpu",
    cache_dir: str | Path | None = None,
) -> InfVideoLLaMA:
    """∞-Video-LLaMA with real weights: the LLM and its tokenizer from the HF folder, the rest from the
    three LAVIS/Video-LLaMA ``.pth`` files. The ViT runs in ``dtype`` (fp16 in the reference); the
    Q-formers and the memory stay in fp32."""
    from transformers import AutoTokenizer

    paths = {role: _path(config.checkpoints, role, VIDEO_LLAMA_FILES) for role in ("vision", "blip2", "finetune", "llm")}
    language_model = load_llama_folder(paths["llm"], dtype)
    tokenizer = AutoTokenizer.from_pretrained(str(paths["llm"]), local_files_only=True)
    model = InfVideoLLaMA(config, tokenizer, language_model=language_model)
    load_video_llama_weights(model, paths["vision"], paths["blip2"], paths["finetune"], cache_dir=cache_dir)
    model.vision_model.to(dtype)
    return model.to(device).eval()
