"""API keys come from the environment only, and never reach logs, caches or outputs."""

from __future__ import annotations

import os
from urllib.parse import urlparse

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
LOCAL_PLACEHOLDER = "EMPTY"  # vLLM, llama.cpp and Ollama ignore the key; the openai client needs one


def is_loopback(base_url: str | None) -> bool:
    return bool(base_url) and (urlparse(base_url).hostname or "") in LOOPBACK_HOSTS


def api_key_from_environment(variable: str, base_url: str | None) -> str:
    """The key held by ``variable``; a placeholder for a server on this machine; else a clear error
    that names the variable (never the value)."""
    key = os.environ.get(variable)
    if key:
        return key
    if is_loopback(base_url):
        return LOCAL_PLACEHOLDER
    raise RuntimeError(f"set the environment variable {variable} to the API key for {base_url or 'the OpenAI API'}")
