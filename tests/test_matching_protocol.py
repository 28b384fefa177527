"""How `infvideo match` follows the run's protocol: which embedder, which options, which backbone's
answers are matched at all, what each matches.jsonl line records, and exact ties."""

import json

import pytest
from langchain_core.embeddings import Embeddings

from infvideo.cli import main
from infvideo.demo.synthetic_data import DemoSettings, write_demo_data
from infvideo.errors import UserError
from infvideo.eval.config import load_config, to_yaml
from infvideo.eval.matching import OptionMatcher, build_embeddings
from infvideo.eval.run_files import MATCHES, load_run_records, read_jsonl, write_jsonl
from infvideo.eval.stand_in_server import base_url, start_server

SMALL = DemoSettings(seconds=20.0, fps=4, size=32, frames_per_chunk=4, num_chunks=3)
ADA = "openai:text-embedding-ada-002"


class TableEmbeddings(Embeddings):
    """Fixed vectors by text, so that ties are exact by construction."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.table[text] for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.table[text]


# -- exact ties: the first tied option, on both paths ----------------------------------------------

TIED = {
    "answer": [1.0, 0.0, 0.0],
    "far": [0.0, 0.0, 1.0],
    "same 1": [1.0, 0.0, 0.0],
    "same 2": [1.0, 0.0, 0.0],
    "same 3": [1.0, 0.0, 0.0],  # equal vectors, distinct texts
    "left": [0.6, 0.8, 0.0],
    "right": [0.6, 0.0, 0.8],  # distinct vectors at exactly the same cosine (0.6)
}


@pytest.mark.parametrize(
    "options, first",
    [
        (["far", "same 1", "same 2", "same 3"], "B"),
        (["far", "left", "right"], "B"),
        (["far", "right", "left", "far"], "B"),
    ],
)
def test_exact_ties_go_to_the_first_tied_option_on_every_path(options, first):
    """The reference maps the nearest text back with ``key["options"].index(pred[0]["prediction"])``
    (deep-spin/Infinite-Video 908be51, infty-Video-LLaMA/eval_code/validate/run_eval_langchain.py l.69):
    a tie between repeated texts goes to the first occurrence; every path here takes the first tied option."""
    table = TableEmbeddings(TIED)
    assert OptionMatcher(table).match("answer", options) == first
    assert OptionMatcher(table, first_four=True).match("answer", options) == first


def test_a_repeated_option_text_goes_to_its_first_occurrence_with_the_real_embedder():
    """run_eval_langchain.py l.69 (``options.index``): the first occurrence of a repeated option text."""
    options = ["a red car", "a dog sleeps", "a blue boat", "a dog sleeps"]
    assert OptionMatcher(build_embeddings("minilm")).match("a sleeping dog", options) == "B"


# -- the OpenAI embedder's key -----------------------------------------------------------------------


def test_openai_embedder_without_a_key_is_one_error_naming_both_variables(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(UserError) as error:
        build_embeddings(ADA)
    message = str(error.value)
    assert "OPENAI_API_KEY" in message and "OPENAI_BASE_URL" in message and "--embedder minilm" in message
    assert "\n" not in message


def test_a_loopback_base_url_from_the_environment_needs_no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server = start_server()
    monkeypatch.setenv("OPENAI_BASE_URL", base_url(server))
    try:
        assert len(build_embeddings(ADA).embed_query("x")) == 384  # the stand-in serves MiniLM under any name
    finally:
        server.shutdown()


# -- `infvideo match RUN_DIR` over a real run directory -----------------------------------------------


def make_run(tmp_path, overrides, predictions):
    """A run directory as `infvideo predict` leaves it: config.yaml and predictions.jsonl (three
    demo NExT-QA questions, ids 1001_0..2), with the answers given by (question index -> line)."""
    data = write_demo_data(tmp_path / "data", SMALL)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = load_config(
        overrides=["data.benchmark=nextqa", f"data.annotations={data.nextqa}", f"data.video_folder={data.folder}", *overrides]
    )
    (run_dir / "config.yaml").write_text(to_yaml(config))
    records = load_run_records(run_dir)
    write_jsonl(run_dir / "predictions.jsonl", [{"id": records[i].id, **line} for i, line in predictions.items()])
    return run_dir


def matches(run_dir):
    return read_jsonl(run_dir / MATCHES)


# question 1's options: a red square, a green bar, a blue square, nothing, a circle
FREE_TEXT = {0: {"prediction": "it is yellow", "parsed": None}, 1: {"prediction": "there is a round circle", "parsed": None}}
PAPER = ["protocol.matcher=openai:text-embedding-ada-002", "protocol.match_first_four=true"]


def test_defaults_come_from_the_run_config_and_flags_override_them(tmp_path, capsys):
    run_dir = make_run(tmp_path, ["protocol.matcher=minilm", "protocol.match_first_four=true"], FREE_TEXT)
    assert main(["match", str(run_dir), "-q"]) == 0
    lines = matches(run_dir)
    assert [(line["letter"], line["method"], line["embedder"], line["first_four"]) for line in lines] == [
        ("D", "embedding", "minilm", True),
        ("C", "embedding", "minilm", True),
    ]  # E (a circle) is out of reach
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["embedder"] == "minilm" and summary["first_four"] is True and summary["backbone"] == "video_llama"
    assert main(["match", str(run_dir), "-q", "--all-options"]) == 0
    assert [(line["letter"], line["first_four"]) for line in matches(run_dir)] == [("D", False), ("E", False)]  # the circle


def test_reference_compat_flag_overrides_a_config_that_matches_every_option(tmp_path):
    run_dir = make_run(tmp_path, ["protocol.match_first_four=false"], FREE_TEXT)
    assert main(["match", str(run_dir), "-q", "--reference-compat"]) == 0
    assert [line["first_four"] for line in matches(run_dir)] == [True, True]


def test_paper_protocol_without_a_key_fails_before_writing_anything(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    run_dir = make_run(tmp_path, PAPER, FREE_TEXT)
    assert main(["match", str(run_dir), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "OPENAI_API_KEY" in err and "OPENAI_BASE_URL" in err and ADA.split(":")[1] in err
    assert not (run_dir / MATCHES).exists()
    assert main(["match", str(run_dir), "-q", "--embedder", "minilm"]) == 0  # the offline way the message offers
    assert {line["embedder"] for line in matches(run_dir)} == {"minilm"}


def test_paper_protocol_over_an_openai_compatible_server_records_the_embedder(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # a loopback server needs no key
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    run_dir = make_run(tmp_path, PAPER, {**FREE_TEXT, 2: {"prediction": None, "error": "VideoDecodeError: broken"}})
    server = start_server()
    try:
        assert main(["match", str(run_dir), "-q", "--base-url", base_url(server)]) == 0
        lines = matches(run_dir)
        monkeypatch.setenv("OPENAI_BASE_URL", base_url(server))
        assert main(["match", str(run_dir), "-q"]) == 0  # the base URL from the environment
    finally:
        server.shutdown()
    assert [(line["letter"], line["method"], line["embedder"], line["first_four"]) for line in lines] == [
        ("D", "embedding", ADA, True),
        ("C", "embedding", ADA, True),
        (None, "none", None, False),
    ]
    assert matches(run_dir) == lines


VIDEOCHAT2 = {
    0: {"prediction": "(A) red", "parsed": "A"},
    1: {"prediction": "I would say a green bar", "parsed": None},  # no letter to parse
    2: {"prediction": "  ", "parsed": None},
}


def test_an_unparsed_videochat2_answer_is_invalid_unless_embedding_fallback_is_asked(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    run_dir = make_run(tmp_path, ["model.name=videochat2", *PAPER], VIDEOCHAT2)
    assert main(["match", str(run_dir), "-q"]) == 0  # no embedder needed, so no key either
    assert [(line["letter"], line["method"], line["embedder"], line["first_four"]) for line in matches(run_dir)] == [
        ("A", "parsed", None, False),
        (None, "unparsed", None, False),
        (None, "none", None, False),
    ]
    assert main(["match", str(run_dir), "-q", "--embedding-fallback", "--embedder", "minilm"]) == 0
    assert [(line["letter"], line["method"], line["embedder"]) for line in matches(run_dir)] == [
        ("A", "parsed", None),
        ("B", "embedding", "minilm"),
        (None, "none", None),
    ]


def test_embedding_fallback_from_the_config_and_its_flag_override(tmp_path):
    run_dir = make_run(tmp_path, ["model.name=videochat2", "protocol.embedding_fallback=true"], VIDEOCHAT2)
    assert main(["match", str(run_dir), "-q"]) == 0
    assert [line["method"] for line in matches(run_dir)] == ["parsed", "embedding", "none"]
    assert main(["match", str(run_dir), "-q", "--no-embedding-fallback"]) == 0
    assert [line["method"] for line in matches(run_dir)] == ["parsed", "unparsed", "none"]


def test_video_llama_free_text_is_matched_whatever_the_fallback_setting(tmp_path):
    run_dir = make_run(tmp_path, ["model.name=video_llama", "protocol.embedding_fallback=false"], FREE_TEXT)
    assert main(["match", str(run_dir), "-q", "--all-options"]) == 0
    assert [(line["letter"], line["method"]) for line in matches(run_dir)] == [("D", "embedding"), ("E", "embedding")]


def test_an_invalid_matcher_in_the_config_is_a_user_error(tmp_path, capsys):
    run_dir = make_run(tmp_path, [], FREE_TEXT)
    config = (run_dir / "config.yaml").read_text().replace("matcher: minilm", "matcher: word2vec")
    (run_dir / "config.yaml").write_text(config)
    assert main(["match", str(run_dir), "-q"]) == 2
    assert "word2vec" in capsys.readouterr().err


def test_match_help_says_the_defaults_come_from_the_run_config(capsys):
    with pytest.raises(SystemExit):
        main(["match", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for flag in ("--embedder", "--reference-compat", "--all-options", "--embedding-fallback", "--no-embedding-fallback", "--base-url"):
        assert flag in help_text
    assert "config.yaml" in help_text and "OPENAI_API_KEY" in help_text and "OPENAI_BASE_URL" in help_text


def test_the_reference_matching_script_follows_the_run_config_and_takes_the_flags(tmp_path, monkeypatch, capsys):
    from infvideo.cli.paper import matching_main

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    run_dir = make_run(tmp_path, PAPER, FREE_TEXT)
    assert matching_main(["--pred_path", str(run_dir / "predictions.jsonl"), "--num_tasks", "4"]) == 2  # the paper's ada-002
    assert "OPENAI_API_KEY" in capsys.readouterr().err
    assert matching_main(["--pred_path", str(run_dir), "--embedder", "minilm"]) == 0
    assert [(line["embedder"], line["first_four"]) for line in matches(run_dir)] == [("minilm", True)] * 2
    assert matching_main(["--pred_path", str(run_dir), "--embedder", "minilm", "--all-options"]) == 0
    assert [line["first_four"] for line in matches(run_dir)] == [False, False]
