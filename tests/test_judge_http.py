"""The judge over real HTTP: the openai client against a loopback OpenAI-compatible stub."""

import json
import re
import time

import pytest
from helpers.openai_stub import GOOD_GEN, OpenAIStub, word_usage

from infvideo.data.record import QuestionRecord
from infvideo.eval.judge import JudgeSettings, OpenAICompatibleJudge, judge_run, messages
from infvideo.eval.run_files import read_jsonl

KEY_ENV = "INFVIDEO_TEST_JUDGE_KEY"
KEY = "sk-stub-7f3a9c1e5b-DO-NOT-LEAK"
LINE_KEYS = {
    "id",
    "metric",
    "pred",
    "score",
    "raw",
    "error",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "cached",
    "attempts",
    "prediction_sha256",
    "request_sha256",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(KEY_ENV, KEY)


@pytest.fixture
def stub():
    with OpenAIStub() as server:
        yield server


def settings(stub, tmp_path, **overrides):
    values = dict(
        base_url=stub.base_url,
        api_key_env=KEY_ENV,
        cache_dir=str(tmp_path / "cache"),
        concurrency=1,
        max_retries=2,
        timeout=5.0,
        metrics=("GEN",),
    )
    values.update(overrides)
    return JudgeSettings(**values)


def questions(count, dataset="moviechat"):
    return [
        QuestionRecord(
            id=f"q{i}",
            dataset=dataset,
            video_id=f"v{i}",
            video_path=f"v{i}.mp4",
            mode="global",
            question=f"What does the man hold in scene {i}?",
            answer_text=f"a red umbrella {i}",
        )
        for i in range(count)
    ]


def predictions(records, texts=None):
    texts = texts or [f"he holds umbrella number {i}" for i in range(len(records))]
    return {
        r.id: {"id": r.id, "video_id": r.video_id, "question": r.question, "prediction": t, "parsed": None, "answer": None}
        for r, t in zip(records, texts)
    }


def run(run_dir, judge_settings, records, preds):
    run_dir.mkdir(exist_ok=True)
    summary = judge_run(run_dir, judge_settings, records=records, predictions=preds, progress=False)
    return summary, read_jsonl(run_dir / "judgments.jsonl")


def predicted(body):
    """The predicted answer inside a judge request."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    return re.search(r"Predicted Answer: (.*)\n", user).group(1)


def test_success_lines_prompts_and_sampling(stub, tmp_path):
    records = questions(1)
    summary, lines = run(tmp_path / "run", settings(stub, tmp_path, metrics=("GEN", "CI")), records, predictions(records))
    assert [set(line) for line in lines] == [LINE_KEYS, LINE_KEYS]
    gen, ci = lines
    assert (gen["id"], gen["metric"], gen["pred"], gen["score"], gen["error"], gen["cached"], gen["attempts"]) == (
        "q0",
        "GEN",
        "yes",
        4.0,
        None,
        False,
        1,
    )
    assert (ci["metric"], ci["pred"], ci["score"], ci["raw"]) == ("CI", None, 4.0, GOOD_GEN)
    assert gen["model"] == "gpt-3.5-turbo"
    requests = stub.chat_requests
    assert len(requests) == 2
    for request, metric in zip(requests, ("GEN", "CI")):
        body = request.body
        assert body["messages"] == messages(metric, records[0].question, "a red umbrella 0", "he holds umbrella number 0")
        assert "Question: What does the man hold in scene 0?\n" in request.user_text
        assert "Correct Answer: a red umbrella 0\n" in request.user_text
        assert "Predicted Answer: he holds umbrella number 0\n" in request.user_text
        assert (body["model"], body["temperature"], body["seed"], body["max_tokens"]) == ("gpt-3.5-turbo", 0.0, 0, 64)
    assert (gen["prompt_tokens"], gen["completion_tokens"]) == word_usage(requests[0].body, GOOD_GEN)
    assert summary == {
        "model": "gpt-3.5-turbo",
        "base_url": stub.base_url + "/",
        "judgments": 2,
        "requests": 2,
        "kept": 0,
        "cache_hits": 0,
        "errors": 0,
        "no_prediction": 0,
        "prompt_tokens": gen["prompt_tokens"] + ci["prompt_tokens"],
        "completion_tokens": 8,
        "served_models": ["gpt-3.5-turbo-stub-snapshot"],
        "cache_dir": str(tmp_path / "cache"),
    }


def test_rate_limit_is_retried_by_the_client(stub, tmp_path):
    stub.script(("status", 429), ("ok", '{"pred": "no", "score": 1}'))
    records = questions(1)
    summary, [line] = run(tmp_path / "run", settings(stub, tmp_path), records, predictions(records))
    assert len(stub.chat_requests) == 2
    assert (line["pred"], line["score"], line["error"], line["attempts"]) == ("no", 1.0, None, 1)
    assert summary["errors"] == 0


def test_timeout_is_recorded_and_the_batch_goes_on(tmp_path):
    def slow(body):
        return ("sleep", 5.0, GOOD_GEN) if "SLOW" in predicted(body) else ("ok", GOOD_GEN)

    records = questions(2)
    preds = predictions(records, ["SLOW answer", "quick answer"])
    with OpenAIStub(default=slow) as stub:
        start = time.perf_counter()
        summary, lines = run(tmp_path / "run", settings(stub, tmp_path, timeout=0.5, max_retries=1), records, preds)
        elapsed = time.perf_counter() - start
        assert len(stub.chat_requests) == 3  # the slow one twice (the client's one retry), the quick one once
    assert elapsed < 4.0
    assert lines[0]["error"] == "APITimeoutError: Request timed out." and lines[0]["score"] is None and lines[0]["raw"] is None
    assert (lines[1]["error"], lines[1]["score"]) == (None, 4.0)
    assert (summary["errors"], summary["requests"]) == (1, 3)  # HTTP requests, the client's retry included
    # Only the answered sample was cached; in another run directory (no judgments to keep), the
    # cache answers for it and the failed one alone is asked again.
    with OpenAIStub() as stub:
        summary, lines = run(tmp_path / "run2", settings(stub, tmp_path), records, preds)
        assert [predicted(r.body) for r in stub.chat_requests] == ["SLOW answer"]
    assert [(line["error"], line["cached"]) for line in lines] == [(None, False), (None, True)]


def test_server_errors_after_retries_are_recorded(stub, tmp_path):
    stub.script(("status", 500), ("status", 500))
    records = questions(2)
    summary, lines = run(tmp_path / "run", settings(stub, tmp_path, max_retries=1), records, predictions(records))
    assert lines[0]["error"].startswith("InternalServerError: Error code: 500")
    assert lines[1]["error"] is None and lines[1]["score"] == 4.0
    assert len(stub.chat_requests) == 3 and summary["errors"] == 1


def test_garbage_then_a_good_reply_after_a_reask(stub, tmp_path):
    stub.script(("garbage", "I would say yes, about a four."), ("ok", '{"pred": "yes", "score": 3}'))
    records = questions(1)
    summary, [line] = run(tmp_path / "run", settings(stub, tmp_path), records, predictions(records))
    first, second = stub.chat_requests
    assert second.body["messages"][:2] == first.body["messages"]
    assert second.body["messages"][2] == {"role": "assistant", "content": "I would say yes, about a four."}
    assert second.body["messages"][3]["role"] == "user" and '"pred"' in second.body["messages"][3]["content"]
    assert (line["pred"], line["score"], line["error"], line["attempts"]) == ("yes", 3.0, None, 2)
    usages = [word_usage(first.body, "I would say yes, about a four."), word_usage(second.body, '{"pred": "yes", "score": 3}')]
    assert (line["prompt_tokens"], line["completion_tokens"]) == tuple(map(sum, zip(*usages)))
    assert summary["requests"] == 2


def test_garbage_forever_gives_up_after_the_reasks(tmp_path):
    with OpenAIStub(default=lambda body: ("garbage", "maybe? " + "x" * 300)) as stub:
        summary, [line] = run(tmp_path / "run", settings(stub, tmp_path, reasks=2), questions(1), predictions(questions(1)))
        assert len(stub.chat_requests) == 3
    assert line["error"] == "unparseable reply: " + ("maybe? " + "x" * 300)[:200]
    assert line["raw"] == "maybe? " + "x" * 300 and line["score"] is None and line["attempts"] == 3
    assert summary["errors"] == 1
    assert not list((tmp_path / "cache").rglob("*.json"))  # only parseable replies are cached


def test_a_second_run_is_served_from_the_cache(tmp_path):
    def scored(body):
        return ("ok", json.dumps({"pred": "yes", "score": len(predicted(body)) % 6}))

    records = questions(3)
    preds = predictions(records)
    with OpenAIStub(default=scored) as stub:
        first_summary, first = run(
            tmp_path / "run", settings(stub, tmp_path, metrics=("GEN", "CI", "DO", "CU"), concurrency=4), records, preds
        )
        assert len(stub.chat_requests) == 12
    assert len(list((tmp_path / "cache").glob("??/*.json"))) == 12
    # Another server address (the key ignores base_url), same model, prompts and sampling: no request.
    # (Another run directory too: in the same one, the judgments themselves would be kept.)
    with OpenAIStub(default=lambda body: ("ok", '{"pred": "no", "score": 0}')) as other:
        summary, second = run(
            tmp_path / "run2", settings(other, tmp_path, metrics=("GEN", "CI", "DO", "CU"), concurrency=4), records, preds
        )
        assert other.chat_requests == []
        assert summary["requests"] == 0 and summary["cache_hits"] == 12
        assert summary["prompt_tokens"] == summary["completion_tokens"] == 0
        assert [{**line, "cached": False} for line in second] == first and all(line["cached"] for line in second)
        # Different sampling parameters are a different judgment.
        summary, _ = run(tmp_path / "run", settings(other, tmp_path, temperature=0.7), records, preds)
        assert len(other.chat_requests) == 3 and summary["cache_hits"] == 0


def test_a_damaged_cache_entry_is_asked_again(stub, tmp_path):
    records = questions(2)
    run(tmp_path / "run", settings(stub, tmp_path), records, predictions(records))
    entry = sorted((tmp_path / "cache").glob("??/*.json"))[0]
    entry.write_text('{"raw": "{\\"pred\\": ', encoding="utf-8")  # as a killed writer without the rename would leave
    summary, lines = run(tmp_path / "run2", settings(stub, tmp_path), records, predictions(records))
    assert len(stub.chat_requests) == 3 and summary["cache_hits"] == 1
    assert all(line["score"] == 4.0 for line in lines)


def test_concurrency_keeps_the_order(tmp_path):
    # Earlier questions answer more slowly, so with several workers replies arrive out of order.
    def reversed_speed(body):
        number = int(predicted(body).split()[-1])
        return ("sleep", (8 - number) * 0.01, json.dumps({"pred": "yes", "score": number % 6}))

    records = questions(8)
    results = []
    with OpenAIStub(default=reversed_speed) as stub:
        for concurrency in (1, 6):
            _, lines = run(
                tmp_path / f"run{concurrency}",
                settings(stub, tmp_path, cache_dir=None, concurrency=concurrency, metrics=("GEN", "CI")),
                records,
                predictions(records),
            )
            results.append(lines)
    assert results[0] == results[1]
    assert [(line["id"], line["metric"]) for line in results[1]] == [(f"q{i}", m) for i in range(8) for m in ("GEN", "CI")]
    assert [line["score"] for line in results[1]][::2] == [i % 6 for i in range(8)]


def test_missing_predictions_cost_no_request_and_other_benchmarks_are_skipped(stub, tmp_path):
    records = questions(4) + questions(1, dataset="nextqa")
    preds = predictions(records)
    preds["q0"] = {"id": "q0", "video_id": "v0", "prediction": None, "error": "RuntimeError: decoder failed"}
    preds["q1"]["prediction"] = "   "
    del preds["q2"]
    summary, lines = run(tmp_path / "run", settings(stub, tmp_path, metrics=("GEN", "CU")), records, preds)
    assert [line["id"] for line in lines] == ["q0", "q0", "q1", "q1", "q2", "q2", "q3", "q3"]
    assert [line["error"] for line in lines[:6]] == ["no prediction"] * 6
    assert all(line["attempts"] == 0 and line["score"] is None for line in lines[:6])
    assert len(stub.chat_requests) == 2 and all("umbrella number 3" in r.user_text for r in stub.chat_requests)
    assert (summary["errors"], summary["no_prediction"], summary["requests"]) == (0, 6, 2)


def test_a_reply_that_is_not_a_completion_and_one_without_usage(tmp_path):
    with OpenAIStub(usage=None) as stub:
        stub.script(("raw", 200, "<html>proxy error</html>"))
        summary, lines = run(tmp_path / "run", settings(stub, tmp_path), questions(2), predictions(questions(2)))
    assert lines[0]["error"].startswith("MalformedResponse:")
    assert (lines[1]["score"], lines[1]["prompt_tokens"], lines[1]["completion_tokens"]) == (4.0, 0, 0)


def test_the_api_key_reaches_the_server_but_no_file(stub, tmp_path):
    # A server that echoes the key in an error body must not get it into the judgments either.
    stub.script(("status", 401, {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error"}}))
    records = questions(2)
    summary, lines = run(tmp_path / "run", settings(stub, tmp_path, metrics=("GEN", "DO")), records, predictions(records))
    assert {r.authorization for r in stub.chat_requests} == {f"Bearer {KEY}"}
    assert lines[0]["error"] == "AuthenticationError: Error code: 401 - Incorrect API key provided: <redacted>"
    assert [line["error"] for line in lines[1:]] == [None, None, None]
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert any(path.parent.parent.name == "cache" for path in written) and (tmp_path / "run" / "judgments.jsonl") in written
    for path in written:
        assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in json.dumps(summary)


def test_the_key_comes_from_the_environment_only(monkeypatch, stub, tmp_path):
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(RuntimeError, match=KEY_ENV):
        OpenAICompatibleJudge(settings(stub, tmp_path, base_url="https://judge.example.com/v1"))
    # A server on this machine needs no key: the placeholder goes out.
    records = questions(1)
    _, [line] = run(tmp_path / "run", settings(stub, tmp_path), records, predictions(records))
    assert line["error"] is None and stub.chat_requests[0].authorization == "Bearer EMPTY"


def test_settings_are_checked():
    with pytest.raises(ValueError, match="unknown judge metric 'TU'"):
        JudgeSettings(metrics=("GEN", "TU"))
    with pytest.raises(ValueError, match="concurrency"):
        JudgeSettings(concurrency=0)
    assert JudgeSettings(metrics=["CI"]).metrics == ("CI",)
