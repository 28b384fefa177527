"""Multiple-choice accuracy (NExT-QA, EgoSchema, Video-MME) from records and matched letters.

Every function takes the questions to score and ``letters`` = ``{question id: "A".."E" | None}``
(from ``matches.jsonl``) and returns ``{"protocol", "overall", "breakdowns"}`` (see cells.py).

Denominators follow the reference's ``run_eval.py``: a question without a usable letter is wrong
and stays in the denominator. "Without a usable letter" means any of: the matcher gave None (error
line, empty answer), the letter is outside the question's options ("E" on a four-option question),
or the id is missing from ``letters`` altogether (counted again in ``protocol["missing"]``: a
question the run never predicted, since ``score_run`` refuses a matches.jsonl that does not cover
the predictions). Unlike the reference's Video-MME script, whose per-duration accuracy divided by
the valid answers only, every breakdown here uses the same rule as the overall number, so
breakdowns add up to overall.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from infvideo.data.record import QuestionRecord
from infvideo.errors import UserError

from .cells import Breakdown, ChoiceCell, as_dicts, tally

LETTERS = "ABCDEFGH"
Letters = Mapping[str, "str | None"]

# NExT-QA question types in the paper's column order; TP (previous) is merged into TN (next) as in
# the official eval_mc.py the reference adapted. The group is the type's first letter:
# C(ausal) = CW+CH, T(emporal) = TN+TP+TC, D(escriptive) = DC+DL+DO.
NEXTQA_TYPES = ("CW", "CH", "TN", "TC", "DC", "DL", "DO")
NEXTQA_MERGED = {"TP": "TN"}
NEXTQA_GROUPS = ("C", "T", "D")
DURATIONS = ("short", "medium", "long")  # Video-MME's duration categories, shortest first

# An EgoSchema question that got no usable letter; the reference's run_eval.py uses the same marker
# (prediction == -1: invalid, still in the denominator). The server simply finds it wrong.
EGOSCHEMA_INVALID = -1


def usable_letter(record: QuestionRecord, letter: Any) -> str | None:
    """The letter if it names one of the record's options, else None (invalid)."""
    if isinstance(letter, str) and letter in LETTERS[: len(record.options)]:
        return letter
    return None


def _protocol(records: Sequence[QuestionRecord], letters: Letters) -> dict[str, Any]:
    missing = sum(record.id not in letters for record in records)
    given = [record for record in records if letters.get(record.id) is not None]
    out_of_range = sum(usable_letter(record, letters[record.id]) is None for record in given)
    no_letter = len(records) - missing - len(given)
    return {"questions": len(records), "missing": missing, "no_letter": no_letter, "out_of_range": out_of_range}


def _choice_metrics(records: Sequence[QuestionRecord], letters: Letters, breakdowns: Mapping[str, Breakdown]) -> dict[str, Any]:
    for record in records:
        if record.answer is None:
            raise UserError(f"question {record.id!r} ({record.dataset}) has no answer in the annotations; it cannot be scored")

    def add(cell: ChoiceCell, record: QuestionRecord) -> None:
        letter = usable_letter(record, letters.get(record.id))
        cell.add(correct=letter is not None and letter == record.answer_letter, invalid=letter is None)

    overall, tables = tally(records, ChoiceCell, add, breakdowns)
    return {"protocol": _protocol(records, letters), **as_dicts(overall, tables)}


def nextqa_type(record: QuestionRecord) -> str:
    qtype = NEXTQA_MERGED.get(record.question_type or "", record.question_type)
    if qtype not in NEXTQA_TYPES:
        raise UserError(f"NExT-QA question {record.id!r} has type {record.question_type!r}; expected one of {', '.join(NEXTQA_TYPES)} or TP")
    return qtype


def nextqa_metrics(records: Sequence[QuestionRecord], letters: Letters) -> dict[str, Any]:
    """Overall, per type (TP counted as TN) and per group (C, T, D). NExT-QA always has answers."""
    for record in records:
        nextqa_type(record)  # an unknown type is an error before anything is counted
    return _choice_metrics(records, letters, {
        "type": Breakdown(nextqa_type, NEXTQA_TYPES),
        "group": Breakdown(lambda record: nextqa_type(record)[0], NEXTQA_GROUPS),
    })


def egoschema_metrics(records: Sequence[QuestionRecord], letters: Letters) -> dict[str, Any]:
    """Accuracy over the questions that have an answer (the public 500-question subset).

    A full-set run has no answers: overall total 0 and accuracy None, and the score comes from the
    EgoSchema server (``egoschema_submission``). The unanswered questions are counted in
    ``protocol["unanswered_in_annotations"]``.
    """
    answered = [record for record in records if record.answer is not None]
    metrics = _choice_metrics(answered, letters, {})
    # The letter counts cover every question: on the full set they are what the submission holds.
    metrics["protocol"] = {**_protocol(records, letters), "unanswered_in_annotations": len(records) - len(answered)}
    return metrics


def egoschema_submission(records: Sequence[QuestionRecord], letters: Letters) -> dict[str, int]:
    """``{q_uid: option index}`` for every question, the payload the EgoSchema server expects
    (the reference had no converter from its predictions to it). A question without a usable
    letter gets ``EGOSCHEMA_INVALID`` (-1), which the server can only count as wrong."""
    submission = {}
    for record in records:
        letter = usable_letter(record, letters.get(record.id))
        submission[record.id] = EGOSCHEMA_INVALID if letter is None else LETTERS.index(letter)
    return submission


def video_mme_metrics(records: Sequence[QuestionRecord], letters: Letters) -> dict[str, Any]:
    """Overall and, where the annotations give them, per duration, domain and task type."""
    return _choice_metrics(records, letters, {
        "duration": Breakdown(lambda record: record.extra.get("duration"), DURATIONS),
        "domain": Breakdown(lambda record: record.extra.get("domain")),
        "task": Breakdown(lambda record: record.question_type),
    })
