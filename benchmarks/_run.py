"""Run a `qa` command in a child process and measure its wall time and peak resident memory."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

# Linux reports as a child's peak at least the RSS of the process it was forked from (the
# hiwater mark survives exec), so a small launcher process forks `qa` and reads its wait4 usage.
_LAUNCHER = """
import json, os, subprocess, sys, tempfile
with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
    child = subprocess.Popen([sys.executable, "-m", "qa.cli", *sys.argv[1:]], stdout=out, stderr=err)
    _, status, usage = os.wait4(child.pid, 0)
    out.seek(0)
    err.seek(0)
    print(json.dumps({"code": os.waitstatus_to_exitcode(status), "peak_kib": usage.ru_maxrss,
                      "stdout": out.read().decode(), "stderr": err.read().decode()[-2000:]}))
"""


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mib: float
    summary: dict[str, Any]


def run_qa(*args: str) -> Run:
    """`python -m qa.cli ARGS --json`, timed from process start to exit (imports and model load included)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, *args, "--json"], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    result = json.loads(done.stdout)
    if result["code"] != 0:
        raise SystemExit(f"qa {' '.join(args)} failed: {result['stderr']}")
    summary = json.loads(result["stdout"].strip().splitlines()[-1])
    return Run(seconds=seconds, peak_mib=result["peak_kib"] / 1024, summary=summary)
