"""Video-LLaMA prompts, character for character as the reference scripts build them (docs/reference-notes.md,
S2); MLVU and LongVideoBench, which the reference never ran, after their own evaluation code (docs/benchmarks.md).

The 32 video embeddings replace the ``<ImageHere>`` placeholder. Options are not shown to the LLM
except for Video-MME, MLVU and LongVideoBench; free-text answers are mapped to options afterwards by
embedding similarity, so no prompt asks for a bare letter (a letter alone cannot be matched that way).
"""

from __future__ import annotations

from collections.abc import Callable

from infvideo.data.record import OPTION_LETTERS, QuestionRecord

PLACEHOLDER = "<ImageHere>"
STOP = "###"
BRIEF_SYSTEM = (
    "You are able to understand the visual content that the user provides.Follow the instructions "
    "carefully and explain your brief answers with no more than 20 words."
)
FULL_SYSTEM = (
    "You are able to understand the visual content that the user provides.Follow the instructions carefully and explain your answers."
)
HUMAN_VIDEO = "###Human: <Video><ImageHere></Video>"
ASSISTANT = "###Assistant:"
MLVU_SYSTEM = (
    "Carefully watch this video and pay attention to every detail. Based on your observations, select the best "
    "option that accurately addresses the question."
)
ONLY_BEST_OPTION = "\nOnly give the best option."
CHOOSE_FROM_OPTIONS = "Choose the best answer from the options below:"


def nextqa_prompt(question: str) -> str:
    """NExT-QA and NExT-OE: no space before the question."""
    return BRIEF_SYSTEM + HUMAN_VIDEO + question + ASSISTANT


def egoschema_prompt(question: str) -> str:
    return HUMAN_VIDEO + " " + question + ASSISTANT


def moviechat_prompt(question: str) -> str:
    return FULL_SYSTEM + HUMAN_VIDEO + " " + question + ASSISTANT


def video_mme_prompt(question: str, options: list[str]) -> str:
    """Video-MME: the options as given ("A. ..."), one per line."""
    lines = [question, CHOOSE_FROM_OPTIONS, *options]
    return HUMAN_VIDEO + "\n" + "".join(line + "\n" for line in lines) + ASSISTANT


def mlvu_prompt(question: str, options: list[str]) -> str:
    """MLVU's template (docs/benchmarks.md): its system string, "Question: ...\\nOptions:\\n(A) ..." stripped,
    then "Only give the best option."; the template's answer prefix "Best Option: (" is left out because
    Video-LLaMA's free text is matched to an option, not read as a letter."""
    block = f"Question: {question}\nOptions:\n" + "".join(f"({OPTION_LETTERS[i]}) {option}\n" for i, option in enumerate(options))
    return MLVU_SYSTEM + HUMAN_VIDEO + "\n" + block.rstrip() + ONLY_BEST_OPTION + ASSISTANT


def longvideobench_prompt(question: str, options: list[str]) -> str:
    """LongVideoBench's "Question: ..." and "A. text" lines (docs/benchmarks.md) in the Video-MME layout above;
    the loader's "Answer with the option's letter ..." becomes Video-MME's "Choose the best answer ...",
    since the answer is matched as free text."""
    lines = [f"Question: {question}", CHOOSE_FROM_OPTIONS, *(f"{OPTION_LETTERS[i]}. {option}" for i, option in enumerate(options))]
    return HUMAN_VIDEO + "\n" + "".join(line + "\n" for line in lines) + ASSISTANT


# One entry per task (``QuestionRecord.dataset``): the question (and, where shown, its options) -> the prompt.
PROMPTS: dict[str, Callable[[QuestionRecord], str]] = {
    "nextqa": lambda record: nextqa_prompt(record.question),
    "nextoe": lambda record: nextqa_prompt(record.question),
    "egoschema": lambda record: egoschema_prompt(record.question),
    "moviechat": lambda record: moviechat_prompt(record.question),
    "video_mme": lambda record: video_mme_prompt(record.question, list(record.options)),
    "mlvu": lambda record: mlvu_prompt(record.question, list(record.options)),
    "longvideobench": lambda record: longvideobench_prompt(record.question, list(record.options)),
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
