"""One judge behind any OpenAI-compatible chat endpoint: OpenAI, vLLM, llama.cpp, Ollama.

Transport failures (429, 5xx, connection errors, timeouts) are retried with backoff by the openai
client itself (``max_retries``); what is left after those retries is recorded on the sample, never
raised, so one bad sample cannot stop a batch. Unparseable replies are re-asked at most ``reasks``
times (the reference retried them forever).
"""

from __future__ import annotations

import os
import threading
import warnings
from dataclasses import dataclass
from typing import Any

from ..api_keys import LOCAL_PLACEHOLDER, api_key_from_environment
from .cache import JudgeCache, cache_key
from .parsing import JudgeReplyError, parse_reply
from .prompts import METRICS, check_metric, messages, reask_message

_ERROR_CHARS = 500  # an error body can be a whole HTML page
_RAW_IN_ERROR = 200


@dataclass
class JudgeSettings:
    model: str = "gpt-3.5-turbo"  # the reference's moving alias; the served snapshot goes to the summary
    base_url: str | None = None  # None: the openai client's default, or OPENAI_BASE_URL
    api_key_env: str = "OPENAI_API_KEY"  # the key is read from this variable only, never passed around
    temperature: float = 0.0  # deterministic judging (the reference used the API defaults)
    seed: int | None = 0  # None: not sent
    max_tokens: int = 64  # the reply is one small object
    timeout: float = 60.0  # seconds per request
    max_retries: int = 4  # the openai client's retries with backoff
    reasks: int = 2  # re-asks after an unparseable reply
    concurrency: int = 8
    cache_dir: str | None = "outputs/judge_cache"  # None: no cache
    metrics: tuple[str, ...] = METRICS

    def __post_init__(self) -> None:
        self.metrics = tuple(check_metric(metric) for metric in self.metrics)
        for name in ("max_retries", "reasks"):
            if getattr(self, name) < 0:
                raise ValueError(f"JudgeSettings.{name} must be >= 0")
        if self.concurrency < 1:
            raise ValueError("JudgeSettings.concurrency must be >= 1")

    def sampling(self) -> dict[str, Any]:
        """The sampling parameters sent with every request (and part of the cache key)."""
        return {"temperature": self.temperature, "seed": self.seed, "max_tokens": self.max_tokens}


