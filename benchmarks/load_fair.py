"""Fair serving over loopback: people in the Gradio queue beside JSON API traffic, then a burst past the JSON backlog.

    python benchmarks/load_fair.py --index /work/idx/ant3000                 # 8 Gradio + 24 JSON clients for 40 s
    python benchmarks/load_fair.py --index DIR --app-root /tmp/qa-before     # the same against another checkout
    python benchmarks/load_fair.py --url http://127.0.0.1:7860 --pid 1234 --backlog 32

The load is benchmarks/load_app.py's (varied questions, each client one question at a time, next
as soon as the answer is in). It passes when the Gradio clients' p95 is at most --p95-ms, neither
side has an error, and a burst of concurrency + backlog + --burst-extra JSON questions sent at once
gets the extra ones refused with 503 and a Retry-After header. The load average (/proc/loadavg)
is printed before and after: on a shared machine the figures move with it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from load_app import ANT, TITLES, XQUAD, LoadResult, _connection, report, run_load, varied_questions

from qa.web.background import background_server

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Burst:
    """Questions sent at once: answered, refused with 503 and Retry-After, anything else."""

    sent: int
    answered: int
    refused_with_retry_after: int
    other: list[str]


@dataclass(frozen=True)
class FairResult:
    load: LoadResult
    burst: Burst | None
    loadavg_before: str
    loadavg_after: str
    gradio_p95_ms: float
    target_p95_ms: float
    passed: bool


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text(encoding="ascii").strip()
    except OSError:
        return "unknown"


def burst(url: str, count: int, question: str) -> Burst:
    """`count` JSON questions sent at the same moment, each on its own connection."""
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(count)
    body = json.dumps({"question": question}, ensure_ascii=False).encode("utf-8")

    def one() -> None:
        connection = _connection(url)
        try:
            start.wait()
            connection.request("POST", "/api/ask", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                kind = "answered"
            elif response.status == 503 and response.getheader("Retry-After"):
                kind = "refused"
            else:
                kind = f"status {response.status} (Retry-After {response.getheader('Retry-After')!r})"
        except (OSError, http.client.HTTPException, threading.BrokenBarrierError) as exc:
            kind = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        with lock:
            outcomes.append(kind)

    threads = [threading.Thread(target=one, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = Counter(outcomes)
    other = [kind for kind in outcomes if kind not in ("answered", "refused")]
    return Burst(sent=count, answered=counts["answered"], refused_with_retry_after=counts["refused"], other=other[:5])


def measure(url: str, *, pid: int | None, json_clients: int, gradio_clients: int, seconds: float, questions: list[str],
            target_p95_ms: float, burst_size: int, burst_extra: int) -> FairResult:
    before = loadavg()
    load = run_load(url, json_clients=json_clients, gradio_clients=gradio_clients, seconds=seconds, pid=pid,
                    questions=questions)
    after = loadavg()
    sent = burst(url, burst_size, questions[0]) if burst_extra > 0 else None
    gradio = next((t for t in load.targets if t.target == "gradio"), None)
    p95 = gradio.p95_ms if gradio is not None else 0.0
    refused_ok = sent is None or (sent.refused_with_retry_after >= 1 and not sent.other)
    passed = load.errors == 0 and (gradio is None or (gradio.answered > 0 and p95 <= target_p95_ms)) and refused_ok
    return FairResult(load=load, burst=sent, loadavg_before=before, loadavg_after=after, gradio_p95_ms=p95,
                      target_p95_ms=target_p95_ms, passed=passed)


def describe(result: FairResult) -> str:
    lines = [f"load average before: {result.loadavg_before}", report(result.load), f"load average after:  {result.loadavg_after}"]
    if result.burst is not None:
        b = result.burst
        lines.append(f"burst of {b.sent} JSON questions at once: {b.answered} answered, "
                     f"{b.refused_with_retry_after} refused with 503 + Retry-After, {len(b.other)} other")
        lines += [f"         other: {kind}" for kind in b.other]
    verdict = "PASS" if result.passed else "FAIL"
    lines.append(f"{verdict}: Gradio p95 {result.gradio_p95_ms} ms (target <= {result.target_p95_ms:.0f} ms), "
                 f"errors {result.load.errors}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app on loopback (default: start one here on --index)")
    parser.add_argument("--pid", type=int, help="with --url: the server's process id, to sample its memory")
    parser.add_argument("--index", help="the index the app started here serves (at least 10k passages for the issue's figure)")
    parser.add_argument("--app-root", type=Path, default=ROOT,
                        help="the checkout whose app is started (default: this one; e.g. an older commit's `git archive`)")
    parser.add_argument("--json-clients", type=int, default=24, help="JSON clients (default: %(default)s)")
    parser.add_argument("--gradio-clients", type=int, default=8, help="Gradio clients (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=40.0, help="length of the load (default: %(default)s)")
    parser.add_argument("--concurrency", type=int, default=1, help="the app's --concurrency (default: %(default)s)")
    parser.add_argument("--backlog", type=int, default=32, help="the app's --backlog (default: %(default)s)")
    parser.add_argument("--burst-extra", type=int, default=8,
                        help="JSON questions sent past concurrency + backlog at the end, to see them refused; 0: none (default: %(default)s)")
    parser.add_argument("--p95-ms", type=float, default=2000.0, help="the Gradio p95 the run must stay under (default: %(default)s)")
    parser.add_argument("--xquad", type=Path, default=XQUAD, help="SQuAD-format file whose questions are asked (default: %(default)s)")
    parser.add_argument("--titles-from", type=Path, default=ANT, help="an archive whose first titles are asked about (default: %(default)s)")
    parser.add_argument("--titles", type=int, default=TITLES, help="titles taken from --titles-from (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args()
    if args.json_clients < 0 or args.gradio_clients < 0 or args.json_clients + args.gradio_clients < 1:
        parser.error("--json-clients and --gradio-clients must be 0 or more, and not both 0")
    if not 0 < args.seconds <= 600 or args.burst_extra < 0 or args.burst_extra > 64:
        parser.error("--seconds must be from 0 to 600 and --burst-extra from 0 to 64")
    if args.url is None and args.index is None:
        parser.error("give --index (the app is started here on it) or --url")
    questions = varied_questions(args.xquad, args.titles_from, args.titles)
    settings = {"json_clients": args.json_clients, "gradio_clients": args.gradio_clients, "seconds": args.seconds,
                "questions": questions, "target_p95_ms": args.p95_ms,
                "burst_size": args.concurrency + args.backlog + args.burst_extra, "burst_extra": args.burst_extra}
    if args.url:
        result = measure(args.url, pid=args.pid, **settings)
    else:
        server_args = ["--index", str(Path(args.index).resolve()), "--build", "never",
                       "--concurrency", str(args.concurrency), "--backlog", str(args.backlog)]
        with background_server(server_args, cwd=args.app_root.resolve()) as server:
            result = measure(server.url, pid=server.pid, **settings)
    print(json.dumps(asdict(result), ensure_ascii=False) if args.json else describe(result))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
