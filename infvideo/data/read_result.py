"""What every reader returns, and the policy for annotation rows it cannot read.

``on_error="raise"`` (the default) stops at the first bad row with ``MalformedRow``, whose message
names the file and the row. ``on_error="skip"`` keeps going: the bad row is left out and described
in ``ReadResult.problems``, so a long batch run is not lost to one broken annotation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal, get_args

from infvideo.data.record import BadReaderOption, MalformedRow, QuestionRecord
from infvideo.data.unique_ids import check_unique_ids

OnError = Literal["raise", "skip"]


@dataclass(frozen=True)
class RowProblem:
    """One annotation row left out under ``on_error="skip"``."""

    source: str  # the annotation file
    row: str  # where in it, in that format's terms: "line 7", "[3] (q_uid=...)", "row index 4", "breakpoint[2]"
    reason: str

    def __str__(self) -> str:
        return f"{self.source}, {self.row}: {self.reason}"


@dataclass(frozen=True)
class ReadResult:
    """The records read, in file order (ids unique), and the rows left out (empty unless skipping)."""

    records: list[QuestionRecord]
    problems: list[RowProblem] = field(default_factory=list)

    @classmethod
    def checked(cls, records: list[QuestionRecord], problems: list[RowProblem], source: str) -> "ReadResult":
        """The result, after making sure no two records share an id (``DuplicateIdError`` otherwise)."""
        check_unique_ids(records, source)
        return cls(records, problems)


class ProblemLog:
    """Applies the ``on_error`` policy to each bad row a reader meets."""

    def __init__(self, on_error: OnError) -> None:
        if on_error not in get_args(OnError):
            raise BadReaderOption(f"on_error must be one of {', '.join(map(repr, get_args(OnError)))}, "
                                  f"got {on_error!r}")
        self.on_error = on_error
        self.problems: list[RowProblem] = []

    def report(self, source: str | os.PathLike[str], row: str, reason: str) -> None:
        problem = RowProblem(os.fspath(source), row, reason)
        if self.on_error == "raise":
            raise MalformedRow(str(problem))
        self.problems.append(problem)
