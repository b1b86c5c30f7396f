"""Load test over loopback: concurrent clients on the JSON ask endpoint and the Gradio queue, and the server's memory.

    python benchmarks/load_app.py                         # 32 JSON + 32 Gradio clients for 60 s, app started here on seeds/
    python benchmarks/load_app.py --clients 8 --seconds 20 --target json
    python benchmarks/load_app.py --json-clients 24 --gradio-clients 8 --index DIR
    python benchmarks/load_app.py --url http://127.0.0.1:7860 --pid 1234 --json

Each client sends one question at a time, the next as soon as the answer is in. The questions
are varied by default: XQuAD-ar's (distinct) and "ما تفاصيل خبر: TITLE؟" (not "ماذا حدث", which
asks for a timeline) for the first titles of an archive (`--titles-from`, read with `qa.ingest.iter_articles`, so any source `qa build`
takes), shuffled with a fixed seed; each client walks the pool from its own offset, so the
server's caches (the embedder keeps the last `qa.embed.QUERY_CACHE` questions) answer few of
them. `--question Q` asks one question only (a cache figure). JSON clients
POST /api/ask on a keep-alive connection; Gradio clients join the queue of the named endpoint
/ask (POST /gradio_api/call/ask) and read its event stream to the end, as gradio_client does.
Every reply is one of: answered; refused by design (503 from the JSON API when more than
concurrency + backlog questions are waiting, or from the Gradio queue when it holds its
max_size, or a 429): the client was told to come back; or an error (anything else,
including a refused connection or a timeout). The server's resident memory is sampled from
/proc every half second.
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
import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path

from qa.web.background import background_server
from qa.web.request import DEFAULT_K

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
XQUAD = SHARED / "xquad-ar" / "xquad.ar.json"
ANT = SHARED / "news" / "ant-multisource.jsonl.gz"

QUESTION = "متى يزور أولوند موسكو؟"
TITLES = 500
SEED = 13
TIMEOUT_SECONDS = 120.0
MIB = 1024 * 1024


@dataclass(frozen=True)
class Outcome:
    """One request: "ok", "refused" (told to retry later, by design) or "error"; `detail` says which status or failure."""

    kind: str
    seconds: float
    detail: str = ""


@dataclass(frozen=True)
class TargetResult:
    target: str
    clients: int
    answered: int
    refused: int
    errors: int
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    refusals: dict[str, int] = field(default_factory=dict)
    first_errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MemoryResult:
    samples: int
    start_mib: float
    max_mib: float
    end_mib: float
    growth_mib: float
    trace_mib: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class LoadResult:
    seconds: float
    targets: list[TargetResult]
    memory: MemoryResult | None
    questions: int = 1
    asked: int = 0
    repeated: int = 0

    @property
    def errors(self) -> int:
        return sum(t.errors for t in self.targets)


# ---------------------------------------------------------------- the questions

def varied_questions(xquad: Path | None = XQUAD, titles_from: Path | None = ANT, titles: int = TITLES,
                     seed: int = SEED) -> list[str]:
    """XQuAD-ar's distinct questions and questions made of the first `titles` titles of an archive, shuffled.

    Raises:
        SystemExit: neither file is there (give --question, or the paths).
    """
    pool: list[str] = []
    if xquad is not None and xquad.is_file():
        data = json.loads(xquad.read_text(encoding="utf-8"))
        pool += [q["question"] for a in data["data"] for p in a["paragraphs"] for q in p["qas"]]
    if titles_from is not None and titles_from.exists():
        from qa.ingest import iter_articles

        named = (article for article in iter_articles([titles_from]) if article.title.strip())
        pool += [f"ما تفاصيل خبر: {article.title.strip()}؟" for article in islice(named, titles)]
    pool = list(dict.fromkeys(pool))
    if not pool:
        raise SystemExit(f"no questions: neither {xquad} nor {titles_from} is there; give --question or --xquad/--titles-from")
    random.Random(seed).shuffle(pool)
    return pool


class QuestionPool:
    """Hands each client the next question of its own walk through the pool; counts what was asked."""

    def __init__(self, questions: Sequence[str]) -> None:
        if not questions:
            raise ValueError("the question pool is empty")
        self.questions = list(questions)
        self._asked: Counter[str] = Counter()
        self._lock = threading.Lock()

    def walk(self, client: int, clients: int) -> Callable[[], str]:
        """The next-question function of client number `client` of `clients`, starting at its share of the pool."""
        position = [client * len(self.questions) // max(1, clients)]

        def next_question() -> str:
            question = self.questions[position[0] % len(self.questions)]
            position[0] += 1
            with self._lock:
                self._asked[question] += 1
            return question

        return next_question

    @property
    def asked(self) -> int:
        return sum(self._asked.values())

    @property
    def repeated(self) -> int:
        """Questions sent more than once: a server's cache may have answered these."""
        return sum(count - 1 for count in self._asked.values())


