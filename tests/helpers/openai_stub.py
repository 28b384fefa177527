"""A loopback OpenAI-compatible server for tests: real HTTP, scripted replies, no network.

    with OpenAIStub() as stub:
        stub.script(("status", 429), ("ok", '{"score": 4}'))
        client = OpenAI(base_url=stub.base_url, api_key="...")

Behaviours, taken from the scripted queue first, else from ``default(request_body)``:
    ("ok", content)             a chat completion whose message is ``content``
    ("garbage", content)        the same, named for replies meant not to parse
    ("status", code[, body])    an error status with ``retry-after-ms: 1`` (the client's backoff is fast);
                                ``body`` (a dict) replaces the default OpenAI error body
    ("sleep", seconds, content) wait (to trip the client's timeout), then reply like "ok"
    ("raw", code, text)         ``text`` as a text/plain body: not an OpenAI response at all
    ("drop",)                   close the connection without a reply (the client sees a connection error)
Every request is recorded (path, JSON body, Authorization header). ``POST /v1/embeddings`` returns
``embed(text)`` per input, deterministic by default, as floats or base64 float32 as asked.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import json
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Behaviour = tuple
GOOD_GEN = '{"pred": "yes", "score": 4}'


def default_behaviour(body: dict[str, Any]) -> Behaviour:
    return ("ok", GOOD_GEN)  # parses for every metric (non-GEN metrics ignore "pred")


def default_embedding(text: str, dimensions: int = 16) -> list[float]:
    """A unit vector that depends only on ``text``."""
    digest = hashlib.sha256(text.encode("utf-8")).digest() * 2
    values = [byte / 127.5 - 1.0 for byte in digest[:dimensions]]
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    return [v / norm for v in values]


def word_usage(body: dict[str, Any], content: str) -> tuple[int, int]:
    prompt = sum(len(str(message.get("content", "")).split()) for message in body.get("messages", []))
    return prompt, len(content.split())


@dataclass
class Recorded:
    path: str
    body: dict[str, Any]
    authorization: str | None

    @property
    def user_text(self) -> str:
        return "\n".join(m.get("content", "") for m in self.body.get("messages", []) if m.get("role") == "user")


class OpenAIStub:
    def __init__(
        self,
        default: Callable[[dict[str, Any]], Behaviour] = default_behaviour,
        embed: Callable[[str], list[float]] = default_embedding,
        usage: Callable[[dict[str, Any], str], tuple[int, int]] | None = word_usage,
    ) -> None:
        self.default, self.embed, self.usage = default, embed, usage  # usage None: no "usage" in replies
        self.queue: collections.deque[Behaviour] = collections.deque()
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # -- test-facing ---------------------------------------------------------------------------
    def script(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self.queue.extend(behaviours)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "use the stub as a context manager"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def chat_requests(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def __enter__(self) -> OpenAIStub:
        stub = self

        class Handler(_Handler):
            pass

        Handler.stub = stub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closing.set()  # wakes "sleep" behaviours
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    # -- server-facing -------------------------------------------------------------------------
    def _record(self, path: str, body: dict[str, Any], authorization: str | None) -> Behaviour:
        with self._lock:
            self.requests.append(Recorded(path, body, authorization))
            behaviour = self.queue.popleft() if self.queue else None
        return behaviour if behaviour is not None else self.default(body)

    def completion(self, body: dict[str, Any], content: str) -> dict[str, Any]:
        reply: dict[str, Any] = {
            "id": f"chatcmpl-stub-{len(self.requests)}",
            "object": "chat.completion",
            "created": 0,
            "model": f"{body.get('model', 'stub')}-stub-snapshot",
            "system_fingerprint": "stub",
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None, "message": {"role": "assistant", "content": content}}],
        }
        if self.usage is not None:
            prompt, completion = self.usage(body, content)
            reply["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
        return reply

    def embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        texts = body.get("input", [])
        texts = [texts] if isinstance(texts, str) else list(texts)
        data = []
        for index, text in enumerate(texts):
            vector = [float(v) for v in self.embed(str(text))]
            if body.get("encoding_format") == "base64":  # what the openai client asks for by default
                encoded: Any = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
            else:
                encoded = vector
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(len(str(text).split()) for text in texts)
        return {
            "object": "list",
            "model": body.get("model", "stub"),
            "data": data,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    stub: OpenAIStub

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, payload: Any, content_type: str = "application/json", headers: dict[str, str] | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def do_POST(self) -> None:
        stub = self.stub
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"_unreadable": raw.decode("utf-8", "replace")}
        behaviour = stub._record(self.path, body, self.headers.get("Authorization"))
        if self.path.endswith("/embeddings"):
            self._send(200, stub.embeddings(body))
            return
        if not self.path.endswith("/chat/completions"):
            self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
            return
        kind = behaviour[0]
        if kind in ("ok", "garbage"):
            self._send(200, stub.completion(body, behaviour[1]))
        elif kind == "status":
            error = (
                behaviour[2]
                if len(behaviour) > 2
                else {"error": {"message": f"stub status {behaviour[1]}", "type": "stub_error", "code": None}}
            )
            self._send(behaviour[1], error, headers={"retry-after-ms": "1"})
        elif kind == "sleep":
            stub._closing.wait(behaviour[1])
            self._send(200, stub.completion(body, behaviour[2]))
        elif kind == "raw":
            self._send(behaviour[1], str(behaviour[2]).encode("utf-8"), content_type="text/plain")
        elif kind == "drop":
            self.close_connection = True  # no status line at all: httpx raises RemoteProtocolError
        else:
            raise ValueError(f"unknown stub behaviour {behaviour!r}")
