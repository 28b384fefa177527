"""The row and field helpers every benchmark reader shares.

* Fields: pulling typed values out of one raw annotation row (a csv row, a JSON object, a parquet row).
  Helpers raise ``BadField`` with only the reason; the reader's loop knows the file and the row and
  turns it into ``MalformedRow`` or a skipped-row entry (``ProblemLog``).
* Annotation files: a missing file names itself, a broken one names itself and the place. Text is
  decoded here and nowhere else. A byte that is not UTF-8 (a file saved as Latin-1 or Windows-1252)
  must not end the read with a bare ``UnicodeDecodeError`` that names neither the file nor the row, and
  must not cost the good rows under ``on_error="skip"``. So files are decoded with ``surrogateescape``:
  each bad byte becomes one lone surrogate character (U+DC80..U+DCFF), which no correctly decoded text
  contains, the file parses as usual, and ``check_utf8`` finds those characters in the row that holds
  them, where the reader's loop knows the file and the row.
* ``CsvTable``: a headed csv file as (location, fields) rows, with the header checked up front.
* Video paths: where a question's video lives, a file-name pattern applied inside the video folder.
  Two placeholders: ``{video_id}`` is the record's video id (NExT-QA's ``video`` column, EgoSchema's
  q_uid, Video-MME's ``videoID``, MovieChat-1K's video name); ``{video}`` is where that video lies below
  the folder without extension, which is the video id too unless NExT-QA's ``video_map`` gives a nested
  path. The default ``"{video}.mp4"`` fits the raw benchmark videos (MovieChat-1K instead uses each
  file's ``info.video_path`` unless a pattern is given); other layouts are e.g. ``"{video_id}.mkv"``,
  ``"videos/{video_id}/video.mp4"`` or the pre-decoded tensors of the Video-LLaMA scripts,
  ``"{video}/{video}.pt"``.
* Read results: what every reader returns, and the policy for annotation rows it cannot read.
  ``on_error="raise"`` (the default) stops at the first bad row with ``MalformedRow``, whose message
  names the file and the row. ``on_error="skip"`` keeps going: the bad row is left out and described in
  ``ReadResult.problems``, so a long batch run is not lost to one broken annotation. Question ids must
  be unique (``DuplicateIdError``).
"""

from __future__ import annotations

import csv
import json
import os
import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, get_args

from infvideo.data.record import OPTION_LETTERS, BadReaderOption, DuplicateIdError, MalformedRow, QuestionRecord

# ---- fields of one row


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


MIN_OPTIONS = 2  # one option is no choice at all


def option_list(row: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """A JSON list of option texts (MLVU's and LongVideoBench's ``candidates``): 2 to ``len(OPTION_LETTERS)``
    non-blank texts, as given, so that every option has a letter."""
    value = required(row, key)
    if not isinstance(value, list) or not all(isinstance(option, str) and option.strip() for option in value):
        raise BadField(f"{key!r} should be a list of non-blank texts, got {value!r}")
    if not MIN_OPTIONS <= len(value) <= len(OPTION_LETTERS):
        raise BadField(
            f"expected {MIN_OPTIONS} to {len(OPTION_LETTERS)} {key} (options {OPTION_LETTERS[0]}..{OPTION_LETTERS[-1]}), got {len(value)}"
        )
    return tuple(value)


def parse_letter(value: Any, what: str, count: int) -> int:
    """An answer letter ("A", "B", ...) as an index into ``count`` options."""
    allowed = OPTION_LETTERS[:count]
    if isinstance(value, str) and len(value.strip()) == 1 and value.strip() in allowed:
        return allowed.index(value.strip())
    raise BadField(f"{what} should be one of {', '.join(allowed)}, got {value!r}")


# ---- annotation files

# utf-8-sig: a byte-order mark would otherwise glue itself to the first column name or JSON key
ENCODING = "utf-8-sig"
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # what surrogateescape turns an undecodable byte into


def existing_file(path: str | os.PathLike[str], what: str = "annotation file") -> Path:
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"{what} not found: {file}")
    if file.is_dir():
        raise IsADirectoryError(f"{what} is a directory, expected a file: {file}")
    return file


