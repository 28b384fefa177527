"""Benchmark readers that yield one plain question record type."""

from .record import QuestionRecord

__all__ = ["QuestionRecord"]
