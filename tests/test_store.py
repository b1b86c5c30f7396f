"""Every store against the Store protocol: dense and lexical search with filters against brute force, fetches, close.

A new backend is one entry in BACKENDS: a function that builds the test corpus
into that backend and returns how to open it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

import qa
from qa.embed import Embedder
from qa.errors import QueryError, SettingsError
from qa.records import Filters
from qa.stores import open_store
from qa.stores.base import Ranking, Store, StoreClosedError
from qa.stores.filters import matches
from tests.milvus_server import require_milvus, shared_server

pytestmark = pytest.mark.slow

_SITES = ["bbc", "CNN", "france24", "skynews", None]
_CATEGORIES = ["business", "sport", "World", None]
_DATES = ["2018-03-05T10:00:00+00:00", "2018-03-05", "2018-04-24T21:00:00Z", "2019-01-01T00:30:00+02:00",
          "2018-12-31", None, "yesterday"]
_TOPICS = [
    "رفع البنك المركزي سعر الفائدة لكبح التضخم الذي بلغ مستوى قياسيا.",
    "فاز نادي ليفربول على روما بخمسة أهداف مقابل هدفين في دوري أبطال أوروبا.",
    "ضرب زلزال قوي غرب إيران قرب الحدود مع العراق وتضررت عشرات المنازل.",
    "ارتفعت أسعار النفط بعد قرار أوبك خفض الإنتاج في الاجتماع الأخير.",
    "أعلنت وزارة الصحة حملة تطعيم جديدة ضد الحصبة في المدارس.",
]


def _articles() -> list[dict[str, str]]:
    articles = []
    for i in range(35):
        record = {"id": f"a{i}", "title": f"خبر رقم {i}", "text": f"{_TOPICS[i % 5]} وقال مراسلنا في التقرير {i} إن الأمر تكرر."}
        for key, values in (("source", _SITES), ("category", _CATEGORIES), ("published", _DATES)):
            value = values[i % len(values)]
            if value is not None:
                record[key] = value
        articles.append(record)
    return articles


def _faiss(folder: Path, corpus: Path, embedder: Embedder) -> Callable[[], Store]:
    out = folder / "vectors"
    qa.build_index([corpus], out, embedder=embedder, settings=qa.Settings(index_type="flat"))
    return lambda: open_store("faiss", out)


def _milvus_file(folder: Path, corpus: Path, embedder: Embedder) -> Callable[[], Store]:
    require_milvus()
    uri = str(folder / "news.db")
    qa.build_index([corpus], embedder=embedder, settings=qa.Settings(index_type="flat"), store="milvus", uri=uri)
    return lambda: open_store("milvus", uri)


def _milvus_server(folder: Path, corpus: Path, embedder: Embedder) -> Callable[[], Store]:
    server = shared_server()
    collection = "t_" + folder.name.replace("-", "_")
    qa.build_index([corpus], embedder=embedder, settings=qa.Settings(index_type="flat"), store="milvus",
                   uri=server.uri, collection=collection)
    return lambda: open_store("milvus", server.uri, collection=collection)


# Backend name -> build the corpus into it, return an opener of the built store. Milvus runs both as
# Milvus Lite on a local file and as a Milvus Lite gRPC server (the client path of a Milvus cluster).
BACKENDS: dict[str, Callable[[Path, Path, Embedder], Callable[[], Store]]] = {
    "faiss": _faiss, "milvus-file": _milvus_file, "milvus-server": _milvus_server,
}

FILTERS = [
    Filters(sources=("BBC",)),
    Filters(sources=("cnn", "skynews")),
    Filters(categories=("world",)),
    Filters(sources=("bbc",), categories=("sport", "business")),
    Filters(since="2018-04-01"),
    Filters(since="2018-04-01", keep_undated=False),
    Filters(until="2018-03-05", keep_undated=False),
    Filters(since="2018-03-05", until="2018-03-05"),
    Filters(since="2018-12-31T22:00:00+00:00", until="2018-12-31T23:59:59Z", keep_undated=False),
    Filters(sources=("nobody",)),
]


@pytest.fixture(scope="module", params=sorted(BACKENDS))
def opener(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           embedder: Embedder) -> Callable[[], Store]:
    folder = tmp_path_factory.mktemp(f"store-{request.param}")
    corpus = folder / "news.jsonl"
    corpus.write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in _articles()), encoding="utf-8")
    return BACKENDS[request.param](folder, corpus, embedder)


@pytest.fixture(scope="module")
def store(opener: Callable[[], Store]) -> Iterator[Store]:
    opened = opener()
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def everything(store: Store) -> dict[int, tuple[str | None, str | None, str | None]]:
    """Row -> (site, category, published) of every passage, read through the protocol."""
    return {p.row: (p.article.site, p.article.category, p.article.published) for p in store.iter_passages()}


def _allowed(everything: dict[int, tuple[str | None, str | None, str | None]], filters: Filters | None) -> list[int]:
    return [row for row, meta in everything.items() if filters is None or matches(filters, *meta)]


def _queries(store: Store, count: int = 8) -> np.ndarray:
    queries = np.random.default_rng(0).normal(size=(count, store.dimension)).astype(np.float32)
    return queries / np.linalg.norm(queries, axis=1, keepdims=True)


def test_the_store_follows_the_protocol(store: Store, everything: dict) -> None:
    assert isinstance(store, Store)
    assert store.size == len(everything) >= 35
    assert sorted(everything) == sorted(p.row for p in store.passages(list(everything)))


@pytest.mark.parametrize("filters", [None, *FILTERS], ids=repr)
def test_dense_search_is_brute_force_over_the_rows_the_filters_keep(
    store: Store, everything: dict, filters: Filters | None
) -> None:
    allowed = _allowed(everything, filters)
    queries = _queries(store)
    vectors = store.vectors(allowed)
    for k in (1, 5, store.size):
        for query, ranking in zip(queries, store.dense_search(queries, k, filters)):
            scores = vectors @ query
            order = np.argsort(-scores, kind="stable")[:k]
            assert ranking.rows.tolist() == [allowed[i] for i in order]
            np.testing.assert_allclose(ranking.scores, scores[order], atol=1e-5)


def test_filters_keep_what_the_reference_predicate_keeps(store: Store, everything: dict) -> None:
    for filters in FILTERS:
        [ranking] = store.dense_search(_queries(store, 1), store.size, filters)
        assert sorted(ranking.rows.tolist()) == _allowed(everything, filters), filters
    # The corpus exercises every case: each filter keeps some rows and drops others (but the empty one).
    kept = [len(_allowed(everything, f)) for f in FILTERS[:-1]]
    assert all(0 < n < len(everything) for n in kept) and _allowed(everything, FILTERS[-1]) == []


@pytest.mark.parametrize("filters", [None, *FILTERS], ids=repr)
def test_lexical_search_with_filters_is_the_unfiltered_ranking_restricted(
    store: Store, everything: dict, filters: Filters | None
) -> None:
    questions = ["سعر الفائدة والتضخم", "زلزال إيران", "ليفربول روما", "مراسلنا التقرير"]
    allowed = set(_allowed(everything, filters))
    unfiltered = store.lexical_search(questions, store.size)
    for question, full, ranking in zip(questions, unfiltered, store.lexical_search(questions, store.size, filters)):
        assert len(full) > 0, question
        keep = [i for i, row in enumerate(full.rows.tolist()) if row in allowed]
        assert ranking.rows.tolist() == [full.rows[i] for i in keep]
        np.testing.assert_allclose(ranking.scores, full.scores[keep], rtol=1e-6)
        assert np.all(ranking.scores > 0)
        top = store.lexical_search([question], 3, filters)[0]
        assert top.rows.tolist() == ranking.rows.tolist()[:3]


def test_lexical_search_without_a_known_term_finds_nothing(store: Store) -> None:
    assert [len(r) for r in store.lexical_search(["Who is the ambassador?", "في من"], 5)] == [0, 0]


def test_an_unreadable_date_bound_is_refused(store: Store) -> None:
    with pytest.raises(QueryError, match="ISO date"):
        store.dense_search(_queries(store, 1), 3, Filters(since="last week"))
    with pytest.raises(QueryError, match="until"):
        store.lexical_search(["زلزال"], 3, Filters(until="2018-13-45"))


def test_sites_and_categories_are_the_distinct_values_sorted(store: Store) -> None:
    assert store.sites() == ["CNN", "bbc", "france24", "skynews"]
    assert store.categories() == ["World", "business", "sport"]


def test_passages_come_in_the_order_asked_with_their_articles(store: Store, everything: dict) -> None:
    rows = sorted(everything)[::-1][:5]
    found = store.passages([*rows, 10**9])
    assert [p.row for p in found] == rows
    for passage in found:
        assert passage.article.text[passage.passage.start:passage.passage.end] == passage.passage.text
        assert passage.passage.article_id == passage.article.id
    assert store.passages([]) == []


def test_vectors_are_unit_length_and_in_the_order_asked(store: Store, everything: dict) -> None:
    rows = sorted(everything)[:4]
    vectors = store.vectors(rows)
    assert vectors.shape == (4, store.dimension) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    np.testing.assert_array_equal(store.vectors(rows[::-1]), vectors[::-1])


def test_a_whole_article_is_fetched_by_id(store: Store) -> None:
    article = store.article("a6")
    assert article is not None and article.id == "a6" and article.site == "CNN" and _TOPICS[1] in article.text
    assert store.article("missing") is None


def test_describe_names_the_store_and_its_counts(store: Store) -> None:
    described = store.describe()
    json.dumps(described)
    assert described["store"] == store.name and described["passages"] == store.size
    assert described["articles"] == 35 and described["index"]["type"] == "flat"
    assert described["location"] == store.location and described["version"] == store.version


def test_a_closed_store_refuses_every_call(opener: Callable[[], Store]) -> None:
    store = opener()
    store.close()
    store.close()  # twice is harmless
    calls = [
        lambda: store.dense_search(np.zeros((1, 384), dtype=np.float32), 3),
        lambda: store.lexical_search(["زلزال"], 3),
        lambda: store.passages([0]),
        lambda: store.vectors([0]),
        lambda: store.article("a1"),
        store.sites,
        store.categories,
        store.describe,
        lambda: store.size,
    ]
    for call in calls:
        with pytest.raises(StoreClosedError, match="closed"):
            call()


def test_rankings_are_int64_rows_best_first(store: Store) -> None:
    for ranking in [*store.dense_search(_queries(store, 2), 5), *store.lexical_search(["زلزال"], 5)]:
        assert isinstance(ranking, Ranking) and ranking.rows.dtype == np.int64
        assert np.all(np.diff(ranking.scores) <= 0)


def test_an_unknown_backend_is_refused_naming_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"store must be one of (\w+, )*faiss\b.*, got 'elastic'"):
        open_store("elastic", tmp_path)
