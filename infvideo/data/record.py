"""The one record every benchmark reader yields, the option letters and option helpers everything shares,
and the errors a reader raises (what the runner, matcher and metrics consume)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from infvideo.errors import UserError

# The one alphabet of option letters: readers, prompts, answer parsing, matching and metrics all use it.
OPTION_LETTERS = "ABCDEFGHIJ"


@dataclass(frozen=True)
class QuestionRecord:
    id: str  # unique within the benchmark split; the key of predictions.jsonl (resume, merge)
    dataset: str  # the benchmark's task name (eval/tasks.py): nextqa | nextoe | egoschema | moviechat | video_mme
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


# Option text without its letter prefix: Video-MME stores options as "A. apples". Records keep options
# exactly as the benchmark gives them (prompts in the reference show them that way); matchers and prompts
# that add their own letters want the bare text.
_LETTER_PREFIX = re.compile(r"([A-Z])\.\s*")


def option_letter(option: str) -> str | None:
    """The letter an option starts with ("A. apples" -> "A"), or None without a prefix."""
    match = _LETTER_PREFIX.match(option)
    return match.group(1) if match else None


def strip_option_letter(option: str, letter: str | None = None) -> str:
    """ "A. apples" -> "apples". With ``letter``, only that letter's prefix is removed, so a bare
    option that merely starts with some capital and a dot is left alone."""
    match = _LETTER_PREFIX.match(option)
    if match is None or (letter is not None and match.group(1) != letter):
        return option
    return option[match.end() :]


def option_texts(record: QuestionRecord) -> tuple[str, ...]:
    """The record's options without their letter prefixes; options without one are unchanged."""
    return tuple(strip_option_letter(option, OPTION_LETTERS[i]) for i, option in enumerate(record.options))


class MalformedRow(UserError, ValueError):
    """An annotation row that cannot be read; the message names the file and the row."""


class BadReaderOption(UserError, ValueError):
    """A reader option with a value it cannot take (``on_error``, ``video_pattern``, ``file_format``,
    ...); the message names the allowed values. Raised before any row is read."""


_NAMED_AT_MOST = 10  # a broken id scheme repeats thousands of ids; the first few say enough


class DuplicateIdError(UserError, ValueError):
    """Two or more records share an id (ids key predictions.jsonl, which resume and merge rely on).
    Raised even under ``on_error="skip"``: a repeated id means the id no longer identifies one
    question, and dropping either record would lose a real one."""

    def __init__(self, source: str, duplicates: Mapping[str, int]) -> None:
        self.duplicates = dict(duplicates)
        named = ", ".join(f"{qid!r} ({n}x)" for qid, n in list(self.duplicates.items())[:_NAMED_AT_MOST])
        more = len(self.duplicates) - _NAMED_AT_MOST
        tail = f" and {more} more" if more > 0 else ""
        super().__init__(f"{source}: {len(self.duplicates)} duplicate question id(s): {named}{tail}")
