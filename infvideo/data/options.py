"""Option text without its letter prefix: Video-MME stores options as ``"A. apples"``.

Records keep options exactly as the benchmark gives them (prompts in the reference show them that
way); matchers and prompts that add their own letters want the bare text.
"""

from __future__ import annotations

import re

from infvideo.data.record import OPTION_LETTERS
from infvideo.data.record import QuestionRecord

_LETTER_PREFIX = re.compile(r"([A-Z])\.\s*")


def option_letter(option: str) -> str | None:
    """The letter an option starts with ("A. apples" -> "A"), or None without a prefix."""
    match = _LETTER_PREFIX.match(option)
    return match.group(1) if match else None


def strip_option_letter(option: str, letter: str | None = None) -> str:
    """"A. apples" -> "apples". With ``letter``, only that letter's prefix is removed, so a bare
    option that merely starts with some capital and a dot is left alone."""
    match = _LETTER_PREFIX.match(option)
    if match is None or (letter is not None and match.group(1) != letter):
        return option
    return option[match.end():]


def option_texts(record: QuestionRecord) -> tuple[str, ...]:
    """The record's options without their letter prefixes; options without one are unchanged."""
    return tuple(strip_option_letter(option, OPTION_LETTERS[i]) for i, option in enumerate(record.options))
