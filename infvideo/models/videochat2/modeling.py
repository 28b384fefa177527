"""∞-VideoChat2 (Mistral) on transformers classes (docs/reference-notes.md, S3).

UMT-L/16 (``VideoMAEModel`` host) per chunk → ``vision_layernorm`` → InstructBLIP-style Q-former
(``InstructBlipQFormerModel``: 32 + 64 query tokens and the instruction text, memory in its cross-attention
layers) → ``mistral_proj`` on the query outputs → running mean over chunks → ``MistralForCausalLM`` on
the conversation with the video embedding in place of ``<VideoHere>``, greedy decoding.

Unlike Video-LLaMA, the memory sees UMT's patch tokens: each frame's ``tokens_per_frame`` patch tokens
are pooled to one vector before the memory update.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import torch
from torch import Tensor, nn
from transformers import InstructBlipQFormerConfig, InstructBlipQFormerModel, MistralConfig, MistralForCausalLM

from infvideo.memory import build_memory

from ..base import GenerationSettings, RunningMean, qformer_precision, strip_leading_special
from ..batching import generate_padded
from ..memory_attention import install_memory, memory_layers, reset_memories
from .config import DEFAULT_GENERATION, InfVideoChat2Config, VideoChat2Tokenizers
from .prompts import cut_at_stop, segment_token_ids
from .umt import UMTVisionEncoder


class InfVideoChat2(nn.Module):
    def __init__(
        self, config: InfVideoChat2Config, tokenizers: VideoChat2Tokenizers | None = None, language_model: nn.Module | None = None
    ) -> None:
        """``language_model``: an already loaded LLM (real runs), else one is built from ``config.llm``."""
        super().__init__()
        self.config = config
        self.tokenizers = tokenizers
        self.vision_encoder = UMTVisionEncoder(config.vision)
        self.vision_layernorm = nn.LayerNorm(config.vision.hidden_size, eps=config.vision_layernorm_eps)
        self.qformer = InstructBlipQFormerModel(InstructBlipQFormerConfig(**config.qformer))
        if self.qformer.config.encoder_hidden_size != config.vision.hidden_size:
            raise ValueError(
                f"the Q-former attends to {self.qformer.config.encoder_hidden_size}-wide tokens but the vision "
                f"encoder is {config.vision.hidden_size} wide"
            )
        width = self.qformer.config.hidden_size
        self.query_tokens = nn.Parameter(torch.zeros(1, config.num_query_tokens, width))
        self.extra_query_tokens = nn.Parameter(torch.zeros(1, config.num_extra_query_tokens, width))
        self.language_model = language_model if language_model is not None else MistralForCausalLM(MistralConfig(**config.llm))
        self.mistral_proj = nn.Linear(width, self.language_model.config.hidden_size)
        if tokenizers is not None:
            self._check_vocabularies(tokenizers)
        install_memory(self.qformer, lambda: build_memory(config.memory), config.alpha, self.vision_encoder.tokens_per_frame)
        self.eval()

    def _check_vocabularies(self, tokenizers: VideoChat2Tokenizers) -> None:
        for name, tokenizer, rows in (
            ("Q-former", tokenizers.qformer, self.qformer.config.vocab_size),
            ("LLM", tokenizers.llm, self.language_model.config.vocab_size),
        ):
            if len(tokenizer) > rows:
                raise ValueError(f"the {name} tokenizer has {len(tokenizer)} ids but the embedding table only {rows}")

    @property
    def tokens_per_frame(self) -> int:
        return self.vision_encoder.tokens_per_frame

    @property
    def image_size(self) -> int:
        """The frame size UMT was built for (what preprocessing resizes to unless a run says otherwise)."""
        return self.config.vision.image_size

    @property
    def num_queries(self) -> int:
        return self.config.num_query_tokens + self.config.num_extra_query_tokens

    # -- frame stage -------------------------------------------------------------------------
    @torch.inference_mode()
    def encode_chunk(self, frames: Tensor) -> Tensor:
        """Preprocessed frames [L, 3, H, W] (or [batch, L, 3, H, W]) -> UMT patch tokens after the vision
        LayerNorm, [L, tokens_per_frame, width] (or with the batch dimension)."""
        batched = frames.dim() == 5
        tokens = self.vision_layernorm(self.vision_encoder(frames if batched else frames.unsqueeze(0)))
        return tokens if batched else tokens.squeeze(0)

    # -- memory stage ------------------------------------------------------------------------
    def instruction_tokens(self, instruction: str, batch: int = 1) -> tuple[Tensor, Tensor]:
        """Q-former text input ids and mask [batch, n] for the instruction, at most max_txt_len tokens."""
        if self.tokenizers is None:
            raise RuntimeError("InfVideoChat2 needs its tokenizers to read the instruction")
        text = self.tokenizers.qformer(
            [instruction] * batch, padding="longest", truncation=True, max_length=self.config.max_txt_len, return_tensors="pt"
        )
        device = self.query_tokens.device
        return text.input_ids.to(device), text.attention_mask.to(device)

    def embed_chunk(self, tokens: Tensor, text: tuple[Tensor, Tensor]) -> Tensor:
        """Patch tokens of one chunk [L, P, width] (or [batch, L, P, width]) and the instruction's
        (ids, mask) -> projected query outputs [batch, num_queries, llm_hidden]."""
        if tokens.dim() == 3:
            tokens = tokens.unsqueeze(0)
        batch, frames, per_frame, width = tokens.shape
        dtype = self.query_tokens.dtype
        encoder_tokens = tokens.reshape(batch, frames * per_frame, width).to(dtype)
        queries = torch.cat([self.query_tokens, self.extra_query_tokens], dim=1).expand(batch, -1, -1)
        text_ids, text_mask = text
        query_mask = torch.ones(queries.shape[:2], dtype=text_mask.dtype, device=text_mask.device)
        vision_dtype = self.vision_layernorm.weight.dtype
        with qformer_precision(self.config.qformer_precision, encoder_tokens.device, vision_dtype):
            output = self.qformer(
                input_ids=text_ids.expand(batch, -1),
                attention_mask=torch.cat([query_mask, text_mask.expand(batch, -1)], dim=1),
                query_embeds=queries,
                encoder_hidden_states=encoder_tokens,
                encoder_attention_mask=torch.ones(encoder_tokens.shape[:2], dtype=torch.long, device=encoder_tokens.device),
            ).last_hidden_state
            # Only the query positions go to the LLM; the instruction positions are discarded.
            projected = self.mistral_proj(output[:, : queries.shape[1]])
        return projected.to(self.mistral_proj.weight.dtype)  # autocast or not, the same output dtype

    @torch.inference_mode()
    def embed_video(self, chunks: Iterable[Tensor], generator: torch.Generator | None = None, *, instruction: str | None = None) -> Tensor:
        """Chunks of patch tokens -> the LLM's visual input [batch, num_queries, llm_hidden]: memories reset
        at the first chunk, then the mean of the chunk embeddings, accumulated in float32 and cast to the
        LLM's dtype at the end. ``instruction`` is the Q-former text (the dataset's system string)."""
        text = self.instruction_tokens(self.config.instruction if instruction is None else instruction)
        reset_memories(self.qformer, generator)
        mean = RunningMean()
        for tokens in chunks:
            mean.add(self.embed_chunk(tokens, text).float())
        if mean.value is None:
            raise ValueError("embed_video needs at least one chunk")
        return mean.value.to(self.language_model.dtype)

    # -- answer ------------------------------------------------------------------------------
    def prompt_embeddings(self, visual: Tensor, prompt: str) -> Tensor:
        """The prompt's token embeddings with ``visual`` [batch, n, hidden] in place of ``<VideoHere>``."""
        embed = self.language_model.get_input_embeddings()
        device, dtype = embed.weight.device, embed.weight.dtype
        before, *rest = segment_token_ids(self.tokenizers.llm, prompt)
        if len(rest) != 1:
            raise ValueError(f"a prompt for one video needs exactly one <VideoHere>, found {len(rest)}")
        batch = visual.shape[0]
        pieces = [embed(before.to(device)), visual.to(device, dtype), embed(rest[0].to(device))]
        return torch.cat([piece.expand(batch, -1, -1) for piece in pieces], dim=1)

    @torch.inference_mode()
    def answer_batch(self, visual: Tensor, prompt: str, settings: GenerationSettings | None = None, seed: int | None = None) -> list[str]:
        """One answer per video of the batch ``visual`` [batch, n, hidden], all with the same prompt."""
        return self.answer_many(list(visual.split(1)), [prompt] * visual.shape[0], settings, seed)

    @torch.inference_mode()
    def answer_many(
        self, visuals: list[Tensor], prompts: list[str], settings: GenerationSettings | None = None, seed: int | None = None
    ) -> list[str]:
        """One answer per (visual [1, n, hidden], prompt) pair from one left-padded ``generate``: each row
        stops at its own "</s>"; a leading <unk> then <s> are dropped and the text is cut at "</s>", as the
        reference. Greedy, each answer is the one ``answer`` gives alone (beam search may differ); a ``seed``
        seeds the batch as a whole, not each row."""
        if self.tokenizers is None:
            raise RuntimeError("InfVideoChat2.answer needs its tokenizers")
        settings = settings or replace(DEFAULT_GENERATION)  # a copy: callers may tweak theirs
        tokenizer = self.tokenizers.llm
        rows = [self.prompt_embeddings(visual, prompt) for visual, prompt in zip(visuals, prompts, strict=True)]
        eos = tokenizer.eos_token_id
        outputs = generate_padded(
            self.language_model,
            rows,
            settings,
            seed,
            # The reference stops on [2] or [29871, 2]; both end with the EOS id.
            eos_token_id=eos,
            pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos,
        )
        # Rows that stopped early are filled with the pad id after their "</s>", where decode cuts.
        return [self.decode(ids) for ids in outputs]

    def decode(self, ids: Tensor) -> str:
        ids = strip_leading_special(ids)
        return cut_at_stop(self.tokenizers.llm.decode(ids, skip_special_tokens=False))

    def answer(self, visual: Tensor, prompt: str, settings: GenerationSettings | None = None, seed: int | None = None) -> str:
        """Generate from the prompt (a string with one ``<VideoHere>``) for a single video."""
        if visual.shape[0] != 1:
            raise ValueError(f"answer takes one video; use answer_batch for {visual.shape[0]}")
        return self.answer_batch(visual, prompt, settings, seed)[0]

    def memories(self):
        return [layer.memory for layer in memory_layers(self.qformer)]
