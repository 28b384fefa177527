"""The one record every benchmark reader yields, and what the runner, matcher and metrics consume."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from infvideo.errors import UserError

# The one alphabet of option letters: readers, prompts, answer parsing, matching and metrics all use it.
OPTION_LETTERS = "ABCDEFGHIJ"


@dataclass(frozen=True)
class QuestionRecord:
    id: str  # unique within the benchmark split; the key of predictions.jsonl (resume, merge)
    dataset: str  # nextqa | nextoe | egoschema | moviechat | video_mme
    video_id: str
    video_path: str  # resolved against the video folder the reader was given
    question: str
    options: tuple[str, ...] = ()  # multiple choice, in order (A, B, ...); empty for open-ended
    answer: int | None = None  # index into options; None when unknown (e.g. EgoSchema full set)
    answer_text: str | None = None  # open-ended reference answer (NExT-OE, MovieChat-1K)
    question_type: str | None = None  # NExT-QA type (CW, CH, TN, TP, TC, DC, DL, DO); Video-MME task type
    mode: str | None = None  # MovieChat-1K: "global" or "breakpoint"
    time: int | None = None  # MovieChat-1K breakpoint: a frame index
    extra: dict[str, Any] = field(default_factory=dict)  # duration, domain, ... as given by the benchmark

    @property
    def answer_letter(self) -> str | None:
        return None if self.answer is None else OPTION_LETTERS[self.answer]

    @property
    def option_letters(self) -> str:
        """The letters of this question's options ("" for an open-ended question)."""
        return OPTION_LETTERS[: len(self.options)]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["options"] = list(self.options)
        return data


class MalformedRow(UserError, ValueError):
    """An annotation row that cannot be read; the message names the file and the row."""


class BadReaderOption(UserError, ValueError):
    """A reader option with a value it cannot take (``on_error``, ``video_pattern``, ``file_format``,
    ...); the message names the allowed values. Raised before any row is read."""
