"""What every ∞-Video backbone offers the evaluation layer.

The frame stage is separate from the memory stage so that sweeps over memory settings reuse cached
frame tokens and never re-run the vision encoder:

1. ``encode_chunk(frames)``: preprocessed frames of one chunk [frames, 3, H, W] -> frame tokens
   [frames, tokens_per_frame, width] (Video-LLaMA: frame Q-former outputs; VideoChat2: UMT patch
   tokens, which depend on the whole chunk because UMT attends across its frames).
2. ``embed_video(chunks, ...)``: a sequence of chunks of frame tokens -> the LLM-ready visual
   embedding [1, n_queries, llm_width]: the memory is reset at the first chunk, every chunk goes through
   the memory-aware Q-former, and the chunk embeddings are averaged (running mean).
3. ``answer_many(visuals, prompts, ...)``: generate the answer texts from visual embeddings and prompts.

What differs per family around these (prompts, which text the Q-former reads, answer parsing) is the
family's row in ``registry.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor


@dataclass
class GenerationSettings:
    """Decoding settings; the reference's Video-LLaMA values are sampling with top_p 0.9."""

    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 0.9
    num_beams: int = 1
    max_new_tokens: int = 300
    min_length: int = 1
    repetition_penalty: float = 1.0
    length_penalty: float = 1.0
    # The questions of one video in one left-padded ``generate`` when greedy (the one-by-one answers);
    # sampling answers one by one so each question keeps its own seed, and so does beam search, whose
    # batched stopping and near-tied beam scores can pick another beam than alone.
    batch_questions: bool = True
    # Decoding speed (docs/performance.md); none of these changes greedy outputs.
    # cache: "dynamic" grows the KV cache per token; "static" preallocates it, which a compiled step
    # needs (fixed shapes). On CUDA transformers compiles a static-cache decode step by itself unless
    # told not to, so "static" alone stays eager here and only ``compile`` turns compilation on.
    cache: str = "dynamic"
    # Static cache length in tokens; None: prompt + max_new_tokens. transformers never shrinks it
    # between calls, so one generous value (e.g. the model's context) means a compiled step is built once.
    cache_length: int | None = None
    # torch.compile the decode step (needs cache="static"). Off by default: on a CPU it needs a C++
    # compiler and minutes of compilation for little gain.
    compile: bool = False
    # "reduce-overhead" (CUDA graphs; each step is marked as a new graph step, so the previous step's
    # outputs may be recycled) or a mode without graphs, e.g. "max-autotune-no-cudagraphs" / "default".
    compile_mode: str = "reduce-overhead"

    def __post_init__(self) -> None:
        if self.cache not in ("dynamic", "static"):
            raise ValueError(f"cache must be 'dynamic' or 'static', got {self.cache!r}")
        if self.compile and self.cache != "static":
            raise ValueError("compile=True needs cache='static' (a growing cache recompiles at every token)")


def generate_from_embeddings(language_model, embeds: Tensor, settings: GenerationSettings, seed: int | None = None, **stopping) -> Tensor:
    """``generate`` on prompt embeddings with the settings; a ``seed`` makes sampling reproducible
    without touching the caller's global RNG. ``stopping``: stop strings or EOS ids for the model."""
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        return language_model.generate(
            inputs_embeds=embeds,
            attention_mask=torch.ones(embeds.shape[:2], dtype=torch.long, device=embeds.device),
            max_new_tokens=settings.max_new_tokens,
            min_length=settings.min_length,
            do_sample=settings.do_sample,
            temperature=settings.temperature if settings.do_sample else None,
            top_p=settings.top_p if settings.do_sample else None,
            num_beams=settings.num_beams,
            repetition_penalty=settings.repetition_penalty,
            length_penalty=settings.length_penalty,
            **_cache_arguments(language_model, settings),
            **stopping,
        )


def _cache_arguments(language_model, settings: GenerationSettings) -> dict:
    """``generate`` arguments for the KV cache and the compiled decode step."""
    if settings.cache == "dynamic":
        return {}
    arguments = dict(cache_implementation="static", max_cache_len=settings.cache_length)
    if not settings.compile:
        # transformers would otherwise compile the static-cache step on CUDA with CUDA graphs.
        return dict(arguments, disable_compile=True)
    from transformers import CompileConfig

    config = CompileConfig(mode=settings.compile_mode)
    config._compile_all_devices = True  # also compile off CUDA (CPU tests), when asked to
    install_compiled_step(language_model, settings.compile_mode)
    return dict(arguments, compile_config=config)


