"""Build a model and load the original checkpoint files its config names."""

from __future__ import annotations

from pathlib import Path

import torch

from .checkpoints.loader import find_role
from .checkpoints.video_llama import VIDEO_LLAMA_FILES, load_llama_folder, load_video_llama_weights
from .video_llama import InfVideoLLaMA, InfVideoLLaMAConfig
from .videochat2 import InfVideoChat2, InfVideoChat2Config


def _path(checkpoints: dict, role: str, files) -> Path:
    spec = find_role(files, role, "model")
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


def load_videochat2(
    config: InfVideoChat2Config,
    dtype: torch.dtype = torch.float16,
    device: torch.device | str = "cpu",
    cache_dir: str | Path | None = None,
    qformer_tokenizer=None,
) -> InfVideoChat2:
    """∞-VideoChat2 with real weights: Mistral and its tokenizer from the HF folder, UMT + Q-former from
    ``umt_l16_qformer.pth`` overridden by the stage-3 file, whose LoRA is merged into Mistral. The Q-former
    tokenizer is bert-base-uncased + "[DEC]" (built offline from the vocabulary the MiniLM package ships)."""
    from transformers import AutoTokenizer

    from .checkpoints.videochat2 import VIDEOCHAT2_FILES, load_mistral_folder, load_videochat2_weights
    from .tokenizers import real_bert_tokenizer
    from .videochat2 import VideoChat2Tokenizers

    paths = {role: _path(config.checkpoints, role, VIDEOCHAT2_FILES) for role in ("umt_qformer", "stage3", "llm")}
    language_model = load_mistral_folder(paths["llm"], dtype)
    tokenizers = VideoChat2Tokenizers(
        qformer=qformer_tokenizer if qformer_tokenizer is not None else real_bert_tokenizer(),
        llm=AutoTokenizer.from_pretrained(str(paths["llm"]), local_files_only=True),
    )
    model = InfVideoChat2(config, tokenizers, language_model=language_model)
    load_videochat2_weights(model, paths["umt_qformer"], paths["stage3"], cache_dir=cache_dir)
    return model.to(device).eval()
