"""Pulling typed values out of one raw annotation row (a csv row, a JSON object, a parquet row).

Helpers raise ``BadField`` with only the reason; the reader's loop knows the file and the row and
turns it into ``MalformedRow`` or a skipped-row entry (see ``read_result.ProblemLog``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infvideo.data.record import OPTION_LETTERS


class BadField(ValueError):
    """A row's value is missing or unusable; the message is the reason alone."""


def required(row: Mapping[str, Any], key: str) -> Any:
    if key not in row or row[key] is None:
        raise BadField(f"missing {key!r}")
    return row[key]


def required_text(row: Mapping[str, Any], key: str) -> str:
    """A non-blank string (questions, options, answers)."""
    value = required(row, key)
    if not isinstance(value, str):
        raise BadField(f"{key!r} should be text, got {type(value).__name__} {value!r}")
    if not value.strip():
        raise BadField(f"{key!r} is empty")
    return value


def required_id(row: Mapping[str, Any], key: str) -> str:
    """An identifier as text; JSON files sometimes store numeric ids as numbers."""
    value = required(row, key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return required_text(row, key).strip()


def optional(row: Mapping[str, Any], key: str) -> Any:
    """The value, or None when the key is absent, null or a blank string."""
    value = row.get(key)
    if isinstance(value, str) and not value.strip():
        return None
    return value


def parse_int(value: Any, what: str) -> int:
    """Accepts ints and integer strings: csv gives strings, JSON gives numbers."""
    if isinstance(value, bool):  # bool is an int subclass; True is not a frame index
        raise BadField(f"{what} should be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise BadField(f"{what} should be an integer, got {value!r}")


def parse_index(value: Any, what: str, count: int) -> int:
    index = parse_int(value, what)
    if not 0 <= index < count:
        raise BadField(f"{what} {index} is outside 0..{count - 1}")
    return index


def parse_letter(value: Any, what: str, count: int) -> int:
    """An answer letter ("A", "B", ...) as an index into ``count`` options."""
    allowed = OPTION_LETTERS[:count]
    if isinstance(value, str) and len(value.strip()) == 1 and value.strip() in allowed:
        return allowed.index(value.strip())
    raise BadField(f"{what} should be one of {', '.join(allowed)}, got {value!r}")
