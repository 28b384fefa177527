"""MLVU's and LongVideoBench's prompts per model family, character for character (docs/benchmarks.md says
where each layout comes from), and a prompt for every task of the table in every family."""

from __future__ import annotations

import pytest

from infvideo.data.record import QuestionRecord
from infvideo.eval.tasks import task_names
from infvideo.models.registry import FAMILIES
from infvideo.models.video_llama import prompts as video_llama
from infvideo.models.videochat2 import prompts as videochat2

QUESTION = "What does the man hold up to the camera?"
OPTIONS = ["A red book", "A phone", "A coffee mug", "A tennis ball"]
MLVU_SYSTEM = (
    "Carefully watch this video and pay attention to every detail. Based on your observations, select the best "
    "option that accurately addresses the question."
)
OPTIONS_BLOCK = (
    "Question: What does the man hold up to the camera?\nOptions:\n(A) A red book\n(B) A phone\n(C) A coffee mug\n(D) A tennis ball"
)


def record(dataset: str, question: str = QUESTION, options=tuple(OPTIONS)) -> QuestionRecord:
    return QuestionRecord(id="q", dataset=dataset, video_id="v", video_path="v.mp4", question=question, options=options, answer=0)


def test_video_llama_mlvu_shows_the_options_in_mlvus_template_without_a_letter_prefix():
    assert video_llama.mlvu_prompt(QUESTION, OPTIONS) == (
        MLVU_SYSTEM + "###Human: <Video><ImageHere></Video>\n" + OPTIONS_BLOCK + "\nOnly give the best option.###Assistant:"
    )


def test_video_llama_longvideobench_lists_lettered_options_in_the_video_mme_layout():
    assert video_llama.longvideobench_prompt(QUESTION, OPTIONS) == (
        "###Human: <Video><ImageHere></Video>\nQuestion: What does the man hold up to the camera?\n"
        "Choose the best answer from the options below:\nA. A red book\nB. A phone\nC. A coffee mug\nD. A tennis ball\n###Assistant:"
    )


def test_videochat2_mlvu_is_mlvus_own_script():
    prompt = videochat2.mlvu_prompt(QUESTION, OPTIONS)
    assert prompt.text == (
        MLVU_SYSTEM
        + "\n[INST] <Video><VideoHere></Video> [/INST] [INST] "
        + OPTIONS_BLOCK
        + "\nOnly give the best option. [/INST] Best option:("
    )
    assert prompt.instruction == MLVU_SYSTEM + "\n"  # the Q-former's instruction too
    assert prompt.clean(" B) A phone\nmore") == "(B) A phone"


def test_videochat2_longvideobench_is_the_nextqa_conversation_with_the_question_as_given():
    prompt = videochat2.longvideobench_prompt("In the scene where NASA's Rover stops, WHAT is it?", OPTIONS)
    assert prompt.text == (
        "Carefully watch the video and pay attention to the cause and sequence of events, the detail and movement of objects, "
        "and the action and pose of persons. Based on your observations, select the best option that accurately addresses the "
        "question.\n[INST] <Video><VideoHere></Video> [/INST] [INST] Question: In the scene where NASA's Rover stops, WHAT is it?"
        "\nOptions:\n(A) A red book\n(B) A phone\n(C) A coffee mug\n(D) A tennis ball\nOnly give the best option. [/INST] Best option:("
    )
    # NExT-QA's prompt would have lower-cased the quoted names
    assert "nasa's rover" in videochat2.nextqa_prompt("In the scene where NASA's Rover stops?", OPTIONS).user


def test_a_fifth_option_gets_the_letter_e_in_both_families():
    five = (*OPTIONS, "A dog leash")
    assert "\nE. A dog leash\n" in FAMILIES["video_llama"].prompt(record("longvideobench", options=five))
    assert "\n(E) A dog leash\nOnly give" in FAMILIES["videochat2"].prompt(record("longvideobench", options=five)).user


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("task", task_names())
def test_every_task_has_a_prompt_in_every_family(family, task):
    assert task in FAMILIES[family].prompts  # else predict would stop at the first question
