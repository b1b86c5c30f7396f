"""Ingest figures of issue 23, each against a real HTTP server on 127.0.0.1 in a child process (its CPU is not ours).

    python benchmarks/bench_ingest.py extract [--pages 500]     body token F1, title and date right (qa.text.html)
    python benchmarks/bench_ingest.py rate [--pages 1000] [--build-pages 200]
                                        fetch + extract rate through 20 feeds; with --build-pages, its share of a whole build
    python benchmarks/bench_ingest.py unchanged [--feeds 20]   CPU of a poll round of 20 unchanged feeds
    python benchmarks/bench_ingest.py app [--new 50]           new feed items answerable through a running app's /api/ask
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_extract import measure  # noqa: E402
from qa.fetch import Fetcher, FetchLimits  # noqa: E402
from qa.sources import Collector, Spool  # noqa: E402
from tests.news_pages import NewsArticle, load_articles, pages, render_rss  # noqa: E402
from tests.news_server import NewsServer, Route  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(port: int, articles: list[NewsArticle], feeds: int, published: multiprocessing.Value) -> None:
    """The child process: pages of every article, `feeds` RSS feeds splitting the first `published` articles."""
    server = NewsServer(port)
    base = f"http://127.0.0.1:{port}"
    for i, page in enumerate(pages(articles, base_url=base)):
        server.routes[f"/news/{i}.html"] = Route(page.body, page.content_type)
    shown = -1
    server.start()
    while True:
        if published.value != shown:
            shown = published.value
            for f in range(feeds):
                items = [(articles[i], f"{base}/news/{i}.html") for i in range(shown) if i % feeds == f]
                server.routes[f"/feed/{f}.xml"] = Route(render_rss(f"feed {f}", base, items), "application/rss+xml")
        time.sleep(0.05)


class Site:
    """The server process and the knob that says how many articles the feeds show."""

    def __init__(self, articles: list[NewsArticle], feeds: int, published: int) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.feeds = [f"{self.url}/feed/{f}.xml" for f in range(feeds)]
        self.published = multiprocessing.Value("i", published)
        self.process = multiprocessing.get_context("fork").Process(target=_serve, args=(self.port, articles, feeds, self.published), daemon=True)
        self.process.start()
        for _ in range(600):
            try:
                urllib.request.urlopen(self.feeds[-1], timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the news server did not start")

    def publish(self, count: int) -> None:
        self.published.value = count
        time.sleep(0.3)

    def close(self) -> None:
        self.process.terminate()
        self.process.join(5)


def _round(collector: Collector, sources: list[str]) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    with Fetcher(FetchLimits()) as fetcher:
        prepared = collector.prepare(sources, fetcher)
    return prepared, time.perf_counter() - wall, time.process_time() - cpu


def bench_extract(args: argparse.Namespace) -> None:
    r = measure("trafilatura", list(pages(load_articles(args.pages))))
    print(f"extract: {r['pages']} pages, body token F1 median {r['f1_median']:.3f}, 5th percentile {r['f1_p5']:.3f}, "
          f"mean {r['f1_mean']:.3f}; title right {100 * r['title']:.1f}%, date right {100 * r['date']:.1f}%; "
          f"{r['failures']} failed; {r['ms_per_page']:.1f} ms CPU a page")


def bench_rate(args: argparse.Namespace) -> None:
    articles = load_articles(args.pages)
    site = Site(articles, 20, args.pages)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            collector = Collector(Spool(Path(tmp) / "spool"))
            prepared, wall, cpu = _round(collector, site.feeds)
            new = sum(r.new for r in prepared.reports)
            failed = sum(len(r.failed) for r in prepared.reports)
            print(f"rate: {new} pages fetched and extracted from 20 feeds in {wall:.1f} s ({new / wall:.1f} pages/s, "
                  f"{1000 * cpu / max(new, 1):.1f} ms CPU a page); {failed} failed")
            if args.build_pages:
                _build_share(articles[:args.build_pages], site, Path(tmp))
    finally:
        site.close()


def _build_share(articles: list[NewsArticle], site: Site, tmp: Path) -> None:
    from qa.watch import Watcher

    site.publish(len(articles))
    watcher = Watcher(site.feeds, tmp / "vectors", spool=tmp / "share-spool")
    wall = time.perf_counter()
    with Fetcher(FetchLimits()) as fetcher:
        prepared = watcher.collector.prepare(site.feeds, fetcher)
    read = time.perf_counter() - wall
    from qa.build import build_index

    started = time.perf_counter()
    report = build_index(list(prepared.paths), tmp / "vectors", settings=watcher.settings)
    build = time.perf_counter() - started
    print(f"share: {report.articles} articles, {report.passages} passages: fetch + extract {read:.1f} s, "
          f"build (chunk, embed, index) {build:.1f} s; ingest is {100 * read / (read + build):.1f}% of the whole")


def bench_unchanged(args: argparse.Namespace) -> None:
    articles = load_articles(args.feeds * 50)
    site = Site(articles, args.feeds, len(articles))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            collector = Collector(Spool(Path(tmp) / "spool"))
            first, wall, _ = _round(collector, site.feeds)
            print(f"unchanged: first round {sum(r.new for r in first.reports)} items in {wall:.1f} s")
            for label, fresh in (("same process", False), ("spool reopened", True)):
                if fresh:
                    cpu = time.process_time()
                    collector = Collector(Spool(Path(tmp) / "spool"))
                    opened = time.process_time() - cpu
                else:
                    opened = 0.0
                again, wall, cpu = _round(collector, site.feeds)
                print(f"unchanged: {label}: a round of {len(site.feeds)} unchanged feeds "
                      f"({sum(r.unchanged for r in again.reports)} items, {sum(r.not_modified for r in again.reports)} answered 304) "
                      f"took {cpu + opened:.3f} s CPU ({wall:.3f} s wall; opening the spool {opened:.3f} s)")
    finally:
        site.close()


def bench_app(args: argparse.Namespace) -> None:
    from qa.watch import Watcher

    articles = load_articles(args.old + args.new, seed=99)
    site = Site(articles, 5, args.old)
    app = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "vectors"
            watcher = Watcher(site.feeds, out)
            first = watcher.poll()
            print(f"app: first round indexed {first.build.articles} articles in {first.seconds:.1f} s", flush=True)
            port = _free_port()
            app = subprocess.Popen([sys.executable, "-m", "qa.web", "--index", str(out), "--port", str(port), "--build", "never"],
                                   cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "QA_LOG_FILE": os.devnull})
            _wait_health(port)
            site.publish(args.old + args.new)
            started = time.perf_counter()
            second = watcher.poll()
            polled = time.perf_counter() - started
            build_s = second.build.seconds if second.build else 0.0
            print(f"app: the next round found {second.new} new items in {polled:.1f} s: reading {polled - build_s:.1f} s, "
                  f"build {build_s:.1f} s ({second.build.embedded if second.build else 0} passages embedded)", flush=True)
            pending = {f"{site.url}/news/{i}.html": articles[i] for i in range(args.old, args.old + args.new)}
            built = time.perf_counter()
            cited_at: dict[str, float] = {}
            found_at: dict[str, float] = {}
            latencies: list[float] = []
            while len(cited_at) < len(pending) and time.perf_counter() < built + 180:
                for url, article in pending.items():
                    if url in cited_at:
                        continue
                    asked = time.perf_counter()
                    answer = _ask(port, " ".join(article.title.split()))
                    latencies.append(time.perf_counter() - asked)
                    if url in {h.get("url") for h in answer.get("hits", [])}:
                        found_at.setdefault(url, time.perf_counter() - started)
                    if url in {c.get("url") for c in answer.get("citations", [])}:
                        cited_at[url] = time.perf_counter() - started
            import statistics

            print(f"app: the first new item was cited {min(cited_at.values(), default=0):.1f} s after the poll started "
                  f"({min(cited_at.values(), default=0) - (built - started):.1f} s after its build ended); "
                  f"/api/ask took {statistics.median(latencies or [0]):.2f} s a question (median of {len(latencies)})", flush=True)
            for label, seen in (("cited in the answer", cited_at), ("among its 5 hits", found_at)):
                within = sum(1 for t in seen.values() if t <= 60)
                print(f"app: {len(seen)}/{args.new} new items {label} (their title as the question), {within} within 60 s of the "
                      f"poll's start; the last at {max(seen.values(), default=0):.1f} s after the poll started, "
                      f"{max(seen.values(), default=0) - (built - started):.1f} s after its build ended", flush=True)
    finally:
        if app is not None:
            app.terminate()
            app.wait(10)
        site.close()


def _wait_health(port: int) -> None:
    for _ in range(900):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the app did not start")


def _ask(port: int, question: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/ask", data=json.dumps({"question": question, "k": 5}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())
    except OSError:
        return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    extract = commands.add_parser("extract")
    extract.add_argument("--pages", type=int, default=500)
    extract.set_defaults(run=bench_extract)
    rate = commands.add_parser("rate")
    rate.add_argument("--pages", type=int, default=1000)
    rate.add_argument("--build-pages", type=int, default=0)
    rate.set_defaults(run=bench_rate)
    unchanged = commands.add_parser("unchanged")
    unchanged.add_argument("--feeds", type=int, default=20)
    unchanged.set_defaults(run=bench_unchanged)
    app = commands.add_parser("app")
    app.add_argument("--old", type=int, default=20)
    app.add_argument("--new", type=int, default=50)
    app.set_defaults(run=bench_app)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
