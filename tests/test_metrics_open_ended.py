"""Judged metrics on hand-made judgments whose results are counted by hand below."""

import pytest

from infvideo.data.record import QuestionRecord
from infvideo.eval.judge.batch import NO_PREDICTION
from infvideo.eval.metrics.open_ended import judged_metrics
from infvideo.eval.metrics.tables import metrics_markdown


def movie(qid, mode):
    return QuestionRecord(id=qid, dataset="moviechat", video_id="m", video_path="m.mp4", question="?", answer_text="ref", mode=mode)


def line(qid, metric, score, pred=None, error=None):
    return {
        "id": qid,
        "metric": metric,
        "pred": pred,
        "score": score,
        "raw": None,
        "error": error,
        "model": "gpt-3.5-turbo",
        "prompt_tokens": 10,
        "completion_tokens": 3,
        "cached": False,
        "attempts": 1,
    }


def scored(qid, gen, pred, ci, do, cu):
    return [line(qid, "GEN", gen, pred), line(qid, "CI", ci), line(qid, "DO", do), line(qid, "CU", cu)]


RECORDS = [
    movie("g0", "global"),
    movie("g1", "global"),
    movie("g2", "global"),
    movie("g3", "global"),
    movie("b0", "breakpoint"),
    movie("b1", "breakpoint"),
]
JUDGMENTS = [
    *scored("g0", 4.5, "yes", 4, 3, 5),  # a float score is kept as it is
    *scored("g1", 1, "no", 2, 2, 1),
    line("g2", "GEN", 5, "yes"),
    line("g2", "CI", None, error="JudgeReplyError: no score"),
    line("g2", "DO", 4),
    line("g2", "CU", 4),
    *(line("g3", m, None, error=NO_PREDICTION) for m in ("GEN", "CI", "DO", "CU")),
    *scored("b0", 2.5, "no", 3, 3, 3),
    line("b1", "CI", 7.5),
    line("b1", "DO", 1),
    line("b1", "CU", 2),  # GEN missing; CI out of [0, 5]
    line("zzz", "GEN", 5, "yes"),  # a question not in the records
]


def test_overall_counts_usable_judgments_and_an_unanswered_question_as_wrong():
    metrics = judged_metrics(RECORDS, JUDGMENTS)
    assert metrics["overall"] == {
        "accuracy": 100 * 2 / 5,
        "yes": 2,
        "no": 3,  # g3 had no prediction: a "no" with score 0
        "score": (4.5 + 1 + 5 + 2.5 + 0) / 5,  # 2.6
        "CI": (4 + 2 + 3 + 0) / 4,  # g2 judge error, b1 malformed: left out
        "DO": (3 + 2 + 4 + 3 + 1 + 0) / 6,
        "CU": (5 + 1 + 4 + 3 + 2 + 0) / 6,
        "judged": 4,
        "unjudged": 2,
        "total": 6,  # judged = g0, g1, g3, b0 (every metric counted)
    }


def test_mode_breakdown_global_and_breakpoint():
    modes = judged_metrics(RECORDS, JUDGMENTS)["breakdowns"]
    assert list(modes) == ["mode"]
    assert modes["mode"]["global"] == {
        "accuracy": 100 * 2 / 4,
        "yes": 2,
        "no": 2,
        "score": (4.5 + 1 + 5 + 0) / 4,
        "CI": 2.0,
        "DO": 9 / 4,
        "CU": 10 / 4,
        "judged": 3,
        "unjudged": 1,
        "total": 4,
    }
    assert modes["mode"]["breakpoint"] == {
        "accuracy": 0.0,
        "yes": 0,
        "no": 1,
        "score": 2.5,
        "CI": 3.0,
        "DO": 2.0,
        "CU": 2.5,
        "judged": 1,
        "unjudged": 1,
        "total": 2,
    }


def test_protocol_says_why_each_judgment_was_left_out():
    protocol = judged_metrics(RECORDS, JUDGMENTS)["protocol"]
    assert protocol["metrics"] == ["GEN", "CI", "DO", "CU"]
    assert protocol["per_metric"] == {
        "GEN": {"judged": 4, "errors": 0, "no_prediction": 1, "not_predicted": 0, "malformed": 0, "missing": 1},
        "CI": {"judged": 3, "errors": 1, "no_prediction": 1, "not_predicted": 0, "malformed": 1, "missing": 0},
        "DO": {"judged": 5, "errors": 0, "no_prediction": 1, "not_predicted": 0, "malformed": 0, "missing": 0},
        "CU": {"judged": 5, "errors": 0, "no_prediction": 1, "not_predicted": 0, "malformed": 0, "missing": 0},
    }
    assert protocol["judgments_without_question"] == 1 and protocol["questions"] == 6


