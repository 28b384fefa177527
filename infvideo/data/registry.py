"""Benchmark name -> reader, and the one call the runner and CLI use to read a benchmark."""

from __future__ import annotations

import logging
import os
from typing import Any, Protocol

from infvideo.data.egoschema import read_egoschema
from infvideo.data.moviechat import read_moviechat
from infvideo.data.nextqa import read_nextoe, read_nextqa
from infvideo.data.read_result import OnError, ReadResult
from infvideo.data.record import BadReaderOption, QuestionRecord
from infvideo.data.video_mme import read_video_mme

logger = logging.getLogger(__name__)


class BenchmarkReader(Protocol):
    """Every reader: annotation file (or folder), video folder, the shared ``on_error`` and
    ``video_pattern`` (None: the reader's default), reader-specific keyword options."""

    def __call__(
        self,
        annotation_path: str | os.PathLike[str],
        video_folder: str | os.PathLike[str],
        *,
        on_error: OnError = "raise",
        video_pattern: str | None = None,
        **options: Any,
    ) -> ReadResult: ...


READERS: dict[str, BenchmarkReader] = {
    "nextqa": read_nextqa,
    "nextoe": read_nextoe,
    "egoschema": read_egoschema,
    "moviechat": read_moviechat,
    "video_mme": read_video_mme,
}


def read_benchmark_result(
    name: str,
    annotation_path: str | os.PathLike[str],
    video_folder: str | os.PathLike[str],
    *,
    on_error: OnError = "raise",
    video_pattern: str | None = None,
    **options: Any,
) -> ReadResult:
    """Records and skipped-row problems of benchmark ``name``.

    ``on_error``: "raise" (the first bad row stops the read with ``MalformedRow``) or "skip" (bad
    rows are left out and listed). ``video_pattern``: where each video file lies below
    ``video_folder``, with the placeholders ``{video_id}`` and ``{video}`` (see ``video_paths``);
    None keeps the benchmark's own default. ``options`` go to the reader: ``video_map`` (NExT-QA),
    ``answers_path`` (EgoSchema), ``mode`` (MovieChat-1K), ``file_format`` (Video-MME: parquet |
    jsonl | grouped_json | json_records; by the suffix, and for .json by the content, by default).
    """
    if name not in READERS:
        raise BadReaderOption(f"unknown benchmark {name!r}; known: {', '.join(READERS)}")
    return READERS[name](annotation_path, video_folder, on_error=on_error, video_pattern=video_pattern, **options)


def read_benchmark(
    name: str,
    annotation_path: str | os.PathLike[str],
    video_folder: str | os.PathLike[str],
    *,
    on_error: OnError = "raise",
    video_pattern: str | None = None,
    **options: Any,
) -> list[QuestionRecord]:
    """The records alone. Under ``on_error="skip"`` each skipped row is logged as a warning; use
    ``read_benchmark_result`` to get them as data."""
    result = read_benchmark_result(name, annotation_path, video_folder, on_error=on_error,
                                   video_pattern=video_pattern, **options)
    for problem in result.problems:
        logger.warning("skipped annotation row: %s", problem)
    return result.records
