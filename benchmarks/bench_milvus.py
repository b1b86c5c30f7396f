"""Milvus Lite beside FAISS at one size: ingest passages/s, query p50/p95 with and without filters, recall@10, bytes per passage.

Usage: python -m benchmarks.bench_milvus --index /tmp/antbench600 [--size 100000] [--uri /tmp/bench.db | http://127.0.0.1:19530]

The passages are the real ANT passages of a built FAISS index (`qa build ... --out DIR`),
repeated up to `--size` with their vectors mixed as benchmarks/bench_query.py does
(a random mixture of two real passage vectors, so they lie where real ones do, without
exact copies); each copy keeps its article's site, category and date, so the filters
keep a realistic share. Both stores get the same rows: FAISS as `qa build` writes them
(flat up to 50k passages, HNSW beyond), Milvus through the same writer as `qa build
--store milvus`. Queries are XQuAD-ar questions encoded by the index's model.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import qa
from qa.config import Settings
from qa.records import Article, Filters, Passage
from qa.stores import open_store
from qa.stores.base import IndexedArticle, Store

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "xquad-ar" / "xquad.ar.json"
FILTERS = Filters(sources=("aljazeera", "bbc", "cnn"), since="2019-01-01")


def questions(path: Path, count: int) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [q["question"] for a in data["data"] for p in a["paragraphs"] for q in p["qas"]][:count]


def synthetic(source: Store, size: int, seed: int = 0) -> list[IndexedArticle]:
    """`size` passages: the real ones, then copies under new ids with mixed vectors, one article per passage."""
    rng = np.random.default_rng(seed)
    real = list(source.iter_passages())
    vectors = source.vectors([p.row for p in real])
    indexed = []
    for i in range(size):
        stored = real[i % len(real)]
        if i < len(real):
            vector = vectors[i]
        else:
            other = vectors[rng.integers(len(real))]
            w = rng.uniform(0.6, 0.9)
            vector = w * vectors[i % len(real)] + (1 - w) * other
            vector = vector / np.linalg.norm(vector)
        article = Article(id=f"b{i}", title=stored.article.title, text=stored.passage.text, origin="bench",
                          site=stored.article.site, published=stored.article.published, category=stored.article.category)
        passage = Passage(id=f"b{i}:0", article_id=article.id, ordinal=0, start=0, end=len(stored.passage.text),
                          text=stored.passage.text, embed_text=stored.passage.embed_text)
        indexed.append(IndexedArticle(article=article, passages=(passage,), hashes=(f"h{i}",),
                                      vectors=vector[None, :].astype(np.float32)))
    return indexed


def write(kind: str, indexed: list[IndexedArticle], source: Store, embedder: object, where: dict[str, str]) -> tuple[float, str]:
    """Write the passages into a store through its writer, as `qa build` does; return seconds and the version."""
    from dataclasses import replace

    from qa.build import (  # the build's own manifest, so the store opens like a real one
        BuildProgress,
        _build_key,
        _manifest,
    )

    settings = Settings(store=kind)
    stats = BuildProgress(articles=len(indexed), passages=len(indexed), embedded=len(indexed))
    started = time.perf_counter()
    if kind == "faiss":
        from qa.stores.faiss_build import FaissWriter

        opened = FaissWriter.open(Path(where["out"]), embedder=embedder, settings=settings, force=True)
    else:
        from qa.stores.milvus import MilvusTarget
        from qa.stores.milvus_build import MilvusWriter

        opened = MilvusWriter.open(MilvusTarget(where["uri"], "bench"), embedder=embedder, settings=settings, force=True)
    with opened as writer:
        for start in range(0, len(indexed), 1000):
            writer.add(indexed[start:start + 1000])
        manifest = _manifest(["bench"], settings, embedder, source.manifest, stats, 0, [], (), _build_key(settings, embedder))
        manifest = replace(manifest, model=source.manifest.model)
        version = writer.publish(manifest)
    return time.perf_counter() - started, version


def timed_queries(store: Store, vectors: np.ndarray, texts: list[str], filters: Filters | None) -> dict[str, float]:
    dense, lexical = [], []
    for vector, text in zip(vectors, texts):
        start = time.perf_counter()
        store.dense_search(vector[None, :], 50, filters)
        dense.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        store.lexical_search([text], 50, filters)
        lexical.append((time.perf_counter() - start) * 1000)
    return {"dense_p50": statistics.median(dense), "dense_p95": float(np.percentile(dense, 95)),
            "lexical_p50": statistics.median(lexical), "lexical_p95": float(np.percentile(lexical, 95))}


def recall_at_10(store: Store, vectors: np.ndarray, all_vectors: np.ndarray) -> float:
    exact = np.argsort(-(vectors @ all_vectors.T), axis=1, kind="stable")[:, :10]
    found = store.dense_search(vectors, 10)
    return float(np.mean([len(set(e.tolist()) & set(f.rows.tolist())) / 10 for e, f in zip(exact, found)]))


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True, help="a built FAISS index of real articles")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--uri", help="Milvus URI (default: a Milvus Lite file in a temporary folder)")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()

    print(f"load average {open('/proc/loadavg').read().split()[:3]}")
    retriever = qa.Retriever.load(args.index)
    source = retriever.store
    indexed = synthetic(source, args.size)
    asked = questions(args.data, args.questions)
    query_vectors = retriever.embedder.encode_queries(asked)
    all_vectors = np.concatenate([a.vectors for a in indexed])
    with tempfile.TemporaryDirectory() as tmp:
        where = {"out": str(Path(tmp) / "faiss"), "uri": args.uri or str(Path(tmp) / "bench.db")}
        for kind in ("faiss", "milvus"):
            seconds, version = write(kind, indexed, source, retriever.embedder, where)
            options = {} if kind == "faiss" else {"collection": "bench"}
            store = open_store(kind, where["out"] if kind == "faiss" else where["uri"], **options)
            store.dense_search(query_vectors[:1], 10)
            plain = timed_queries(store, query_vectors, asked, None)
            filtered = timed_queries(store, query_vectors, asked, FILTERS)
            recall = recall_at_10(store, query_vectors, all_vectors)
            size = folder_bytes(Path(where["out"])) if kind == "faiss" else (
                folder_bytes(Path(where["uri"])) if Path(where["uri"]).exists() else None)
            print(json.dumps({
                "store": kind, "passages": store.size, "index": store.manifest.index.type, "version": version,
                "ingest_s": round(seconds, 1), "ingest_passages_per_s": round(store.size / seconds),
                **{k: round(v, 1) for k, v in plain.items()}, **{f"filtered_{k}": round(v, 1) for k, v in filtered.items()},
                "recall_at_10": round(recall, 3), "bytes_per_passage": round(size / store.size) if size else None,
            }))
            store.close()
    print(f"load average {open('/proc/loadavg').read().split()[:3]} (pid {os.getpid()})")


if __name__ == "__main__":
    main()
