"""Multiple-choice accuracy from records and per-question verdicts, broken down as a task says.

A task's ``ChoiceMetrics`` (infvideo/eval/tasks.py) is data: the record fields to break accuracy down by
(``"question_type"``, ``"extra.duration"``, ...), each with its preferred order and renames, and the
headline (overall accuracy, or the mean of one breakdown's accuracies, as MLVU reports M-Avg).
``choice_metrics`` takes the task, the questions to score and ``letters`` = ``{question id: "A".."E" |
None}`` (from ``matches.jsonl``), or ``verdicts`` = ``{question id: Verdict}`` made by another rule (the
reference scripts' checks of VideoChat2's answer text, ``reference_rules``), and returns
``{"protocol", "overall", "breakdowns"}`` (see cells.py), plus ``"headline"`` when it is not overall.

Denominators follow the reference's ``run_eval.py``: a question without a usable answer is wrong
and stays in the denominator. With letters, "without a usable answer" (invalid) means any of: the
matcher gave None (error line, empty answer), the letter is outside the question's options ("E" on a
four-option question), or the id is missing from ``letters`` altogether (counted again in
``protocol["missing"]``: a question the run never predicted, since ``score_run`` refuses a
matches.jsonl that does not cover the predictions).

Breakdowns use the same rule as the overall number, so they add up to overall -- except that
``accuracy_over="valid"`` divides each breakdown marked ``reference_over_valid`` by its valid answers
only, as the reference's Video-MME scoring does per duration (infty-Video-LLaMA/eval_code/validate/
run_eval.py, ``eval_qa_videomme``, lines 40-46; its overall number divides by every question).
Reference scoring of a Video-LLaMA run asks for it; the default keeps breakdowns consistent with overall.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from infvideo.data.record import OPTION_LETTERS, QuestionRecord
from infvideo.errors import UserError

from .cells import Breakdown, ChoiceCell, as_dicts, percent, tally

if TYPE_CHECKING:
    from ..tasks import Task

Letters = Mapping[str, "str | None"]

ACCURACY_OVER = {"all": "all questions", "valid": "valid answers"}  # choice_metrics' accuracy_over

# A question that got no usable letter, in a submission of option indices; the reference's run_eval.py
# uses the same marker (prediction == -1: invalid, still in the denominator). A server finds it wrong.
INVALID_OPTION_INDEX = -1


@dataclass(frozen=True)
class ChoiceBreakdown:
    """One way to break a task's accuracy down: ``field`` is a record attribute (``"question_type"``)
    or an ``extra`` key (``"extra.duration"``); its value, after ``rename``, names the entry."""

    name: str  # the breakdown's key in metrics.json ("type", "duration", ...)
    field: str
    # preferred entry order; other entries follow alphabetically. Entries are the field's values, text or not
    # (LongVideoBench's duration groups are ints); metrics.json writes their keys as text
    order: Sequence[Hashable] = ()
    rename: Mapping[str, str] = field(default_factory=dict)  # value -> entry (NExT-QA's TP counted as TN)
    strict: bool = False  # a value outside ``order`` and ``rename`` is a UserError before anything is counted
    reference_over_valid: bool = False  # the reference divides this breakdown by valid answers only

    def value(self, record: QuestionRecord) -> Any:
        if self.field.startswith("extra."):
            return record.extra.get(self.field.removeprefix("extra."))
        return getattr(record, self.field)

    def entry(self, record: QuestionRecord) -> str | None:
        value = self.value(record)
        return self.rename.get(value, value) if isinstance(value, str) else value

    def check(self, record: QuestionRecord, task_title: str) -> None:
        value = self.value(record)
        if self.strict and value not in self.order and value not in self.rename:
            renamed = f" or {', '.join(self.rename)}" if self.rename else ""
            raise UserError(
                f"{task_title} question {record.id!r} has {self.name} {value!r}; expected one of {', '.join(map(str, self.order))}{renamed}"
            )


@dataclass(frozen=True)
class ChoiceMetrics:
    """How a multiple-choice task is counted."""

    breakdowns: Sequence[ChoiceBreakdown] = ()
    # None: the headline is overall accuracy; else the name of a breakdown whose entries' accuracies are
    # averaged (MLVU's M-Avg: the mean of its per-task accuracies), reported as ``headline_name``
    headline_mean_of: str | None = None
    headline_name: str = "mean accuracy"
    # questions without an answer in the annotations are left out (a server scores them) instead of refused
    answered_only: bool = False


@dataclass(frozen=True)
class Submission:
    """A file ``score`` writes for the benchmark's own server."""

    file: str
    build: Callable[[Sequence[QuestionRecord], Letters], dict[str, Any]]


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


