"""The LLM-judge stage (``infvideo judge``): Video-ChatGPT prompts, strict parsing, on-disk cache,
any OpenAI-compatible server. See reference-spec §4.3 and §6 quirk 24."""

from .batch import judge_run
from .cache import JudgeCache
from .client import JudgeSettings, OpenAICompatibleJudge
from .parsing import JudgeReplyError, parse_reply
from .prompts import METRICS, messages

__all__ = ["METRICS", "JudgeCache", "JudgeReplyError", "JudgeSettings", "OpenAICompatibleJudge", "judge_run", "messages", "parse_reply"]
