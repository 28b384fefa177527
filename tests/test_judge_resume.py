"""Re-judging a run: good judgments are kept, only missing or failed ones are asked again, an
unreachable server stops the run early with one message, and the numbers in the summary are true.
Real HTTP on loopback throughout: the OpenAI stub, or a port with nothing listening."""

import hashlib
import json
import socket
import time
from types import SimpleNamespace

import pytest
from helpers.openai_stub import OpenAIStub
from test_judge_http import KEY_ENV, clean_environment, predicted, predictions, questions, run, settings, stub  # noqa: F401

from infvideo.cli import main
from infvideo.errors import UserError
from infvideo.eval.judge import JudgeServerUnreachable, messages, prediction_sha256
from infvideo.eval.judge.cache import cache_key
from infvideo.eval.run_files import read_jsonl, write_jsonl

ALL = ("GEN", "CI", "DO", "CU")


def nothing_listening() -> SimpleNamespace:
    """A loopback base URL whose port was free a moment ago: every connection is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return SimpleNamespace(base_url=f"http://127.0.0.1:{port}/v1")


def failing_for(word):
    """A server that answers 500 to the requests whose predicted answer contains ``word``."""
    return lambda body: ("status", 500) if word in predicted(body) else ("ok", '{"pred": "yes", "score": 4}')


def test_rejudging_with_the_server_down_keeps_every_good_judgment(stub, tmp_path):
    records = questions(3)
    preds = predictions(records)
    _, good = run(tmp_path / "run", settings(stub, tmp_path, metrics=ALL, cache_dir=None), records, preds)
    assert len(good) == 12 and all(line["error"] is None for line in good)
    # Nothing to ask: the server is never contacted, so it being down changes nothing.
    summary, lines = run(tmp_path / "run", settings(nothing_listening(), tmp_path, metrics=ALL, cache_dir=None), records, preds)
    assert lines == good
    assert (summary["requests"], summary["kept"], summary["errors"], summary["judgments"]) == (0, 12, 0, 12)


def test_only_missing_or_failed_items_are_asked(tmp_path):
    records = questions(3)
    with OpenAIStub(default=failing_for("number 1")) as stub:
        summary, first = run(tmp_path / "run", settings(stub, tmp_path, cache_dir=None, max_retries=0), records, predictions(records))
    assert [line["error"] is None for line in first] == [True, False, True] and summary["errors"] == 1
    more = questions(4)  # a fourth question joined the run
    with OpenAIStub() as stub:
        summary, lines = run(tmp_path / "run", settings(stub, tmp_path, cache_dir=None), more, predictions(more))
        assert [predicted(r.body) for r in stub.chat_requests] == ["he holds umbrella number 1", "he holds umbrella number 3"]
    assert (summary["requests"], summary["kept"], summary["errors"]) == (2, 2, 0)
    assert [lines[0], lines[2]] == [first[0], first[2]]
    assert all(line["error"] is None for line in lines)


def test_a_failure_never_replaces_a_success(tmp_path):
    records = questions(2)
    with OpenAIStub() as stub:
        _, good = run(tmp_path / "run", settings(stub, tmp_path, cache_dir=None), records, predictions(records))
    # The run was re-predicted: q0 has a new answer, which the (now failing) server cannot judge.
    repredicted = predictions(records, ["he holds a new umbrella", "he holds umbrella number 1"])
    with OpenAIStub(default=lambda body: ("status", 500)) as stub:
        summary, lines = run(tmp_path / "run", settings(stub, tmp_path, cache_dir=None, max_retries=0), records, repredicted)
        assert [predicted(r.body) for r in stub.chat_requests] == ["he holds a new umbrella"]
    assert lines == good  # the old judgment stays, recognisable as stale by its prediction_sha256
    assert lines[0]["prediction_sha256"] != prediction_sha256("he holds a new umbrella")
    assert (summary["errors"], summary["kept"], summary["requests"]) == (1, 1, 1)
    # Once the server is back, the stale judgment is replaced.
    with OpenAIStub() as stub:
        _, lines = run(tmp_path / "run", settings(stub, tmp_path, cache_dir=None), records, repredicted)
        assert len(stub.chat_requests) == 1
    assert lines[0]["prediction_sha256"] == prediction_sha256("he holds a new umbrella") and lines[1] == good[1]


def test_a_changed_prediction_is_asked_again(stub, tmp_path):
    records = questions(3)
    _, first = run(tmp_path / "run", settings(stub, tmp_path, cache_dir=None, metrics=("GEN", "CU")), records, predictions(records))
    repredicted = predictions(records, ["he holds umbrella number 0", "a different answer", "he holds umbrella number 2"])
    summary, lines = run(tmp_path / "run", settings(stub, tmp_path, cache_dir=None, metrics=("GEN", "CU")), records, repredicted)
    assert [predicted(r.body) for r in stub.chat_requests[6:]] == ["a different answer"] * 2
    assert lines[:2] == first[:2] and lines[4:] == first[4:]
    assert [line["prediction_sha256"] for line in lines[2:4]] == [prediction_sha256("a different answer")] * 2
    assert (summary["kept"], summary["requests"]) == (4, 2)


@pytest.mark.parametrize("change", [{"model": "another-judge"}, {"temperature": 0.7}, {"max_tokens": 32}])
def test_changed_judge_settings_are_asked_again(stub, tmp_path, change):
    records = questions(2)
    run(tmp_path / "run", settings(stub, tmp_path, cache_dir=None), records, predictions(records))
    summary, _ = run(tmp_path / "run", settings(stub, tmp_path, cache_dir=None), records, predictions(records))
    assert summary["kept"] == 2 and len(stub.chat_requests) == 2
    summary, lines = run(tmp_path / "run", settings(stub, tmp_path, cache_dir=None, **change), records, predictions(records))
    assert summary["kept"] == 0 and len(stub.chat_requests) == 4
    assert all(line["model"] == change.get("model", "gpt-3.5-turbo") for line in lines)


def test_lines_record_what_they_judged(stub, tmp_path):
    records = questions(2)
    preds = predictions(records)
    del preds["q1"]
    judge_settings = settings(stub, tmp_path, metrics=("GEN", "DO"))
    _, lines = run(tmp_path / "run", judge_settings, records, preds)
    text = preds["q0"]["prediction"]
    assert prediction_sha256(text) == hashlib.sha256(text.encode("utf-8")).hexdigest()
    for line, metric in zip(lines[:2], ("GEN", "DO")):
        assert line["prediction_sha256"] == prediction_sha256(text) and line["model"] == "gpt-3.5-turbo"
        request = messages(metric, records[0].question, records[0].answer_text, text)
        assert line["request_sha256"] == cache_key("gpt-3.5-turbo", request, judge_settings.sampling())
    # No prediction, nothing judged.
    assert [(line["prediction_sha256"], line["request_sha256"]) for line in lines[2:]] == [(None, None)] * 2


def test_lines_of_other_metrics_are_carried_over(stub, tmp_path):
    records = questions(2)
    _, first = run(tmp_path / "run", settings(stub, tmp_path, cache_dir=None, metrics=("GEN", "CI")), records, predictions(records))
    summary, lines = run(tmp_path / "run", settings(stub, tmp_path, cache_dir=None, metrics=("GEN",)), records, predictions(records))
    assert len(stub.chat_requests) == 4 and summary["requests"] == 0
    assert sorted(map(json.dumps, lines)) == sorted(map(json.dumps, first))


def test_an_unreachable_server_stops_early_with_one_error(stub, tmp_path):
    records = questions(10)
    run(tmp_path / "run", settings(stub, tmp_path, cache_dir=None), records[:2], predictions(records[:2]))
    down = nothing_listening()
    start = time.perf_counter()
    with pytest.raises(JudgeServerUnreachable) as caught:
        run(
            tmp_path / "run",
            settings(down, tmp_path, cache_dir=None, max_retries=1, max_consecutive_connection_errors=3),
            records,
            predictions(records),
        )
    assert time.perf_counter() - start < 10.0
    assert isinstance(caught.value, UserError)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"judge server {down.base_url} unreachable: ")
    assert "Connection refused" in message and "3 consecutive connection errors" in message
    # Nothing lost: the good lines are still there, and every pair still has its line.
    lines = read_jsonl(tmp_path / "run" / "judgments.jsonl")
    assert [line["id"] for line in lines] == [f"q{i}" for i in range(10)]
    assert [line["error"] for line in lines[:2]] == [None, None]
    # The worker may already have started the next question when the third error came in.
    refused = [line for line in lines[2:] if line["error"].startswith("APIConnectionError") and "Connection refused" in line["error"]]
    not_asked = [line for line in lines[2:] if line["error"] == "not asked: the judge server was unreachable"]
    assert len(refused) in (3, 4) and len(refused) + len(not_asked) == 8
    assert lines[2 : 2 + len(refused)] == refused
    assert f"2 good judgments kept in {tmp_path / 'run' / 'judgments.jsonl'}, {len(not_asked)} not asked" in message


def test_connection_errors_interrupted_by_a_success_do_not_stop_the_run(tmp_path):
    # A server that drops some connections is flaky, not unreachable: the count restarts on each reply.
    def flaky(body):
        return ("drop",) if int(predicted(body).split()[-1]) % 2 == 0 else ("ok", '{"pred": "yes", "score": 4}')

    records = questions(6)
    with OpenAIStub(default=flaky) as stub:
        summary, lines = run(
            tmp_path / "run",
            settings(stub, tmp_path, cache_dir=None, max_retries=0, max_consecutive_connection_errors=2),
            records,
            predictions(records),
        )
    assert [line["error"] is None for line in lines] == [False, True] * 3
    assert summary["errors"] == 3


def test_the_cli_reports_an_unreachable_server_in_one_line(tmp_path, monkeypatch, capsys):
    records = questions(3)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_jsonl(run_dir / "predictions.jsonl", predictions(records).values())
    monkeypatch.setattr("infvideo.eval.judge.batch.load_run_records", lambda directory: records)
    down = nothing_listening()
    code = main(
        [
            "judge",
            str(run_dir),
            "--base-url",
            down.base_url,
            "--api-key-env",
            KEY_ENV,
            "--no-cache",
            "--max-retries",
            "0",
            "--max-consecutive-connection-errors",
            "2",
            "--concurrency",
            "1",
            "--quiet",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"infvideo: error: judge server {down.base_url} unreachable: ")


@pytest.mark.parametrize("status", [429, 500])
def test_requests_count_http_requests_retries_included(tmp_path, status):
    seen = set()

    def once_per_question(body):
        text = predicted(body)
        if text in seen:
            return ("ok", '{"pred": "yes", "score": 4}')
        seen.add(text)
        return ("status", status)

    records = questions(3)
    with OpenAIStub(default=once_per_question) as stub:
        summary, lines = run(tmp_path / "run", settings(stub, tmp_path, concurrency=2), records, predictions(records))
        assert len(stub.chat_requests) == 6
    assert summary["requests"] == 6 and summary["errors"] == 0
    assert all(line["attempts"] == 1 for line in lines)  # the judge asked once; the client retried


def test_the_default_cache_lives_with_the_run(stub, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("INFVIDEO_CACHE_DIR", raising=False)
    records = questions(2)
    summary, _ = run(tmp_path / "run", settings_without_cache_dir(stub), records, predictions(records))
    assert summary["cache_dir"] == str(tmp_path / "run" / "judge_cache")
    assert len(list((tmp_path / "run" / "judge_cache").glob("??/*.json"))) == 2
    assert list(elsewhere.iterdir()) == []
    # A user cache folder, shared by all runs, when INFVIDEO_CACHE_DIR is set.
    monkeypatch.setenv("INFVIDEO_CACHE_DIR", str(tmp_path / "user_cache"))
    summary, _ = run(tmp_path / "run2", settings_without_cache_dir(stub), records, predictions(records))
    assert summary["cache_dir"] == str(tmp_path / "user_cache" / "judge")
    assert len(list((tmp_path / "user_cache" / "judge").glob("??/*.json"))) == 2
    assert list(elsewhere.iterdir()) == []


def settings_without_cache_dir(stub):
    from infvideo.eval.judge import JudgeSettings

    return JudgeSettings(base_url=stub.base_url, api_key_env=KEY_ENV, concurrency=1, max_retries=2, timeout=5.0, metrics=("GEN",))


def test_the_cli_default_cache_lives_with_the_run(stub, tmp_path, monkeypatch, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("INFVIDEO_CACHE_DIR", raising=False)
    records = questions(2)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_jsonl(run_dir / "predictions.jsonl", predictions(records).values())
    monkeypatch.setattr("infvideo.eval.judge.batch.load_run_records", lambda directory: records)
    assert main(["judge", str(run_dir), "--base-url", stub.base_url, "--api-key-env", KEY_ENV, "--metrics", "GEN", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["cache_dir"] == str(run_dir / "judge_cache") and summary["requests"] == 2
    assert len(list((run_dir / "judge_cache").glob("??/*.json"))) == 2
    assert list(elsewhere.iterdir()) == []
