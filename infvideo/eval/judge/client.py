"""One judge behind any OpenAI-compatible chat endpoint: OpenAI, vLLM, llama.cpp, Ollama.

Transport failures (429, 5xx, connection errors, timeouts) are retried with backoff by the openai
client itself (``max_retries``); what is left after those retries is recorded on the sample, never
raised, so one bad sample cannot stop a batch (``judge_run`` decides when a run of connection errors
means the server is gone). Unparseable replies are re-asked at most ``reasks`` times (the reference
retried them forever). Every HTTP request, the client's retries included, is counted as it is sent.
"""

from __future__ import annotations

import os
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infvideo.errors import UserError

from ..api_keys import LOCAL_PLACEHOLDER, api_key_from_environment
from ..predictions import prediction_sha256
from .cache import JudgeCache, cache_folder, cache_key, default_cache_dir
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
    # None: no cache; "{run_dir}" stands for the run being judged (see cache.default_cache_dir)
    cache_dir: str | None = field(default_factory=default_cache_dir)
    metrics: tuple[str, ...] = METRICS
    max_consecutive_connection_errors: int = 5  # then the server is taken as unreachable; 0: never give up

    def __post_init__(self) -> None:
        self.metrics = tuple(check_metric(metric) for metric in self.metrics)
        for name in ("max_retries", "reasks", "max_consecutive_connection_errors"):
            if getattr(self, name) < 0:
                raise UserError(f"JudgeSettings.{name} must be >= 0")
        if self.concurrency < 1:
            raise UserError("JudgeSettings.concurrency must be >= 1")

    def sampling(self) -> dict[str, Any]:
        """The sampling parameters sent with every request (and part of the cache key)."""
        return {"temperature": self.temperature, "seed": self.seed, "max_tokens": self.max_tokens}


def judgment(
    metric: str,
    model: str,
    *,
    pred: str | None = None,
    score: float | None = None,
    raw: str | None = None,
    error: str | None = None,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    cached: bool = False,
    attempts: int = 0,
    prediction_sha256: str | None = None,
    request_sha256: str | None = None,
) -> dict[str, Any]:
    """A judgments.jsonl line without its "id".

    What was judged travels with the verdict, so a later stage can tell a current judgment from a
    stale one: ``model`` (the judge), ``prediction_sha256`` (the answer judged) and
    ``request_sha256`` (judge model + full prompt + sampling parameters, the cache key). Both
    digests are None when nothing was asked (no prediction).
    """
    return {
        "metric": metric,
        "pred": pred,
        "score": score,
        "raw": raw,
        "error": error,
        "model": model,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "cached": cached,
        "attempts": attempts,
        "prediction_sha256": prediction_sha256,
        "request_sha256": request_sha256,
    }


def unreachable_cause(error: BaseException) -> str | None:
    """Why no connection to the server could be made (e.g. "[Errno 111] Connection refused"), or None
    when the server was reached: it answered, even with an error status, or it was slow to answer."""
    from openai import APIConnectionError, APITimeoutError

    if not isinstance(error, APIConnectionError):
        return None
    cause = error.__cause__
    if isinstance(error, APITimeoutError):
        # A read timeout is a slow server, not a missing one; only a connect timeout counts. Matched
        # by class name: openai 2 raises httpx's ConnectTimeout, openai 3 httpx2's.
        if not any(kind.__name__ == "ConnectTimeout" for kind in type(cause).__mro__):
            return None
        return "connect timeout"
    if cause is None:
        return str(error)
    return str(cause) or type(cause).__name__


class MalformedResponse(Exception):
    """The server answered 200 with something that is not a chat completion."""


