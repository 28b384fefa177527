"""Free text -> the nearest option through langchain Embeddings: the offline MiniLM and an
OpenAI-compatible endpoint."""

import pytest

from infvideo.errors import UserError
from infvideo.eval.matching import OptionMatcher, build_embeddings, minilm_embedder
from infvideo.eval.stand_in_server import base_url, start_server


def test_the_minilm_embedder_the_stand_in_server_uses_gives_384_dimensions():
    assert minilm_embedder()(["x"]).shape == (1, 384)


OPTIONS = ["the man opens the door", "a dog sleeps on the sofa", "the girl rides a bicycle", "two cats fight", "the car stops at the light"]
ANSWERS = [
    "A young girl is cycling down the street.",
    "The puppy is napping on the couch",
    "vehicle halts at a red traffic signal",
    "a person pushes the door open",
    "the kittens are fighting",
]


def test_langchain_matcher_picks_the_paraphrased_option_among_five():
    matcher = OptionMatcher(build_embeddings("minilm"))
    picked = [matcher.match(answer, OPTIONS) for answer in ANSWERS]
    assert picked == ["C", "B", "E", "A", "D"]  # the fifth option is reachable
    assert matcher.match("", OPTIONS) is None and matcher.match(None, OPTIONS) is None
    assert matcher.match("   ", OPTIONS) is None


def test_first_four_sees_only_four_options():
    """The reference offers options 0-3 to its selector and comments out the fifth (deep-spin/Infinite-Video
    908be51, infty-Video-LLaMA/eval_code/validate/run_eval_langchain.py l.47-53)."""
    compat = OptionMatcher(build_embeddings("minilm"), first_four=True)
    assert compat.match("vehicle halts at a red traffic signal", OPTIONS) != "E"  # the fifth is unreachable, as in the reference
    assert compat.match("the kittens are fighting", OPTIONS) == "D"


def test_a_repeated_option_text_maps_to_its_first_occurrence():
    matcher = OptionMatcher(build_embeddings("minilm"))
    assert matcher.match("a sleeping dog", ["a red car", "a dog sleeps", "a blue boat", "a dog sleeps"]) == "B"


def test_openai_compatible_embeddings_over_real_http_pick_the_same_options(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # a loopback server needs no key
    server = start_server()
    try:
        embeddings = build_embeddings("openai:minilm-stand-in", base_url(server))
        matcher = OptionMatcher(embeddings)
        assert [matcher.match(answer, OPTIONS) for answer in ANSWERS] == ["C", "B", "E", "A", "D"]
        assert len(embeddings.embed_query("x")) == 384
    finally:
        server.shutdown()


def test_unknown_embedder_and_missing_key_are_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match="unknown embedder"):
        build_embeddings("word2vec")
    monkeypatch.delenv("MY_EMBEDDING_KEY", raising=False)
    with pytest.raises(UserError, match="MY_EMBEDDING_KEY"):
        build_embeddings("openai:text-embedding-3-small", "https://api.example.com/v1", "MY_EMBEDDING_KEY")
