"""Where each family puts an lmms-eval task's prompt text (the request's context: the task's own question,
options and answer instruction, exactly as the task built it; docs/lmms-eval.md shows both layouts).

- ∞-Video-LLaMA: the whole user turn of the reference's Video-LLaMA conversation, as its EgoSchema prompt
  places the question: ``###Human: <Video><ImageHere></Video> {context}###Assistant:``; no system string.
  The answer is the reference's clean-up (cut at ``###``).
- ∞-VideoChat2: the user turn of the reference's Mistral conversation after the video turn; the system
  string, which is also the Q-former's instruction, is VideoChat2's general instruction (the one
  lmms-eval's own ``videochat2`` model uses), and there is no answer prefix. The answer is the first line
  of the output, as VideoChat2's scripts keep it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infvideo.models.video_llama.prompts import ASSISTANT, HUMAN_VIDEO
from infvideo.models.videochat2.prompts import VideoChat2Prompt

VIDEOCHAT2_INSTRUCTION = (
    "Carefully watch the video and pay attention to the cause and sequence of events, the detail and "
    "movement of objects, and the action and pose of persons.\n"
)


def video_llama_prompt(context: str) -> str:
    return HUMAN_VIDEO + " " + context + ASSISTANT


def videochat2_prompt(context: str) -> VideoChat2Prompt:
    return VideoChat2Prompt(VIDEOCHAT2_INSTRUCTION, context)


# family (models/registry.py) -> the task's text -> the family's prompt
TASK_PROMPTS: dict[str, Callable[[str], Any]] = {"video_llama": video_llama_prompt, "videochat2": videochat2_prompt}
