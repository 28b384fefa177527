"""Benchmark readers that yield one plain question record type."""

from .egoschema import read_egoschema
from .moviechat import read_moviechat
from .nextqa import read_nextoe, read_nextqa
from .options import option_letter, option_texts, strip_option_letter
from .read_result import OnError, ReadResult, RowProblem
from .record import BadReaderOption, MalformedRow, QuestionRecord
from .registry import READERS, BenchmarkReader, read_benchmark, read_benchmark_result
from .unique_ids import DuplicateIdError
from .video_mme import read_video_mme

__all__ = [
    "READERS",
    "BadReaderOption",
    "BenchmarkReader",
    "DuplicateIdError",
    "MalformedRow",
    "OnError",
    "QuestionRecord",
    "ReadResult",
    "RowProblem",
    "option_letter",
    "option_texts",
    "read_benchmark",
    "read_benchmark_result",
    "read_egoschema",
    "read_moviechat",
    "read_nextoe",
    "read_nextqa",
    "read_video_mme",
    "strip_option_letter",
]
