"""The LLM-judge stage (``infvideo judge``): the Video-ChatGPT prompts (with a JSON reply format),
strict reply parsing, an on-disk cache, any OpenAI-compatible server; a re-run keeps good judgments."""

from ..predictions import prediction_sha256
from .batch import JudgeServerUnreachable, judge_run
from .cache import JudgeCache, default_cache_dir
from .client import JudgeSettings, OpenAICompatibleJudge
from .parsing import JudgeReplyError, parse_reply
from .prompts import METRICS, messages

__all__ = [
    "METRICS",
    "JudgeCache",
    "JudgeReplyError",
    "JudgeServerUnreachable",
    "JudgeSettings",
    "OpenAICompatibleJudge",
    "default_cache_dir",
    "judge_run",
    "messages",
    "parse_reply",
    "prediction_sha256",
]
