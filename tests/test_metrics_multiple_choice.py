"""Multiple-choice metrics on hand-made questions whose results are counted by hand below."""

import pytest

from infvideo.data.record import QuestionRecord
from infvideo.eval.metrics.multiple_choice import choice_metrics
from infvideo.eval.metrics.tables import metrics_markdown
from infvideo.eval.tasks import get_task


def nextqa_metrics(records, letters, **options):
    return choice_metrics(get_task("nextqa"), records, letters, **options)


def video_mme_metrics(records, letters, **options):
    return choice_metrics(get_task("video_mme"), records, letters, **options)


def egoschema_metrics(records, letters, **options):
    return choice_metrics(get_task("egoschema"), records, letters, **options)


egoschema_submission = get_task("egoschema").submission.build

FIVE = ("o0", "o1", "o2", "o3", "o4")
FOUR = ("A. o0", "B. o1", "C. o2", "D. o3")


def nextqa(qid, qtype, answer):
    return QuestionRecord(
        id=qid, dataset="nextqa", video_id="v", video_path="v.mp4", question="?", options=FIVE, answer=answer, question_type=qtype
    )


# id, type, answer index, matched letter ("-" = the id is absent from matches)
NEXTQA = [
    ("q1", "CW", 0, "A"),  # right
    ("q2", "CW", 1, "C"),  # wrong
    ("q3", "CW", 2, None),  # invalid: no letter
    ("q4", "CH", 3, "D"),  # right
    ("q5", "TN", 4, "E"),  # right (E is a valid fifth option)
    ("q6", "TN", 0, "B"),  # wrong
    ("q7", "TP", 1, "B"),  # right, counted under TN
    ("q8", "TC", 2, "-"),  # invalid: missing from matches
    ("q9", "DC", 0, "A"),  # right
    ("q10", "DO", 3, "F"),  # invalid: out of range
]


def nextqa_case():
    records = [nextqa(qid, qtype, answer) for qid, qtype, answer, _ in NEXTQA]
    letters = {qid: letter for qid, _, _, letter in NEXTQA if letter != "-"}
    letters["not-a-question"] = "A"  # ignored
    return records, letters


def cell(correct, total, invalid):
    return {"accuracy": 100 * correct / total, "correct": correct, "total": total, "invalid": invalid}


def test_nextqa_overall_types_and_groups():
    metrics = nextqa_metrics(*nextqa_case())
    assert metrics["overall"] == cell(5, 10, 3)
    assert metrics["breakdowns"]["type"] == {  # paper order; DL has no question and no row
        "CW": cell(1, 3, 1),
        "CH": cell(1, 1, 0),
        "TN": cell(2, 3, 0),
        "TC": cell(0, 1, 1),
        "DC": cell(1, 1, 0),
        "DO": cell(0, 1, 1),
    }
    assert list(metrics["breakdowns"]["type"]) == ["CW", "CH", "TN", "TC", "DC", "DO"]
    assert metrics["breakdowns"]["group"] == {"C": cell(2, 4, 1), "T": cell(2, 4, 1), "D": cell(1, 2, 1)}
    assert metrics["protocol"] == {"questions": 10, "missing": 1, "no_letter": 1, "out_of_range": 1}


def test_nextqa_refuses_questions_without_answer_or_with_an_unknown_type():
    with pytest.raises(ValueError, match="'q1'.*no answer"):
        nextqa_metrics([nextqa("q1", "CW", None)], {"q1": "A"})
    with pytest.raises(ValueError, match="'q1' has type 'XX'"):
        nextqa_metrics([nextqa("q1", "XX", 0)], {"q1": "A"})


def video_mme(qid, answer, duration, domain=None, task=None):
    extra = {"duration": duration} | ({"domain": domain} if domain else {})
    return QuestionRecord(
        id=qid,
        dataset="video_mme",
        video_id="001",
        video_path="001.mp4",
        question="?",
        options=FOUR,
        answer=answer,
        question_type=task,
        extra=extra,
    )