def test_a_gen_only_run_is_not_unjudged_on_the_other_metrics():
    records = [movie("g0", "global"), movie("g1", "global")]
    metrics = judged_metrics(records, [line("g0", "GEN", 3, "yes"), line("g1", "GEN", 0, "no")])
    assert metrics["overall"] == {
        "accuracy": 50.0,
        "yes": 1,
        "no": 1,
        "score": 1.5,
        "CI": None,
        "DO": None,
        "CU": None,
        "judged": 2,
        "unjudged": 0,
        "total": 2,
    }
    assert metrics["protocol"]["metrics"] == ["GEN"]


def test_a_gen_pred_other_than_yes_or_no_is_malformed():
    metrics = judged_metrics([movie("g0", "global")], [line("g0", "GEN", 3, "maybe")])
    assert metrics["overall"]["accuracy"] is None and metrics["overall"]["score"] is None and metrics["overall"]["unjudged"] == 1
    assert metrics["protocol"]["per_metric"]["GEN"]["malformed"] == 1


def test_nextoe_type_breakdown():
    def nextoe(qid, qtype):
        return QuestionRecord(
            id=qid, dataset="nextoe", video_id="v", video_path="v.mp4", question="?", answer_text="ref", question_type=qtype
        )

    records = [nextoe("a", "CW"), nextoe("b", "CW"), nextoe("c", "TN")]
    metrics = judged_metrics(records, [line("a", "GEN", 4, "yes"), line("b", "GEN", 1, "no"), line("c", "GEN", 5, "yes")])
    assert list(metrics["breakdowns"]) == ["type"]
    assert metrics["breakdowns"]["type"]["CW"]["accuracy"] == 50.0 and metrics["breakdowns"]["type"]["CW"]["score"] == 2.5
    assert metrics["breakdowns"]["type"]["TN"]["accuracy"] == 100.0


def test_repeated_or_unknown_judgments_are_errors():
    with pytest.raises(ValueError, match="two judgments for question 'g0', metric GEN"):
        judged_metrics([movie("g0", "global")], [line("g0", "GEN", 3, "yes"), line("g0", "GEN", 4, "yes")])
    with pytest.raises(ValueError, match="metric 'TU'"):
        judged_metrics([movie("g0", "global")], [line("g0", "TU", 3)])


def test_no_judgments_at_all_leaves_every_question_unjudged():
    metrics = judged_metrics([movie("g0", "global")], [])
    assert metrics["overall"]["unjudged"] == 1 and metrics["overall"]["accuracy"] is None
    assert metrics["protocol"]["per_metric"]["CU"]["missing"] == 1


def test_markdown_rows_with_percent_and_two_decimal_scores():
    lines = metrics_markdown(judged_metrics(RECORDS, JUDGMENTS)).splitlines()
    assert lines[0] == "| questions | accuracy (%) | score | CI | DO | CU | yes | no | judged | unjudged | total |"
    assert "| overall | 40.0 | 2.60 | 2.25 | 2.17 | 2.50 | 2 | 3 | 4 | 2 | 6 |" in lines
    assert f"| mode: global | 50.0 | {10.5 / 4:.2f} | 2.00 | 2.25 | 2.50 | 2 | 2 | 3 | 1 | 4 |" in lines
    assert "| mode: breakpoint | 0.0 | 2.50 | 3.00 | 2.00 | 2.50 | 0 | 1 | 1 | 1 | 2 |" in lines


def test_a_question_never_predicted_is_wrong_in_every_metric_even_without_judgment_lines():
    records = [movie("g0", "global"), movie("g1", "global")]
    metrics = judged_metrics(records, [*scored("g0", 4, "yes", 3, 3, 3)], not_predicted={"g1"})
    # g1: "no" with score 0 in every metric, so each mean is over both questions
    assert metrics["overall"] == {
        "accuracy": 50.0,
        "yes": 1,
        "no": 1,
        "score": 2.0,
        "CI": 1.5,
        "DO": 1.5,
        "CU": 1.5,
        "judged": 2,
        "unjudged": 0,
        "total": 2,
    }
    assert metrics["protocol"]["per_metric"]["GEN"]["not_predicted"] == 1 and metrics["protocol"]["per_metric"]["GEN"]["missing"] == 0
