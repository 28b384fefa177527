"""What differs per backbone when answering a benchmark question: building the model from the run
config, preprocessing, the prompt, and reading the answer. The runner itself is backbone-agnostic."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from infvideo.data.record import QuestionRecord
from infvideo.models.base import GenerationSettings, qformer_autocast_dtype
from infvideo.video.preprocess import preprocess_video_llama, preprocess_videochat2

from .config import PredictConfig
from .fingerprints import fingerprint


@dataclass
class Answer:
    prediction: str  # the model's text as returned (after the reference's clean-up)
    parsed: str | None  # an option letter where the backbone answers with one, else None (matched later)


class Backend:
    """One backbone, ready to answer: ``encode_chunk``, ``embed``, ``answer``."""

    name: str
    model: torch.nn.Module
    image_size: int
    preprocess: Callable[[np.ndarray, int], Tensor]

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
        """What the frame tokens depend on (the token cache's key)."""
        raise NotImplementedError

    def reconfigure(self, config: PredictConfig) -> None:
        """Take another run's alpha and memory settings without reloading any weights (sweeps).
        The caller checks ``reusable_for`` first: everything else must be unchanged."""
        from infvideo.memory import build_memory
        from infvideo.models.memory_attention import memory_layers

        for layer in memory_layers(self.model):
            layer.configure_memory(build_memory(config.memory), config.model.alpha, layer.tokens_per_frame)
        # Keep the model's own config truthful for anyone who inspects it.
        self.model.config = dataclasses.replace(self.model.config, alpha=config.model.alpha, memory=config.memory)
        self.config = config

    def answer(self, visual: Tensor, record: QuestionRecord, settings: GenerationSettings, seed: int) -> Answer:
        """One question, sampled with its own ``seed``."""
        return self.answer_many([visual], [record], settings, seed)[0]

    def answer_many(self, visuals: list[Tensor], records: list[QuestionRecord], settings: GenerationSettings, seed: int | None) -> list[Answer]:
        """Several questions (visual [1, n, hidden] each) in one ``generate``; greedy, each gets its
        ``answer``, while sampling draws the whole batch from one ``seed``."""
        raise NotImplementedError

    def reusable_for(self, config: PredictConfig) -> bool:
        """Whether this loaded model can answer ``config`` after ``reconfigure``."""
        return backend_key(config) == backend_key(self.config) and config.sampling.image_size == self.config.sampling.image_size


def checkpoint_identities(checkpoints: dict[str, str]) -> dict[str, str]:
    """Checkpoints by content, not path: cached frame tokens survive staging the weights elsewhere."""
    return {role: fingerprint(path) for role, path in sorted(checkpoints.items())}


def _dtype(name: str) -> torch.dtype:
    return {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}[name]


def _device(name: str) -> str:
    return ("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name


class VideoLLaMABackend(Backend):
    name = "video_llama"

    def __init__(self, config: PredictConfig) -> None:
        from infvideo.models.prompts_video_llama import PROMPTS
        from infvideo.models.video_llama import InfVideoLLaMA, InfVideoLLaMAConfig

        settings = config.model
        base = InfVideoLLaMAConfig.full() if settings.preset == "full" else InfVideoLLaMAConfig.tiny()
        model_config = dataclasses.replace(
            base, alpha=settings.alpha, memory=config.memory, add_frame_pos=settings.add_frame_pos, checkpoints=dict(settings.checkpoints),
            qformer_precision=settings.qformer_precision, vision_batch_size=settings.vision_batch_size,
        )
        if settings.reference_compat:
            model_config = InfVideoLLaMAConfig.reference_compat(model_config)
        if settings.preset == "full":
            from infvideo.models.pretrained import load_video_llama

            self.model = load_video_llama(model_config, _dtype(settings.dtype), _device(settings.device))
        else:
            from infvideo.models.tokenizers import tiny_llama_tokenizer

            tokenizer = tiny_llama_tokenizer()
            torch.manual_seed(0)  # the tiny preset's random weights are the same in every run
            self.model = InfVideoLLaMA(dataclasses.replace(model_config, llm={**model_config.llm, "vocab_size": len(tokenizer)}), tokenizer)
            self.model.to(_device(settings.device))
        self.config = config
        self.prompts = PROMPTS
        self.image_size = config.sampling.image_size or self.model.vision_model.config.image_size
        self.preprocess = preprocess_video_llama  # a module function: prefetch workers receive it pickled

    def vision_signature(self) -> dict:
        s = self.config.model
        signature = {"model": self.name, "preset": s.preset, "checkpoints": checkpoint_identities(s.checkpoints), "image_size": self.image_size}
        # Half-precision frame Q-former tokens differ from fp32 ones; fp32 keeps the signature it always had.
        dtype = qformer_autocast_dtype(s.qformer_precision, self.device, self.model.vision_model.dtype)
        if dtype is not None:
            signature["qformer_precision"] = str(dtype).removeprefix("torch.")
        return signature

    def embed(self, chunks: list[Tensor], record: QuestionRecord, generator: torch.Generator) -> Tensor:
        return self.model.embed_video(chunks, generator)

    def _prompt(self, record: QuestionRecord) -> str:
        build = self.prompts[record.dataset]
        return build(record.question, list(record.options)) if record.dataset == "video_mme" else build(record.question)

    def answer_many(self, visuals: list[Tensor], records: list[QuestionRecord], settings: GenerationSettings, seed: int | None) -> list[Answer]:
        texts = self.model.answer_many(visuals, [self._prompt(record) for record in records], settings, seed=seed)
        return [Answer(text, None) for text in texts]


class VideoChat2Backend(Backend):
    name = "videochat2"

    def __init__(self, config: PredictConfig) -> None:
        from infvideo.models.videochat2 import InfVideoChat2, InfVideoChat2Config, VideoChat2Tokenizers

        settings = config.model
        base = InfVideoChat2Config.full() if settings.preset == "full" else None
        if settings.preset == "full":
            from infvideo.models.pretrained import load_videochat2

            model_config = dataclasses.replace(
                base, alpha=settings.alpha, memory=config.memory, checkpoints=dict(settings.checkpoints), qformer_precision=settings.qformer_precision
            )
            self.model = load_videochat2(model_config, _dtype(settings.dtype), _device(settings.device))
        else:
            from infvideo.models.tokenizers import tiny_bert_tokenizer, tiny_llama_tokenizer

            tokenizers = VideoChat2Tokenizers(qformer=tiny_bert_tokenizer(), llm=tiny_llama_tokenizer())
            model_config = InfVideoChat2Config.tiny(
                llm_vocab_size=len(tokenizers.llm), qformer_vocab_size=len(tokenizers.qformer), alpha=settings.alpha, memory=config.memory,
                qformer_precision=settings.qformer_precision,
            )
            torch.manual_seed(0)
            self.model = InfVideoChat2(model_config, tokenizers).to(_device(settings.device))
        self.config = config
        self.image_size = config.sampling.image_size or self.model.config.vision.image_size
        self.preprocess = preprocess_videochat2  # a module function: prefetch workers receive it pickled

    def vision_signature(self) -> dict:
        s = self.config.model
        return {
            "model": self.name, "preset": s.preset, "checkpoints": checkpoint_identities(s.checkpoints), "image_size": self.image_size,
            "frames_per_chunk": self.config.sampling.frames_per_chunk,  # UMT attends across a chunk's frames
        }

    def _prompt(self, record: QuestionRecord):
        from infvideo.models.prompts_videochat2 import PROMPTS

        dataset = "nextqa" if record.dataset == "nextoe" else record.dataset
        build = PROMPTS[dataset]
        return build(record.question) if dataset == "moviechat" else build(record.question, list(record.options))

    def embed(self, chunks: list[Tensor], record: QuestionRecord, generator: torch.Generator) -> Tensor:
        return self.model.embed_video(chunks, generator, instruction=self._prompt(record).instruction)

    def answer_many(self, visuals: list[Tensor], records: list[QuestionRecord], settings: GenerationSettings, seed: int | None) -> list[Answer]:
        from infvideo.models.prompts_videochat2 import parse_option_letter

        prompts = [self._prompt(record) for record in records]
        texts = self.model.answer_many(visuals, [prompt.text for prompt in prompts], settings, seed=seed)
        answers = []
        for record, prompt, text in zip(records, prompts, texts):
            text = prompt.clean(text)
            letters = record.option_letters
            answers.append(Answer(text, parse_option_letter(text, letters) if letters else None))
        return answers


BACKENDS = {"video_llama": VideoLLaMABackend, "videochat2": VideoChat2Backend}


def backend_key(config: PredictConfig) -> tuple:
    """The model settings that need a rebuild when they change (alpha and memory do not)."""
    m = config.model
    return (
        m.name, m.preset, tuple(sorted(m.checkpoints.items())), m.dtype, m.device, m.add_frame_pos, m.reference_compat,
        m.qformer_precision, m.vision_batch_size,
    )


def build_backend(config: PredictConfig) -> Backend:
    if config.model.name not in BACKENDS:
        raise ValueError(f"unknown model {config.model.name!r}; expected one of {sorted(BACKENDS)}")
    return BACKENDS[config.model.name](config)
