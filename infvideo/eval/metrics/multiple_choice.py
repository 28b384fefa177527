"""Multiple-choice accuracy (NExT-QA, EgoSchema, Video-MME) from records and per-question verdicts.

Every function takes the questions to score and ``letters`` = ``{question id: "A".."E" | None}``
(from ``matches.jsonl``), or ``verdicts`` = ``{question id: Verdict}`` made by another rule (the
reference scripts' checks of VideoChat2's answer text, ``reference_rules``), and returns
``{"protocol", "overall", "breakdowns"}`` (see cells.py).

Denominators follow the reference's ``run_eval.py``: a question without a usable answer is wrong
and stays in the denominator. With letters, "without a usable answer" (invalid) means any of: the
matcher gave None (error line, empty answer), the letter is outside the question's options ("E" on a
four-option question), or the id is missing from ``letters`` altogether (counted again in
``protocol["missing"]``: a question the run never predicted, since ``score_run`` refuses a
matches.jsonl that does not cover the predictions).

Breakdowns use the same rule as the overall number, so they add up to overall -- except that
``video_mme_metrics(..., duration_over="valid")`` divides each duration by its valid answers only,
as the reference's Video-MME scoring does (infty-Video-LLaMA/eval_code/validate/run_eval.py,
``eval_qa_videomme``, lines 40-46; its overall number divides by every question). Reference scoring
of a Video-LLaMA run asks for it; the default keeps durations consistent with overall.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from infvideo.data.record import OPTION_LETTERS, QuestionRecord
from infvideo.errors import UserError

from .cells import Breakdown, ChoiceCell, as_dicts, percent, tally

Letters = Mapping[str, "str | None"]

# NExT-QA question types in the paper's column order; TP (previous) is merged into TN (next) as in
# the official eval_mc.py the reference adapted. The group is the type's first letter:
# C(ausal) = CW+CH, T(emporal) = TN+TP+TC, D(escriptive) = DC+DL+DO.
NEXTQA_TYPES = ("CW", "CH", "TN", "TC", "DC", "DL", "DO")
NEXTQA_MERGED = {"TP": "TN"}
NEXTQA_GROUPS = ("C", "T", "D")
DURATIONS = ("short", "medium", "long")  # Video-MME's duration categories, shortest first

DURATION_OVER = {"all": "all questions", "valid": "valid answers"}  # video_mme_metrics' duration_over

# An EgoSchema question that got no usable letter; the reference's run_eval.py uses the same marker
# (prediction == -1: invalid, still in the denominator). The server simply finds it wrong.
EGOSCHEMA_INVALID = -1


@dataclass(frozen=True)
class Verdict:
    """One question's outcome: right or not, and whether it had a usable answer at all (an invalid
    answer is wrong; it is counted in the cells' ``invalid`` and left out of a valid-only denominator)."""

    correct: bool
    invalid: bool


Verdicts = Mapping[str, Verdict]


def usable_letter(record: QuestionRecord, letter: Any) -> str | None:
    """The letter if it names one of the record's options, else None (invalid)."""
    if isinstance(letter, str) and letter in record.option_letters:
        return letter
    return None


def letter_verdicts(records: Sequence[QuestionRecord], letters: Letters) -> dict[str, Verdict]:
    """The default rule: right when the usable letter is the answer's; no usable letter is invalid."""
    verdicts = {}
    for record in records:
        letter = usable_letter(record, letters.get(record.id))
        verdicts[record.id] = Verdict(correct=letter is not None and letter == record.answer_letter, invalid=letter is None)
    return verdicts


def _protocol(records: Sequence[QuestionRecord], letters: Letters) -> dict[str, Any]:
    missing = sum(record.id not in letters for record in records)
    given = [record for record in records if letters.get(record.id) is not None]
    out_of_range = sum(usable_letter(record, letters[record.id]) is None for record in given)
    no_letter = len(records) - missing - len(given)
    return {"questions": len(records), "missing": missing, "no_letter": no_letter, "out_of_range": out_of_range}


def _verdict_protocol(records: Sequence[QuestionRecord], verdicts: Verdicts) -> dict[str, Any]:
    """Counts for verdicts given directly: no letters to count, only the answers that were not usable."""
    invalid = sum(record.id not in verdicts or verdicts[record.id].invalid for record in records)
    return {"questions": len(records), "no_answer": invalid}


