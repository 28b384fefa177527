"""Read a judge reply strictly.

The reference ran ``ast.literal_eval`` on the whole reply, truncated scores with ``int()``, counted
any 'pred' containing "yes" as a yes (so "not yes" was a yes) and retried unparseable replies
forever. Here: the first ``{...}`` object of the reply (code fences and surrounding prose are
tolerated), read as JSON, else as a Python literal (``ast.literal_eval``, which evaluates nothing);
'score' must be a number in [0, 5] and is kept as a float; GEN's 'pred' must be the word yes or no.
Anything else raises ``JudgeReplyError`` and the caller decides whether to re-ask.
"""

from __future__ import annotations

import ast
import json
import math
import re
from typing import Any

from .prompts import check_metric

_MAX_OBJECT_CHARS = 2000  # a judge reply is a few tokens; a huge literal is not worth parsing
_FENCE = re.compile(r"```[A-Za-z0-9_-]*")
_PRED_WORDS = {"yes", "no"}


class JudgeReplyError(ValueError):
    """The judge's reply is not the object the prompt asked for."""


def _first_object(text: str) -> str:
    """The first balanced ``{...}`` in ``text``; braces inside quoted strings do not count."""
    start = text.find("{")
    if start < 0:
        raise JudgeReplyError("no {...} object in the reply")
    depth, quote, escaped = 0, None, False
    for position in range(start, len(text)):
        char = text[position]
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start : position + 1]
    raise JudgeReplyError("the {...} object in the reply is not closed")


def _load(candidate: str) -> Any:
    if len(candidate) > _MAX_OBJECT_CHARS:
        raise JudgeReplyError(f"the reply's object is longer than {_MAX_OBJECT_CHARS} characters")
    try:
        return json.loads(candidate)
    except ValueError:
        pass
    try:
        return ast.literal_eval(candidate)  # literals only: names and calls raise, nothing runs
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as error:
        raise JudgeReplyError(f"the reply's object is neither JSON nor a Python literal ({type(error).__name__})") from None


def _score(reply: dict[Any, Any]) -> float:
    if "score" not in reply:
        raise JudgeReplyError("the reply has no 'score'")
    score = reply["score"]
    # bool is an int subclass; strings are refused because the prompt asks for a number.
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise JudgeReplyError(f"'score' must be a number, got {type(score).__name__}")
    score = float(score)
    if not math.isfinite(score) or not 0.0 <= score <= 5.0:
        raise JudgeReplyError(f"'score' {score} is outside [0, 5]")
    return score


def _pred(reply: dict[Any, Any]) -> str:
    if "pred" not in reply:
        raise JudgeReplyError("the reply has no 'pred'")
    pred = reply["pred"]
    if not isinstance(pred, str):
        raise JudgeReplyError(f"'pred' must be a string, got {type(pred).__name__}")
    word = pred.strip().strip(".!'\"").strip().lower()  # "Yes." is a yes; "not yes" is nothing
    if word not in _PRED_WORDS:
        raise JudgeReplyError(f"'pred' must be 'yes' or 'no', got {pred[:40]!r}")
    return word


def parse_reply(metric: str, text: str | None) -> dict[str, Any]:
    """``{"pred": "yes"|"no"|None, "score": float}`` from a judge reply for ``metric``."""
    check_metric(metric)
    if not text or not text.strip():
        raise JudgeReplyError("empty reply")
    reply = _load(_first_object(_FENCE.sub("", text)))
    if not isinstance(reply, dict):
        raise JudgeReplyError(f"the reply's object is a {type(reply).__name__}, not a dict")
    pred = _pred(reply) if metric == "GEN" else None
    return {"pred": pred, "score": _score(reply)}
