"""The web app's server: the JSON API, auth and limits in process, and the real app through gradio_client and its JSON API.

Request parsing, rendering and start-up have their own files (test_web_*.py), the live index test_live.py.
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import qa
from qa.records import Hit
from qa.web.background import BackgroundServer, background_server, serve_in_background
from qa.web.engine import Engine
from qa.web.errors import Busy
from qa.web.request import parse_query, strip_bidi_controls
from qa.web.server import create_app
from tests.conftest import ROOT, SEEDS

QUESTION = "متى يزور أولوند موسكو؟"
EVIL = '<script>alert(1)</script><img src=x onerror="alert(2)">'


# ---------------------------------------------------------------- the JSON API without an index (no model)

@pytest.fixture(scope="module")
def client_without_index() -> Iterator[Any]:
    from fastapi.testclient import TestClient

    engine = Engine(None, "no index at /nowhere; build one with `qa build SOURCES --out /nowhere`")
    with TestClient(create_app(engine, auth=("ann", "s3cret"))) as client:
        yield client


def test_json_api_needs_credentials_when_auth_is_set(client_without_index: Any) -> None:
    response = client_without_index.post("/api/ask", json={"question": QUESTION})
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Basic")
    response = client_without_index.post("/api/ask", json={"question": QUESTION}, auth=("ann", "wrong"))
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"json": {"question": QUESTION}}, 503, "no index at /nowhere"),
        ({"json": {"question": ""}}, 400, "the question is empty"),
        ({"json": {"question": "س" * 10_000}}, 400, "the limit is 2,000"),
        ({"content": b"question=x", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 415, "JSON"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "not valid UTF-8 JSON"),
        ({"content": json.dumps({"question": "q" * 70_000}), "headers": {"content-type": "application/json"}}, 413, "limit of 65,536 bytes"),
    ],
)
def test_json_api_refuses_with_a_message(client_without_index: Any, kwargs: dict[str, Any], status: int, message: str) -> None:
    for path in ("/api/ask", "/api/search"):
        response = client_without_index.post(path, auth=("ann", "s3cret"), **kwargs)
        assert response.status_code == status, response.text
        assert message in response.json()["error"]["message"]
        assert "Traceback" not in response.text


def test_gradio_needs_the_login_and_serves_no_files(client_without_index: Any) -> None:
    from fastapi.testclient import TestClient

    assert client_without_index.get("/config").status_code == 401
    with TestClient(create_app(Engine(None, "no index"))) as open_client:
        for path in ("/etc/passwd", str(ROOT / "app.py"), "app.py", "seeds/../app.py"):
            response = open_client.get(f"/gradio_api/file={path}")
            assert response.status_code in (403, 404), path


def test_every_route_refuses_huge_bodies(client_without_index: Any) -> None:
    response = client_without_index.post("/gradio_api/queue/join", content=b"x" * (2 << 20), auth=("ann", "s3cret"))
    assert response.status_code == 413


# ---------------------------------------------------------------- the JSON API over a stand-in index (no model)

class StandInRetriever:
    """What the server uses of a Retriever for searches, health and the sites filter, with fixed hits."""

    def __init__(self, folder: Path) -> None:
        from qa.manifest import Chunking, Counts, IndexInfo, Manifest, ModelInfo

        self.folder = folder
        self.size = 2
        self.store = object()  # a store with no server to ping (as FAISS)
        self.manifest = Manifest(format=2, model=ModelInfo("stand-in", "f", "float32"), chunking=Chunking(200),
                                 counts=Counts(1, 2), index=IndexInfo(size=2), created="2015-11-26T00:00:00+00:00")
        self.searches: list[tuple[str, int, str, Any]] = []
        self.site_reads = 0

    def search(self, question: str, k: int, *, mode: str, filters: Any) -> list[Hit]:
        self.searches.append((question, k, mode, filters))
        return [Hit(passage_id="a:0", article_id="a", ordinal=0, text="يزور أولوند موسكو يوم الخميس", score=0.9, start=0,
                    end=29, title="أولوند يقصد روسيا", origin="a.txt", site="مصدر24")][:k]

    def sites(self) -> list[str]:
        self.site_reads += 1
        return ["reuters.com", "مصدر24"]


def test_the_json_api_passes_the_parsed_query_and_returns_ranked_hits(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    retriever = StandInRetriever(tmp_path / "gen-1")
    engine = Engine(retriever)  # type: ignore[arg-type]
    with TestClient(create_app(engine)) as client:
        response = client.post("/api/search", json={"question": f" \u202e{QUESTION} ", "k": 3, "mode": "lexical",
                                                    "filters": {"sources": ["مصدر24"], "since": "2015-11-01"}})
        assert response.status_code == 200, response.text
        reply = response.json()
        assert (reply["question"], reply["mode"], reply["k"]) == (QUESTION, "lexical", 3)
        assert [(h["rank"], h["article_id"], h["site"], h["score"]) for h in reply["hits"]] == [(1, "a", "مصدر24", 0.9)]
        question, k, mode, filters = retriever.searches[0]
        assert (question, k, mode, filters.sources, filters.since) == (QUESTION, 3, "lexical", ("مصدر24",), "2015-11-01")
        health = client.get("/api/health").json()
        assert health == {"status": "ok", "index": str(tmp_path), "generation": "gen-1", "articles": 1, "passages": 2,
                          "model": "stand-in", "created": "2015-11-26T00:00:00+00:00"}
    assert engine.sites() == engine.sites() == ("gen-1", ["reuters.com", "مصدر24"])
    assert retriever.site_reads == 1  # read once per generation


@pytest.mark.slow
def test_the_engine_keeps_one_answerer_across_questions(seed_index: Path, embedder: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import qa.answer

    made: list[object] = []
    real = qa.answer.make_answerer
    monkeypatch.setattr(qa.answer, "make_answerer", lambda choice, emb: made.append(choice) or real(choice, emb))
    with qa.Retriever.load(seed_index, embedder=embedder) as retriever:
        engine = Engine(retriever)
        first, _ = engine.ask(parse_query({"question": QUESTION}, with_history=True))
        second, _ = engine.ask(parse_query({"question": "كم شخصا قتل في هجمات باريس؟"}, with_history=True))
    # Built once (from the settings' choice), then the same instance is passed to every ask:
    # its sentence-vector cache outlives a request only if the answerer does.
    assert len(made) == 3 and made[0] is None and made[1] is made[2] and hasattr(made[1], "answer")
    assert "الخميس" in first.text and "130" in second.text


# ---------------------------------------------------------------- the real app, real model, index of the seeds

@pytest.fixture(scope="module")
def background(seed_index: Path) -> Iterator[BackgroundServer]:
    with background_server(["--index", str(seed_index), "--seeds", str(SEEDS)]) as started:
        yield started


@pytest.fixture(scope="module")
def server(background: BackgroundServer) -> str:
    return background.url


def post(url: str, body: Any, *, raw: bytes | None = None, content_type: str = "application/json") -> tuple[int, dict[str, Any]]:
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.slow
def test_gradio_client_asks_and_searches(server: str) -> None:
    from gradio_client import Client

    client = Client(server, verbose=False)
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/ask", "/search"} <= set(endpoints)
    answer = client.predict(question=QUESTION, api_name="/ask")
    assert "الخميس" in answer["answer"] and answer["citations"] and not answer["abstained"]
    assert all(f"[{c['number']}]" in answer["answer"] for c in answer["citations"])
    hits = client.predict(question=QUESTION, k=2, mode="lexical", api_name="/search")["hits"]
    assert len(hits) == 2 and "الخميس" in hits[0]["text"]
    with pytest.raises(Exception, match="limit is 2,000"):
        client.predict(question="س" * 10_000, api_name="/ask")


@pytest.mark.slow
def test_json_api_answers_like_the_gradio_api(server: str) -> None:
    status, answer = post(f"{server}/api/ask", {"question": QUESTION, "k": 3})
    assert status == 200, answer
    assert "الخميس" in answer["answer"] and answer["citations"]
    citation = answer["citations"][0]
    offset = citation["start"] - citation["passage_start"]
    assert citation["passage_text"][offset:offset + len(citation["sentence"])] == citation["sentence"]
    followup = post(f"{server}/api/ask", {"question": "ومع من سيلتقي؟", "history": [{"question": QUESTION, "answer": answer["answer"]}]})
    assert followup[0] == 200 and followup[1]["search_query"]
    status, found = post(f"{server}/api/search", {"question": QUESTION, "k": 2, "filters": {"sources": ["مصدر24"]}})
    assert status == 200 and len(found["hits"]) == 2 and found["hits"][0]["site"] == "مصدر24"
    status, none = post(f"{server}/api/search", {"question": QUESTION, "filters": {"sources": ["nowhere.example"]}})
    assert status == 200 and none["hits"] == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("body", "raw", "content_type", "status", "message"),
    [
        ({"question": ""}, None, "application/json", 400, "empty"),
        ({"question": "س" * 10_000}, None, "application/json", 400, "limit is 2,000"),
        ({"question": QUESTION, "k": 500}, None, "application/json", 400, "'k' must be"),
        ({"question": QUESTION, "mode": "magic"}, None, "application/json", 400, "'mode' must be"),
        ({"question": QUESTION, "filters": {"since": "yesterday"}}, None, "application/json", 400, "since must be an ISO date"),
        (None, b"[1, 2", "application/json", 400, "not valid"),
        (None, b"question", "text/plain", 415, "JSON"),
        (None, b'{"question": "' + b"x" * 100_000 + b'"}', "application/json", 413, "limit"),
    ],
)
def test_json_api_rejects_bad_requests(server: str, body: Any, raw: bytes | None, content_type: str, status: int, message: str) -> None:
    got, payload = post(f"{server}/api/ask", body, raw=raw, content_type=content_type)
    assert got == status and message in payload["error"]["message"]


@pytest.mark.slow
def test_the_app_builds_a_missing_index_first(tmp_path: Path) -> None:
    index = tmp_path / "vectors"
    with serve_in_background(["--index", str(index), "--seeds", str(SEEDS)]) as url:
        with urllib.request.urlopen(f"{url}/api/health", timeout=30) as response:
            health = json.loads(response.read())
    assert health["status"] == "ok" and health["articles"] == 1 and (index / "CURRENT").is_file()


@pytest.mark.slow
def test_missing_index_is_a_message_not_a_crash(tmp_path: Path) -> None:
    with serve_in_background(["--index", str(tmp_path / "none"), "--build", "never"]) as url:
        status, payload = post(f"{url}/api/ask", {"question": QUESTION})
        assert status == 503 and "no index at" in payload["error"]["message"] and "qa build" in payload["error"]["message"]
        from gradio_client import Client

        with pytest.raises(Exception, match="no index at"):
            Client(url, verbose=False).predict(question=QUESTION, api_name="/ask")


# ---------------------------------------------------------------- bad questions, through the real server

# (question, HTTP status, what the reply must contain): refusals name the problem; the rest get an
# answer or an abstention. The Gradio API refuses the same questions with the same messages.
BAD_QUESTIONS = [
    pytest.param("", 400, "the question is empty", id="empty"),
    pytest.param(" \t\n\u00a0 ", 400, "the question is empty", id="whitespace"),
    pytest.param("x" * 100_000, 413, "over the limit of 65,536 bytes", id="100k-characters"),
    pytest.param("س" * 2_001, 400, "the limit is 2,000", id="2001-characters"),
    pytest.param("\u202e\u2066\u2069", 400, "the question is empty", id="only-bidi-controls"),
    pytest.param("\ud800", 400, "not valid Unicode", id="unpaired-surrogate"),
    pytest.param("؟؟؟ ... !!! ،،", 200, "", id="only-punctuation"),
    pytest.param("🙂🚀🔥", 200, "", id="emoji"),
    pytest.param("When يزور Hollande موسكو ?", 200, "الخميس", id="mixed-scripts"),
    pytest.param("\u202eمتى يزور أولوند موسكو؟\u202c", 200, "الخميس", id="bidi-override"),
    pytest.param(EVIL, 200, "", id="html-and-script"),
]


@pytest.fixture(scope="module")
def seed_article() -> qa.Article:
    articles, _ = qa.read_articles([SEEDS])
    assert len(articles) == 1
    return articles[0]


def shown(question: str) -> str:
    """The question as the app echoes it: without bidi controls, stripped."""
    return strip_bidi_controls(question).strip()


@pytest.mark.slow
@pytest.mark.parametrize(("question", "status", "expected"), BAD_QUESTIONS)
def test_json_api_answers_or_refuses_bad_questions(server: str, seed_article: qa.Article, question: str, status: int,
                                                   expected: str) -> None:
    raw = json.dumps({"question": question}).encode("ascii")  # \u escapes, so an unpaired surrogate travels as sent
    for path in ("/api/ask", "/api/search"):
        got, reply = post(f"{server}{path}", None, raw=raw)
        assert got == status, (path, reply)
        if status != 200:
            assert expected in reply["error"]["message"] and "Traceback" not in reply["error"]["message"]
            continue
        assert reply["question"] == shown(question)
        if path == "/api/search":
            # The seed index holds one article: whatever is asked, its passages come back, ranked, with what cites them.
            assert reply["hits"], reply
            for rank, hit in enumerate(reply["hits"], start=1):
                assert hit["rank"] == rank and hit["article_id"] == seed_article.id and hit["title"] == seed_article.title
                assert hit["text"] and seed_article.text[hit["start"]:hit["end"]] == hit["text"]
                assert isinstance(hit["score"], float) and hit["site"] == "مصدر24" and hit["passage_id"].startswith(seed_article.id)
            assert expected in " ".join(hit["text"] for hit in reply["hits"])
            continue
        assert reply["answer"] and expected in reply["answer"]
        assert all(f"[{c['number']}]" in reply["answer"] for c in reply["citations"])
        assert reply["abstained"] == (not reply["citations"])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "status", "expected"), [p for p in BAD_QUESTIONS if p.id not in ("unpaired-surrogate", "100k-characters")]
    + [pytest.param("x" * 100_000, 400, "the limit is 2,000", id="100k-characters")],
)
def test_gradio_api_answers_or_refuses_bad_questions(gradio: Any, question: str, status: int, expected: str) -> None:
    if status != 200:
        with pytest.raises(Exception, match=expected):
            gradio.predict(question=question, api_name="/ask")
        return
    answer = gradio.predict(question=question, api_name="/ask")
    assert answer["question"] == shown(question) and answer["answer"] and expected in answer["answer"]


@pytest.fixture(scope="module")
def gradio(server: str) -> Iterator[Any]:
    from gradio_client import Client

    client = Client(server, verbose=False)
    yield client
    client.close()  # its open event stream would hold up the server's shutdown


# ---------------------------------------------------------------- no file beyond the page's own

PASSWD = "root:x:0:0"
APP_SOURCE = "def create_app("  # in qa/web/server.py
APP_MAIN = "from qa.web import main"  # in app.py
TRAVERSALS = [
    "/gradio_api/file=/etc/passwd",
    "/gradio_api/fil%65=/etc/passwd",
    "/gradio_api/file=../../../../../../etc/passwd",
    "/gradio_api/file=%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/gradio_api/file={root}/app.py",
    "/gradio_api/file=app.py",
    "/gradio_api/file=seeds/../app.py",
    "/gradio_api/file={root}/qa/web/server.py",
    "/gradio_api/file=qa/web/server.py",
    "/gradio_api/file/etc/passwd",
    "/gradio_api/file=http://127.0.0.1:1/",
    "/gradio_api/proxy=http://127.0.0.1:1/",
    "/file=/etc/passwd",
    "/file=../../../../etc/passwd",
    "/static/../../../../../../etc/passwd",
    "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/static/..%5c..%5c..%5c..%5c..%5c..%5cetc%5cpasswd",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/assets/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/assets/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/svelte/..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/gradio_api/custom_component/x/client/..%2f..%2f..%2f..%2fetc/passwd",
    "/favicon.ico/..%2f..%2fapp.py",
    "/theme.css/../app.py",
    "/static/../qa/web/server.py",
    "/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
]


def raw_get(url: str, path: str) -> tuple[int, str]:
    """GET `path` exactly as written (no client-side normalization of `..` or `%2e`)."""
    import http.client
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read(200_000).decode("utf-8", "replace")
    finally:
        connection.close()


@pytest.mark.slow
@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_file_outside_the_page_is_served(server: str, path: str) -> None:
    status, body = raw_get(server, path.format(root=ROOT))
    assert status in (400, 403, 404, 405), (status, body[:200])
    assert PASSWD not in body and APP_SOURCE not in body and APP_MAIN not in body


@pytest.mark.slow
def test_the_page_and_its_own_assets_are_served(server: str) -> None:
    for path in ("/", "/theme.css", "/static/img/logo.svg", "/favicon.ico"):
        assert raw_get(server, path)[0] == 200, path


@pytest.mark.slow
def test_uploads_are_refused_and_gradio_files_are_not_served(server: str) -> None:
    import http.client
    import urllib.parse
    import uuid

    from gradio.utils import get_upload_folder

    parts = urllib.parse.urlsplit(server)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    body = (b'--b\r\nContent-Disposition: form-data; name="files"; filename="x.html"\r\nContent-Type: text/html\r\n\r\n'
            b"<script>alert(1)</script>\r\n--b--\r\n")
    connection.request("POST", "/gradio_api/upload", body=body, headers={"Content-Type": "multipart/form-data; boundary=b"})
    response = connection.getresponse()
    assert response.status == 404 and b"x.html" not in response.read()
    connection.close()
    # Gradio itself would serve anything in its upload folder (shared by every Gradio app on the machine).
    folder = Path(get_upload_folder()) / f"qa-test-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    try:
        (folder / "secret.txt").write_text("not for the web", encoding="utf-8")
        status, text = raw_get(server, f"/gradio_api/file={folder / 'secret.txt'}")
        assert status == 404 and "not for the web" not in text
    finally:
        shutil.rmtree(folder)


# ---------------------------------------------------------------- load

def test_questions_beyond_concurrency_plus_backlog_are_refused_as_busy() -> None:
    engine = Engine(None, slots=1, backlog=2)
    with engine.admit(), engine.admit(), engine.admit(), pytest.raises(Busy), engine.admit():
        pass
    with engine.admit():  # the count goes down as answers leave
        pass


@pytest.mark.slow
def test_under_load_every_accepted_question_is_answered(background: BackgroundServer, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """32 clients for 10 s, half on the JSON API, half on the Gradio queue (benchmarks/load_app.py runs longer)."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # a folder of scripts, not a package
    import load_app

    result = load_app.run_load(background.url, json_clients=16, gradio_clients=16, seconds=10, pid=background.pid, expect="الخميس")
    summary = load_app.report(result)
    with capsys.disabled():
        print(f"\n{summary}")
    assert result.errors == 0, summary
    # 16 clients a door fit in the backlog (32): nobody is told to come back later.
    assert all(t.refused == 0 and t.answered >= 16 for t in result.targets), summary
    assert result.memory is not None and result.memory.growth_mib < 64, summary


def test_the_examples_given_reach_the_page(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    asked = "ما تفاصيل خبر الاختبار المكتوب هنا؟"
    with TestClient(create_app(Engine(StandInRetriever(tmp_path / "gen-1")), examples=[asked])) as client:  # type: ignore[arg-type]
        config = client.get("/config")
        assert config.status_code == 200, config.text
        assert asked in config.text


def test_a_date_error_is_a_bad_request_not_a_server_error() -> None:
    from qa.errors import DateError
    from qa.web.errors import explain

    problem = explain(DateError("now: '2018-13-40' is not a date; write YYYY-MM-DD"))
    assert problem.status == 400 and "YYYY-MM-DD" in problem.detail
