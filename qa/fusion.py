"""Hybrid fusion: the ways to merge a dense and a lexical `Ranking` (the stores' result record, `qa.stores.base`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from qa.normalize import normalize
from qa.stores.base import Ranking
from qa.text.language import ARABIC, LATIN
from qa.text.words import INDEX_TOKEN, is_index_stopword

# Hybrid score: each ranker's candidate scores scaled to [0, 1] (min-max), then
# weighted. Measured on XQuAD-ar (benchmarks/fusion.py): MRR@10 0.959 at equal
# weights against 0.945 for reciprocal rank fusion.
LEXICAL_WEIGHT = 0.5
# BM25 can only match the words of a question written in the articles' script (and numbers):
# an English question over Arabic articles matches a digit or a Latin name here and there, and
# min-max scaling used to give even such a stray match the full weight. The lexical weight is
# LEXICAL_WEIGHT times the share of the question's index terms that can match (`matchable_share`).
# English dev questions over XQuAD-ar (xquad.en-questions.dev.json, 632): hybrid MRR@10 0.776 at
# a fixed 0.5, 0.8746 with this rule (dense alone 0.8726); Arabic XQuAD-ar unchanged (0.9585).
SCRIPTS = ("arabic", "latin")
# Each ranker's scores are scaled by the range of its first SCALE_DEPTH candidates, however many
# were fetched: scaled by all of them, the lowest (and so every scaled score) moved with how
# deep a search went, and a question's top 5 differed between k=5 and k=30 (XQuAD-ar hybrid
# MRR@10 0.9588 fetching 50 candidates, 0.9551 fetching 120 as an evaluation at k=30 did).
# Candidates past it scale to 0: as if that ranker had not found them.
SCALE_DEPTH = 50
# The usual constant of reciprocal rank fusion (Cormack et al.).
RRF_CONSTANT = 60


@dataclass(frozen=True)
class Candidates:
    """One question's candidates from each ranker, before fusion."""

    dense: Ranking
    lexical: Ranking


def min_max(scores: np.ndarray, depth: int | None = None) -> np.ndarray:
    """Scores scaled to [0, 1] by the lowest and highest of the best `depth` (all when None);
    all ones when they are equal. Scores under the best `depth` scale to 0, as if not found."""
    if len(scores) == 0:
        return scores
    best = scores if depth is None or depth >= len(scores) else np.partition(scores, len(scores) - depth)[-depth:]
    low, high = float(best.min()), float(best.max())
    return np.maximum((scores - low) / (high - low), 0) if high > low else (scores >= low).astype(scores.dtype)


def fuse(dense: Ranking, lexical: Ranking, *, lexical_weight: float = LEXICAL_WEIGHT,
         depth: int | None = SCALE_DEPTH) -> Ranking:
    """Hybrid ranking: each ranker's scores min-max scaled (by its best `depth`; None: all), then summed
    with weights 1 - w and w.

    A passage found by one ranker only gets that ranker's share. Best first;
    equal scores keep the dense candidates' order, then the lexical ones'.
    """
    fused: dict[int, float] = {}
    for weight, ranking in ((1.0 - lexical_weight, dense), (lexical_weight, lexical)):
        for row, value in zip(ranking.rows.tolist(), min_max(ranking.scores, depth).tolist()):
            fused[row] = fused.get(row, 0.0) + weight * value
    return _ranking(fused)


def _script(token: str) -> str | None:
    if ARABIC.search(token):
        return "arabic"
    return "latin" if LATIN.search(token) else None


def corpus_script(texts: Iterable[str]) -> str:
    """The script most letters of `texts` are written in: one of `SCRIPTS` ("arabic" when none)."""
    arabic = latin = 0
    for text in texts:
        arabic += len(ARABIC.findall(text))
        latin += len(LATIN.findall(text))
    return "latin" if latin > arabic else "arabic"


def matchable_share(question: str, script: str) -> float:
    """Share of the question's index terms (stopwords aside) that passages written in `script`
    can contain: words in that script, and numbers (normalized to ASCII digits in every script)."""
    terms = [t for t in INDEX_TOKEN.findall(normalize(question))
             if t.isdigit() or (len(t) > 1 and not is_index_stopword(t))]
    if not terms:
        return 0.0
    return sum(t.isdigit() or _script(t) == script for t in terms) / len(terms)


def lexical_weight(question: str, script: str, *, base: float = LEXICAL_WEIGHT) -> float:
    """The lexical ranker's weight in `fuse` for this question over passages written in `script`."""
    return base * matchable_share(question, script)


def reciprocal_rank(rankings: Sequence[Ranking], *, weights: Sequence[float] | None = None,
                    constant: float = RRF_CONSTANT) -> Ranking:
    """Reciprocal rank fusion: each ranking adds weight / (constant + rank) to its rows (rank from 1)."""
    weights = [1.0] * len(rankings) if weights is None else weights
    fused: dict[int, float] = {}
    for weight, ranking in zip(weights, rankings):
        for rank, row in enumerate(ranking.rows.tolist(), 1):
            fused[row] = fused.get(row, 0.0) + weight / (constant + rank)
    return _ranking(fused)


def max_scaled(dense: Ranking, lexical: Ranking, *, lexical_weight: float) -> Ranking:
    """Dense scores as they are plus `lexical_weight` times BM25 divided by the query's best BM25."""
    top = float(lexical.scores[0]) if len(lexical) else 1.0
    fused: dict[int, float] = {}
    for row, value in zip(dense.rows.tolist(), dense.scores.tolist()):
        fused[row] = fused.get(row, 0.0) + value
    for row, value in zip(lexical.rows.tolist(), lexical.scores.tolist()):
        fused[row] = fused.get(row, 0.0) + lexical_weight * value / top
    return _ranking(fused)


def _ranking(fused: dict[int, float]) -> Ranking:
    ranking = Ranking(np.fromiter(fused, dtype=np.int64, count=len(fused)),
                      np.fromiter(fused.values(), dtype=np.float64, count=len(fused)))
    return ranking.best(len(ranking))