def existing_folder(path: str | os.PathLike[str], what: str) -> Path:
    folder = Path(path)
    if not folder.exists():
        raise FileNotFoundError(f"{what} not found: {folder}")
    if not folder.is_dir():
        raise NotADirectoryError(f"{what} is not a directory: {folder}")
    return folder


def open_text(path: str | os.PathLike[str], newline: str | None = None) -> IO[str]:
    """The file as text, bad bytes kept as escapes for ``check_utf8`` (``newline=""`` for csv)."""
    return open(path, encoding=ENCODING, errors="surrogateescape", newline=newline)


def read_text(path: str | os.PathLike[str]) -> str:
    with open_text(path) as handle:
        return handle.read()


def check_utf8(value: Any) -> None:
    """Raises ``BadField`` naming the first byte of ``value`` (a row: text, or lists and dicts of
    it, keys included) that was not UTF-8 in the file, and the field it is in."""
    found = _first_bad_byte(value, "")
    if found is not None:
        byte, where = found
        raise BadField(f"not valid UTF-8: byte 0x{byte:02X}{where} (save the file as UTF-8; it may be Latin-1 or Windows-1252)")


def bad_byte_reason(text: str) -> str | None:
    """``check_utf8``'s reason for ``text``, or None when it has no bad byte."""
    try:
        check_utf8(text)
    except BadField as problem:
        return str(problem)
    return None


def json_error_reason(error: json.JSONDecodeError) -> str:
    """Why a JSON text did not parse, naming a bad byte where the parse broke off: inside a string
    such a byte parses, outside one it is usually what broke it."""
    line_end = error.doc.find("\n", error.pos)
    rest_of_line = error.doc[error.pos :] if line_end < 0 else error.doc[error.pos : line_end]
    reason = f"invalid JSON ({error.msg}, column {error.colno})"
    bad_byte = bad_byte_reason(rest_of_line)
    return reason if bad_byte is None else f"{reason}; {bad_byte}"


def load_json_file(path: str | os.PathLike[str], what: str = "annotation file") -> Any:
    """A whole-file JSON document; a syntax error is ``MalformedRow`` naming the file and line,
    since no row of such a file can be trusted. Bad bytes inside strings are left for the rows'
    ``check_utf8``."""
    file = existing_file(path, what)
    return parse_json(read_text(file), file)


