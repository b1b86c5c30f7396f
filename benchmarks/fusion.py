"""Compare ways of fusing dense and BM25 rankings on SQuAD-format data, tuned on one half, reported on the other.

Usage: python benchmarks/fusion.py ../shared/data/xquad-ar/xquad.ar.json [--index /tmp/xq] [--distractors NEWS --limit N]
The halves split by Wikipedia article (title), so no paragraph is in both.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import qa
from qa.evaluate import build_eval_index, load_squad
from qa.fusion import fuse, max_scaled, reciprocal_rank
from qa.stores.generations import current_generation

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
    candidates = retriever.candidates([q.text for q in questions], DEPTH)
    row_article = {p.row: p.article.id for p in retriever.store.iter_passages()}
    half = [int(hashlib.md5(q.article_id.split(":")[1].encode()).hexdigest(), 16) % 2 for q in questions]

    def ranked_articles(i: int, method: str, param: float) -> list[str]:
        dense, lexical = candidates[i].dense, candidates[i].lexical
        if method == "rrf":
            fused = reciprocal_rank([dense, lexical], constant=param)
        elif method == "wrrf":  # param = weight of the lexical ranking
            fused = reciprocal_rank([dense, lexical], weights=[1 - param, param])
        elif method == "minmax":  # param = weight of lexical (what Retriever.search does, at LEXICAL_WEIGHT)
            fused = fuse(dense, lexical, lexical_weight=param)
        else:  # "maxnorm": dense cosine + param * bm25 / max bm25
            fused = max_scaled(dense, lexical, lexical_weight=param)
        return list(dict.fromkeys(row_article[r] for r in fused.rows.tolist()))

    variants = [("rrf", c) for c in (10, 30, 60, 100)] + [("wrrf", w) for w in (0.4, 0.5, 0.6, 0.7)]
    variants += [("minmax", w) for w in (0.3, 0.4, 0.5, 0.6)] + [("maxnorm", w) for w in (0.05, 0.1, 0.15, 0.2, 0.3)]
    gold = [q.article_id for q in questions]
    print(f"{retriever.size} passages, {len(questions)} questions (halves: {half.count(0)} / {half.count(1)})")
    print(f"{'method':<8} {'param':>6} | {'MRR A':>6} {'MRR B':>6} | {'all MRR':>7} {'R@1':>6} {'R@5':>6}")
    for method, param in variants:
        ranked = [ranked_articles(i, method, param) for i in range(len(questions))]
        a = mrr_and_recall([r for r, h in zip(ranked, half) if h == 0], [g for g, h in zip(gold, half) if h == 0])
        b = mrr_and_recall([r for r, h in zip(ranked, half) if h == 1], [g for g, h in zip(gold, half) if h == 1])
        whole = mrr_and_recall(ranked, gold)
        print(f"{method:<8} {param:>6} | {a[0]:>6.3f} {b[0]:>6.3f} | {whole[0]:>7.3f} {whole[1]:>6.3f} {whole[2]:>6.3f}")


if __name__ == "__main__":
    main()
