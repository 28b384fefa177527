"""The reference's own checks of VideoChat2's multiple-choice answers (``protocol.scoring: reference``).

The reference (github.com/deep-spin/Infinite-Video, commit 908be51) scores VideoChat2 inside its
``infty-VideoChat2/eval_code/run_*_mistral.py`` scripts, from the answer text alone: no letter
parser, no embedding matcher. Its ``pred`` is ``return_prompt + llm_message.strip().split('\\n')[0]``
with ``return_prompt = '('`` (run_nextqa_mistral.py line 176; "Best option:(" ends the prompt and is
not part of it). ``VideoChat2Prompt.clean`` builds predictions.jsonl's ``prediction`` the same way,
so these rules applied to the stored text give the reference's verdict, and reference scoring of a
VideoChat2 run needs no matches.jsonl.

The rules are ported (not copied) below; tests/test_reference_scoring.py checks each against a
port of the reference's function on answers of every style.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from infvideo.data.record import QuestionRecord

from .multiple_choice import Verdict

RETURN_PREFIX = "("  # the scripts' return_prompt, in front of every stored VideoChat2 answer


def nextqa_correct(prediction: str, answer_letter: str) -> bool:
    """run_nextqa_mistral.py line 427, ``answer == pred[:3]`` with ``answer = f"({correct})"`` (line 529):
    right only when the text starts with the bracketed letter -- "(A. ..." or "(Best option: (A)" is wrong."""
    return prediction[:3] == f"({answer_letter})"


def egoschema_correct(prediction: str, answer_letter: str, answer_text: str) -> bool:
    """run_egoschema_mistral.py ``check_answer_egoschema``, lines 181-200.

    Right when "(x)" (the right letter, compared case-blind) is anywhere in the text -- the loop of
    lines 188-191 meant to refuse a second bracketed letter compares upper-case "(A)" with the
    lower-cased text, so it never fires. Otherwise right when the right option's text (lower-cased,
    one final "." dropped) is anywhere in it, or that text with every "a " (then every "an ") removed:
    a wrong answer whose option text contains the right one ("a man with a hat" for "a man", or even
    "a woman", which contains "man") counts as right.

    The reference indexes ``ans_dict`` by the position of the answer in its results (lines 538-539),
    which is the question's own entry when, as there, each video has one question; here the question
    is named directly. An empty option text (never in EgoSchema) would make the reference raise
    IndexError at line 184; it is not matched by content here.
    """
    pred = prediction.lower()
    if f"({answer_letter})".lower() in pred:
        return True
    content = answer_text.lower()
    if content.endswith("."):
        content = content[:-1]
    if not content:
        return False
    return content in pred or content.replace("a ", "") in pred or content.replace("an ", "") in pred


def video_mme_letter(prediction: str) -> str:
    """run_videomme_mistral.py lines 443-444: the answer is ``llm_message[1]``, the character after the
    "(" -- whatever it is ("(Best option: (A)" answers "B"). Compared with the truth's letter (line 565).
    An empty answer (the bare "(") gives "", where the script would raise IndexError."""
    return prediction[1] if len(prediction) > 1 else ""


def no_answer(line: Mapping[str, Any] | None) -> bool:
    """No prediction line, an error line, or an empty answer (the stored text is the bare "(")."""
    if not line or line.get("error"):
        return True
    text = line.get("prediction")
    return not isinstance(text, str) or not text.removeprefix(RETURN_PREFIX).strip()


def reference_verdicts(
    rule: Callable[[QuestionRecord, str], bool], records: Sequence[QuestionRecord], predictions: Mapping[str, Mapping[str, Any]]
) -> dict[str, Verdict]:
    """``{question id: Verdict}`` for the questions that have an answer in the annotations; ``rule`` is the
    task's ``reference_rule`` (infvideo/eval/tasks.py), one of the checks above applied to a question.

    No answer (no line, an error line, an empty answer) is invalid and wrong -- where the reference
    has one: an empty Video-MME answer makes its script raise IndexError, an empty NExT-QA or
    EgoSchema answer is wrong by its rule. Every other answer is valid and gets the rule's verdict,
    even one in which no letter can be read (then it is simply wrong, unless EgoSchema's text check
    finds the right option's text).
    """
    verdicts = {}
    for record in records:
        if record.answer is None:
            continue
        line = predictions.get(record.id)
        if no_answer(line):
            verdicts[record.id] = Verdict(correct=False, invalid=True)
        else:
            verdicts[record.id] = Verdict(correct=rule(record, line["prediction"]), invalid=False)
    return verdicts
