"""Measure the lexical index: retrieval quality of analyzer variants on XQuAD-ar, build and search cost at scale."""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.ingest import iter_articles
from qa.lexical import DEFAULT_ANALYZER, Analyzer, LexicalIndex, analyze

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
XQUAD = SHARED / "xquad-ar" / "xquad.ar.json"
NEWS = SHARED / "news" / "ant-multisource.jsonl.gz"


@dataclass(frozen=True)
class Variant:
    name: str
    analyzer: Analyzer
    title: bool


@dataclass(frozen=True)
class Quality:
    recall_1: float
    recall_5: float
    recall_10: float
    mrr_10: float
    empty: int


def variants() -> list[Variant]:
    grid = [
        Variant(
            f"{stemmer:8s} stop={'yes' if stop else 'no ':3s} title={'in' if title else 'out'}",
            Analyzer(stemmer=stemmer, stopwords=stop),
            title,
        )
        for stemmer in ("none", "snowball", "light")
        for stop in (False, True)
        for title in (True, False)
    ]
    grid += [
        Variant(f"light min_stem={n} stop=yes title=in", Analyzer(stemmer="light", min_stem=n), True) for n in (2, 4)
    ]
    return grid


def load_xquad(path: Path) -> tuple[list[tuple[str, str]], list[tuple[str, int]]]:
    """Return (title, context) per paragraph and (question, paragraph row) per question."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    paragraphs: list[tuple[str, str]] = []
    questions: list[tuple[str, int]] = []
    for article in data:
        for paragraph in article["paragraphs"]:
            questions += [(qa["question"], len(paragraphs)) for qa in paragraph["qas"]]
            paragraphs.append((article["title"], paragraph["context"]))
    return paragraphs, questions


def evaluate(variant: Variant, paragraphs: list[tuple[str, str]], questions: list[tuple[str, int]]) -> Quality:
    texts = [f"{title}\n{context}" if variant.title else context for title, context in paragraphs]
    index = LexicalIndex.build(texts, analyzer=variant.analyzer)
    matches = index.search([question for question, _ in questions], k=10)
    ranks = []
    for found, (_, gold) in zip(matches, questions, strict=True):
        hit = np.flatnonzero(found.rows == gold)
        ranks.append(int(hit[0]) + 1 if hit.size else 0)
    rank = np.array(ranks)
    return Quality(
        recall_1=float(np.mean(rank == 1)),
        recall_5=float(np.mean((rank >= 1) & (rank <= 5))),
        recall_10=float(np.mean(rank >= 1)),
        mrr_10=float(np.mean(np.where(rank > 0, 1 / np.maximum(rank, 1), 0))),
        empty=sum(len(found) == 0 for found in matches),
    )


def news_passages(path: Path, limit: int) -> Iterator[str]:
    """Yield title + paragraph for every paragraph of the news, then title + summary, up to `limit`.

    The news is read as `qa build` reads it (`qa.ingest.iter_articles`: any source it takes).
    """
    count = 0
    summaries = []
    for article in iter_articles([path]):
        if article.summary:
            summaries.append(f"{article.title}\n{article.summary}")
        for paragraph in article.paragraphs:
            if paragraph.strip():
                if count == limit:
                    return
                count += 1
                yield f"{article.title}\n{paragraph.strip()}"
    yield from summaries[: limit - count]


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scale(news: Path, docs: int, questions: list[str], k: int) -> None:
    rss_before = max_rss_mib()
    started = time.perf_counter()
    index = LexicalIndex.build(news_passages(news, docs))
    build_s = time.perf_counter() - started
    rss_after = max_rss_mib()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        names = index.save(Path(folder))
        save_s = time.perf_counter() - started
        disk_mib = sum((Path(folder) / name).stat().st_size for name in names) / 2**20
        started = time.perf_counter()
        index = LexicalIndex.load(Path(folder))
        load_s = time.perf_counter() - started

    def per_query_ms(allowed: np.ndarray | None) -> list[float]:
        times = []
        for question in questions:
            started = time.perf_counter()
            index.search([question], k=k, allowed=allowed)
            times.append((time.perf_counter() - started) * 1000)
        return times

    plain = per_query_ms(None)
    rng = np.random.default_rng(0)
    masked = per_query_ms(rng.random(index.size) < 0.5)
    print(f"\nScale: {index.size:,} passages (ANT news paragraphs + summaries), {index.term_count:,} terms")
    print(f"build {build_s:.1f} s   save {save_s:.2f} s   load {load_s:.2f} s   on disk {disk_mib:.0f} MiB")
    print(f"peak RSS {rss_before:.0f} -> {rss_after:.0f} MiB during build")
    for label, times in (("search", plain), ("search, 50% mask", masked)):
        print(
            f"{label:17s} k={k}: median {statistics.median(times):.1f} ms, "
            f"p95 {np.percentile(times, 95):.1f} ms per query ({len(times)} XQuAD questions, one at a time)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--xquad", type=Path, default=XQUAD, help="SQuAD-format question file (default: %(default)s)")
    parser.add_argument("--news", type=Path, default=NEWS, help="JSON Lines news articles (default: %(default)s)")
    parser.add_argument("--docs", type=int, default=300_000, help="passages for the scale run (default: %(default)s)")
    parser.add_argument("--queries", type=int, default=200, help="questions timed at scale (default: %(default)s)")
    parser.add_argument("--skip-quality", action="store_true", help="only the scale run")
    parser.add_argument("--skip-scale", action="store_true", help="only the quality table")
    args = parser.parse_args(argv)

    paragraphs, questions = load_xquad(args.xquad)
    if not args.skip_quality:
        print(f"XQuAD-ar: {len(paragraphs)} paragraphs, {len(questions)} questions; BM25 (k1=1.5, b=0.75)")
        print(f"default analyzer: {DEFAULT_ANALYZER}")
        print(f"{'variant':36s} {'R@1':>6s} {'R@5':>6s} {'R@10':>6s} {'MRR@10':>7s} {'no terms':>8s}")
        for variant in variants():
            quality = evaluate(variant, paragraphs, questions)
            marker = " *" if variant.analyzer == DEFAULT_ANALYZER and variant.title else ""
            print(
                f"{variant.name:36s} {quality.recall_1:6.3f} {quality.recall_5:6.3f} {quality.recall_10:6.3f} "
                f"{quality.mrr_10:7.3f} {quality.empty:8d}{marker}",
                flush=True,
            )
        print("* the default")
    if not args.skip_scale:
        timed = [question for question, _ in questions[: args.queries]]
        scale(args.news, args.docs, timed, k=10)
    mean_terms = statistics.mean(len(analyze(question)) for question, _ in questions)
    print(f"\nmean terms per question with the default analyzer: {mean_terms:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
