"""Original (LAVIS / Video-LLaMA / VideoChat2) checkpoints -> infvideo modules.

``loader`` holds the family-independent pieces (reading, regex renaming, allow-listed loading,
safetensors cache); each family module holds pure converters and its table of expected files.
"""

from .loader import (
    CachedConversion,
    LoadReport,
    Rule,
    bert_qformer_rules,
    check_leftovers,
    convert_with_cache,
    load_converted,
    load_original,
    rename,
)
from .video_llama import (
    VIDEO_LLAMA_FILES,
    CheckpointFile,
    convert_blip2_pretrained,
    convert_eva_vit_g,
    convert_video_llama_finetune,
    load_llama_folder,
    load_video_llama_weights,
    video_llama_file,
)
from .videochat2 import (
    VIDEOCHAT2_FILES,
    VideoChat2CheckpointFile,
    convert_umt_qformer,
    convert_videochat2_stage3,
    load_mistral_folder,
    load_videochat2_weights,
    videochat2_file,
)

__all__ = [
    "CachedConversion",
    "CheckpointFile",
    "LoadReport",
    "Rule",
    "VIDEOCHAT2_FILES",
    "VIDEO_LLAMA_FILES",
    "VideoChat2CheckpointFile",
    "bert_qformer_rules",
    "check_leftovers",
    "convert_blip2_pretrained",
    "convert_eva_vit_g",
    "convert_umt_qformer",
    "convert_video_llama_finetune",
    "convert_videochat2_stage3",
    "convert_with_cache",
    "load_converted",
    "load_llama_folder",
    "load_mistral_folder",
    "load_original",
    "load_video_llama_weights",
    "load_videochat2_weights",
    "rename",
    "video_llama_file",
    "videochat2_file",
]