# ---------------------------------------------------------------- one request of each kind

def _connection(url: str) -> http.client.HTTPConnection:
    parts = urllib.parse.urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"load tests run over loopback only, not against {parts.hostname}")
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT_SECONDS)


def _refusal(status: int) -> bool:
    return status in (429, 503)


def ask_json(connection: http.client.HTTPConnection, body: bytes, expect: str | None) -> tuple[str, str]:
    """POST /api/ask on an open connection; (kind, detail)."""
    connection.request("POST", "/api/ask", body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    payload = response.read()
    if _refusal(response.status):
        return "refused", f"JSON {response.status} {json.loads(payload)['error']['type']}"
    if response.status != 200:
        return "error", f"JSON {response.status} {payload[:200]!r}"
    answer = json.loads(payload)["answer"]
    if not answer or (expect and expect not in answer):
        return "error", f"JSON 200 with an unexpected answer {answer[:120]!r}"
    return "ok", ""


def ask_gradio(url: str, question: str, expect: str | None) -> tuple[str, str]:
    """Join the queue of the Gradio endpoint /ask and read its event stream; (kind, detail)."""
    connection = _connection(url)
    try:
        body = json.dumps({"data": [question, DEFAULT_K, "hybrid", [], None, None, []]}, ensure_ascii=False).encode()
        connection.request("POST", "/gradio_api/call/ask", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = response.read()
        if _refusal(response.status):
            return "refused", f"Gradio {response.status} {payload[:80].decode(errors='replace')}"
        if response.status != 200:
            return "error", f"Gradio join {response.status} {payload[:200]!r}"
        event_id = json.loads(payload)["event_id"]
        connection.request("GET", f"/gradio_api/call/ask/{event_id}")
        response = connection.getresponse()
        if response.status != 200:
            return "error", f"Gradio stream {response.status} {response.read()[:200]!r}"
        event = None
        for raw in iter(response.readline, b""):
            line = raw.decode("utf-8").rstrip("\r\n")
            if line.startswith("event: "):
                event = line[len("event: "):]
            elif line.startswith("data: ") and event in ("complete", "error"):
                data = json.loads(line[len("data: "):])
                if event == "error":
                    message = json.dumps(data, ensure_ascii=False)
                    return ("refused" if "busy" in message else "error"), f"Gradio error {message[:200]}"
                answer = data[0]["answer"]
                if not answer or (expect and expect not in answer):
                    return "error", f"Gradio answer unexpected {answer[:120]!r}"
                return "ok", ""
        return "error", "Gradio stream ended without a result"
    finally:
        connection.close()


# ---------------------------------------------------------------- clients and memory

def _client_loop(send: Callable[[], tuple[str, str]], stop_at: float, outcomes: list[Outcome], lock: threading.Lock,
                 reset: Callable[[], None] = lambda: None) -> None:
    while time.perf_counter() < stop_at:
        began = time.perf_counter()
        try:
            kind, detail = send()
        except (OSError, http.client.HTTPException, ValueError, KeyError, IndexError, TypeError) as exc:
            kind, detail = "error", f"{type(exc).__name__}: {exc}"
            reset()
        with lock:
            outcomes.append(Outcome(kind, time.perf_counter() - began, detail))
        if kind == "refused":
            time.sleep(1.0)  # as Retry-After asks


def json_client(url: str, next_question: Callable[[], str], expect: str | None, stop_at: float, outcomes: list[Outcome],
                lock: threading.Lock) -> None:
    holder = [_connection(url)]

    def reset() -> None:
        holder[0].close()
        holder[0] = _connection(url)

    def send() -> tuple[str, str]:
        body = json.dumps({"question": next_question()}, ensure_ascii=False).encode("utf-8")
        return ask_json(holder[0], body, expect)

    try:
        _client_loop(send, stop_at, outcomes, lock, reset)
    finally:
        holder[0].close()


def gradio_client(url: str, next_question: Callable[[], str], expect: str | None, stop_at: float, outcomes: list[Outcome],
                  lock: threading.Lock) -> None:
    _client_loop(lambda: ask_gradio(url, next_question(), expect), stop_at, outcomes, lock)


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no VmRSS for process {pid}")


@contextmanager
def sample_memory(pid: int | None, every: float = 0.5) -> Iterator[list[int]]:
    """Sample the resident memory of `pid` until the block ends; yields the growing list of samples (bytes)."""
    samples: list[int] = []
    if pid is None:
        yield samples
        return
    done = threading.Event()

    def sample() -> None:
        while True:
            try:
                samples.append(rss_bytes(pid))
            except OSError:
                return
            if done.wait(every):
                return

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        done.set()
        thread.join()
        try:
            samples.append(rss_bytes(pid))
        except OSError:
            pass


# ---------------------------------------------------------------- the run

def run_load(url: str, *, json_clients: int, gradio_clients: int, seconds: float, pid: int | None = None,
             questions: Sequence[str] = (QUESTION,), expect: str | None = None, warmup: int = 3) -> LoadResult:
    """Warm the server up, then run the clients for `seconds`, asking `questions` in turn, while sampling its memory.

    The warm-up asks the seed question (`QUESTION`), which is not counted.
    """
    warm = _connection(url)
    try:
        body = json.dumps({"question": QUESTION}, ensure_ascii=False).encode("utf-8")
        for _ in range(warmup):
            if json_clients:
                ask_json(warm, body, None)
            if gradio_clients:
                ask_gradio(url, QUESTION, None)
    finally:
        warm.close()
    pool = QuestionPool(questions)
    plans = [("json", json_client, json_clients), ("gradio", gradio_client, gradio_clients)]
    outcomes: dict[str, list[Outcome]] = {name: [] for name, _, _ in plans}
    lock = threading.Lock()
    with sample_memory(pid) as samples:
        time.sleep(0.6)  # a sample before the load
        began = time.perf_counter()
        stop_at = began + seconds
        clients = json_clients + gradio_clients
        walks = iter(pool.walk(i, clients) for i in range(clients))
        threads = [
            threading.Thread(target=client, args=(url, next(walks), expect, stop_at, outcomes[name], lock), daemon=True)
            for name, client, count in plans for _ in range(count)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        time.sleep(1.0)  # and one after it, once the last answers are sent
    targets = [_summary(name, count, outcomes[name], elapsed) for name, _, count in plans if count]
    memory = None
    if samples:
        memory = MemoryResult(
            samples=len(samples), start_mib=round(samples[0] / MIB, 1), max_mib=round(max(samples) / MIB, 1),
            end_mib=round(samples[-1] / MIB, 1), growth_mib=round((samples[-1] - samples[0]) / MIB, 1),
            trace_mib=[round(samples[round(i * (len(samples) - 1) / 10)] / MIB, 1) for i in range(11)],
        )
    return LoadResult(seconds=round(elapsed, 1), targets=targets, memory=memory, questions=len(pool.questions),
                      asked=pool.asked, repeated=pool.repeated)


def _summary(name: str, clients: int, outcomes: list[Outcome], elapsed: float) -> TargetResult:
    answered = sorted(o.seconds for o in outcomes if o.kind == "ok")
    refused = Counter(o.detail for o in outcomes if o.kind == "refused")
    errors = [o.detail for o in outcomes if o.kind == "error"]
    cuts = statistics.quantiles(answered, n=20) if len(answered) > 1 else answered * 19 or [0.0] * 19
    return TargetResult(
        target=name, clients=clients, answered=len(answered), refused=sum(refused.values()), errors=len(errors),
        requests_per_second=round(len(answered) / elapsed, 2) if elapsed else 0.0,
        p50_ms=round(statistics.median(answered) * 1000, 1) if answered else 0.0,
        p95_ms=round(cuts[18] * 1000, 1), max_ms=round(answered[-1] * 1000, 1) if answered else 0.0,
        refusals=dict(refused), first_errors=errors[:5],
    )


def report(result: LoadResult) -> str:
    lines = [f"{result.seconds} s of load; {result.asked} questions asked from a pool of {result.questions} "
             f"({result.repeated} of them repeats, which a server cache may answer)"]
    for t in result.targets:
        lines.append(
            f"  {t.target:<6} {t.clients} clients: {t.answered} answered, {t.requests_per_second} answers/s, "
            f"p50 {t.p50_ms} ms, p95 {t.p95_ms} ms, max {t.max_ms} ms; refused by design {t.refused}, errors {t.errors}"
        )
        lines += [f"         refused {count}x: {detail}" for detail, count in t.refusals.items()]
        lines += [f"         error: {error}" for error in t.first_errors]
    if result.memory is not None:
        m = result.memory
        lines.append(
            f"  server RSS ({m.samples} samples): start {m.start_mib} MiB, max {m.max_mib} MiB, "
            f"end {m.end_mib} MiB, growth {m.growth_mib:+} MiB\n  RSS every tenth of the run (MiB): {', '.join(map(str, m.trace_mib))}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app on loopback (default: start one here)")
    parser.add_argument("--pid", type=int, help="with --url: the server's process id, to sample its memory")
    parser.add_argument("--index", help="index for the app started here (default: build one of seeds/ in a temp dir)")
    parser.add_argument("--clients", type=int, default=32, help="clients per target (default: %(default)s)")
    parser.add_argument("--json-clients", type=int, help="JSON clients (default: --clients, or 0 with --target gradio)")
    parser.add_argument("--gradio-clients", type=int, help="Gradio clients (default: --clients, or 0 with --target json)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the load (default: %(default)s)")
    parser.add_argument("--target", choices=("both", "json", "gradio"), default="both", help="what to load (default: %(default)s, at once)")
    parser.add_argument("--concurrency", type=int, default=1, help="the started app's --concurrency (default: %(default)s)")
    parser.add_argument("--backlog", type=int, default=32, help="the started app's --backlog (default: %(default)s)")
    parser.add_argument("--question", help=f"ask only this question (default: varied questions; {QUESTION!r} is the seed's)")
    parser.add_argument("--xquad", type=Path, default=XQUAD, help="SQuAD-format file whose questions are asked (default: %(default)s)")
    parser.add_argument("--titles-from", type=Path, default=ANT,
                        help="an archive (any source qa build takes) whose first titles are asked about (default: %(default)s)")
    parser.add_argument("--titles", type=int, default=TITLES, help="titles taken from --titles-from (default: %(default)s)")
    parser.add_argument("--expect", help="a word every answer must contain (default: الخميس when --question is the seed's)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args()
    json_clients = args.json_clients if args.json_clients is not None else (args.clients if args.target in ("both", "json") else 0)
    gradio_clients = (args.gradio_clients if args.gradio_clients is not None
                      else (args.clients if args.target in ("both", "gradio") else 0))
    if json_clients < 0 or gradio_clients < 0 or json_clients + gradio_clients < 1 or not 0 < args.seconds <= 3600:
        parser.error("clients must be at least 1 in all (none negative) and --seconds from 0 to 3600")
    expect = args.expect if args.expect is not None else ("الخميس" if args.question == QUESTION else None)
    questions = [args.question] if args.question else varied_questions(args.xquad, args.titles_from, args.titles)

    with tempfile.TemporaryDirectory() as tmp:
        if args.url:
            result = run_load(args.url, json_clients=json_clients, gradio_clients=gradio_clients, seconds=args.seconds,
                              pid=args.pid, questions=questions, expect=expect)
        else:
            index = args.index
            if index is None:
                import qa

                index = str(Path(tmp) / "vectors")
                qa.build_index([str(ROOT / "seeds")], index)
            server_args = ["--index", str(Path(index).resolve()), "--build", "never",
                           "--concurrency", str(args.concurrency), "--backlog", str(args.backlog)]
            with background_server(server_args, cwd=ROOT) as server:
                result = run_load(server.url, json_clients=json_clients, gradio_clients=gradio_clients,
                                  seconds=args.seconds, pid=server.pid, questions=questions, expect=expect)
    print(json.dumps(asdict(result), ensure_ascii=False) if args.json else report(result))
    return 0 if result.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
