"""The web app: request validation, escaping, direction, and the real app through gradio_client and its JSON API."""

from __future__ import annotations

import json
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import app  # noqa: E402
from qa.errors import IndexMissingError, QueryError  # noqa: E402
from qa.records import Answer, Article, Citation, Filters, Hit  # noqa: E402

QUESTION = "متى يزور أولوند موسكو؟"
SEEDS = ROOT / "seeds"


# ---------------------------------------------------------------- pure logic

def test_parse_query_defaults_and_filters() -> None:
    query = app.parse_query(
        {"question": "  متى؟ ", "k": 3, "mode": "dense",
         "filters": {"sources": ["مصدر24"], "since": "2015-11-01", "until": "", "keep_undated": False}},
        with_history=False,
    )
    assert query == app.Query("متى؟", 3, "dense", Filters(sources=("مصدر24",), since="2015-11-01", keep_undated=False))
    assert app.parse_query({"question": "q"}, with_history=True).k == app.DEFAULT_K
    history = app.parse_query({"question": "q", "history": [{"question": "a", "answer": "b"}]}, with_history=True).history
    assert [(t.question, t.answer) for t in history] == [("a", "b")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "must be a JSON object"),
        ({}, "'question' is required"),
        ({"question": 3}, "'question' must be a string"),
        ({"question": "q", "k": 0}, "'k' must be a whole number from 1 to 20"),
        ({"question": "q", "k": 21}, "from 1 to 20"),
        ({"question": "q", "k": True}, "'k' must be"),
        ({"question": "q", "k": "5"}, "'k' must be"),
        ({"question": "q", "mode": "fuzzy"}, "'mode' must be one of hybrid, dense, lexical"),
        ({"question": "q", "top": 3}, "unknown field 'top'"),
        ({"question": "q", "filters": []}, "'filters' must be an object"),
        ({"question": "q", "filters": {"site": "x"}}, "unknown filter 'site'"),
        ({"question": "q", "filters": {"sources": [1]}}, "'filters.sources' must be a list"),
        ({"question": "q", "filters": {"since": 2015}}, "'filters.since' must be an ISO date"),
        ({"question": "q", "filters": {"keep_undated": "no"}}, "'filters.keep_undated' must be true or false"),
        ({"question": "q", "history": "x"}, "'history' must be a list"),
        ({"question": "q", "history": [{"question": "a"}] * 11}, "at most 10 turns"),
        ({"question": "q", "history": [{"answer": "a"}]}, "each turn of 'history'"),
    ],
)
def test_parse_query_refuses_bad_requests(body: Any, message: str) -> None:
    with pytest.raises(app.RequestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        app.parse_query(body, with_history=True)


@pytest.mark.parametrize(("question", "message"), [("", "empty"), ("   ", "empty"), ("س" * 2001, "limit is 2,000")])
def test_parse_query_uses_the_library_question_check(question: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        app.parse_query({"question": question}, with_history=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (QUESTION, "rtl"),
        ("When does Hollande visit Moscow?", "ltr"),
        ("ما هو GDP فرنسا في 2015؟", "rtl"),
        ("What does داعش mean?", "ltr"),
        ("2015", "ltr"),
        ("", "ltr"),
    ],
)
def test_direction_is_decided_by_the_letters(text: str, expected: str) -> None:
    assert app.direction(text) == expected


def test_split_sources_accepts_arabic_commas() -> None:
    assert app.split_sources(" مصدر24، reuters.com ,, ") == ["مصدر24", "reuters.com"]


EVIL = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def _citation(number: int = 1, *, sentence: str = "الجملة الثانية.", url: str | None = None) -> Citation:
    passage = f"الجملة الأولى {EVIL}. {sentence} الجملة الثالثة."
    offset = passage.index(sentence)
    return Citation(
        number=number, sentence=sentence, start=100 + offset, end=100 + offset + len(sentence), passage_id="a:0",
        passage_text=passage, passage_start=100, passage_end=100 + len(passage), article_id="a", title=f"عنوان {EVIL}",
        origin="x.txt", score=0.5, site="مصدر24", agency="رويترز", published="2015-11-25", url=url,
    )


def _answer(citations: tuple[Citation, ...], text: str = f"الجواب {EVIL} [1] [7]") -> Answer:
    return Answer(question=f"سؤال {EVIL}", text=text, citations=citations, hits=(), abstained=not citations,
                  language="ar", search_query=f"سؤال {EVIL}")


def test_messages_escape_everything_and_link_only_real_markers() -> None:
    message = app.answer_message(_answer((_citation(),)), turn=2)
    assert "<script" not in message and "<img" not in message and "&lt;script&gt;" in message
    assert '<a class="qa-cite" href="#qa-src-2-1"' in message
    assert "[7]" in message and "#qa-src-2-7" not in message  # no citation 7: left as text
    assert 'dir="rtl"' in app.answer_message(_answer((_citation(),), text="يزور أولوند موسكو يوم الخميس 26 نوفمبر [1]"), 1)
    user = app.user_message(f"What is this {EVIL}?\nsecond line")
    assert "<script" not in user and 'dir="ltr"' in user and "<br>" in user


def test_sources_highlight_the_cited_sentence_and_escape_the_article() -> None:
    citation = _citation(url="javascript:alert(1)")
    text = " " * 100 + citation.passage_text
    article = Article(id="a", title=citation.title, text=text, origin="x.txt")
    section = app.sources_section(3, _answer((citation,)), {"a": article})
    assert 'id="qa-src-3-1"' in section
    assert '<mark class="qa-hl">الجملة الثانية.</mark>' in section
    assert section.count('<mark class="qa-hl">') == 2  # in the passage and in the whole article
    assert "<script" not in section and "<img" not in section and "javascript:" not in section
    assert "مصدر24 · رويترز · 2015-11-25" in section
    linked = app.sources_section(1, _answer((_citation(url="https://example.com/a?b=1&c=<2>"),)), {})
    assert 'href="https://example.com/a?b=1&amp;c=&lt;2&gt;"' in linked and 'rel="noopener noreferrer nofollow"' in linked


def test_abstention_lists_the_nearest_passages() -> None:
    hit = Hit(passage_id="a:0", article_id="a", ordinal=0, text=f"نص {EVIL}", score=0.1, start=0, end=10,
              title="عنوان", origin="x.txt")
    answer = Answer(question="س", text="لا تذكر المقالات المتاحة إجابة.", citations=(), hits=(hit,), abstained=True,
                    language="ar", search_query="س")
    section = app.sources_section(1, answer, {})
    assert "أقرب المقاطع" in section and "&lt;script&gt;" in section and "<script" not in section
    assert "qa-abstained" in app.answer_message(answer, 1)


def test_explain_hides_internal_errors() -> None:
    problem = app.explain(RuntimeError("secret /etc/passwd detail"))
    assert problem.status == 500 and "secret" not in problem.detail and "reference" in problem.detail
    assert app.explain(QueryError("the question is empty")).status == 400
    assert app.explain(IndexMissingError("no index at x")).status == 503
    assert app.explain(app.Busy()).status == 503


def test_stale_reason(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "a.txt").write_text("x", encoding="utf-8")
    manifest = {"sources": [str(seeds)], "created": "2000-01-01T00:00:00+00:00"}
    assert "changed" in app.stale_reason(manifest, seeds)
    assert app.stale_reason({**manifest, "created": "2999-01-01T00:00:00+00:00"}, seeds) is None
    assert app.stale_reason({**manifest, "sources": ["other.jsonl"]}, seeds) is None  # never overwrite another corpus


# ---------------------------------------------------------------- the JSON API without an index (no model)

@pytest.fixture(scope="module")
def client_without_index() -> Iterator[Any]:
    from fastapi.testclient import TestClient

    engine = app.Engine(None, "no index at /nowhere; build one with `qa build SOURCES --out /nowhere`")
    with TestClient(app.create_app(engine, auth=("ann", "s3cret"))) as client:
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
    with TestClient(app.create_app(app.Engine(None, "no index"))) as open_client:
        for path in ("/etc/passwd", str(ROOT / "app.py"), "app.py", "seeds/../app.py"):
            response = open_client.get(f"/gradio_api/file={path}")
            assert response.status_code in (403, 404), path


def test_every_route_refuses_huge_bodies(client_without_index: Any) -> None:
    response = client_without_index.post("/gradio_api/queue/join", content=b"x" * (2 << 20), auth=("ann", "s3cret"))
    assert response.status_code == 413


# ---------------------------------------------------------------- the real app, real model, index of the seeds

@pytest.fixture(scope="module")
def seed_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import qa

    out = tmp_path_factory.mktemp("app") / "vectors"
    qa.build_index([str(SEEDS)], out)
    return out


@pytest.fixture(scope="module")
def background(seed_index: Path) -> Iterator[app.BackgroundServer]:
    with app.background_server(["--index", str(seed_index), "--seeds", str(SEEDS)]) as started:
        yield started


@pytest.fixture(scope="module")
def server(background: app.BackgroundServer) -> str:
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
    with app.serve_in_background(["--index", str(index), "--seeds", str(SEEDS)]) as url:
        with urllib.request.urlopen(f"{url}/api/health", timeout=30) as response:
            health = json.loads(response.read())
    assert health["status"] == "ok" and health["articles"] == 1 and (index / "CURRENT").is_file()


@pytest.mark.slow
def test_missing_index_is_a_message_not_a_crash(tmp_path: Path) -> None:
    with app.serve_in_background(["--index", str(tmp_path / "none"), "--build", "never"]) as url:
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


def shown(question: str) -> str:
    """The question as the app echoes it: without bidi controls, stripped."""
    return app.strip_bidi_controls(question).strip()


@pytest.mark.slow
@pytest.mark.parametrize(("question", "status", "expected"), BAD_QUESTIONS)
def test_json_api_answers_or_refuses_bad_questions(server: str, question: str, status: int, expected: str) -> None:
    raw = json.dumps({"question": question}).encode("ascii")  # \u escapes, so an unpaired surrogate travels as sent
    for path in ("/api/ask", "/api/search"):
        got, reply = post(f"{server}{path}", None, raw=raw)
        assert got == status, (path, reply)
        if status != 200:
            assert expected in reply["error"]["message"] and "Traceback" not in reply["error"]["message"]
            continue
        assert reply["question"] == shown(question)
        if path == "/api/search":
            assert isinstance(reply["hits"], list)
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
APP_SOURCE = "def create_app("
TRAVERSALS = [
    "/gradio_api/file=/etc/passwd",
    "/gradio_api/fil%65=/etc/passwd",
    "/gradio_api/file=../../../../../../etc/passwd",
    "/gradio_api/file=%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/gradio_api/file={root}/app.py",
    "/gradio_api/file=app.py",
    "/gradio_api/file=seeds/../app.py",
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
    assert PASSWD not in body and APP_SOURCE not in body


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
    engine = app.Engine(None, slots=1, backlog=2)
    with engine.admit(), engine.admit(), engine.admit(), pytest.raises(app.Busy), engine.admit():
        pass
    with engine.admit():  # the count goes down as answers leave
        pass


@pytest.mark.slow
def test_under_load_every_accepted_question_is_answered(background: app.BackgroundServer, capsys: pytest.CaptureFixture[str]) -> None:
    """32 clients for 10 s, half on the JSON API, half on the Gradio queue (benchmarks/load_app.py runs longer)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import load_app

    result = load_app.run_load(background.url, json_clients=16, gradio_clients=16, seconds=10, pid=background.pid, expect="الخميس")
    summary = load_app.report(result)
    with capsys.disabled():
        print(f"\n{summary}")
    assert result.errors == 0, summary
    # 16 clients a door fit in the backlog (32): nobody is told to come back later.
    assert all(t.refused == 0 and t.answered >= 16 for t in result.targets), summary
    assert result.memory is not None and result.memory.growth_mib < 64, summary
