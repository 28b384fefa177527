"""Opening annotation files: a missing file names itself, a broken one names itself and the place.

Text is decoded here and nowhere else. A byte that is not UTF-8 (a file saved as Latin-1 or
Windows-1252) must not end the read with a bare ``UnicodeDecodeError`` that names neither the file
nor the row, and must not cost the good rows under ``on_error="skip"``. So files are decoded with
``surrogateescape``: each bad byte becomes one lone surrogate character (U+DC80..U+DCFF), which no
correctly decoded text contains, the file parses as usual, and ``check_utf8`` finds those
characters in the row that holds them, where the reader's loop knows the file and the row.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import IO, Any

from infvideo.data.fields import BadField
from infvideo.data.record import MalformedRow

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
        raise BadField(f"not valid UTF-8: byte 0x{byte:02X}{where} (save the file as UTF-8; it may be "
                       f"Latin-1 or Windows-1252)")


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
    rest_of_line = error.doc[error.pos:] if line_end < 0 else error.doc[error.pos:line_end]
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
