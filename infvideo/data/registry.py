"""Benchmark name -> reader, and the one call the runner and CLI use to read a benchmark."""

from __future__ import annotations

import logging
import os
from typing import Any, Protocol

from infvideo.data.egoschema import read_egoschema
from infvideo.data.moviechat import read_moviechat
from infvideo.data.nextqa import read_nextoe, read_nextqa
from infvideo.data.read_result import OnError, ReadResult
from infvideo.data.record import QuestionRecord
from infvideo.data.video_mme import read_video_mme

logger = logging.getLogger(__name__)


class BenchmarkReader(Protocol):
    """Every reader: annotation file (or folder), video folder, reader-specific keyword options."""

    def __call__(
        self,
        annotation_path: str | os.PathLike[str],
        video_folder: str | os.PathLike[str],
        *,
        on_error: OnError = "raise",
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
    name: str, annotation_path: str | os.PathLike[str], video_folder: str | os.PathLike[str], **options: Any
) -> ReadResult:
    """Records and skipped-row problems of benchmark ``name``; ``options`` go to its reader
    (``on_error``, ``video_pattern``, and per reader: ``video_map``, ``answers_path``, ``mode``,
    ``file_format``: parquet | jsonl | grouped_json for Video-MME, from the suffix by default; EgoSchema
    takes ``questions.json`` or the IG-VLM ``EgoSchema.csv`` by suffix)."""
    if name not in READERS:
        raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(READERS)}")
    return READERS[name](annotation_path, video_folder, **options)


def read_benchmark(
    name: str, annotation_path: str | os.PathLike[str], video_folder: str | os.PathLike[str], **options: Any
) -> list[QuestionRecord]:
    """The records alone. Under ``on_error="skip"`` each skipped row is logged as a warning; use
    ``read_benchmark_result`` to get them as data."""
    result = read_benchmark_result(name, annotation_path, video_folder, **options)
    for problem in result.problems:
        logger.warning("skipped annotation row: %s", problem)
    return result.records