def parse_json(text: str, file: str | os.PathLike[str]) -> Any:
    """``text`` (from ``read_text(file)``) as one JSON document, errors as for ``load_json_file``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise MalformedRow(f"{os.fspath(file)}, line {error.lineno}: {json_error_reason(error)}") from error


def _first_bad_byte(value: Any, where: str) -> tuple[int, str] | None:
    if isinstance(value, str):
        match = _ESCAPED_BYTE.search(value)
        return None if match is None else (ord(match.group()) - 0xDC00, where)
    if isinstance(value, dict):
        for key, item in value.items():
            found = _first_bad_byte(key, " in a key") or _first_bad_byte(item, f" in {key!r}")
            if found is not None:
                return found
    if isinstance(value, (list, tuple)):
        for item in value:
            found = _first_bad_byte(item, where)
            if found is not None:
                return found
    return None


# ---- csv files


class CsvTable:
    """A csv file's header and its data rows; each row is kept with its line number. Rows are
    turned into fields with ``by_column`` or ``by_position``, which also refuse a row holding a
    byte that is not UTF-8."""

    def __init__(self, path: str | os.PathLike[str], required_columns: Sequence[str]) -> None:
        self.path = existing_file(path)
        with open_text(self.path, newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            self.rows: list[tuple[str, list[str]]] = [
                (f"line {reader.line_num}", fields)
                for fields in reader
                if fields  # blank lines carry no row
            ]
        if header is None:
            raise MalformedRow(f"{self.path}, line 1: empty file, expected a header row")
        # a bad header breaks every row alike, so this and the missing columns are never skipped row by row
        bad_header = bad_byte_reason(",".join(header))
        if bad_header:
            raise MalformedRow(f"{self.path}, line 1 (header): {bad_header}")
        self.header = [name.strip() for name in header]
        missing = [name for name in required_columns if name not in self.header]
        if missing:
            raise MalformedRow(f"{self.path}, line 1 (header): missing column(s) {', '.join(missing)}")

    def by_column(self, fields: list[str]) -> dict[str, str]:
        self._check_width(fields)
        row = dict(zip(self.header, fields))
        check_utf8(row)
        return row

    def by_position(self, fields: list[str]) -> dict[str, str]:
        """Keyed ``"column <i>"``, for a file whose header names are not known."""
        self._check_width(fields)
        row = {f"column {i}": value for i, value in enumerate(fields)}
        check_utf8(row)
        return row

    def _check_width(self, fields: list[str]) -> None:
        if len(fields) != len(self.header):
            raise BadField(f"{len(fields)} fields, but the header has {len(self.header)} columns")


# ---- video paths

DEFAULT_VIDEO_PATTERN = "{video}.mp4"
PLACEHOLDERS = ("video_id", "video")
_ALLOWED = " and ".join(f"{{{name}}}" for name in PLACEHOLDERS)


def check_video_pattern(pattern: str | None) -> str | None:
    """Fails early, before any row is read, on a pattern with unknown placeholders or none at all;
    None (the reader's default) passes."""
    if pattern is None:
        return None
    try:
        # only plain names: "{0}", "{}", "{video_id.stem}" or "{video_id[0]}" would also format, but
        # not as anyone meant
        used = {field for _, field, _, _ in string.Formatter().parse(pattern) if field is not None}
    except ValueError as error:  # an unmatched brace
        raise BadReaderOption(f"video pattern {pattern!r} is not a valid pattern ({error}); use the placeholders {_ALLOWED}") from None
    unknown = sorted(used - set(PLACEHOLDERS))
    if unknown:
        named = ", ".join(f"{{{field}}}" for field in unknown)
        raise BadReaderOption(f"video pattern {pattern!r} has unknown placeholder(s) {named}; the allowed placeholders are {_ALLOWED}")
    if not used:
        raise BadReaderOption(f"video pattern {pattern!r} uses neither {_ALLOWED}; every question would get the same file")
    return pattern


def video_path(video_folder: str | os.PathLike[str], pattern: str | None, video_id: str, location: str | None = None) -> str:
    """``pattern`` (None: the default) filled in and joined to the folder; ``location`` is what
    ``{video}`` stands for when it is not the video id."""
    pattern = DEFAULT_VIDEO_PATTERN if pattern is None else pattern
    filled = pattern.format(video_id=video_id, video=video_id if location is None else location)
    return os.path.join(os.fspath(video_folder), filled)


# ---- read results


def check_unique_ids(records: Iterable[QuestionRecord], source: str) -> None:
    counts = Counter(record.id for record in records)
    duplicates = {qid: n for qid, n in counts.items() if n > 1}
    if duplicates:
        raise DuplicateIdError(source, duplicates)


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
    def checked(cls, records: list[QuestionRecord], problems: list[RowProblem], source: str) -> ReadResult:
        """The result, after making sure no two records share an id (``DuplicateIdError`` otherwise)."""
        check_unique_ids(records, source)
        return cls(records, problems)


class ProblemLog:
    """Applies the ``on_error`` policy to each bad row a reader meets."""

    def __init__(self, on_error: OnError) -> None:
        if on_error not in get_args(OnError):
            raise BadReaderOption(f"on_error must be one of {', '.join(map(repr, get_args(OnError)))}, got {on_error!r}")
        self.on_error = on_error
        self.problems: list[RowProblem] = []

    def report(self, source: str | os.PathLike[str], row: str, reason: str) -> None:
        problem = RowProblem(os.fspath(source), row, reason)
        if self.on_error == "raise":
            raise MalformedRow(str(problem))
        self.problems.append(problem)
