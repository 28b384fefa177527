"""Several prompts of different lengths in one ``generate``: left padding and its attention mask.

Left padding keeps every row's last prompt token at the same position, so the batch continues all rows
in step; the mask's zeros hide the padding, and the Llama/Mistral ``generate`` derives each row's
position ids from the mask (cumulative sum), so a padded row sees the positions it would see alone.
Padding changes the logits only by float rounding (~1e-7 in float32 on the tiny models), so greedy
answers equal one-by-one answers unless two tokens tie that closely; ``tests/test_batched_questions.py``
checks the equality.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import GenerationSettings, generate_from_embeddings


def left_pad(rows: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Prompt embeddings [1, n_i, hidden] -> one batch [rows, max n_i, hidden] padded on the left with
    zeros, and its attention mask [rows, max n_i] (0 on padding)."""
    if not rows:
        raise ValueError("left_pad needs at least one prompt")
    length = max(row.shape[1] for row in rows)
    first = rows[0]
    embeds = first.new_zeros(len(rows), length, first.shape[-1])
    mask = torch.zeros(len(rows), length, dtype=torch.long, device=first.device)
    for i, row in enumerate(rows):
        embeds[i, length - row.shape[1] :] = row[0]
        mask[i, length - row.shape[1] :] = 1
    return embeds, mask


class _WithMask:
    """The language model with ``attention_mask`` replaced in ``generate``: ``generate_from_embeddings``
    stays the one home of the settings-to-``generate`` mapping, but it builds a mask of ones (no padding)."""

    def __init__(self, language_model, attention_mask: Tensor) -> None:
        self._model = language_model
        self._mask = attention_mask

    def generate(self, **kwargs):
        return self._model.generate(**{**kwargs, "attention_mask": self._mask})

    def __getattr__(self, name):
        return getattr(self._model, name)


def generate_padded(language_model, rows: list[Tensor], settings: GenerationSettings, seed: int | None = None, **stopping) -> Tensor:
    """``generate_from_embeddings`` for prompts of different lengths: one row of new tokens per prompt
    (a row that stopped early is filled with the pad id after its stop). A single prompt is not padded,
    so it is exactly the unbatched call."""
    embeds, mask = left_pad(rows)
    model = language_model if len(rows) == 1 else _WithMask(language_model, mask)
    return generate_from_embeddings(model, embeds, settings, seed, **stopping)
