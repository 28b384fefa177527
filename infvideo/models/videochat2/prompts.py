"""VideoChat2 (Mistral) prompts and answer parsing, character for character as the reference's
``eval_code/run_*_mistral.py`` scripts build them (the VideoChat2 scripts of deep-spin/Infinite-Video);
MLVU after its own VideoChat2 script, LongVideoBench in the NExT-QA conversation (docs/benchmarks.md).

A prompt is the system string (which is also the Q-former's instruction) followed by the Mistral
conversation ``[INST] <Video><VideoHere></Video> [/INST] [INST] {user} [/INST]`` and, for the
multiple-choice sets, the answer prefix ``Best option:(`` after one space. The 96 visual embeddings
replace ``<VideoHere>``; the text around it is tokenised per segment, with BOS on the first only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from infvideo.data.record import OPTION_LETTERS, QuestionRecord

PLACEHOLDER = "<VideoHere>"
STOP = "</s>"
HUMAN, ASSISTANT = "[INST]", "[/INST]"
VIDEO_TURN = "<Video><VideoHere></Video> [/INST]"

MULTIPLE_CHOICE_SYSTEM = (
    "Carefully watch the video and pay attention to the cause and sequence of events, the detail and "
    "movement of objects, and the action and pose of persons. Based on your observations, select the best "
    "option that accurately addresses the question.\n"
)
# MLVU's own VideoChat2 script (docs/benchmarks.md); like the string above, also the Q-former instruction
MLVU_SYSTEM = (
    "Carefully watch this video and pay attention to every detail. Based on your observations, select the best "
    "option that accurately addresses the question.\n"
)
MOVIECHAT_SYSTEM = (
    "You are able to understand the visual content that the user provides.Follow the instructions carefully and explain your answers."
)
ONLY_BEST_OPTION = "\nOnly give the best option."
BEST_OPTION_PREFIX = "Best option:("


@dataclass(frozen=True)
class VideoChat2Prompt:
    system: str  # also the Q-former instruction
    user: str
    answer_prefix: str = ""  # written after the assistant role; the model continues it
    return_prefix: str = ""  # put back in front of the answer's first line (the scripts' return_prompt)

    @property
    def instruction(self) -> str:
        return self.system

    @property
    def text(self) -> str:
        return conversation(self.system, self.user, self.answer_prefix)

    def clean(self, generated: str) -> str:
        """The scripts' post-processing: return prefix + first line of the stripped output."""
        return first_line(generated, self.return_prefix)


def _turn(role: str, message: str) -> str:
    # The reference renders a turn as "role message " and an empty message as the bare role.
    return f"{role} {message} " if message else role


def conversation(system: str, user: str, answer_prefix: str = "") -> str:
    """The scripts' ``get_prompt`` (no prefix) / ``get_prompt2`` (prefix: the last turn is "role prefix")."""
    last = f"{ASSISTANT} {answer_prefix}" if answer_prefix else ASSISTANT
    return system + _turn(HUMAN, VIDEO_TURN) + _turn(HUMAN, user) + last


def lettered_options(options: Sequence[str]) -> str:
    return "".join(f"({OPTION_LETTERS[i]}) {option}\n" for i, option in enumerate(options))


def multiple_choice_user(question: str, options: Sequence[str]) -> str:
    """NExT-QA / EgoSchema: the question goes through ``str.capitalize()`` (first letter upper, the rest
    lower), then the lettered options; the block is stripped before the closing instruction."""
    block = f"Question: {question.capitalize()}\nOptions:\n" + lettered_options(options)
    return block.strip() + ONLY_BEST_OPTION


def nextqa_prompt(question: str, options: Sequence[str]) -> VideoChat2Prompt:
    return VideoChat2Prompt(MULTIPLE_CHOICE_SYSTEM, multiple_choice_user(question, options), BEST_OPTION_PREFIX, "(")


def egoschema_prompt(question: str, options: Sequence[str]) -> VideoChat2Prompt:
    return VideoChat2Prompt(MULTIPLE_CHOICE_SYSTEM, multiple_choice_user(question, options), BEST_OPTION_PREFIX, "(")


def video_mme_prompt(question: str, options: Sequence[str]) -> VideoChat2Prompt:
    """Video-MME: options come as "A. text"; the letter is the option's first character and the text
    follows its 3-character "A. " prefix. The question is not capitalised, the block is right-stripped,
    and the system string is repeated at the start of the user text (``system_llm=True``)."""
    block = f"Question: {question}\nOptions:\n" + "".join(f"({option[0]}) {option[3:]}\n" for option in options)
    user = MULTIPLE_CHOICE_SYSTEM + block.rstrip() + ONLY_BEST_OPTION
    return VideoChat2Prompt(MULTIPLE_CHOICE_SYSTEM, user, BEST_OPTION_PREFIX, "(")


