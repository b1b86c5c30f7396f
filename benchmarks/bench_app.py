"""Measure the JSON `ask` endpoint under concurrent loopback clients: requests/s, p50/p95 latency, errors.

    python benchmarks/bench_app.py                        # starts the app on an index of seeds/ in a temp dir
    python benchmarks/bench_app.py --clients 8 --seconds 30 --index vectors
    python benchmarks/bench_app.py --url http://127.0.0.1:7860 --json
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

from qa.web.background import serve_in_background

ROOT = Path(__file__).resolve().parent.parent

QUESTION = "متى يزور أولوند موسكو؟"


@dataclass(frozen=True)
class Result:
    clients: int
    seconds: float
    requests: int
    errors: int
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    concurrency: int


def hammer(url: str, body: bytes, clients: int, seconds: float) -> tuple[list[float], list[str], float]:
    """`clients` threads, each with one keep-alive connection, POST /api/ask in a loop for `seconds`."""
    parts = urllib.parse.urlsplit(url)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        start.wait()
        while time.perf_counter() < stop_at[0]:
            began = time.perf_counter()
            try:
                connection.request("POST", "/api/ask", body=body, headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                payload = response.read()
                ok = response.status == 200 and "الخميس" in json.loads(payload)["answer"]
                problem = None if ok else f"{response.status} {payload[:200]!r}"
            except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
                connection.close()
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
            elapsed = time.perf_counter() - began
            with lock:
                (errors.append(problem) if problem else latencies.append(elapsed))
        connection.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    return latencies, errors, time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app (default: start one here)")
    parser.add_argument("--index", help="index for the app started here (default: build one of seeds/ in a temp dir)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=1, help="the started app's --concurrency (default: %(default)s)")
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args()
    body = json.dumps({"question": args.question}, ensure_ascii=False).encode("utf-8")

    with tempfile.TemporaryDirectory() as tmp:
        if args.url:
            server = nullcontext(args.url)
        else:
            index = args.index
            if index is None:
                import qa

                index = str(Path(tmp) / "vectors")
                qa.build_index([str(ROOT / "seeds")], index)
            server = serve_in_background(["--index", str(Path(index).resolve()), "--concurrency", str(args.concurrency)], cwd=ROOT)
        with server as url:
            hammer(url, body, 1, 2.0)  # warm up: first-call costs are not what we measure
            latencies, errors, elapsed = hammer(url, body, args.clients, args.seconds)
    if not latencies:
        print(f"every request failed, first error: {errors[0] if errors else 'none sent'}", file=sys.stderr)
        return 1
    cuts = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else latencies * 19
    result = Result(
        clients=args.clients, seconds=round(elapsed, 1), requests=len(latencies), errors=len(errors),
        requests_per_second=round(len(latencies) / elapsed, 2), p50_ms=round(statistics.median(latencies) * 1000, 1),
        p95_ms=round(cuts[18] * 1000, 1), max_ms=round(max(latencies) * 1000, 1),
        concurrency=args.concurrency if not args.url else 0,
    )
    if args.json:
        print(json.dumps(asdict(result)))
    else:
        print(
            f"POST /api/ask, {result.clients} clients for {result.seconds} s: {result.requests} answers, "
            f"{result.requests_per_second} requests/s, p50 {result.p50_ms} ms, p95 {result.p95_ms} ms, "
            f"max {result.max_ms} ms, errors {result.errors}"
        )
        for error in errors[:5]:
            print(f"  error: {error}", file=sys.stderr)
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
