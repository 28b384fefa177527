"""metrics.json -> a markdown table (metrics.md, and what ``infvideo score`` prints).

One row for overall and one per breakdown entry ("type: CW"); accuracy in percent (as stored in
metrics.json) with one decimal, judge scores (0–5) with two, counts as integers, "–" where there is nothing to show.
The columns follow the cell kind: judged cells carry "yes", multiple-choice cells "correct".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DASH = "–"
CHOICE_COLUMNS = (("accuracy (%)", "accuracy"), ("correct", "correct"), ("invalid", "invalid"), ("total", "total"))
JUDGED_COLUMNS = (
    ("accuracy (%)", "accuracy"),
    ("score", "score"),
    ("CI", "CI"),
    ("DO", "DO"),
    ("CU", "CU"),
    ("yes", "yes"),
    ("no", "no"),
    ("judged", "judged"),
    ("unjudged", "unjudged"),
    ("total", "total"),
)
SCORES = {"score", "CI", "DO", "CU"}
ACCURACY_OVER_SUFFIX = "_accuracy_over"  # choice_metrics' protocol key of a breakdown divided by valid answers


def _format(key: str, value: Any) -> str:
    if value is None:
        return DASH
    if key == "accuracy":
        return f"{value:.1f}"
    if key in SCORES:
        return f"{value:.2f}"
    return str(value)


def _protocol_line(protocol: Mapping[str, Any], judged: bool) -> str:
    if judged:
        return (
            f"protocol: judge scores {'truncated with int()' if protocol.get('judge_score') == 'truncate' else 'as the judge gave them'}."
        )
    if "verdicts_from" in protocol:
        return "protocol: reference scoring -- each answer's text checked as the reference's script does."
    matcher = protocol.get("matcher")
    how = "no letter from embeddings" if matcher is None else f"embedding matcher {matcher}"
    if protocol.get("match_first_four") is True:
        how += " over options A-D"
    return f"protocol: {protocol.get('scoring')} scoring, letters from matches.jsonl ({how})."


def metrics_markdown(metrics: Mapping[str, Any]) -> str:
    overall = metrics["overall"]
    columns = JUDGED_COLUMNS if "yes" in overall else CHOICE_COLUMNS
    rows = [("overall", overall)]
    for breakdown, cells in metrics.get("breakdowns", {}).items():
        rows += [(f"{breakdown}: {entry}", cell) for entry, cell in cells.items()]
    lines = ["| questions | " + " | ".join(title for title, _ in columns) + " |", "|---|" + "---:|" * len(columns)]
    for name, cell in rows:
        lines.append(f"| {name} | " + " | ".join(_format(key, cell.get(key)) for _, key in columns) + " |")
    lines += ["", "Accuracy in percent (0–100)" + ("; judge scores 0–5." if "yes" in overall else ".")]
    protocol = metrics.get("protocol", {})
    if "scoring" in protocol:  # written by score_run; pure metric functions leave it to their caller
        lines.append(_protocol_line(protocol, judged="yes" in overall))
    for key, over in protocol.items():  # a breakdown the reference divides by valid answers (Video-MME's duration)
        if key.endswith(ACCURACY_OVER_SUFFIX) and over == "valid answers":
            name = key.removesuffix(ACCURACY_OVER_SUFFIX)
            lines.append(
                f"{name} rows: accuracy over each {name}'s valid answers only, as the reference's run_eval.py; "
                "overall is over every question."
            )
    if "headline" in metrics:
        headline = metrics["headline"]
        lines.append(
            f"headline: {headline['name']} = {_format('accuracy', headline['accuracy'])}, the mean of the {headline['mean_of']} accuracies."
        )
    if protocol.get("partial"):
        lines.append(
            f"partial: {protocol['predicted']} of {protocol['questions']} questions predicted; "
            f"the {protocol['not_predicted']} missing count as wrong."
        )
    if protocol.get("limited"):
        lines.append(
            f"limited: data.limit={protocol['limit']}, {protocol['questions']} of {protocol['questions_in_annotations']} annotated questions."
        )
    return "\n".join(lines) + "\n"
