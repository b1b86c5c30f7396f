"""The Milvus store end to end on a real Milvus Lite server: same answers as FAISS, the alias switch seen live,
incremental and killed builds, and the faults (no server, a server that goes away and comes back, another model)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import qa
from qa.embed import Embedder
from qa.errors import IndexMismatchError, IndexMissingError, StoreUnavailableError
from qa.live import LiveIndex
from qa.records import Filters
from qa.stores.milvus import AliasWatch, MilvusTarget, filter_expression, unavailable
from qa.web.engine import Engine
from tests.conftest import ROOT
from tests.milvus_server import MilvusServer, free_port, require_milvus, shared_server
from tests.test_retrieve import ARTICLES

pytestmark = pytest.mark.slow


def _write(path: Path, articles: list[dict[str, str]]) -> Path:
    path.write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in articles), encoding="utf-8")
    return path


def _many(count: int) -> list[dict[str, str]]:
    return [{"id": f"n{i}", "title": f"خبر {i}", "text": f"قال المتحدث في البيان رقم {i} إن الاجتماع {i} انتهى باتفاق جديد.",
             "source": "bbc" if i % 2 else "cnn"} for i in range(count)]


@pytest.fixture(scope="module")
def server() -> MilvusServer:
    return shared_server()


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, server: MilvusServer) -> Iterator[dict[str, qa.Retriever]]:
    folder = tmp_path_factory.mktemp("parity")
    corpus = _write(folder / "news.jsonl", ARTICLES)
    qa.build_index([corpus, ROOT / "seeds"], embedder=embedder, store="milvus", uri=server.uri, collection="parity")
    qa.build_index([corpus, ROOT / "seeds"], folder / "vectors", embedder=embedder)
    with qa.Retriever.load(folder / "vectors", embedder=embedder) as faiss, \
            qa.Retriever.load(store="milvus", uri=server.uri, collection="parity", embedder=embedder) as milvus:
        yield {"faiss": faiss, "milvus": milvus}


QUESTIONS = ["كم بلغ التضخم في مصر؟", "كم عدد قتلى زلزال إيران؟", "من فاز في مباراة ليفربول وروما؟", "ما سعر الفائدة؟"]
PARITY_FILTERS = [None, Filters(sources=("BBC",)), Filters(categories=("world",)), Filters(since="2018-04-01"),
                  Filters(since="2018-04-01", keep_undated=False), Filters(until="2018-03-05", sources=("cnn", "skynews"))]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
@pytest.mark.parametrize("filters", PARITY_FILTERS, ids=repr)
def test_both_stores_give_the_same_hits(both: dict[str, qa.Retriever], mode: str, filters: Filters | None) -> None:
    # One batch per store: the question encoding is the slow part, and search_many gives what search gives.
    answers = {name: both[name].search_many(QUESTIONS, k=5, mode=mode, filters=filters) for name in ("faiss", "milvus")}
    for question, faiss, milvus in zip(QUESTIONS, answers["faiss"], answers["milvus"]):
        assert [(h.article_id, h.passage_id, [c.article_id for c in h.carriers]) for h in milvus] == \
               [(h.article_id, h.passage_id, [c.article_id for c in h.carriers]) for h in faiss], question
        for a, b in zip(faiss, milvus):
            assert b.score == pytest.approx(a.score, abs=1e-4) and b.similarity == pytest.approx(a.similarity, abs=1e-4)


def test_both_stores_give_the_same_answer(both: dict[str, qa.Retriever]) -> None:
    for question in QUESTIONS:
        faiss, milvus = (qa.ask(question, both[name]) for name in ("faiss", "milvus"))
        assert milvus.text == faiss.text and milvus.abstained == faiss.abstained
        assert both["milvus"].sites() == both["faiss"].sites()
        assert both["milvus"].article("f24-1") == both["faiss"].article("f24-1")


def test_both_stores_give_the_same_span_of_days(both: dict[str, qa.Retriever]) -> None:
    days = sorted({day for a in ARTICLES if (day := (a.get("published") or "")[:10])})
    for store in (both["faiss"]._store, both["milvus"]._store):
        assert store.published_values() == {a["published"] for a in ARTICLES if a.get("published")}
    assert (both["faiss"].oldest, both["faiss"].newest) == (both["milvus"].oldest, both["milvus"].newest)
    assert (both["faiss"].oldest.isoformat(), both["faiss"].newest.isoformat()) == (days[0], days[-1])


def test_filters_become_milvus_expressions() -> None:
    assert filter_expression(None) == filter_expression(Filters()) == ""
    assert filter_expression(Filters(sources=("BBC", 'a"b'))) == 'site_key in ["bbc", "a\\"b"]'
    dated = filter_expression(Filters(since="2018-03-05", keep_undated=False))
    assert dated == "(published is not null and published >= 1520208000.0)"
    assert "or published is null" in filter_expression(Filters(until="2018-03-05"))


def test_an_alias_moved_by_a_build_is_served_without_a_restart(tmp_path: Path, embedder: Embedder, server: MilvusServer) -> None:
    options = {"store": "milvus", "uri": server.uri, "collection": "live"}
    first = qa.build_index([_write(tmp_path / "a.jsonl", ARTICLES[:3])], embedder=embedder, **options)
    retriever = qa.Retriever.load(embedder=embedder, **options)
    live = LiveIndex(retriever, check_seconds=0.0, published=AliasWatch(MilvusTarget(server.uri, "live")),
                     load=lambda _folder, shared: qa.Retriever.load(embedder=shared, **options))
    assert live.generation == first.path.name
    reader = qa.Retriever.load(embedder=embedder, **options)  # a request still on the first version
    second = qa.build_index([_write(tmp_path / "a.jsonl", ARTICLES)], embedder=embedder, **options)
    assert second.kept_articles == 3 and second.embedded > 0 and second.reused >= first.passages
    deadline = time.monotonic() + 30
    while live.generation != second.path.name and time.monotonic() < deadline:
        with live.use():
            time.sleep(0.2)
    assert live.generation == second.path.name
    with live.use() as served:
        assert served is not None and served.size == second.passages
        assert served.search("زلزال إيران", k=1)[0].article_id == "f24-1"
    # The version replaced stays for readers still on it; a third build drops it.
    assert reader.search("الفائدة", k=1) and reader.size == first.passages
    reader.close()
    third = qa.build_index([_write(tmp_path / "a.jsonl", ARTICLES[:4])], embedder=embedder, **options)
    assert third.embedded == 0 and third.removed_articles == 2
    from pymilvus import MilvusClient

    names = MilvusClient(uri=server.uri).list_collections()
    assert not any(first.path.name in n for n in names)
    assert {n for n in names if n.startswith("live__v")} == {
        f"{v}{s}" for v in (second.path.name, third.path.name) for s in ("", "__docs")}
    unchanged = qa.build_index([tmp_path / "a.jsonl"], embedder=embedder, **options)
    assert unchanged.unchanged and unchanged.path.name == third.path.name


_KILLED_BUILD = """
import os, signal, sys
import qa
def progress(p):
    if p.phase == "articles" and p.articles >= 64:
        os.kill(os.getpid(), signal.SIGKILL)
