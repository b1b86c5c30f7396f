"""Compare ways of fusing dense and BM25 rankings on SQuAD-format data, tuned on one half, reported on the other.

Usage: python benchmarks/fusion.py ../shared/data/xquad-ar/xquad.ar.json [--index /tmp/xq] [--distractors NEWS --limit N]
The halves split by Wikipedia article (title), so no paragraph is in both.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

import qa
from qa.evaluate import build_eval_index, load_squad
from qa.store import current_generation

DEPTH = 100


def mrr_and_recall(ranked_articles: list[list[str]], gold: list[str]) -> tuple[float, float, float]:
    mrr = r1 = r5 = 0.0
    for articles, answer in zip(ranked_articles, gold):
        if answer in articles[:10]:
            rank = articles.index(answer) + 1
            mrr += 1 / rank
            r1 += rank == 1
            r5 += rank <= 5
    n = len(gold)
    return mrr / n, r1 / n, r5 / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--index", default="/tmp/qa-fusion")
    parser.add_argument("--distractors")
    parser.add_argument("--limit", type=int, default=5000)
    args = parser.parse_args()
    articles, questions = load_squad(args.data)
    workdir = Path(args.index)
    if current_generation(workdir / "vectors") is None:
        build_eval_index(articles, workdir, distractors=args.distractors, limit=args.limit)
    retriever = qa.Retriever.load(workdir / "vectors")
    store = retriever._store  # benchmark-only access to raw rankings
    texts = [q.text for q in questions]
    vectors = retriever.embedder.encode_queries(texts)
    dense = retriever._index.search(vectors, DEPTH)
    lexical = retriever._lexical.search(texts, DEPTH)
    row_article = {p.row: p.article.id for p in store.iter_passages()}
    half = [int(hashlib.md5(q.article_id.split(":")[1].encode()).hexdigest(), 16) % 2 for q in questions]

    def fuse(i: int, method: str, param: float) -> list[str]:
        d_rows = [int(r) for r in dense.rows[i] if r >= 0]
        d_scores = dense.scores[i][: len(d_rows)]
        l_rows = [int(r) for r in lexical[i].rows]
        l_scores = lexical[i].scores
        score: dict[int, float] = {}
        if method == "rrf":
            for rows in (d_rows, l_rows):
                for rank, row in enumerate(rows, 1):
                    score[row] = score.get(row, 0) + 1 / (param + rank)
        elif method == "wrrf":  # param = weight of the lexical ranking, constant 60
            for weight, rows in ((1 - param, d_rows), (param, l_rows)):
                for rank, row in enumerate(rows, 1):
                    score[row] = score.get(row, 0) + weight / (60 + rank)
        elif method == "minmax":  # param = weight of lexical
            def norm(values: np.ndarray) -> np.ndarray:
                if len(values) == 0:
                    return values
                lo, hi = float(values.min()), float(values.max())
                return (values - lo) / (hi - lo) if hi > lo else np.ones_like(values)
            for weight, rows, values in ((1 - param, d_rows, norm(d_scores)), (param, l_rows, norm(l_scores))):
                for row, value in zip(rows, values):
                    score[row] = score.get(row, 0) + weight * float(value)
        elif method == "maxnorm":  # dense cosine + weight * bm25 / max bm25
            top = float(l_scores[0]) if len(l_scores) else 1.0
            for row, value in zip(d_rows, d_scores):
                score[row] = score.get(row, 0) + float(value)
            for row, value in zip(l_rows, l_scores):
                score[row] = score.get(row, 0) + param * float(value) / top
        ordered = sorted(score, key=lambda r: -score[r])
        return list(dict.fromkeys(row_article[r] for r in ordered))

    variants = [("rrf", c) for c in (10, 30, 60, 100)] + [("wrrf", w) for w in (0.4, 0.5, 0.6, 0.7)]
    variants += [("minmax", w) for w in (0.3, 0.4, 0.5, 0.6)] + [("maxnorm", w) for w in (0.05, 0.1, 0.15, 0.2, 0.3)]
    gold = [q.article_id for q in questions]
    print(f"{retriever.size} passages, {len(questions)} questions (halves: {half.count(0)} / {half.count(1)})")
    print(f"{'method':<8} {'param':>6} | {'MRR A':>6} {'MRR B':>6} | {'all MRR':>7} {'R@1':>6} {'R@5':>6}")
    for method, param in variants:
        ranked = [fuse(i, method, param) for i in range(len(questions))]
        a = mrr_and_recall([r for r, h in zip(ranked, half) if h == 0], [g for g, h in zip(gold, half) if h == 0])
        b = mrr_and_recall([r for r, h in zip(ranked, half) if h == 1], [g for g, h in zip(gold, half) if h == 1])
        whole = mrr_and_recall(ranked, gold)
        print(f"{method:<8} {param:>6} | {a[0]:>6.3f} {b[0]:>6.3f} | {whole[0]:>7.3f} {whole[1]:>6.3f} {whole[2]:>6.3f}")


if __name__ == "__main__":
    main()