class OpenAICompatibleJudge:
    """Thread-safe: one openai client (one connection pool) shared by all worker threads.

    ``run_dir`` is the run being judged, where the default cache folder lives.
    """

    def __init__(self, settings: JudgeSettings, run_dir: str | Path | None = None) -> None:
        from openai import DefaultHttpxClient, OpenAI

        self.settings = settings
        self._served: set[str] = set()
        self._requests = 0
        self._lock = threading.Lock()
        self.cache_folder = cache_folder(settings.cache_dir, run_dir)
        self.cache = JudgeCache(self.cache_folder) if self.cache_folder is not None else None
        # The loopback check must see the address the client will use, OPENAI_BASE_URL included.
        self._key = api_key_from_environment(settings.api_key_env, settings.base_url or os.environ.get("OPENAI_BASE_URL"))
        # The request hook sees every HTTP request the openai client sends, its own retries included,
        # which no count of our calls can. DefaultHttpxClient keeps the openai client's defaults.
        http_client = DefaultHttpxClient(event_hooks={"request": [self._count_request]})
        self._client = OpenAI(
            base_url=settings.base_url,
            api_key=self._key,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
            http_client=http_client,
        )
        self.base_url = str(self._client.base_url)

    def _count_request(self, request: Any) -> None:
        with self._lock:
            self._requests += 1

    @property
    def requests(self) -> int:
        """HTTP requests sent so far, retries included (connection attempts that failed too)."""
        with self._lock:
            return self._requests

    @property
    def served_models(self) -> list[str]:
        """The model names the server reported (e.g. the snapshot behind "gpt-3.5-turbo")."""
        with self._lock:
            return sorted(self._served)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OpenAICompatibleJudge:
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
        return (
            self._redact(text),
            int(getattr(usage, "prompt_tokens", 0) or 0),
            int(getattr(usage, "completion_tokens", 0) or 0),
            getattr(response, "model", None),
        )

    def request_key(self, metric: str, question: str, answer: str, prediction: str) -> str:
        """The cache key of a judgment, recorded in its line as ``request_sha256``."""
        return cache_key(self.settings.model, messages(metric, question, answer, prediction), self.settings.sampling())

    def _from_cache(self, metric: str, key: str, judged: dict[str, str]) -> dict[str, Any] | None:
        entry = self.cache.get(key) if self.cache else None
        if entry is None:
            return None
        try:
            parsed = parse_reply(metric, entry["raw"])
        except JudgeReplyError:
            return None  # stored under an older, laxer parser: ask again
        self._note_served(entry.get("served_model"))
        # Token counts and attempts say what the judgment cost when it was obtained.
        return judgment(
            metric,
            self.settings.model,
            **parsed,
            raw=entry["raw"],
            cached=True,
            prompt_tokens=int(entry.get("prompt_tokens", 0)),
            completion_tokens=int(entry.get("completion_tokens", 0)),
            attempts=int(entry.get("attempts", 1)),
            **judged,
        )

    def _store(self, key: str, entry: dict[str, Any]) -> None:
        if self.cache is None:
            return
        try:
            self.cache.put(key, entry)
        except OSError as error:  # a full or read-only disk costs a re-ask next time, not this judgment
            warnings.warn(f"judge cache not written ({type(error).__name__}: {error})", RuntimeWarning, stacklevel=2)

    def judge(self, metric: str, question: str, answer: str, prediction: str) -> tuple[dict[str, Any], str | None]:
        """(a judgments.jsonl line minus "id", None), errors recorded in the line, never raised; when
        no connection to the server could be made, the second item says why (``unreachable_cause``)."""
        original = messages(metric, question, answer, prediction)
        key = cache_key(self.settings.model, original, self.settings.sampling())
        judged = {"prediction_sha256": prediction_sha256(prediction), "request_sha256": key}
        if (hit := self._from_cache(metric, key, judged)) is not None:
            return hit, None
        conversation, text = original, None
        prompt_tokens = completion_tokens = attempts = 0
        while True:
            attempts += 1
            try:
                text, used_prompt, used_completion, served = self._request(conversation)
            except Exception as error:  # openai.APIError (timeouts included) after the client's retries, malformed replies
                cause = unreachable_cause(error)
                message = f"{type(error).__name__}: {error}" + (f" ({cause})" if cause else "")
                return judgment(
                    metric,
                    self.settings.model,
                    raw=text,
                    error=self._redact(message)[:_ERROR_CHARS],
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    attempts=attempts,
                    **judged,
                ), cause
            prompt_tokens += used_prompt
            completion_tokens += used_completion
            self._note_served(served)
            try:
                parsed = parse_reply(metric, text)
            except JudgeReplyError:
                if attempts > self.settings.reasks:
                    return judgment(
                        metric,
                        self.settings.model,
                        raw=text,
                        error=f"unparseable reply: {text[:_RAW_IN_ERROR]}",
                        prompt_tokens=prompt_tokens,
                        completion_tokens=completion_tokens,
                        attempts=attempts,
                        **judged,
                    ), None
                conversation = [*conversation, {"role": "assistant", "content": text}, reask_message(metric)]
                continue
            self._store(
                key,
                {
                    "model": self.settings.model,
                    "served_model": served,
                    "params": self.settings.sampling(),
                    "messages": original,
                    "raw": text,
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "attempts": attempts,
                },
            )
            return judgment(
                metric,
                self.settings.model,
                **parsed,
                raw=text,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                attempts=attempts,
                **judged,
            ), None
