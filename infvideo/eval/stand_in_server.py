"""``infvideo judge-server``: an offline, OpenAI-compatible stand-in for smoke runs and CI.

It speaks the two endpoints the pipeline uses, over real HTTP, with no model download:

* ``POST /v1/chat/completions`` answers a judge prompt with the judge's JSON reply, scoring the
  predicted answer by its MiniLM cosine similarity to the correct one (score = 5·cos clipped to
  [0, 5]; GEN says "yes" when cos >= 0.5). It is a similarity heuristic, NOT an LLM judge: numbers
  from it only check that the pipeline runs. Use vLLM, llama.cpp or Ollama for real judging.
* ``POST /v1/embeddings`` returns MiniLM embeddings (``infvideo match --embedder openai:<any>``).
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from .matching import minilm_embedder

# The labelled lines of the Video-ChatGPT user prompt (infvideo.eval.judge.prompts).
_FIELD = r"{label}:\s*(.*?)\s*(?:\n|$)"


def _field(text: str, label: str) -> str:
    found = re.search(_FIELD.format(label=re.escape(label)), text)
    return found.group(1) if found else ""


def judge_reply(user_message: str) -> dict[str, Any]:
    answer, prediction = _field(user_message, "Correct Answer"), _field(user_message, "Predicted Answer")
    vectors = np.asarray(minilm_embedder()([answer or " ", prediction or " "]), dtype=np.float64)
    cosine = float(vectors[0] @ vectors[1]) if answer and prediction else 0.0
    return {"pred": "yes" if cosine >= 0.5 else "no", "score": round(min(5.0, max(0.0, 5.0 * cosine)), 1)}


def _completion(body: dict[str, Any]) -> dict[str, Any]:
    user = next(
        (
            m.get("content", "")
            for m in reversed(body.get("messages", []))
            if m.get("role") == "user" and "Predicted Answer" in m.get("content", "")
        ),
        "",
    )
    content = json.dumps(judge_reply(user))
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    return {
        "id": "stand-in",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "stand-in"),
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(content.split()),
            "total_tokens": prompt_tokens + len(content.split()),
        },
    }


def _embeddings(body: dict[str, Any]) -> dict[str, Any]:
    texts = body.get("input", [])
    texts = [texts] if isinstance(texts, str) else list(texts)
    vectors = minilm_embedder()(texts) if texts else []
    return {
        "object": "list",
        "model": body.get("model", "stand-in"),
        "usage": {"prompt_tokens": 0, "total_tokens": 0},
        "data": [{"object": "embedding", "index": i, "embedding": [float(x) for x in v]} for i, v in enumerate(vectors)],
    }


class _Handler(BaseHTTPRequestHandler):
    routes = {"/v1/chat/completions": _completion, "/v1/embeddings": _embeddings}

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        route = self.routes.get(self.path.rstrip("/"))
        if route is None:
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        except json.JSONDecodeError:
            self._send(400, {"error": {"message": "the body is not JSON"}})
            return
        self._send(200, route(body))

    def _send(self, status: int, data: dict[str, Any]) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:  # quiet: requests would flood a smoke run's log
        pass


def start_server(host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Serve in a daemon thread; ``server.server_address`` has the port; ``server.shutdown()`` stops it."""
    server = ThreadingHTTPServer((host, port), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def base_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/v1"