def install_compiled_step(language_model, mode: str) -> None:
    """Make ``generate`` decode with our compiled step instead of transformers' own.

    transformers runs the prefill eagerly and asks ``get_compiled_call`` for the per-token step. Its own
    step, compiled with mode "reduce-overhead", replays CUDA graphs without marking step boundaries, so a
    replay can overwrite an output the loop still holds (the static cache's ``index_copy_`` then fails).
    Calling ``torch.compiler.cudagraph_mark_step_begin()`` before every step tells CUDA-graph trees that
    the previous step's outputs are dead; the loop copies the logits it needs before the next step.
    Installed once per model and mode (recompiling costs minutes on a GPU).
    """
    if not isinstance(language_model, torch.nn.Module):
        # A wrapper that overrides ``generate`` (left padding) holds the model; install on the model.
        language_model = next(v for v in vars(language_model).values() if isinstance(v, torch.nn.Module))
    if getattr(language_model, "_infvideo_compile_mode", None) == mode:
        return
    compiled = torch.compile(language_model.__call__, mode=mode)

    def step(*args, **kwargs):
        torch.compiler.cudagraph_mark_step_begin()
        return compiled(*args, **kwargs)

    language_model.get_compiled_call = lambda compile_config=None: step
    language_model._infvideo_compile_mode = mode


def strip_leading_special(ids: Tensor) -> Tensor:
    """Drop a leading <unk> (0) and then a leading <s> (1), a harmless guard kept from the reference."""
    if ids.numel() and ids[0] == 0:
        ids = ids[1:]
    if ids.numel() and ids[0] == 1:
        ids = ids[1:]
    return ids


QFORMER_PRECISIONS = ("float32", "autocast", "float16", "bfloat16")


def qformer_autocast_dtype(precision: str, device: torch.device, model_dtype: torch.dtype) -> torch.dtype | None:
    """The autocast dtype a Q-former runs under, or None for plain fp32.

    "float32": no autocast, the parity path. "autocast": as the reference, the vision model's half dtype
    (fp16 or bf16) on CUDA, fp32 elsewhere. "float16" / "bfloat16": that dtype on any device (bf16 on a
    CPU is how the tests check the path).
    """
    if precision not in QFORMER_PRECISIONS:
        raise ValueError(f"qformer_precision must be one of {QFORMER_PRECISIONS}, got {precision!r}")
    if precision == "float32":
        return None
    if precision == "autocast":
        half = device.type == "cuda" and model_dtype in (torch.float16, torch.bfloat16)
        return model_dtype if half else None
    return getattr(torch, precision)


def qformer_precision(precision: str, device: torch.device, model_dtype: torch.dtype):
    """The context a Q-former runs in (memories inside it still compute in float32)."""
    dtype = qformer_autocast_dtype(precision, device, model_dtype)
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


class VideoLLM(Protocol):
    """What the evaluation layer holds: a torch module of one family with these members."""

    config: Any  # the family's config dataclass; its alpha and memory are what the memory layers run
    image_size: int  # the frame size the vision encoder was built for

    def parameters(self) -> Iterator[torch.nn.Parameter]: ...

    def encode_chunk(self, frames: Tensor) -> Tensor: ...

    def embed_video(self, chunks: Iterable[Tensor], generator: torch.Generator | None = None, **text) -> Tensor: ...

    def answer_many(
        self, visuals: list[Tensor], prompts: list[Any], settings: GenerationSettings | None = None, seed: int | None = None
    ) -> list[str]: ...


class RunningMean:
    """m_c = ((c − 1)/c)·m_{c−1} + (1/c)·E_c: the mean over chunks without holding them."""

    def __init__(self) -> None:
        self.count = 0
        self.value: Tensor | None = None

    def add(self, x: Tensor) -> None:
        self.count += 1
        self.value = x.clone() if self.value is None else self.value + (x - self.value) / self.count