def _choice_metrics(records: Sequence[QuestionRecord], letters: Letters | None, breakdowns: Mapping[str, Breakdown],
                    verdicts: Verdicts | None = None, valid_only: Sequence[str] = ()) -> dict[str, Any]:
    """``valid_only``: the breakdowns whose accuracy divides by the valid answers only."""
    for record in records:
        if record.answer is None:
            raise UserError(f"question {record.id!r} ({record.dataset}) has no answer in the annotations; it cannot be scored")
    if verdicts is None:
        protocol = _protocol(records, letters or {})
        verdicts = letter_verdicts(records, letters or {})
    else:
        protocol = _verdict_protocol(records, verdicts)
    unanswered = Verdict(correct=False, invalid=True)  # a question the verdicts do not cover was never answered

    def add(cell: ChoiceCell, record: QuestionRecord) -> None:
        verdict = verdicts.get(record.id, unanswered)
        cell.add(correct=verdict.correct, invalid=verdict.invalid)

    overall, tables = tally(records, ChoiceCell, add, breakdowns)
    metrics = {"protocol": protocol, **as_dicts(overall, tables)}
    for name in valid_only:
        for entry in metrics["breakdowns"].get(name, {}).values():
            entry["accuracy"] = percent(entry["correct"], entry["total"] - entry["invalid"])
    return metrics


def nextqa_type(record: QuestionRecord) -> str:
    qtype = NEXTQA_MERGED.get(record.question_type or "", record.question_type)
    if qtype not in NEXTQA_TYPES:
        raise UserError(f"NExT-QA question {record.id!r} has type {record.question_type!r}; expected one of {', '.join(NEXTQA_TYPES)} or TP")
    return qtype


def nextqa_metrics(records: Sequence[QuestionRecord], letters: Letters | None, *, verdicts: Verdicts | None = None) -> dict[str, Any]:
    """Overall, per type (TP counted as TN) and per group (C, T, D). NExT-QA always has answers."""
    for record in records:
        nextqa_type(record)  # an unknown type is an error before anything is counted
    return _choice_metrics(records, letters, {
        "type": Breakdown(nextqa_type, NEXTQA_TYPES),
        "group": Breakdown(lambda record: nextqa_type(record)[0], NEXTQA_GROUPS),
    }, verdicts)


def egoschema_metrics(records: Sequence[QuestionRecord], letters: Letters | None, *, verdicts: Verdicts | None = None) -> dict[str, Any]:
    """Accuracy over the questions that have an answer (the public 500-question subset).

    A full-set run has no answers: overall total 0 and accuracy None, and the score comes from the
    EgoSchema server (``egoschema_submission``). The unanswered questions are counted in
    ``protocol["unanswered_in_annotations"]``.
    """
    answered = [record for record in records if record.answer is not None]
    metrics = _choice_metrics(answered, letters, {}, verdicts)
    if verdicts is None:  # the letter counts cover every question: on the full set they are what the submission holds
        metrics["protocol"] = _protocol(records, letters or {})
    metrics["protocol"]["unanswered_in_annotations"] = len(records) - len(answered)
    return metrics


def egoschema_submission(records: Sequence[QuestionRecord], letters: Letters) -> dict[str, int]:
    """``{q_uid: option index}`` for every question, the payload the EgoSchema server expects
    (the reference had no converter from its predictions to it). A question without a usable
    letter gets ``EGOSCHEMA_INVALID`` (-1), which the server can only count as wrong."""
    submission = {}
    for record in records:
        letter = usable_letter(record, letters.get(record.id))
        submission[record.id] = EGOSCHEMA_INVALID if letter is None else OPTION_LETTERS.index(letter)
    return submission


def video_mme_metrics(records: Sequence[QuestionRecord], letters: Letters | None, *, verdicts: Verdicts | None = None,
                      duration_over: str = "all") -> dict[str, Any]:
    """Overall and, where the annotations give them, per duration, domain and task type.

    ``duration_over``: "all" (every question of the duration, like overall) or "valid" (its valid
    answers only, as the reference's run_eval.py; see the module docstring)."""
    if duration_over not in DURATION_OVER:
        raise ValueError(f"duration_over={duration_over!r}; expected one of {', '.join(DURATION_OVER)}")
    metrics = _choice_metrics(records, letters, {
        "duration": Breakdown(lambda record: record.extra.get("duration"), DURATIONS),
        "domain": Breakdown(lambda record: record.extra.get("domain")),
        "task": Breakdown(lambda record: record.question_type),
    }, verdicts, valid_only=("duration",) if duration_over == "valid" else ())
    metrics["protocol"]["duration_accuracy_over"] = DURATION_OVER[duration_over]
    return metrics
