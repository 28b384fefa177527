"""Judged metrics of open-ended benchmarks (MovieChat-1K, NExT-OE) from ``judgments.jsonl`` lines.

As in the reference's ``run_eval_qa_chatgpt.py``: GEN accuracy = yes / (yes + no), and each
metric's score is the mean over the judgments of that metric. Two kinds of gaps are told apart:

* the model gave no answer (a prediction error line or an empty answer: the judge stage writes
  "no prediction" without asking; or no prediction line at all, ``not_predicted``): counted as "no"
  with score 0 in every metric, as a wrong answer stays in the denominator of the multiple-choice
  benchmarks (the reference would have sent the empty answer to the judge);
* the judge failed (timeout, unparseable after its re-asks, malformed, absent): *unjudged*, left
  out of that metric's accuracy and mean -- a flaky judge must not move the numbers, and
  ``infvideo judge`` can fill these in later. They are counted in ``protocol["per_metric"]`` and a
  question with any unjudged metric in the cell's ``unjudged`` (``judged + unjudged = total``).

Scores are the judge's numbers as parsed (``judge_score="keep"``: a reply of 4.8 counts 4.8), or
truncated as the reference does (``"truncate"``: ``int(score)``, infty-Video-LLaMA/eval_code/validate/
run_eval_qa_chatgpt.py lines 203-205), applied here at score time so the same judgments.jsonl can be
scored either way without asking the judge again.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from infvideo.data.record import QuestionRecord
from infvideo.errors import UserError

from ..judge.batch import NO_PREDICTION  # the error of a line written without asking the judge
from ..validation import JUDGE_SCORES
from .cells import JUDGE_METRICS, Breakdown, JudgedCell, as_dicts, tally

MODES = ("global", "breakpoint")
SCORE_RANGE = (0.0, 5.0)  # the prompts ask for an integer 0–5


def _usable(line: Mapping[str, Any], judge_score: str = "keep") -> tuple[str | None, float] | None:
    """(pred, score) of a line that can be counted, else None (the judge's own parser refuses the
    same things, so a None here means the file was edited or written by something else)."""
    score = line.get("score")
    if line.get("error") is not None or isinstance(score, bool) or not isinstance(score, (int, float)):
        return None
    if not (math.isfinite(score) and SCORE_RANGE[0] <= score <= SCORE_RANGE[1]):
        return None
    pred = line.get("pred")
    if line.get("metric") == "GEN" and pred not in ("yes", "no"):
        return None
    # int() truncates towards zero, which on the 0-5 range is the floor: 4.8 -> 4, as the reference
    return (pred if line.get("metric") == "GEN" else None), float(int(score) if judge_score == "truncate" else score)


def index_judgments(judgments: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], Mapping[str, Any]]:
    """``{(question id, metric): line}``; a repeated pair or an unknown metric is an error."""
    indexed: dict[tuple[str, str], Mapping[str, Any]] = {}
    for line in judgments:
        key = (str(line.get("id")), line.get("metric"))
        if key[1] not in JUDGE_METRICS:
            raise UserError(f"judgment for question {key[0]!r} has metric {key[1]!r}; expected one of {', '.join(JUDGE_METRICS)}")
        if key in indexed:
            raise UserError(f"two judgments for question {key[0]!r}, metric {key[1]}; judgments.jsonl should hold one line per pair")
        indexed[key] = line
    return indexed


def judged_metrics(
    records: Sequence[QuestionRecord],
    judgments: Iterable[Mapping[str, Any]],
    not_predicted: Collection[str] = (),
    judge_score: str = "keep",
) -> dict[str, Any]:
    """``{"protocol", "overall", "breakdowns"}``; breakdowns "mode" (MovieChat-1K global or
    breakpoint) and "type" (NExT-OE question type) when the records carry them.

    The run's judge metrics are those present in ``judgments`` (all four when there are none), so a
    run judged on GEN alone is not reported as unjudged on CI/DO/CU. ``not_predicted``: ids of
    records the run has no prediction line for; wrong in every metric, whatever the judgments say.
    ``judge_score``: "keep" or "truncate" (see the module docstring).
    """
    if judge_score not in JUDGE_SCORES:
        raise ValueError(f"judge_score={judge_score!r}; expected one of {', '.join(JUDGE_SCORES)}")
    indexed = index_judgments(judgments)
    present = {metric for _, metric in indexed}
    metrics = tuple(m for m in JUDGE_METRICS if m in present) or JUDGE_METRICS
    per_metric = {m: {"judged": 0, "errors": 0, "no_prediction": 0, "not_predicted": 0, "malformed": 0, "missing": 0} for m in metrics}
    usable: dict[str, dict[str, tuple[str | None, float]]] = {}
    for record in records:
        usable[record.id] = {}
        for metric in metrics:
            line = indexed.get((record.id, metric))
            counts = per_metric[metric]
            if record.id in not_predicted:
                counts["not_predicted"] += 1
                usable[record.id][metric] = ("no" if metric == "GEN" else None), 0.0
            elif line is None:
                counts["missing"] += 1
            elif line.get("error") == NO_PREDICTION:
                counts["no_prediction"] += 1
                usable[record.id][metric] = ("no" if metric == "GEN" else None), 0.0  # no answer is a wrong answer
            elif line.get("error") is not None:
                counts["errors"] += 1
            elif (result := _usable(line, judge_score)) is None:
                counts["malformed"] += 1
            else:
                counts["judged"] += 1
                usable[record.id][metric] = result

    def add(cell: JudgedCell, record: QuestionRecord) -> None:
        cell.add(usable[record.id], complete=len(usable[record.id]) == len(metrics))

    overall, tables = tally(
        records,
        JudgedCell,
        add,
        {
            "mode": Breakdown(lambda record: record.mode, MODES),
            "type": Breakdown(lambda record: record.question_type),
        },
    )
    known = {record.id for record in records}
    protocol = {
        "questions": len(records),
        "metrics": list(metrics),
        "per_metric": per_metric,
        "judgments_without_question": sum(question not in known for question, _ in indexed),
    }
    return {"protocol": protocol, **as_dicts(overall, tables)}
