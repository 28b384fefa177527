"""Reading a headed csv file into (location, fields) rows, with the header checked up front."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence

from infvideo.data.annotation_files import existing_file
from infvideo.data.fields import BadField
from infvideo.data.record import MalformedRow


class CsvTable:
    """A csv file's header and its data rows; each row is kept with its line number."""

    def __init__(self, path: str | os.PathLike[str], required_columns: Sequence[str]) -> None:
        self.path = existing_file(path)
        # utf-8-sig: a byte-order mark would otherwise glue itself to the first column name
        with self.path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            self.rows: list[tuple[str, list[str]]] = [
                (f"line {reader.line_num}", fields) for fields in reader if fields  # blank lines carry no row
            ]
        if header is None:
            raise MalformedRow(f"{self.path}, line 1: empty file, expected a header row")
        self.header = [name.strip() for name in header]
        missing = [name for name in required_columns if name not in self.header]
        if missing:
            # a missing column breaks every row alike, so this is never skipped row by row
            raise MalformedRow(f"{self.path}, line 1 (header): missing column(s) {', '.join(missing)}")

    def by_column(self, fields: list[str]) -> dict[str, str]:
        if len(fields) != len(self.header):
            raise BadField(f"{len(fields)} fields, but the header has {len(self.header)} columns")
        return dict(zip(self.header, fields))