def judgment(metric: str, model: str, *, pred: str | None = None, score: float | None = None, raw: str | None = None,
             error: str | None = None, prompt_tokens: int = 0, completion_tokens: int = 0, cached: bool = False,
             attempts: int = 0) -> dict[str, Any]:
    """A judgments.jsonl line without its "id"."""
    return {"metric": metric, "pred": pred, "score": score, "raw": raw, "error": error, "model": model,
            "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "cached": cached, "attempts": attempts}


class MalformedResponse(Exception):
    """The server answered 200 with something that is not a chat completion."""


class OpenAICompatibleJudge:
    """Thread-safe: one openai client (one connection pool) shared by all worker threads."""

    def __init__(self, settings: JudgeSettings) -> None:
        from openai import OpenAI

        self.settings = settings
        # The loopback check must see the address the client will use, OPENAI_BASE_URL included.
        self._key = api_key_from_environment(settings.api_key_env, settings.base_url or os.environ.get("OPENAI_BASE_URL"))
        self._client = OpenAI(base_url=settings.base_url, api_key=self._key, timeout=settings.timeout, max_retries=settings.max_retries)
        self.base_url = str(self._client.base_url)
        self.cache = JudgeCache(settings.cache_dir) if settings.cache_dir else None
        self._served: set[str] = set()
        self._lock = threading.Lock()

    @property
    def served_models(self) -> list[str]:
        """The model names the server reported (e.g. the snapshot behind "gpt-3.5-turbo")."""
        with self._lock:
            return sorted(self._served)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "OpenAICompatibleJudge":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _redact(self, text: str) -> str:
        # A server may echo the key (e.g. in a 401 body); it must not reach judgments or the cache.
        if self._key and self._key != LOCAL_PLACEHOLDER:
            return text.replace(self._key, "<redacted>")
        return text

    def _note_served(self, name: Any) -> None:
        if isinstance(name, str) and name:
            with self._lock:
                self._served.add(name)

    def _request(self, conversation: list[dict[str, str]]) -> tuple[str, int, int, Any]:
        """One chat completion: (reply text, prompt tokens, completion tokens, served model)."""
        params = {name: value for name, value in self.settings.sampling().items() if value is not None}
        response = self._client.chat.completions.create(model=self.settings.model, messages=conversation, **params)
        choices = getattr(response, "choices", None)
        if not choices:
            raise MalformedResponse("the server's reply is not a chat completion with choices")
        usage = getattr(response, "usage", None)
        text = getattr(getattr(choices[0], "message", None), "content", None) or ""
        return (self._redact(text), int(getattr(usage, "prompt_tokens", 0) or 0),
                int(getattr(usage, "completion_tokens", 0) or 0), getattr(response, "model", None))

    def _from_cache(self, metric: str, key: str) -> dict[str, Any] | None:
        entry = self.cache.get(key) if self.cache else None
        if entry is None:
            return None
        try:
            parsed = parse_reply(metric, entry["raw"])
        except JudgeReplyError:
            return None  # stored under an older, laxer parser: ask again
        self._note_served(entry.get("served_model"))
        # Token counts and attempts say what the judgment cost when it was obtained.
        return judgment(metric, self.settings.model, **parsed, raw=entry["raw"], cached=True,
                        prompt_tokens=int(entry.get("prompt_tokens", 0)), completion_tokens=int(entry.get("completion_tokens", 0)),
                        attempts=int(entry.get("attempts", 1)))

    def _store(self, key: str, entry: dict[str, Any]) -> None:
        if self.cache is None:
            return
        try:
            self.cache.put(key, entry)
        except OSError as error:  # a full or read-only disk costs a re-ask next time, not this judgment
            warnings.warn(f"judge cache not written ({type(error).__name__}: {error})", RuntimeWarning, stacklevel=2)

    def judge(self, metric: str, question: str, answer: str, prediction: str) -> dict[str, Any]:
        """A judgments.jsonl line minus "id"; errors are recorded in it, never raised."""
        original = messages(metric, question, answer, prediction)
        key = cache_key(self.settings.model, original, self.settings.sampling())
        if (hit := self._from_cache(metric, key)) is not None:
            return hit
        conversation, text = original, None
        prompt_tokens = completion_tokens = attempts = 0
        while True:
            attempts += 1
            try:
                text, used_prompt, used_completion, served = self._request(conversation)
            except Exception as error:  # openai.APIError (timeouts included) after the client's retries, malformed replies
                message = self._redact(f"{type(error).__name__}: {error}")[:_ERROR_CHARS]
                return judgment(metric, self.settings.model, raw=text, error=message, prompt_tokens=prompt_tokens,
                                completion_tokens=completion_tokens, attempts=attempts)
            prompt_tokens += used_prompt
            completion_tokens += used_completion
            self._note_served(served)
            try:
                parsed = parse_reply(metric, text)
            except JudgeReplyError:
                if attempts > self.settings.reasks:
                    return judgment(metric, self.settings.model, raw=text, error=f"unparseable reply: {text[:_RAW_IN_ERROR]}",
                                    prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, attempts=attempts)
                conversation = [*conversation, {"role": "assistant", "content": text}, reask_message(metric)]
                continue
            self._store(key, {"model": self.settings.model, "served_model": served, "params": self.settings.sampling(),
                              "messages": original, "raw": text, "prompt_tokens": prompt_tokens,
                              "completion_tokens": completion_tokens, "attempts": attempts})
            return judgment(metric, self.settings.model, **parsed, raw=text, prompt_tokens=prompt_tokens,
                            completion_tokens=completion_tokens, attempts=attempts)
