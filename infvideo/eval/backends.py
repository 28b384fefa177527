"""A model of any family, ready to answer a run's questions: built from the run config through
``infvideo.models.registry``, whose row for the family says how to preprocess, prompt, embed and read
the answer. Nothing here depends on which family or benchmark it is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from infvideo.data.record import QuestionRecord
from infvideo.models.base import GenerationSettings, VideoLLM
from infvideo.models.memory_attention import set_memory
from infvideo.models.registry import Family, build_model, family

from .config import PredictConfig
from .fingerprints import fingerprint


@dataclass
class Answer:
    prediction: str  # the model's text as returned (after the reference's clean-up)
    parsed: str | None  # an option letter where the family answers with one, else None (matched later)


class Backend:
    """One loaded model, ready to answer: ``encode_chunk``, ``embed``, ``answer_many``."""

    def __init__(self, config: PredictConfig) -> None:
        self.family: Family = family(config.model.name)
        self.model: VideoLLM = build_model(config.model, config.memory)
        self.config = config
        self.image_size: int = config.sampling.image_size or self.model.image_size
        self.preprocess: Callable[[np.ndarray, int], Tensor] = self.family.preprocess

    @property
    def name(self) -> str:
        return self.family.name

    def encode_chunk(self, frames: np.ndarray) -> Tensor:
        return self.encode_pixels(self.preprocess(frames, self.image_size))

    def encode_pixels(self, pixels: Tensor) -> Tensor:
        """Frame tokens of one preprocessed chunk (``preprocess``'s output, perhaps made by a
        prefetch worker); non_blocking lets a copy from pinned host memory overlap the GPU's work."""
        return self.model.encode_chunk(pixels.to(self.device, non_blocking=True))

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def vision_signature(self) -> dict:
        """What the frame tokens depend on (the token cache's key): the shared keys, then the family's."""
        s = self.config.model
        shared = {
            "model": self.name,
            "preset": s.preset,
            "checkpoints": checkpoint_identities(s.checkpoints),
            "image_size": self.image_size,
        }
        return {**shared, **self.family.signature(self.model, s, self.config.sampling)}

    def reconfigure(self, config: PredictConfig) -> None:
        """Take another run's alpha and memory settings without reloading any weights (sweeps).
        The caller checks ``reusable_for`` first: everything else must be unchanged."""
        wanted = self.family.configure(self.model.config, config.model, config.memory)
        set_memory(self.model, wanted.memory, wanted.alpha)
        self.config = config

    def embed(self, chunks: list[Tensor], record: QuestionRecord, generator: torch.Generator) -> Tensor:
        """The question's visual input: its video's chunks of frame tokens through the memory."""
        return self.family.embed(self.model, chunks, self.family.prompt(record), generator)

    def answer(self, visual: Tensor, record: QuestionRecord, settings: GenerationSettings, seed: int) -> Answer:
        """One question, sampled with its own ``seed``."""
        return self.answer_many([visual], [record], settings, seed)[0]

    def answer_many(
        self, visuals: list[Tensor], records: list[QuestionRecord], settings: GenerationSettings, seed: int | None
    ) -> list[Answer]:
        """Several questions (visual [1, n, hidden] each) in one ``generate``; greedy, each gets its
        ``answer``, while sampling draws the whole batch from one ``seed``."""
        prompts = [self.family.prompt(record) for record in records]
        return [Answer(text, letter) for text, letter in self.family.answer(self.model, visuals, prompts, records, settings, seed)]

    def reusable_for(self, config: PredictConfig) -> bool:
        """Whether this loaded model can answer ``config`` after ``reconfigure``."""
        return backend_key(config) == backend_key(self.config) and config.sampling.image_size == self.config.sampling.image_size


def checkpoint_identities(checkpoints: dict[str, str]) -> dict[str, str]:
    """Checkpoints by content, not path: cached frame tokens survive staging the weights elsewhere."""
    return {role: fingerprint(path) for role, path in sorted(checkpoints.items())}


def backend_key(config: PredictConfig) -> tuple:
    """The model settings that need a rebuild when they change (alpha and memory do not)."""
    m = config.model
    return (
        m.name,
        m.preset,
        tuple(sorted(m.checkpoints.items())),
        m.dtype,
        m.device,
        m.add_frame_pos,
        m.reference_compat,
        m.qformer_precision,
        m.vision_batch_size,
    )


def build_backend(config: PredictConfig) -> Backend:
    return Backend(config)
