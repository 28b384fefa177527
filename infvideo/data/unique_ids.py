"""Question ids must be unique: they key predictions.jsonl, which resume and merge rely on."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from infvideo.data.record import QuestionRecord
from infvideo.errors import UserError

_NAMED_AT_MOST = 10  # a broken id scheme repeats thousands of ids; the first few say enough


class DuplicateIdError(UserError, ValueError):
    """Two or more records share an id. Raised even under ``on_error="skip"``: a repeated id means
    the id no longer identifies one question, and dropping either record would lose a real one."""

    def __init__(self, source: str, duplicates: dict[str, int]) -> None:
        self.duplicates = duplicates
        named = ", ".join(f"{qid!r} ({n}x)" for qid, n in list(duplicates.items())[:_NAMED_AT_MOST])
        more = len(duplicates) - _NAMED_AT_MOST
        tail = f" and {more} more" if more > 0 else ""
        super().__init__(f"{source}: {len(duplicates)} duplicate question id(s): {named}{tail}")


def check_unique_ids(records: Iterable[QuestionRecord], source: str) -> None:
    counts = Counter(record.id for record in records)
    duplicates = {qid: n for qid, n in counts.items() if n > 1}
    if duplicates:
        raise DuplicateIdError(source, duplicates)
