"""Judge replies are read strictly, and the prompts are the reference's."""

import re

import pytest

from infvideo.eval.judge import METRICS, JudgeReplyError, messages, parse_reply


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"pred": "yes", "score": 4}', {"pred": "yes", "score": 4.0}),
        ("{'pred': 'yes', 'score': 4}", {"pred": "yes", "score": 4.0}),  # a Python literal, as the reference asked for
        ('```json\n{"pred": "no", "score": 1}\n```', {"pred": "no", "score": 1.0}),
        ("```\n{'pred': 'No', 'score': 0}\n```", {"pred": "no", "score": 0.0}),
        ('Sure! My evaluation: {"pred": "Yes.", "score": 3} Hope this helps {not an object}', {"pred": "yes", "score": 3.0}),
        ('{"pred": "yes", "score": 4.8}', {"pred": "yes", "score": 4.8}),  # kept, not truncated to 4 as the reference did
        ('{"pred": "no", "score": 5, "reason": "a } inside a string"}', {"pred": "no", "score": 5.0}),
    ],
)
def test_gen_replies_that_parse(text, expected):
    assert parse_reply("GEN", text) == expected


def test_score_metrics_need_only_a_score_and_never_report_pred():
    for metric in ("CI", "DO", "CU"):
        assert parse_reply(metric, '{"score": 2.5}') == {"pred": None, "score": 2.5}
        assert parse_reply(metric, '{"pred": "garbled", "score": 3}') == {"pred": None, "score": 3.0}


@pytest.mark.parametrize(
    "metric, text, reason",
    [
        ("GEN", '{"pred": "not yes", "score": 4}', "'pred' must be 'yes' or 'no'"),  # the reference counted this as a yes
        ("GEN", '{"pred": "yes and no", "score": 4}', "'pred' must be 'yes' or 'no'"),
        ("GEN", '{"pred": true, "score": 4}', "'pred' must be a string"),
        ("GEN", '{"score": 4}', "no 'pred'"),
        ("CI", '{"pred": "yes"}', "no 'score'"),
        ("CI", '{"score": 5.5}', "outside"),
        ("DO", '{"score": -1}', "outside"),
        ("CU", '{"score": NaN}', "outside"),
        ("CI", '{"score": true}', "must be a number"),  # bool is an int in Python; still not a score
        ("CI", '{"score": "4"}', "must be a number"),
        ("CI", "{''score': 4.8}", "not closed"),  # the reference's own broken example (its quotes never close)
        ("CI", "{'score': 4.8 5}", "neither JSON nor a Python literal"),
        ("CI", "{4}", "not a dict"),
        ("CI", "The answer deserves a 4.", "no {...} object"),
        ("CI", '{"score": 4', "not closed"),
        ("CI", "", "empty reply"),
        ("CI", None, "empty reply"),
    ],
)
def test_replies_that_are_refused(metric, text, reason):
    with pytest.raises(JudgeReplyError, match=re.escape(reason)):
        parse_reply(metric, text)


def test_code_in_a_reply_is_never_evaluated(tmp_path):
    witness = tmp_path / "evaluated"
    payloads = [
        "__import__('os')",
        f"{{'score': __import__('pathlib').Path({str(witness)!r}).touch() or 3}}",
        f"{{'pred': 'yes', 'score': [__import__('pathlib').Path({str(witness)!r}).touch()][0] or 3}}",
    ]
    for payload in payloads:
        with pytest.raises(JudgeReplyError):
            parse_reply("GEN", payload)
    assert not witness.exists()


def test_unknown_metric_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown judge metric 'TU'"):
        parse_reply("TU", '{"score": 1}')
    with pytest.raises(ValueError, match="unknown judge metric"):
        messages("XX", "q", "a", "p")


def test_prompts_keep_the_reference_wording_and_fix_its_examples():
    for metric in METRICS:
        system, user = messages(metric, "Why {does} it rain?", "clouds", "the sky {cries}")
        assert (system["role"], user["role"]) == ("system", "user")
        # the reference's missing spaces are kept, character for character
        assert "accomplish the task:------##INSTRUCTIONS: - " in system["content"]
        assert (
            "in INTEGER, not STRING.DO NOT PROVIDE ANY OTHER OUTPUT TEXT OR EXPLANATION. Only provide the JSON object. " in user["content"]
        )
        assert user["content"].startswith(
            "Please evaluate the following video-based question-answer pair:\n\n"
            "Question: Why {does} it rain?\nCorrect Answer: clouds\nPredicted Answer: the sky {cries}\n\n"
        )
        assert "Python dictionary" not in user["content"] and "''score'" not in user["content"]
        # the example in the prompt is itself a reply the parser accepts
        example = user["content"].split("your response should look like this: ", 1)[1].rstrip(".")
        assert parse_reply(metric, example)["score"] == 4.8
    assert "is  a string of 'yes' or 'no'" in messages("GEN", "q", "a", "p")[1]["content"]
    assert "correctness of generative outputs for question-answer pairs" in messages("GEN", "q", "a", "p")[0]["content"]
    assert "factual accuracy" in messages("CI", "q", "a", "p")[0]["content"]
    assert "detail orientation" in messages("DO", "q", "a", "p")[0]["content"]
    assert "contextual understanding" in messages("CU", "q", "a", "p")[0]["content"]
