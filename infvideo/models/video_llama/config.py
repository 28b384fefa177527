"""∞-Video-LLaMA's settings: sizes of every part (full and tiny presets), memory, and the reference's
numerics (docs/reference-notes.md, S1–S2, R9)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from infvideo.memory import MemoryConfig

from ..base import GenerationSettings

# The reference scripts sample (docs/reference-notes.md, S2); GenerationSettings() is greedy.
REFERENCE_GENERATION = GenerationSettings(do_sample=True, temperature=1.0, top_p=0.9, num_beams=1, max_new_tokens=300)


@dataclass
class InfVideoLLaMAConfig:
    vision: dict = field(default_factory=dict)  # Blip2VisionConfig fields
    qformer: dict = field(default_factory=dict)  # frame Q-former: Blip2QFormerConfig fields
    video_qformer: dict = field(default_factory=dict)
    llm: dict = field(default_factory=dict)  # LlamaConfig fields
    num_query_tokens: int = 32
    num_video_query_tokens: int = 32
    max_frame_pos: int = 32
    ln_vision_eps: float = 1e-5  # LAVIS's ln_vision; Blip2VisionModel's own post_layernorm uses 1e-6
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    alpha: float = 0.75
    add_frame_pos: bool = True  # MovieChat/Video-LLaMA behaviour; the reference computes but never adds them
    dropout_at_inference: bool = False  # the reference leaves the video Q-former in training mode
    max_context: int = 2000
    # Frame stage speed (docs/performance.md). qformer_precision: the frame Q-former's numerics, one of
    # base.QFORMER_PRECISIONS ("autocast" = the reference's fp16/bf16 autocast on CUDA; "float32" = the
    # parity path). vision_batch_size: frames per ViT + frame Q-former forward (None: the whole chunk);
    # frames are independent here, so it trades peak memory for speed and leaves the tokens unchanged.
    qformer_precision: str = "float32"
    vision_batch_size: int | None = None
    # Original checkpoint files by role (vision, blip2, finetune: .pth files; llm: an HF folder);
    # see infvideo.models.video_llama.convert.VIDEO_LLAMA_FILES for what each holds and where.
    checkpoints: dict = field(default_factory=dict)

    @classmethod
    def full(cls, **overrides) -> InfVideoLLaMAConfig:
        """Published sizes: EVA ViT-g (39 blocks), BERT-base Q-formers, LLaMA-7B (Vicuna v0)."""
        config = cls(
            vision={},  # Blip2VisionConfig defaults are EVA ViT-g/14 at 224 px
            qformer=dict(encoder_hidden_size=1408, cross_attention_frequency=2, use_qformer_text_input=False),
            video_qformer=dict(num_hidden_layers=2, encoder_hidden_size=768, cross_attention_frequency=1, use_qformer_text_input=False),
            llm=dict(
                vocab_size=32000,
                hidden_size=4096,
                intermediate_size=11008,
                num_hidden_layers=32,
                num_attention_heads=32,
                max_position_embeddings=2048,
                rms_norm_eps=1e-6,
            ),
        )
        return replace(config, **overrides)

    @classmethod
    def tiny(cls, vocab_size: int = 400, **overrides) -> InfVideoLLaMAConfig:
        """Same architecture at toy sizes, for tests and the demo on a CPU."""
        config = cls(
            vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=28, patch_size=14),
            qformer=dict(
                hidden_size=48,
                num_hidden_layers=2,
                num_attention_heads=4,
                intermediate_size=96,
                encoder_hidden_size=32,
                cross_attention_frequency=2,
                use_qformer_text_input=False,
            ),
            video_qformer=dict(
                hidden_size=48,
                num_hidden_layers=2,
                num_attention_heads=4,
                intermediate_size=96,
                encoder_hidden_size=48,
                cross_attention_frequency=1,
                use_qformer_text_input=False,
            ),
            llm=dict(
                vocab_size=vocab_size,
                hidden_size=64,
                intermediate_size=128,
                num_hidden_layers=2,
                num_attention_heads=4,
                num_key_value_heads=4,
                max_position_embeddings=2048,
            ),
            num_query_tokens=4,
            num_video_query_tokens=4,
            max_frame_pos=8,
            memory=MemoryConfig(num_basis=16, num_samples=32),
        )
        return replace(config, **overrides)

    @classmethod
    def reference_compat(cls, base: InfVideoLLaMAConfig) -> InfVideoLLaMAConfig:
        """The reference's numerics: no frame positions added, dropout on, reference memory numerics."""
        return replace(base, add_frame_pos=False, dropout_at_inference=True, memory=replace(base.memory, reference_compat=True))
