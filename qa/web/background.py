"""The app in a subprocess on a free loopback port, for the tests, the screenshot script and the benchmarks."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class BackgroundServer:
    """An app started by `background_server`: its URL and process id."""

    url: str
    pid: int


@contextmanager
def serve_in_background(args: Sequence[str] = (), *, env: dict[str, str] | None = None, timeout: float = 300.0,
                        cwd: str | Path | None = None) -> Iterator[str]:
    """Run the app in a subprocess on a free loopback port; yield its URL once it answers; stop it on exit.

    See `background_server`.
    """
    with background_server(args, env=env, timeout=timeout, cwd=cwd) as server:
        yield server.url


@contextmanager
def background_server(args: Sequence[str] = (), *, env: dict[str, str] | None = None, timeout: float = 300.0,
                      cwd: str | Path | None = None) -> Iterator[BackgroundServer]:
    """Run the app (`python -m qa.web`) in a subprocess on a free loopback port; yield it once it answers; stop it on exit.

    Args:
        args: the app's flags (--host and --port are set here).
        env: its environment (default: this process's).
        timeout: seconds to wait for its first answer.
        cwd: its working folder, against which relative --index and --seeds resolve (default: this process's).

    Raises:
        RuntimeError: with the end of the app's console output, when it exits or does not answer within `timeout`.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "qa.web", "--host", "127.0.0.1", "--port", str(port), *args]

    def answers() -> bool:
        try:
            urllib.request.urlopen(f"{url}/api/health", timeout=5).close()
        except urllib.error.HTTPError:
            return True  # it answers (503 without an index, 401 with auth)
        except OSError:
            return False
        return True

    with started_process(command, answers, name="the app", timeout=timeout, env=env, cwd=cwd) as process:
        yield BackgroundServer(url, process.pid)


@contextmanager
def started_process(command: Sequence[str], ready: Callable[[], bool], *, name: str, timeout: float,
                    env: dict[str, str] | None = None, cwd: str | Path | None = None,
                    console_chars: int = 4000) -> Iterator[subprocess.Popen[str]]:
    """Start `command`, poll `ready()` every half second until it is true, yield the process, stop it on exit.

    Raises:
        RuntimeError: naming `name`, with the end of its console output, when it exits or is not
            ready within `timeout` seconds.
    """
    with tempfile.TemporaryFile("w+", encoding="utf-8") as console:
        process = subprocess.Popen(list(command), stdout=console, stderr=subprocess.STDOUT, env=env, cwd=cwd, text=True)

        def failure(why: str) -> RuntimeError:
            console.seek(0)
            return RuntimeError(f"{name} {why}; its console said:\n{console.read()[-console_chars:]}")

        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    raise failure(f"exited with status {process.returncode}")
                if time.monotonic() > deadline:
                    raise failure(f"did not answer within {timeout:.0f} s")
                if ready():
                    break
                time.sleep(0.5)
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
