"""Fusion of dense and lexical rankings, on hand-made scores; the lexical weight by script, on the seed index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import qa
from qa.fusion import (
    LEXICAL_WEIGHT,
    SCALE_DEPTH,
    Ranking,
    corpus_script,
    fuse,
    lexical_weight,
    matchable_share,
    max_scaled,
    min_max,
    reciprocal_rank,
)


def ranking(rows: list[int], scores: list[float]) -> Ranking:
    return Ranking(np.array(rows, dtype=np.int64), np.array(scores, dtype=np.float32))


def as_dict(fused: Ranking) -> dict[int, float]:
    return dict(zip(fused.rows.tolist(), fused.scores.tolist()))


def test_min_max_scales_to_the_unit_interval_and_equal_scores_to_one() -> None:
    assert min_max(np.array([2.0, 1.0, 0.0], dtype=np.float32)).tolist() == [1.0, 0.5, 0.0]
    assert min_max(np.array([0.7, 0.7], dtype=np.float32)).tolist() == [1.0, 1.0]
    assert min_max(np.array([3.0], dtype=np.float32)).tolist() == [1.0]
    assert len(min_max(np.empty(0, dtype=np.float32))) == 0
    # Scaled by the best `depth`; those under them count as not found.
    assert min_max(np.array([4.0, 3.0, 2.0, 1.0], dtype=np.float32), 3).tolist() == [1.0, 0.5, 0.0, 0.0]
    assert min_max(np.array([2.0, 2.0, 1.0], dtype=np.float32), 2).tolist() == [1.0, 1.0, 0.0]


def test_fuse_weights_each_rankers_scaled_scores() -> None:
    dense = ranking([1, 2, 3], [0.9, 0.8, 0.7])
    lexical = ranking([3, 4], [10.0, 5.0])
    fused = fuse(dense, lexical, lexical_weight=0.25)
    expected = {1: 0.75 * 1.0, 2: 0.75 * 0.5, 3: 0.75 * 0.0 + 0.25 * 1.0, 4: 0.0}
    assert as_dict(fused) == pytest.approx(expected, abs=1e-6)
    assert fused.rows.tolist() == [1, 2, 3, 4]


def test_fuse_defaults_to_equal_weights() -> None:
    assert LEXICAL_WEIGHT == 0.5
    dense, lexical = ranking([1, 2], [0.9, 0.1]), ranking([2, 1], [4.0, 2.0])
    assert as_dict(fuse(dense, lexical)) == {1: 0.5, 2: 0.5}


def test_fuse_breaks_ties_by_dense_order_then_lexical_order() -> None:
    dense = ranking([7, 3], [0.5, 0.5])
    lexical = ranking([9, 8], [2.0, 2.0])
    # Every candidate scores 0.5: dense ones first in their order, then the lexical ones.
    fused = fuse(dense, lexical)
    assert fused.rows.tolist() == [7, 3, 9, 8]
    assert fused.scores.tolist() == [0.5] * 4


def test_fuse_with_an_empty_ranker_keeps_the_other_order_at_its_weight() -> None:
    dense = ranking([4, 2, 6], [0.9, 0.6, 0.3])
    assert fuse(dense, Ranking.empty()).rows.tolist() == [4, 2, 6]
    assert as_dict(fuse(dense, Ranking.empty())) == pytest.approx({4: 0.5, 2: 0.25, 6: 0.0})
    assert as_dict(fuse(Ranking.empty(), ranking([5], [3.0]))) == {5: 0.5}
    assert len(fuse(Ranking.empty(), Ranking.empty())) == 0


def _today(dense: Ranking, lexical: Ranking) -> list[tuple[int, float]]:
    """The fusion Retriever.search_many ran inline before qa.fusion, line for line."""
    def scaled(scores: np.ndarray) -> np.ndarray:
        if len(scores) == 0:
            return scores
        low, high = float(scores.min()), float(scores.max())
        return (scores - low) / (high - low) if high > low else np.ones_like(scores)

    ranked: dict[int, float] = {}
    for weight, rows, scores in ((0.5, dense.rows, dense.scores), (0.5, lexical.rows, lexical.scores)):
        for row, value in zip(rows.tolist(), scaled(scores).tolist()):
            ranked[row] = ranked.get(row, 0.0) + weight * value
    return [(row, ranked[row]) for row in sorted(ranked, key=lambda row: -ranked[row])]


@pytest.mark.parametrize("seed", range(20))
def test_fuse_gives_the_very_numbers_of_the_former_inline_fusion(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pool = rng.permutation(200)
    dense_rows = pool[: rng.integers(0, 60)]
    lexical_rows = rng.permutation(np.concatenate([dense_rows[: len(dense_rows) // 2], pool[100: 100 + rng.integers(0, 60)]]))
    # Rounded scores make ties, as cosines and BM25 scores of near-copies do.
    dense = Ranking(dense_rows, np.sort(np.round(rng.uniform(0.6, 0.9, len(dense_rows)), 2).astype(np.float32))[::-1])
    lexical = Ranking(lexical_rows, np.sort(np.round(rng.uniform(0, 20, len(lexical_rows)), 1).astype(np.float32))[::-1])
    fused = fuse(dense, lexical, depth=None)
    assert list(zip(fused.rows.tolist(), fused.scores.tolist())) == _today(dense, lexical)


@pytest.mark.parametrize("seed", range(10))
def test_the_top_of_a_fused_ranking_does_not_depend_on_how_deep_the_rankers_went(seed: int) -> None:
    # A search for k=30 fetches 120 candidates of each ranker, one for k=5 fetches 50: scaled by
    # their first SCALE_DEPTH alone, both rank their common candidates alike.
    rng = np.random.default_rng(seed)
    dense = Ranking(rng.permutation(300)[:120], np.sort(rng.uniform(0.6, 0.9, 120).astype(np.float32))[::-1])
    lexical = Ranking(rng.permutation(300)[:120], np.sort(rng.uniform(0, 20, 120).astype(np.float32))[::-1])
    deep = fuse(dense, lexical)
    shallow = fuse(dense.best(SCALE_DEPTH), lexical.best(SCALE_DEPTH))
    assert deep.rows[:10].tolist() == shallow.rows[:10].tolist()
    assert deep.scores[:10].tolist() == pytest.approx(shallow.scores[:10].tolist())
    assert min(deep.scores) == 0.0


def test_best_keeps_the_top_n_in_a_stable_order() -> None:
    scores = ranking([5, 1, 9, 2], [1.0, 3.0, 3.0, 2.0])
    assert scores.best(3).rows.tolist() == [1, 9, 2]
    assert scores.best(10).rows.tolist() == [1, 9, 2, 5]
    assert len(Ranking.empty().best(3)) == 0


def test_reciprocal_rank_adds_weight_over_constant_plus_rank() -> None:
    dense, lexical = ranking([1, 2], [0.9, 0.8]), ranking([2, 3], [5.0, 1.0])
    assert as_dict(reciprocal_rank([dense, lexical], constant=10)) == pytest.approx(
        {1: 1 / 11, 2: 1 / 12 + 1 / 11, 3: 1 / 12})
    weighted = reciprocal_rank([dense, lexical], weights=[0.3, 0.7])
    assert as_dict(weighted) == pytest.approx({1: 0.3 / 61, 2: 0.3 / 62 + 0.7 / 61, 3: 0.7 / 62})
    assert weighted.rows.tolist() == [2, 3, 1]


def test_max_scaled_adds_bm25_over_the_best_bm25_to_the_cosine() -> None:
    dense, lexical = ranking([1, 2], [0.5, 0.25]), ranking([2, 3], [8.0, 4.0])
    assert as_dict(max_scaled(dense, lexical, lexical_weight=0.5)) == pytest.approx({1: 0.5, 2: 0.75, 3: 0.25})
    assert as_dict(max_scaled(dense, Ranking.empty(), lexical_weight=0.5)) == pytest.approx({1: 0.5, 2: 0.25})


# ---------------------------------------------------------------- the lexical weight by script


@pytest.mark.parametrize(
    ("question", "share"),
    [
        ("متى يزور أولوند موسكو؟", 1.0),
        ("How many points did the Panthers defense surrender?", 0.0),
        ("Who is the Russian ambassador to France?", 0.0),
        ("Combien de personnes ont été tuées à Paris en 2015 ?", 0.25),  # 2015 can match an Arabic text
        ("كم عدد نقاط فريق Panthers؟", 0.75),
        ("كم قتيلا في ٢٠١٥؟", 1.0),  # Arabic-Indic digits are numbers too
        ("؟؟", 0.0),
    ],
)
def test_matchable_share_counts_the_terms_an_arabic_text_can_hold(question: str, share: float) -> None:
    assert matchable_share(question, "arabic") == pytest.approx(share)


def test_lexical_weight_scales_the_default_weight_and_follows_the_corpus_script() -> None:
    assert lexical_weight("متى يزور أولوند موسكو؟", "arabic") == LEXICAL_WEIGHT
    assert lexical_weight("Who is the Russian ambassador to France?", "arabic") == 0.0
    assert lexical_weight("Who is the Russian ambassador to France?", "latin") == LEXICAL_WEIGHT
    assert corpus_script(["يزور أولوند موسكو", "Hollande"]) == "arabic"
    assert corpus_script(["Hollande visits Moscow", "موسكو"]) == "latin"
    assert corpus_script([]) == "arabic"


@pytest.mark.slow
def test_an_english_question_over_arabic_articles_ranks_as_dense(seed_index: Path, embedder: Any) -> None:
    with qa.Retriever.load(seed_index, embedder=embedder) as retriever:
        assert retriever.script == "arabic"
        for question in ("Who is the Russian ambassador to France?", "What did Turkey shoot down?"):
            hybrid = retriever.search(question, k=5, mode="hybrid")
            dense = retriever.search(question, k=5, mode="dense")
            assert [h.passage_id for h in hybrid] == [h.passage_id for h in dense]
