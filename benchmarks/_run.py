"""Run a `qa` command in a child process and measure its wall time and peak resident memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mib: float
    summary: dict[str, Any]


def run_qa(*args: str) -> Run:
    """`python -m qa.cli ARGS --json`, timed from process start to exit (imports and model load included)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "qa.cli", *args, "--json"], stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"qa {' '.join(args)} failed: {err.read().decode()[-2000:]}")
        summary = json.loads(out.read().decode().strip().splitlines()[-1])
    return Run(seconds=seconds, peak_mib=usage.ru_maxrss / 1024, summary=summary)
