"""Hybrid, dense and lexical search with filters and wire-story grouping, on the real model, over every store backend."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import qa
from qa.config import Settings
from qa.embed import Embedder
from qa.errors import IndexStoreError, QueryError
from qa.records import Filters
from qa.retrieve import MAX_TOP_K
from tests.test_store import BACKENDS

pytestmark = pytest.mark.slow

WIRE = "أعلن البنك المركزي المصري اليوم رفع سعر الفائدة بمقدار نقطتين مئويتين لكبح التضخم الذي بلغ 35 في المئة في مارس."
ARTICLES = [
    {"id": "bbc-1", "title": "المركزي المصري يرفع الفائدة", "text": WIRE, "source": "bbc", "category": "business", "published": "2018-03-05T10:00:00+00:00"},
    {"id": "cnn-1", "title": "مصر ترفع أسعار الفائدة", "text": WIRE + " وقال محللون إن القرار متوقع.", "source": "cnn", "category": "business", "published": "2018-03-05T08:00:00+00:00"},
    {"id": "sky-1", "title": "رفع الفائدة في مصر", "text": WIRE, "source": "skynews", "category": "business", "published": "2018-03-06T09:00:00+00:00"},
    {"id": "bbc-2", "title": "فوز ليفربول على روما", "text": "فاز نادي ليفربول الإنجليزي على روما الإيطالي بخمسة أهداف مقابل هدفين في ذهاب نصف نهائي دوري أبطال أوروبا.", "source": "bbc", "category": "sport", "published": "2018-04-24T21:00:00+00:00"},
    {"id": "f24-1", "title": "زلزال في إيران", "text": "ضرب زلزال بقوة 7.3 درجة غرب إيران قرب الحدود مع العراق وأسفر عن مقتل أكثر من 400 شخص.", "source": "france24", "category": "world", "published": "2018-05-01T06:00:00+00:00"},
    {"id": "undated-1", "title": "زلزال قوي", "text": "ضرب زلزال قوي منطقة جبلية وتضررت عشرات المنازل ولم ترد أنباء عن ضحايا.", "category": "world"},
]


@pytest.fixture(scope="module", params=sorted(BACKENDS))
def news(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[qa.Retriever]:
    """The news above in each store backend, searched through the Store protocol."""
    folder = tmp_path_factory.mktemp(f"news-{request.param}")
    (folder / "news.jsonl").write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in ARTICLES), encoding="utf-8")
    opener = BACKENDS[request.param](folder, folder / "news.jsonl", embedder)
    with qa.Retriever(opener(), embedder) as retriever:
        yield retriever


@pytest.fixture(scope="module")
def seed(seed_index: Path, embedder: Embedder) -> Iterator[qa.Retriever]:
    with qa.Retriever.load(seed_index, embedder=embedder) as retriever:
        yield retriever


def test_wire_copies_collapse_into_one_hit_listing_every_carrier_earliest_first(news: qa.Retriever) -> None:
    hits = news.search("كم بلغ التضخم في مصر؟", k=3)
    assert hits[0].article_id in {"bbc-1", "cnn-1", "sky-1"}
    assert [c.article_id for c in hits[0].carriers] == ["cnn-1", "bbc-1", "sky-1"]
    assert all(h.article_id not in {"bbc-1", "cnn-1", "sky-1"} for h in hits[1:])


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_every_mode_finds_the_earthquake(news: qa.Retriever, mode: str) -> None:
    hits = news.search("كم عدد قتلى زلزال إيران؟", k=2, mode=mode)
    assert hits[0].article_id == "f24-1"


def test_filters_apply_before_the_top_k_cut(news: qa.Retriever) -> None:
    question = "كم عدد قتلى زلزال إيران؟"
    [hit] = news.search(question, k=1, filters=Filters(sources=("BBC",)))
    assert hit.site == "bbc"
    assert {h.article_id for h in news.search(question, k=5, filters=Filters(categories=("sport",)))} == {"bbc-2"}
    since = news.search(question, k=5, filters=Filters(since="2018-04-01"))
    assert {h.article_id for h in since} == {"bbc-2", "f24-1", "undated-1"}
    dated_only = news.search(question, k=5, filters=Filters(since="2018-04-01", keep_undated=False))
    assert {h.article_id for h in dated_only} == {"bbc-2", "f24-1"}
    # A bare date includes its whole day.
    march_5 = news.search(question, k=5, filters=Filters(since="2018-03-05", until="2018-03-05", keep_undated=False))
    assert {c.article_id for h in march_5 for c in h.carriers} == {"bbc-1", "cnn-1"}
    assert news.search(question, k=5, filters=Filters(sources=("nobody",))) == []


def test_bad_filters_and_modes_are_refused(news: qa.Retriever) -> None:
    with pytest.raises(QueryError, match="ISO date"):
        news.search("زلزال", filters=Filters(since="last week"))
    with pytest.raises(QueryError, match="mode must be one of hybrid, dense, lexical"):
        news.search("زلزال", mode="sparse")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What did Turkey shoot down?", "إسقاط تركيا"),
        ("Quand Hollande se rend-il à Moscou ?", "يوم الخميس"),
        ("Who is the Russian ambassador to France?", None),
    ],
)
def test_cross_lingual_questions_keep_working_in_hybrid_mode(seed: qa.Retriever, question: str, expected: str | None) -> None:
    assert seed.search(question, k=1, mode="lexical") == []  # the lexical side finds nothing
    hybrid = seed.search(question, k=3)
    dense = seed.search(question, k=3, mode="dense")
    # Fusion leaves the dense order untouched, so it cannot hurt these questions.
    assert [h.passage_id for h in hybrid] == [h.passage_id for h in dense]
    if expected is not None:
        assert expected in hybrid[0].text


def test_similarity_is_the_cosine_in_every_mode(seed: qa.Retriever) -> None:
    question = "متى يزور أولوند موسكو؟"
    # Every passage, ranked by cosine: each hit of another mode is among them.
    dense = {h.passage_id: h.score for h in seed.search(question, k=min(seed.size, MAX_TOP_K), mode="dense")}
    assert len(dense) == seed.size
    for mode in ("hybrid", "lexical"):
        hits = seed.search(question, k=3, mode=mode)
        assert hits
        for hit in hits:
            assert hit.similarity == pytest.approx(dense[hit.passage_id], abs=1e-5)


def test_k_none_is_the_settings_top_k(seed_index: Path, embedder: Embedder, seed: qa.Retriever) -> None:
    assert len(seed.search("متى يزور أولوند موسكو؟")) == Settings().top_k
    with qa.Retriever.load(seed_index, embedder=embedder, settings=Settings(top_k=2)) as two:
        assert len(two.search("متى يزور أولوند موسكو؟")) == 2
        assert [len(hits) for hits in two.search_many(["زلزال", "موسكو"])] == [2, 2]
        assert len(two.search("متى يزور أولوند موسكو؟", k=3)) == 3


def test_sites_and_categories_are_the_distinct_values_sorted(news: qa.Retriever) -> None:
    assert news.sites() == ["bbc", "cnn", "france24", "skynews"]
    assert news.categories() == ["business", "sport", "world"]


def test_a_closed_retriever_refuses_every_call(seed_index: Path, embedder: Embedder) -> None:
    with qa.Retriever.load(seed_index, embedder=embedder) as retriever:
        article_id = retriever.search("موسكو", k=1)[0].article_id
    retriever.close()  # closing twice is harmless
    for call in (lambda: retriever.search("موسكو"), lambda: retriever.article(article_id), retriever.sites):
        with pytest.raises(IndexStoreError, match="closed"):
            call()
