"""∞-VideoChat2's settings: sizes of every part (full and tiny presets), memory, the Q-former's
instruction, and the two tokenizers it reads with (docs/reference-notes.md, S3)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from infvideo.memory import MemoryConfig

from ..base import GenerationSettings
from .prompts import MULTIPLE_CHOICE_SYSTEM
from .umt import UMTConfig

# The eval scripts' decoding: greedy, at most 100 new tokens, one beam.
DEFAULT_GENERATION = GenerationSettings(do_sample=False, num_beams=1, max_new_tokens=100)


@dataclass
class InfVideoChat2Config:
    vision: UMTConfig = field(default_factory=UMTConfig)
    qformer: dict = field(default_factory=dict)  # InstructBlipQFormerConfig fields
    llm: dict = field(default_factory=dict)  # MistralConfig fields
    num_query_tokens: int = 32
    num_extra_query_tokens: int = 64
    max_txt_len: int = 512  # instruction tokens kept (from the end: the tokenizer truncates on the left)
    vision_layernorm_eps: float = 1e-12
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    alpha: float = 0.75
    instruction: str = MULTIPLE_CHOICE_SYSTEM  # the Q-former's instruction when embed_video is given none
    # The Q-former's numerics, one of base.QFORMER_PRECISIONS ("autocast" = the reference's fp16/bf16
    # autocast on CUDA; "float32" = the parity path); the memory inside it computes in fp32 either way.
    # (No ViT sub-batching here: UMT attends across the frames of a chunk, so a chunk is one forward.)
    qformer_precision: str = "float32"
    # Original checkpoint files by role (umt_qformer, stage3: .pth files; llm: an HF folder); see
    # infvideo.models.videochat2.convert.VIDEOCHAT2_FILES for what each holds and where.
    checkpoints: dict = field(default_factory=dict)

    @classmethod
    def full(cls, **overrides) -> InfVideoChat2Config:
        """Published sizes: UMT-L/16 (23 of 24 blocks), BERT-base Q-former, Mistral-7B-Instruct-v0.2."""
        config = cls(
            vision=UMTConfig(),
            qformer=dict(  # bert-base-uncased, plus "[DEC]" in the vocabulary (30522 + 1)
                vocab_size=30523,
                hidden_size=768,
                num_hidden_layers=12,
                num_attention_heads=12,
                intermediate_size=3072,
                max_position_embeddings=512,
                layer_norm_eps=1e-12,
                hidden_dropout_prob=0.1,
                attention_probs_dropout_prob=0.1,
                cross_attention_frequency=2,
                encoder_hidden_size=1024,
            ),
            llm=dict(  # Mistral-7B-Instruct-v0.2 config.json
                vocab_size=32000,
                hidden_size=4096,
                intermediate_size=14336,
                num_hidden_layers=32,
                num_attention_heads=32,
                num_key_value_heads=8,
                max_position_embeddings=32768,
                rms_norm_eps=1e-5,
                rope_theta=1e6,
                sliding_window=None,
                tie_word_embeddings=False,
            ),
        )
        return replace(config, **overrides)

    @classmethod
    def tiny(cls, llm_vocab_size: int = 400, qformer_vocab_size: int = 64, **overrides) -> InfVideoChat2Config:
        """Same architecture at toy sizes, for tests and the demo on a CPU (2×2 patches per frame)."""
        config = cls(
            vision=UMTConfig(image_size=32, patch_size=16, hidden_size=64, num_layers=2, num_attention_heads=4, intermediate_size=128),
            qformer=dict(
                vocab_size=qformer_vocab_size,
                hidden_size=48,
                num_hidden_layers=4,
                num_attention_heads=4,
                intermediate_size=96,
                max_position_embeddings=64,
                cross_attention_frequency=2,
                encoder_hidden_size=64,
            ),
            llm=dict(
                vocab_size=llm_vocab_size,
                hidden_size=64,
                intermediate_size=128,
                num_hidden_layers=2,
                num_attention_heads=4,
                num_key_value_heads=2,
                max_position_embeddings=512,
                sliding_window=None,
            ),
            num_query_tokens=4,
            num_extra_query_tokens=8,
            max_txt_len=32,
            memory=MemoryConfig(num_basis=16, num_samples=32),
        )
        return replace(config, **overrides)


@dataclass
class VideoChat2Tokenizers:
    qformer: PreTrainedTokenizerBase  # bert-base-uncased WordPiece with "[DEC]" added as BOS
    llm: PreTrainedTokenizerBase  # Mistral-7B-Instruct-v0.2's

    def __post_init__(self) -> None:
        # VideoChat2 builds its Q-former tokenizer with truncation_side="left": a long instruction keeps its end.
        self.qformer.truncation_side = "left"
