"""What every benchmark reader looks like, and reading through one with skipped rows logged.

Which reader a benchmark name stands for is the benchmark's row in ``infvideo/eval/tasks.py``; this
module knows no benchmark by name.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Protocol

from infvideo.data.record import QuestionRecord
from infvideo.data.rows import OnError, ReadResult

logger = logging.getLogger(__name__)


class BenchmarkReader(Protocol):
    """Every reader: annotation file (or folder), video folder, the shared ``on_error`` and
    ``video_pattern`` (None: the reader's default), reader-specific keyword options.

    ``on_error``: "raise" (the first bad row stops the read with ``MalformedRow``) or "skip" (bad
    rows are left out and listed). ``video_pattern``: where each video file lies below
    ``video_folder``, with the placeholders ``{video_id}`` and ``{video}`` (see ``rows.video_path``).
    """

    def __call__(
        self,
        annotation_path: str | os.PathLike[str],
        video_folder: str | os.PathLike[str],
        *,
        on_error: OnError = "raise",
        video_pattern: str | None = None,
        **options: Any,
    ) -> ReadResult: ...


def read_logged(
    reader: BenchmarkReader,
    annotation_path: str | os.PathLike[str],
    video_folder: str | os.PathLike[str],
    *,
    on_error: OnError = "raise",
    video_pattern: str | None = None,
    **options: Any,
) -> list[QuestionRecord]:
    """The records alone. Under ``on_error="skip"`` each skipped row is logged as a warning; call the
    reader itself to get them as data (``ReadResult.problems``)."""
    result = reader(annotation_path, video_folder, on_error=on_error, video_pattern=video_pattern, **options)
    for problem in result.problems:
        logger.warning("skipped annotation row: %s", problem)
    return result.records
