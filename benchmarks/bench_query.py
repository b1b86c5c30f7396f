"""Query latency and memory at 10k, 100k and 1M passages: exact (flat) against HNSW search.

Usage: python benchmarks/bench_query.py --index /tmp/antbench/i5000 [--sizes 100000,1000000]

1. End to end on a real index (`--index`, e.g. 5,000 ANT articles): question
   encoding, hybrid search and the extractive answer, p50/p95 over XQuAD-ar
   questions asked one at a time.
2. Beyond the real corpus, synthetic vectors: random mixtures of two real
   passage vectors (so they lie where real ones do, without exact copies), searched
   with queries encoded from real questions. Flat against HNSW (as `qa build`
   makes it: SQ8 codes, M=16, efSearch 128, top 50 re-scored exactly), recall@10
   against exact search, and bytes per passage. BM25 is timed over the real
   passages' terms repeated up to the same size.
The end-to-end estimate at a size adds the measured encoding and answer times to
the measured searches at that size; it is a sum of measurements, not one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import qa
from qa.index import VectorIndex, exact_neighbours, load_vectors
from qa.lexical import LexicalIndex, Terms

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "xquad-ar" / "xquad.ar.json"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def questions(path: Path, count: int) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    found = [qa_["question"] for a in data["data"] for p in a["paragraphs"] for qa_ in p["qas"]]
    return found[:count]


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args)
    return (time.perf_counter() - start) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True, help="a built index (qa build ... --out DIR)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--sizes", default="100000,1000000")
    args = parser.parse_args()

    retriever = qa.Retriever.load(args.index)
    asked = questions(args.data, args.questions)
    retriever.search(asked[0])
    print(f"real index: {retriever.size:,} passages ({retriever.manifest.counts.articles:,} articles), "
          f"{retriever.manifest.index.type}")

    encode, search, answer, total = [], [], [], []
    for question in asked:
        start = time.perf_counter()
        ms, _ = timed(retriever.embedder.encode_queries, [question])
        encode.append(ms)
        ms, hits = timed(retriever.search, question, 5)
        search.append(ms)
        ms, _ = timed(qa.ask, question, retriever)
        answer.append(ms)
        total.append((time.perf_counter() - start) * 1000)
    # search() encodes the question itself, ask() searches again: report each part, and ask() alone end to end.
    print(f"  query encoding     p50 {statistics.median(encode):6.1f} ms  p95 {percentile(encode, 95):6.1f} ms")
    print(f"  search (hybrid)    p50 {statistics.median(search):6.1f} ms  p95 {percentile(search, 95):6.1f} ms  (encoding included)")
    print(f"  ask (end to end)   p50 {statistics.median(answer):6.1f} ms  p95 {percentile(answer, 95):6.1f} ms  "
          "(encoding, hybrid search, extractive answer)")
    answer_only = [a - s for a, s in zip(answer, search)]
    base_vectors = np.asarray(load_vectors(Path(retriever.folder) / "vectors.npy"))
    queries = retriever.embedder.encode_queries(asked)
    lexical = LexicalIndex.load(Path(retriever.folder))
    terms = lexical.terms
    store_bytes = (Path(retriever.folder) / "store.sqlite").stat().st_size
    lexical_bytes = sum((Path(retriever.folder) / f).stat().st_size for f in retriever.manifest.lexical.files
                        if not f.startswith("lexical.terms") and not f.startswith("lexical.offsets"))
    print(f"  text (SQLite store) {store_bytes / retriever.size:,.0f} bytes/passage; "
          f"BM25 index {lexical_bytes / retriever.size:,.0f} bytes/passage (on disk, loaded whole)")

    rng = np.random.default_rng(0)
    for size in [int(s) for s in args.sizes.split(",") if s]:
        vectors = np.empty((size, base_vectors.shape[1]), dtype=np.float32)
        for start in range(0, size, 100_000):
            n = min(100_000, size - start)
            a, b = rng.integers(0, len(base_vectors), (2, n))
            mix = rng.uniform(0.5, 1.0, (n, 1)).astype(np.float32)
            block = mix * base_vectors[a] + (1 - mix) * base_vectors[b]
            vectors[start:start + n] = block / np.linalg.norm(block, axis=1, keepdims=True)
        truth = exact_neighbours(vectors, queries, 10)
        print(f"\n{size:,} passages (synthetic vectors: mixtures of two real ones; real query vectors)")
        for kind in ("flat", "hnsw"):
            start = time.perf_counter()
            index = VectorIndex.build(vectors, kind)
            built = time.perf_counter() - start
            with tempfile.TemporaryDirectory() as folder:
                index.save(Path(folder) / "index.faiss")
                index_bytes = (Path(folder) / "index.faiss").stat().st_size
            times, hits = [], 0
            for i, query in enumerate(queries):
                ms, found = timed(index.search, query[None, :], 50)
                times.append(ms)
                hits += len(set(found.rows[0][:10]) & set(truth[i]))
            print(f"  {kind:5s} build {built:7.1f} s  search p50 {statistics.median(times):6.2f} ms  "
                  f"p95 {percentile(times, 95):6.2f} ms  recall@10 {hits / (10 * len(queries)):.3f}  "
                  f"index {index_bytes / size:,.0f} bytes/passage")
            if kind == "hnsw":
                hnsw_search = times
            else:
                flat_search = times
            del index
        repeats = -(-size // len(terms))
        rows = np.tile(np.arange(len(terms)), repeats)[:size]
        big = Terms.empty().concat(terms.take(rows)) if size else terms
        start = time.perf_counter()
        bm25 = LexicalIndex.from_terms(big, dict(lexical.vocab))
        bm25_build = time.perf_counter() - start
        lexical_times = [timed(bm25.search, [q], 50)[0] for q in asked]
        print(f"  BM25  build {bm25_build:7.1f} s  search p50 {statistics.median(lexical_times):6.2f} ms  "
              f"p95 {percentile(lexical_times, 95):6.2f} ms  (real passages' terms repeated)")
        for kind, dense in (("flat", flat_search), ("hnsw", hnsw_search)):
            estimate = [e + d + l + a for e, d, l, a in zip(encode, dense, lexical_times, answer_only)]
            print(f"  end to end with {kind}: p50 {statistics.median(estimate):6.1f} ms  p95 {percentile(estimate, 95):6.1f} ms "
                  "(sum of measured encoding + dense + BM25 + answer, per question)")
        del vectors, bm25, big


if __name__ == "__main__":
    main()