def test_video_mme_invalid_answers_stay_in_every_denominator():
    records = [
        video_mme("v5", 0, "long", "Knowledge", "OCR"),  # B: wrong
        video_mme("v6", 1, "long"),  # B: right; no domain, no task
        video_mme("v1", 0, "short", "Knowledge", "Counting"),  # A: right
        video_mme("v2", 1, "short", "Knowledge", "OCR"),  # None: invalid
        video_mme("v3", 2, "medium", "Sports", "Counting"),  # C: right
        video_mme("v4", 3, "medium", "Sports", "Counting"),  # E on four options: invalid
    ]
    letters = {"v1": "A", "v2": None, "v3": "C", "v4": "E", "v5": "B", "v6": "B"}
    metrics = video_mme_metrics(records, letters)
    assert metrics["overall"] == cell(3, 6, 2)
    # The reference divided per duration by the valid answers only (short would be 1/1).
    assert metrics["breakdowns"]["duration"] == {"short": cell(1, 2, 1), "medium": cell(1, 2, 1), "long": cell(1, 2, 0)}
    assert list(metrics["breakdowns"]["duration"]) == ["short", "medium", "long"]
    assert metrics["breakdowns"]["domain"] == {"Knowledge": cell(1, 3, 1), "Sports": cell(1, 2, 1), "unknown": cell(1, 1, 0)}
    assert metrics["breakdowns"]["task"] == {"Counting": cell(2, 3, 1), "OCR": cell(0, 2, 1), "unknown": cell(1, 1, 0)}
    for entries in metrics["breakdowns"].values():  # every breakdown adds up to overall
        assert sum(c["correct"] for c in entries.values()) == 3 and sum(c["total"] for c in entries.values()) == 6
    assert metrics["protocol"] == {
        "questions": 6,
        "missing": 0,
        "no_letter": 1,
        "out_of_range": 1,
        "duration_accuracy_over": "all questions",
    }


def test_video_mme_only_the_breakdowns_the_annotations_carry():
    metrics = video_mme_metrics([video_mme("v1", 0, "short"), video_mme("v2", 1, "long")], {"v1": "A"})
    assert list(metrics["breakdowns"]) == ["duration"]
    assert metrics["overall"] == cell(1, 2, 1)
    assert metrics["protocol"]["missing"] == 1


def egoschema(qid, answer):
    return QuestionRecord(id=qid, dataset="egoschema", video_id=qid, video_path=f"{qid}.mp4", question="?", options=FIVE, answer=answer)


def test_egoschema_subset_accuracy_and_submission():
    records = [egoschema("e1", 0), egoschema("e2", 4), egoschema("e3", 2), egoschema("e4", None), egoschema("e5", None)]
    letters = {"e1": "A", "e2": "E", "e3": None, "e4": "B"}  # e5 missing
    metrics = egoschema_metrics(records, letters)
    assert metrics["overall"] == cell(2, 3, 1)  # only the three answered questions
    assert metrics["breakdowns"] == {}
    assert metrics["protocol"] == {"questions": 5, "missing": 1, "no_letter": 1, "out_of_range": 0, "unanswered_in_annotations": 2}
    assert egoschema_submission(records, letters) == {"e1": 0, "e2": 4, "e3": -1, "e4": 1, "e5": -1}


def test_egoschema_full_set_has_no_accuracy_but_a_submission():
    records = [egoschema("e1", None), egoschema("e2", None)]
    metrics = egoschema_metrics(records, {"e1": "C", "e2": "Z"})
    assert metrics["overall"] == {"accuracy": None, "correct": 0, "total": 0, "invalid": 0}
    assert metrics["protocol"]["unanswered_in_annotations"] == 2 and metrics["protocol"]["out_of_range"] == 1
    assert egoschema_submission(records, {"e1": "C", "e2": "Z"}) == {"e1": 2, "e2": -1}
    assert "| overall | – | 0 | 0 | 0 |" in metrics_markdown(metrics)


def test_markdown_rows_and_percentages():
    text = metrics_markdown(nextqa_metrics(*nextqa_case()))
    lines = text.splitlines()
    assert lines[0] == "| questions | accuracy (%) | correct | invalid | total |"
    assert "| overall | 50.0 | 5 | 3 | 10 |" in lines
    assert "| type: CW | 33.3 | 1 | 1 | 3 |" in lines
    assert "| type: TN | 66.7 | 2 | 0 | 3 |" in lines
    assert "| type: TC | 0.0 | 0 | 1 | 1 |" in lines
    assert "| group: D | 50.0 | 1 | 1 | 2 |" in lines
    assert len([line for line in lines if line.startswith("|")]) == 2 + 1 + 6 + 3  # header, rule, overall, six types, three groups
    assert "Accuracy in percent (0–100)." in lines  # the unit metrics.json also states
