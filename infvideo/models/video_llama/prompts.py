"""Video-LLaMA prompts, character for character as the reference scripts build them.

See docs/reference-notes.md, S2.

The 32 video embeddings replace the ``<ImageHere>`` placeholder. Options are not shown to the LLM
except for Video-MME; free-text answers are mapped to options afterwards by embedding similarity.
"""

from __future__ import annotations

from typing import Callable

from infvideo.data.record import QuestionRecord

PLACEHOLDER = "<ImageHere>"
STOP = "###"
BRIEF_SYSTEM = (
    "You are able to understand the visual content that the user provides.Follow the instructions "
    "carefully and explain your brief answers with no more than 20 words."
)
FULL_SYSTEM = (
    "You are able to understand the visual content that the user provides.Follow the instructions "
    "carefully and explain your answers."
)
HUMAN_VIDEO = "###Human: <Video><ImageHere></Video>"
ASSISTANT = "###Assistant:"


def nextqa_prompt(question: str) -> str:
    """NExT-QA and NExT-OE: no space before the question."""
    return BRIEF_SYSTEM + HUMAN_VIDEO + question + ASSISTANT


def egoschema_prompt(question: str) -> str:
    return HUMAN_VIDEO + " " + question + ASSISTANT


def moviechat_prompt(question: str) -> str:
    return FULL_SYSTEM + HUMAN_VIDEO + " " + question + ASSISTANT


def video_mme_prompt(question: str, options: list[str]) -> str:
    """Video-MME: the options as given ("A. ..."), one per line."""
    lines = [question, "Choose the best answer from the options below:", *options]
    return HUMAN_VIDEO + "\n" + "".join(line + "\n" for line in lines) + ASSISTANT


# One entry per task (``QuestionRecord.dataset``): the question (and, for Video-MME, its options) -> the prompt.
PROMPTS: dict[str, Callable[[QuestionRecord], str]] = {
    "nextqa": lambda record: nextqa_prompt(record.question),
    "nextoe": lambda record: nextqa_prompt(record.question),
    "egoschema": lambda record: egoschema_prompt(record.question),
    "moviechat": lambda record: moviechat_prompt(record.question),
    "video_mme": lambda record: video_mme_prompt(record.question, list(record.options)),
}


def split_prompt(prompt: str) -> tuple[str, str]:
    """The text before and after the video placeholder (exactly one is required)."""
    parts = prompt.split(PLACEHOLDER)
    if len(parts) != 2:
        raise ValueError(f"a prompt needs exactly one {PLACEHOLDER}, found {len(parts) - 1}")
    return parts[0], parts[1]


def clean_answer(text: str) -> str:
    """Cut at the first stop sign and keep what follows the last "Assistant:", as the reference."""
    return text.split(STOP)[0].split("Assistant:")[-1].strip()
