"""A small client of the OpenAI Chat Completions API (Ollama, vLLM, llama.cpp's server, LM Studio, OpenAI), streaming."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from qa.errors import LLMError, SettingsError

logger = logging.getLogger("qa.llm")

# What a retry waits before trying again, doubled each time.
RETRY_BACKOFF_SECONDS = 0.5


@dataclass(frozen=True)
class LLMConfig:
    """Where the chat server is and how long to wait for it.

    Args:
        url: the server's base URL: "http://127.0.0.1:11434/v1" (Ollama), "http://127.0.0.1:8000/v1"
            (vLLM); without "/v1" it is added, and a URL ending in "/chat/completions" is used as it is.
        model: the model name the server knows (llama.cpp's server serves its one model under any name).
        api_key: sent as a bearer token; never logged, never shown (excluded from repr).
        connect_timeout: seconds to open the connection.
        read_timeout: seconds to wait for the first token and between two streamed chunks.
        total_timeout: seconds for the whole answer.
        retries: further attempts after a failure to connect, a 429 or a 5xx, before any token came
            (a stream cut off midway is not retried: the reader has seen its start).
        max_tokens: the most tokens generated.
        temperature: 0 makes the answer to a question repeatable.
    """

    url: str
    model: str = "default"
    api_key: str | None = field(default=None, repr=False)
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    total_timeout: float = 120.0
    retries: int = 1
    max_tokens: int = 200
    temperature: float = 0.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise SettingsError(f"the LLM server URL must start with http:// or https://, got {self.url!r}")
        for name in ("connect_timeout", "read_timeout", "total_timeout"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be more than 0, got {getattr(self, name)}")
        if self.retries < 0 or self.max_tokens < 1:
            raise SettingsError(f"retries must be 0 or more and max_tokens at least 1, got {self.retries} and {self.max_tokens}")

    @property
    def endpoint(self) -> str:
        """The chat completions URL."""
        base = self.url.rstrip("/")
        if base.endswith("/chat/completions"):
            return base
        if not base.endswith("/v1"):
            base += "/v1"
        return base + "/chat/completions"


class ChatClient:
    """Streams one chat completion at a time over HTTP; httpx is imported on first use.

    httpx rather than the `openai` package: it is already installed (Gradio's HTTP client), the
    part of the API used here is one POST and its server-sent events, and `openai` would bring
    pydantic models, jiter and its own retry policy around the same httpx calls.
    """

    def __init__(self, config: LLMConfig) -> None:
        self.config = config

    def __repr__(self) -> str:
        return f"ChatClient(url={self.config.url!r}, model={self.config.model!r})"

    def stream(self, messages: Sequence[dict[str, str]]) -> Iterator[str]:
        """The answer's text as it is generated, piece by piece.

        Raises:
            LLMError: the server cannot be reached, refuses, times out, or breaks off the stream.
        """
        import httpx

        config = self.config
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        body = {
            "model": config.model, "messages": list(messages), "stream": True,
            "max_tokens": config.max_tokens, "temperature": config.temperature,
        }
        timeout = httpx.Timeout(connect=config.connect_timeout, read=config.read_timeout, write=config.connect_timeout, pool=config.connect_timeout)
        deadline = time.monotonic() + config.total_timeout
        attempt = 0
        while True:
            started = False
            try:
                with httpx.Client(timeout=timeout) as http, http.stream("POST", config.endpoint, json=body, headers=headers) as response:
                    if response.status_code != 200:
                        response.read()
                        raise _Refused(response.status_code, response.text[:300])
                    for piece in _events(response.iter_lines()):
                        started = True
                        yield piece
                        if time.monotonic() > deadline:
                            raise LLMError(f"the LLM server took longer than {config.total_timeout:g} s to answer")
                return
            except _Refused as refused:
                retryable = refused.status == 429 or refused.status >= 500
                problem = f"the LLM server answered HTTP {refused.status}: {refused.detail}"
            except httpx.TimeoutException:
                retryable = not started
                problem = f"the LLM server did not answer within {config.read_timeout:g} s"
            except httpx.TransportError as exc:
                retryable = not started
                problem = f"the LLM server at {config.url} cannot be reached ({type(exc).__name__}: {exc})"
            if started or not retryable or attempt >= config.retries or time.monotonic() > deadline:
                raise LLMError(problem + (" (the answer broke off midway)" if started else ""))
            attempt += 1
            logger.warning("%s; retry %d of %d", problem, attempt, config.retries)
            time.sleep(RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1))

    def complete(self, messages: Sequence[dict[str, str]]) -> str:
        """The whole answer at once (the stream, joined)."""
        return "".join(self.stream(messages))


class _Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status, detail)
        self.status = status
        self.detail = detail


def _events(lines: Iterator[str]) -> Iterator[str]:
    """The content pieces of an OpenAI chat stream (server-sent events, one JSON chunk per `data:` line)."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            chunk: Any = json.loads(data)
        except ValueError:
            raise LLMError(f"the LLM server sent a chunk that is not JSON: {data[:120]!r}") from None
        if isinstance(chunk, dict) and "error" in chunk:
            raise LLMError(f"the LLM server reported an error: {str(chunk['error'])[:300]}")
        try:
            choice = chunk["choices"][0] if chunk.get("choices") else {}
            piece = (choice.get("delta") or choice.get("message") or {}).get("content") or ""
        except (AttributeError, KeyError, IndexError, TypeError):
            raise LLMError(f"the LLM server sent a chunk that is not a chat completion: {data[:120]!r}") from None
        if piece:
            yield piece