qa.build_index([sys.argv[1]], store="milvus", uri=sys.argv[2], collection="killed", progress=progress)
"""


def test_a_killed_build_leaves_the_alias_and_the_next_build_reuses_and_cleans_up(
        tmp_path: Path, embedder: Embedder, server: MilvusServer) -> None:
    options = {"store": "milvus", "uri": server.uri, "collection": "killed"}
    articles = _many(100)
    first = qa.build_index([_write(tmp_path / "news.jsonl", articles[:10])], embedder=embedder, **options)
    corpus = _write(tmp_path / "news.jsonl", articles)
    killed = subprocess.run([sys.executable, "-c", _KILLED_BUILD, str(corpus), server.uri], check=False, cwd=ROOT, timeout=600)
    assert killed.returncode == -signal.SIGKILL
    assert server.process is not None and server.process.poll() is None, server.log.read_text()[-2000:]
    with qa.Retriever.load(embedder=embedder, **options) as retriever:
        assert retriever.size == first.passages and retriever.folder.name == first.path.name
    report = qa.build_index([corpus], embedder=embedder, **options)
    assert report.kept_articles == 10 and report.resumed >= 54 and report.embedded == report.passages - report.reused
    from pymilvus import MilvusClient

    names = [n for n in MilvusClient(uri=server.uri).list_collections() if n.startswith("killed__v")]
    assert sorted(names) == sorted(f"{v}{s}" for v in (first.path.name, report.path.name) for s in ("", "__docs"))


def test_another_model_is_refused_with_the_rebuild_command(tmp_path: Path, embedder: Embedder, server: MilvusServer) -> None:
    qa.build_index([_write(tmp_path / "a.jsonl", ARTICLES[:2])], embedder=embedder, store="milvus", uri=server.uri,
                   collection="models")
    with pytest.raises(IndexMismatchError, match=r"qa build SOURCES --store milvus --uri http://127\.0\.0\.1:\d+ --collection models --model other"):
        qa.Retriever.load(store="milvus", uri=server.uri, collection="models", model="other")
    with pytest.raises(IndexMissingError, match="no index is published"):
        qa.Retriever.load(store="milvus", uri=server.uri, collection="nothing_here")


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], check=False, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_a_uri_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    require_milvus()
    port = free_port()
    done = _cli("search", "زلزال", "--store", "milvus", "--uri", f"http://127.0.0.1:{port}", "--token", "root:secret")
    assert done.returncode == 1 and "Traceback" not in done.stderr and "secret" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"qa: error: the Milvus server at http://127.0.0.1:{port} failed to connect")
    done = _cli("search", "زلزال", env={"QA_STORE": "milvus", "QA_MILVUS_URI": ""})
    assert done.returncode == 1 and done.stderr.strip().splitlines() == [
        "qa: error: the milvus store needs a URI: --uri ./news.db (Milvus Lite) or --uri http://host:19530"]


def test_a_refused_token_says_so() -> None:
    # Milvus Lite has no authentication: the server's refusal is reproduced as its message.
    error = unavailable(MilvusTarget("http://u:pw@host:19530"), "connect", Exception("auth check failure, please check username and password"))
    assert str(error).startswith("the Milvus server at http://host:19530 refused the credentials") and "pw" not in str(error)


def test_the_app_says_503_while_the_server_is_away_and_serves_when_it_is_back(
        tmp_path: Path, embedder: Embedder) -> None:
    server = MilvusServer(tmp_path / "data").start()
    back = MilvusServer(tmp_path / "data", port=server.port)
    try:
        options = {"store": "milvus", "uri": server.uri, "collection": "faults"}
        qa.build_index([_write(tmp_path / "a.jsonl", ARTICLES)], embedder=embedder, **options)
        from qa.web.startup import open_engine

        engine: Engine = open_engine(tmp_path / "unused", tmp_path / "no-seeds", build="never", store_options=options)
        health = engine.health()
        assert health["status"] == "ok" and health["store"] == "milvus" and health["uri"] == server.uri
        server.stop()
        health = engine.health()
        assert health["status"] == "unavailable" and server.uri in health["message"] and health["store"] == "milvus"
        with engine.live.use() as retriever:
            assert retriever is not None
            with pytest.raises(StoreUnavailableError, match="failed to"):
                retriever.search("زلزال إيران", k=1)
        back.start()
        deadline = time.monotonic() + 60
        while engine.health()["status"] != "ok" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert engine.health()["status"] == "ok"
        with engine.live.use() as retriever:
            assert retriever is not None and retriever.search("زلزال إيران", k=1)[0].article_id == "f24-1"
    finally:
        server.stop()
        back.stop()