def question_with_options(question: str, options: Sequence[str]) -> str:
    """The question as given (not ``capitalize()``d: MLVU's template uses it as is, and LongVideoBench's
    questions quote subtitles and names), the lettered options, the block right-stripped, then "Only give
    the best option."."""
    return (f"Question: {question}\nOptions:\n" + lettered_options(options)).rstrip() + ONLY_BEST_OPTION


def mlvu_prompt(question: str, options: Sequence[str]) -> VideoChat2Prompt:
    """MLVU's own VideoChat2 script: its system string (no repeat in the user text, ``system_llm=False``),
    "Best option:(" as answer prefix and "(" as return prefix."""
    return VideoChat2Prompt(MLVU_SYSTEM, question_with_options(question, options), BEST_OPTION_PREFIX, "(")


def longvideobench_prompt(question: str, options: Sequence[str]) -> VideoChat2Prompt:
    """No VideoChat2 script exists for LongVideoBench: the multiple-choice conversation of NExT-QA and
    EgoSchema (the system string VideoChat2 was tuned with, "Best option:("), the question as given.
    LongVideoBench's own "Answer with the option's letter ..." is written for generic LMMs."""
    return VideoChat2Prompt(MULTIPLE_CHOICE_SYSTEM, question_with_options(question, options), BEST_OPTION_PREFIX, "(")


def moviechat_prompt(question: str) -> VideoChat2Prompt:
    """MovieChat-1K (global mode): the bare question, no answer prefix."""
    return VideoChat2Prompt(MOVIECHAT_SYSTEM, question)


# One entry per task (``QuestionRecord.dataset``): the question and its options -> the conversation.
# VideoChat2's scripts answer NExT-OE with the NExT-QA prompt (its records carry no options).
PROMPTS: dict[str, Callable[[QuestionRecord], VideoChat2Prompt]] = {
    "nextqa": lambda record: nextqa_prompt(record.question, list(record.options)),
    "nextoe": lambda record: nextqa_prompt(record.question, list(record.options)),
    "egoschema": lambda record: egoschema_prompt(record.question, list(record.options)),
    "video_mme": lambda record: video_mme_prompt(record.question, list(record.options)),
    "moviechat": lambda record: moviechat_prompt(record.question),
    "mlvu": lambda record: mlvu_prompt(record.question, list(record.options)),
    "longvideobench": lambda record: longvideobench_prompt(record.question, list(record.options)),
}


# -- tokenisation ------------------------------------------------------------------------------
def split_prompt(prompt: str) -> list[str]:
    """The text segments around each ``<VideoHere>`` (one more segment than placeholders)."""
    segments = prompt.split(PLACEHOLDER)
    if len(segments) < 2:
        raise ValueError(f"a prompt needs a {PLACEHOLDER} placeholder")
    return segments


def segment_token_ids(tokenizer, prompt: str) -> list[torch.Tensor]:
    """Token ids [1, n] per segment; only the first segment gets the tokenizer's special tokens (BOS)."""
    return [
        tokenizer(segment, return_tensors="pt", add_special_tokens=index == 0).input_ids
        for index, segment in enumerate(split_prompt(prompt))
    ]


# -- answers -----------------------------------------------------------------------------------
def cut_at_stop(text: str) -> str:
    return text.split(STOP)[0]


def first_line(generated: str, return_prefix: str = "") -> str:
    return return_prefix + generated.strip().split("\n")[0]


# Letters are upper case only, so the article in "a man ..." is never read as option A; the words
# around them are matched in any case.
_LEADING_LETTER = re.compile(r"^\s*(?i:best\s+option|answer|option)?\s*:?\s*\(?\s*([A-Z])\s*(?:[).:,]|$)")
_BRACKETED_LETTER = re.compile(r"\(\s*([A-Z])\s*\)")
_STATED_LETTER = re.compile(r"\b(?i:best\s+option|answer|option)\s*(?i:is)?\s*:?\s*\(?([A-Z])\b")


def parse_option_letter(text: str, letters: str = OPTION_LETTERS) -> str | None:
    """The chosen option letter from outputs like "(B) a man…", "B) a man", "Best option:(B", "B." or
    "The answer is (B)"; None when no allowed letter is found. A letter at the very start wins, then the
    first bracketed "(X)", then "answer/option (is) X"."""
    allowed = set(letters)
    for pattern in (_LEADING_LETTER, _BRACKETED_LETTER, _STATED_LETTER):
        for match in pattern.finditer(text):
            if match.group(1) in allowed:
                return match.group(1)
    return None
