"""The CELL accumulators of metrics.json: one cell per table row (overall, or one breakdown entry).

Multiple choice: ``{"accuracy", "correct", "total", "invalid"}``; judged (open-ended):
``{"accuracy", "yes", "no", "score", "CI", "DO", "CU", "judged", "unjudged", "total"}``.
Accuracies are percentages in [0, 100] (``UNITS``, written into metrics.json, the same unit the
markdown, the report and the plots show), ``None`` when nothing was counted (never a misleading 0).
``tally`` fills the overall cell and every breakdown cell from one pass over the records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

JUDGE_METRICS = ("GEN", "CI", "DO", "CU")  # the Video-ChatGPT metrics the reference runs
UNKNOWN = "unknown"  # the breakdown entry of a record that lacks the breakdown's field
UNITS = {"accuracy": "percent", "score": "mean judge score, 0-5 (also CI, DO, CU)"}


def percent(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


@dataclass
class ChoiceCell:
    """Multiple choice: an invalid answer (no letter, unmatched, out of range) is wrong and counted."""

    correct: int = 0
    total: int = 0
    invalid: int = 0

    def add(self, correct: bool, invalid: bool) -> None:
        self.total += 1
        self.correct += bool(correct)
        self.invalid += bool(invalid)

    def as_dict(self) -> dict[str, Any]:
        return {"accuracy": percent(self.correct, self.total), "correct": self.correct, "total": self.total, "invalid": self.invalid}


@dataclass
class JudgedCell:
    """Open-ended: GEN yes/no and the mean 0–5 score of each judge metric.

    ``add`` takes one question's usable judgments ``{metric: (pred, score)}`` (pred only for GEN)
    and whether every judge metric of the run was usable for it (then the question is "judged").
    Accuracy and each mean use exactly the usable judgments of that metric.
    """

    total: int = 0
    judged: int = 0
    yes: int = 0
    no: int = 0
    sums: dict[str, float] = field(default_factory=lambda: {m: 0.0 for m in JUDGE_METRICS})
    counts: dict[str, int] = field(default_factory=lambda: {m: 0 for m in JUDGE_METRICS})

    def add(self, usable: Mapping[str, tuple[str | None, float]], complete: bool) -> None:
        self.total += 1
        self.judged += bool(complete)
        for metric, (pred, score) in usable.items():
            self.sums[metric] += score
            self.counts[metric] += 1
            if metric == "GEN":
                self.yes += pred == "yes"
                self.no += pred == "no"

    def _mean(self, metric: str) -> float | None:
        return self.sums[metric] / self.counts[metric] if self.counts[metric] else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "accuracy": percent(self.yes, self.yes + self.no),
            "yes": self.yes,
            "no": self.no,
            "score": self._mean("GEN"),
            "CI": self._mean("CI"),
            "DO": self._mean("DO"),
            "CU": self._mean("CU"),
            "judged": self.judged,
            "unjudged": self.total - self.judged,
            "total": self.total,
        }


Cell = TypeVar("Cell", ChoiceCell, JudgedCell)
Item = TypeVar("Item")


@dataclass
class Breakdown(Generic[Item]):
    """One breakdown ("type", "duration", ...): the record's entry name, and the preferred entry order."""

    key: Callable[[Item], str | None]
    order: Sequence[str] = ()


def tally(
    items: Iterable[Item],
    new_cell: Callable[[], Cell],
    add: Callable[[Cell, Item], None],
    breakdowns: Mapping[str, Breakdown[Item]],
) -> tuple[Cell, dict[str, dict[str, Cell]]]:
    """The overall cell and, per breakdown, one cell per entry, every item counted once in each.

    A breakdown whose key is ``None`` for every item is dropped (it does not apply to this run);
    otherwise an item without a value goes to ``"unknown"`` so that entries still add up to overall.
    Entries come in the breakdown's preferred order, then alphabetically.
    """
    items = list(items)
    overall = new_cell()
    for item in items:
        add(overall, item)
    tables: dict[str, dict[str, Cell]] = {}
    for name, breakdown in breakdowns.items():
        keys = [breakdown.key(item) for item in items]
        if all(key is None for key in keys):
            continue
        cells: dict[str, Cell] = {}
        for item, key in zip(items, keys):
            add(cells.setdefault(UNKNOWN if key is None else key, new_cell()), item)
        known = [entry for entry in breakdown.order if entry in cells]
        rest = sorted(entry for entry in cells if entry not in breakdown.order)
        tables[name] = {entry: cells[entry] for entry in (*known, *rest)}
    return overall, tables


def as_dicts(overall: Cell, tables: Mapping[str, Mapping[str, Cell]]) -> dict[str, Any]:
    return {
        "overall": overall.as_dict(),
        "breakdowns": {name: {entry: cell.as_dict() for entry, cell in cells.items()} for name, cells in tables.items()},
    }