def _choice_metrics(
    task: Task, records: Sequence[QuestionRecord], letters: Letters | None, verdicts: Verdicts | None, valid_only: Sequence[str]
) -> dict[str, Any]:
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

    breakdowns = {spec.name: Breakdown(spec.entry, spec.order) for spec in task.metrics.breakdowns}
    overall, tables = tally(records, ChoiceCell, add, breakdowns)
    metrics = {"protocol": protocol, **as_dicts(overall, tables)}
    for name in valid_only:
        for entry in metrics["breakdowns"].get(name, {}).values():
            entry["accuracy"] = percent(entry["correct"], entry["total"] - entry["invalid"])
    return metrics


def _headline(spec: ChoiceMetrics, metrics: Mapping[str, Any]) -> dict[str, Any]:
    accuracies = [
        cell["accuracy"] for cell in metrics["breakdowns"].get(spec.headline_mean_of, {}).values() if cell["accuracy"] is not None
    ]
    return {
        "name": spec.headline_name,
        "mean_of": spec.headline_mean_of,
        "accuracy": sum(accuracies) / len(accuracies) if accuracies else None,
    }


def choice_metrics(
    task: Task, records: Sequence[QuestionRecord], letters: Letters | None, *, verdicts: Verdicts | None = None, accuracy_over: str = "all"
) -> dict[str, Any]:
    """Overall and, where the annotations give them, the task's breakdowns (a breakdown no record has a
    value for is left out). ``accuracy_over``: "all" (every question of the entry, like overall) or
    "valid" (its valid answers only, for the breakdowns marked ``reference_over_valid``; see the module
    docstring). With ``answered_only`` (EgoSchema) accuracy is over the questions that have an answer:
    a full-set run has none, overall total 0 and accuracy None, and its score comes from the server
    (``Submission``); the unanswered questions are counted in ``protocol["unanswered_in_annotations"]``."""
    spec = task.metrics
    if accuracy_over not in ACCURACY_OVER:
        raise ValueError(f"accuracy_over={accuracy_over!r}; expected one of {', '.join(ACCURACY_OVER)}")
    for record in records:  # a value the task does not know is an error before anything is counted
        for breakdown in spec.breakdowns:
            breakdown.check(record, task.title)
    flagged = [breakdown.name for breakdown in spec.breakdowns if breakdown.reference_over_valid]
    scored = [record for record in records if record.answer is not None] if spec.answered_only else records
    metrics = _choice_metrics(task, scored, letters, verdicts, valid_only=flagged if accuracy_over == "valid" else ())
    if spec.answered_only:
        if verdicts is None:  # the letter counts cover every question: on the full set they are what the submission holds
            metrics["protocol"] = _protocol(records, letters or {})
        metrics["protocol"]["unanswered_in_annotations"] = len(records) - len(scored)
    for name in flagged:
        metrics["protocol"][f"{name}_accuracy_over"] = ACCURACY_OVER[accuracy_over]
    if spec.headline_mean_of is not None:
        metrics["headline"] = _headline(spec, metrics)
    return metrics


def option_index_submission(records: Sequence[QuestionRecord], letters: Letters) -> dict[str, int]:
    """``{question id: option index}`` for every question, the payload the EgoSchema server expects
    (the reference had no converter from its predictions to it). A question without a usable
    letter gets ``INVALID_OPTION_INDEX`` (-1), which the server can only count as wrong."""
    submission = {}
    for record in records:
        letter = usable_letter(record, letters.get(record.id))
        submission[record.id] = INVALID_OPTION_INDEX if letter is None else OPTION_LETTERS.index(letter)
    return submission
