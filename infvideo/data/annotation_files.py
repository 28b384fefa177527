"""Opening annotation files: a missing file names itself, a broken one names itself and the place."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from infvideo.data.record import MalformedRow


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


def load_json_file(path: str | os.PathLike[str], what: str = "annotation file") -> Any:
    """A whole-file JSON document; a syntax error is ``MalformedRow`` naming the file and line,
    since no row of such a file can be trusted."""
    file = existing_file(path, what)
    try:
        return json.loads(file.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as error:
        raise MalformedRow(f"{file}, line {error.lineno}: invalid JSON ({error.msg})") from error
