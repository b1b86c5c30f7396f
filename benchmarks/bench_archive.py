"""A whole-archive index, measured: hybrid search latency, the index's recall, app cold start, bytes per passage.

Usage: PYTHONPATH=. python benchmarks/bench_archive.py --index DIR [--source ant.jsonl.gz] [--questions 200]

DIR is a built index (e.g. `qa build ../shared/data/news/ant-multisource.jsonl.gz --out DIR`).
1. Hybrid search, question encoding included, one question at a time, p50/p95 over
   XQuAD-ar questions (their paragraphs are not in the archive: they search among
   distractors) and over questions about the archive's own articles: the first
   `--questions` titles of `--source`, each asked as "ما تفاصيل خبر: TITLE؟" (not "ماذا حدث",
   which asks for a timeline); for those, how often the article asked about comes back in the top 10.
2. The index's own recall@10 against exact search, as the build measured it (manifest).
3. App cold start: from starting `python -m qa.web --index DIR --build never` to the
   first answer of /api/ask, in a child process (imports, model and index load included).
4. Disk bytes per passage, by file, and the resident memory of a process that has
   loaded the index and answered the questions.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from itertools import islice
from pathlib import Path

from qa import Retriever
from qa.ingest import iter_articles
from qa.stores.generations import current_generation
from qa.web.background import free_port

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
XQUAD = SHARED / "xquad-ar" / "xquad.ar.json"
ANT = SHARED / "news" / "ant-multisource.jsonl.gz"
XQUAD_EN = SHARED / "xquad-ar" / "xquad.en-questions.dev.json"


def xquad_questions(count: int, path: Path = XQUAD) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    questions = [qa["question"] for a in data["data"] for p in a["paragraphs"] for qa in p["qas"]]
    step = max(1, len(questions) // count)
    return questions[::step][:count]


def title_questions(source: Path, count: int) -> list[tuple[str, str]]:
    """(question, article id) for the first `count` articles of `source` that have a title.

    `source` is read as `qa build` reads it (`qa.ingest.iter_articles`): a .jsonl or .jsonl.gz
    file, a folder or a .txt/.md article, so the ids are those the index holds.
    """
    titled = (article for article in iter_articles([source]) if article.title.strip())
    return [(f"ما تفاصيل خبر: {article.title.strip()}؟", article.id) for article in islice(titled, count)]


def percentiles(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {1000 * statistics.median(ordered):.1f} ms, p95 {1000 * p95:.1f} ms over {len(ordered)}"


def timed_searches(retriever: Retriever, questions: list[str]) -> tuple[list[float], list[list[str]]]:
    seconds, ids = [], []
    for question in questions:
        start = time.perf_counter()
        hits = retriever.search(question, k=10)
        seconds.append(time.perf_counter() - start)
        ids.append([hit.article_id for hit in hits])
    return seconds, ids


def cold_start(index: Path, question: str) -> float:
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/ask"
    body = json.dumps({"question": question}).encode("utf-8")
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "qa.web", "--index", str(index), "--build", "never", "--host", "127.0.0.1",
         "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        while time.perf_counter() - start < 300:
            if process.poll() is not None:
                raise SystemExit(f"the app exited with status {process.returncode}")
            request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    if json.loads(response.read())["answer"]:
                        return time.perf_counter() - start
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise SystemExit("the app did not answer within 300 s")
    finally:
        process.terminate()
        process.wait(timeout=30)


def disk_by_file(index: Path, passages: int) -> list[str]:
    generation = current_generation(index) or index
    lines = []
    for file in sorted(p for p in generation.rglob("*") if p.is_file()):
        size = file.stat().st_size
        lines.append(f"  {file.relative_to(generation)}: {size / 2**20:,.1f} MiB, {size / passages:,.0f} B/passage")
    total = sum(p.stat().st_size for p in generation.rglob("*") if p.is_file())
    lines.append(f"  total: {total / 2**20:,.1f} MiB, {total / passages:,.0f} B/passage")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--source", type=Path, default=ANT, help="the archive's articles, for title questions")
    parser.add_argument("--questions", type=int, default=200, help="questions of each kind")
    parser.add_argument("--cold-starts", type=int, default=3)
    args = parser.parse_args()

    print(f"load {os.getloadavg()[0]:.2f}")
    start = time.perf_counter()
    retriever = Retriever.load(args.index)
    retriever.search("تحميل", k=10)  # the first search loads the model and the lexical index
    print(f"index loaded and first search in {time.perf_counter() - start:.1f} s")
    manifest = retriever.manifest
    passages = manifest.counts.passages
    print(f"{manifest.counts.articles:,} articles, {passages:,} passages; model precision {manifest.model.precision}; "
          f"index {manifest.index.type}; recall@10 against exact search (build's own measure): {manifest.index.recall}")

    xquad = xquad_questions(args.questions)
    titled = title_questions(args.source, args.questions)
    timed_searches(retriever, xquad[:10])  # warm up
    xquad_seconds, _ = timed_searches(retriever, xquad)
    title_seconds, found = timed_searches(retriever, [q for q, _ in titled])
    hit = sum(1 for (_, article_id), ids in zip(titled, found) if article_id in ids)
    print(f"hybrid search, encoding included: XQuAD-ar questions {percentiles(xquad_seconds)}")
    print(f"hybrid search, encoding included: archive title questions {percentiles(title_seconds)}; "
          f"the article asked about in the top 10 for {hit}/{len(titled)}")
    print(f"hybrid search, encoding included: all {percentiles(xquad_seconds + title_seconds)}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process (index loaded, {len(xquad) + len(titled)} searches): {rss:,.0f} MiB, "
          f"{rss * 2**20 / passages:,.0f} B/passage")
    retriever.close()

    print("disk:")
    print("\n".join(disk_by_file(args.index, passages)))
    starts = [cold_start(args.index, titled[0][0]) for _ in range(args.cold_starts)]
    print(f"app cold start to the first answer: median {statistics.median(starts):.1f} s "
          f"({', '.join(f'{s:.1f}' for s in starts)})")


if __name__ == "__main__":
    main()
