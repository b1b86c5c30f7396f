"""A real Milvus Lite gRPC server on 127.0.0.1 for the tests: started on first use, stopped at the end of the run."""

from __future__ import annotations

import atexit
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qa.web.background import free_port
from tests.conftest import require

START_SECONDS = 60.0


def require_milvus() -> None:
    """Skip (fail under CI) when pymilvus or milvus-lite is not installed."""
    missing = [name for name in ("pymilvus", "milvus_lite") if importlib.util.find_spec(name) is None]
    require(not missing, f"{' and '.join(missing)} not installed (pip install -e '.[milvus]')")


class MilvusServer:
    """`python -m milvus_lite server` bound to loopback on a free port, with its data in `data_dir`."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"milvus-{self.port}.log"

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MilvusServer:
        require_milvus()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "milvus_lite", "server", "--host", "127.0.0.1", "--port", str(self.port),
                 "--data-dir", str(self.data_dir)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"milvus_lite server exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"milvus_lite server did not listen on {self.port} within {START_SECONDS:.0f} s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


_shared: MilvusServer | None = None


def shared_server() -> MilvusServer:
    """One server for the whole test run (each test uses its own collection), stopped when the run ends."""
    global _shared
    if _shared is None:
        _shared = MilvusServer(Path(tempfile.mkdtemp(prefix="qa-milvus-")) / "data").start()
        atexit.register(_shared.stop)
    return _shared
