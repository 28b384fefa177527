"""Reading a headed csv file into (location, fields) rows, with the header checked up front."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence

from infvideo.data.annotation_files import bad_byte_reason, check_utf8, existing_file, open_text
from infvideo.data.fields import BadField
from infvideo.data.record import MalformedRow


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
                (f"line {reader.line_num}", fields) for fields in reader if fields  # blank lines carry no row
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
