"""The web app: a chat over the indexed news, Arabic first, with cited sources, a Gradio API and JSON endpoints.

Run `python app.py` (or `qa serve`) and open http://127.0.0.1:7860. Settings, flag beats
environment beats default: --host/QA_HOST (127.0.0.1), --port/QA_PORT (7860),
--index/QA_INDEX (vectors), --seeds/QA_SEEDS (seeds), --auth/QA_AUTH (user:password),
--build/QA_BUILD (auto: build when the index is missing or older than the seeds),
--concurrency/QA_CONCURRENCY (1 search at a time), --backlog/QA_BACKLOG (32 waiting).

JSON endpoints (UTF-8 JSON bodies of at most 64 KiB; with --auth, HTTP basic auth):

    POST /api/search  {"question": str, "k": 1..20 = 5, "mode": "hybrid"|"dense"|"lexical",
                       "filters": {"sources": [str], "categories": [str], "since": "YYYY-MM-DD",
                                   "until": "YYYY-MM-DD", "keep_undated": bool}}
                   -> {"question", "mode", "k", "hits": [Hit], "took_ms"}
    POST /api/ask     the same fields, plus "history": [{"question": str, "answer": str}] (at most 10)
                   -> {"question", "answer", "abstained", "language", "search_query",
                       "citations": [Citation], "hits": [Hit], "took_ms"}
    GET  /api/health -> {"status": "ok"|"unavailable", "message"?, "index", "generation", "articles",
                         "passages", "model", "created", "reload_problem"?}

Hit is {"rank", "passage_id", "article_id", "title", "site", "agency", "published", "url", "category",
"score", "similarity", "text", "start", "end", "carriers": [...]}; Citation is qa's Citation record
({"number", "sentence", "start", "end", "passage_id", "passage_text", "passage_start", "passage_end",
"article_id", "title", "origin", "score", "site", "agency", "published", "url"}).
Errors: {"error": {"type", "message"}} with 400 (bad request or question), 401, 404, 405, 413 (body
too large), 415 (not JSON), 503 (index unavailable, or server busy: more than concurrency + backlog
questions already waiting; with Retry-After), 500.
The Gradio API has the named endpoints /ask and /search (see the page's "Use via API" link).

A build that publishes a new generation of the index (`qa build ... --out INDEX`) is served
within a second or so of being published, without a restart; questions already running finish
on the previous one. A generation that cannot be loaded is logged and skipped (the health
report says why), and the previous one goes on serving.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import html
import json
import logging
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import gradio as gr
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

import qa
from qa.config import DEFAULT_INDEX_DIR, DEFAULT_SOURCES
from qa.errors import (
    IndexMismatchError,
    IndexMissingError,
    IndexStoreError,
    ModelError,
    QueryError,
)
from qa.records import Answer, Article, Filters, Hit, Turn
from qa.retrieve import MAX_QUESTION_CHARS, MODES, check_question
from qa.store import CURRENT

logger = logging.getLogger("qa.app")

DEFAULT_K = 5
MAX_K = 20
MAX_HISTORY_TURNS = 10
MAX_HISTORY_ANSWER_CHARS = 8000
# Answers whose sources the panel keeps, newest first.
MAX_PANEL_TURNS = 20
# Sessions whose state Gradio keeps, least recently used dropped first. Each costs about 60 KB here
# (measured), and a Gradio API call without a session of its own (POST /gradio_api/call/ask) makes a
# new one: Gradio's default of 10,000 let the server grow by about 600 MB under such calls, 2,000
# bound it to about 120 MB. A chat idle for longer than 2,000 such calls loses its earlier turns.
STATE_SESSIONS = 2000
NEW_SESSION: dict[str, Any] = {"turns": [], "sections": [], "count": 0}
MAX_BODY_BYTES = 64 * 1024
# Any request to the server, Gradio's own routes included.
MAX_ANY_BODY_BYTES = 1024 * 1024
WAIT_SECONDS = 60.0
# Gradio routes that store uploads, serve files from disk, fetch URLs or hold a connection open for
# development reloads. The page has no file inputs or outputs and needs none of them: they are
# refused before Gradio sees the request.
BLOCKED_ROUTES = (
    "/gradio_api/upload", "/gradio_api/file=", "/gradio_api/file/", "/gradio_api/proxy=", "/gradio_api/stream/",
    "/gradio_api/process_recording", "/gradio_api/custom_component/", "/gradio_api/dev/", "/file=", "/file/", "/proxy=",
)
# How often requests look at the index's CURRENT pointer for a new generation.
POINTER_CHECK_SECONDS = 1.0
SHUTDOWN_SECONDS = 5

EXAMPLES = [
    "متى يزور أولوند موسكو؟",
    "كم شخصا قتل في هجمات باريس؟",
    "من هو السفير الروسي لدى فرنسا؟",
    "مع من اتفق أولوند على توسيع العمليات العسكرية ضد داعش؟",
    "When does Hollande visit Moscow?",
]


# ---------------------------------------------------------------- errors

class RequestError(Exception):
    """A request the app refuses before it reaches the library; `status` is the HTTP status."""

    def __init__(self, message: str, status: int = 400, kind: str = "invalid_request") -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


class Busy(RequestError):
    def __init__(self) -> None:
        super().__init__("the server is busy answering other questions; try again in a moment", 503, "busy")


@dataclass(frozen=True)
class Problem:
    """An error as a user sees it: a headline, the detail, and the HTTP status for API clients."""

    status: int
    kind: str
    headline: str
    detail: str


def explain(exc: BaseException) -> Problem:
    """Translate any exception into a message for people; unexpected ones are logged, never shown."""
    if isinstance(exc, RequestError):
        headline = "الخادم مشغول" if isinstance(exc, Busy) else "تعذّر قبول الطلب"
        return Problem(exc.status, exc.kind, headline, str(exc))
    if isinstance(exc, QueryError):
        return Problem(400, "invalid_request", "تعذّر قبول السؤال", str(exc))
    if isinstance(exc, (IndexStoreError, ModelError)):
        return Problem(503, "index_unavailable", "الفهرس غير متاح", str(exc))
    if isinstance(exc, qa.QAError):
        return Problem(500, "error", "تعذّرت الإجابة", str(exc))
    reference = uuid.uuid4().hex[:8]
    logger.error("internal error %s", reference, exc_info=exc)
    return Problem(500, "internal_error", "حدث خطأ داخلي", f"internal error (reference {reference}); see the server log")


# ---------------------------------------------------------------- requests

@dataclass(frozen=True)
class Query:
    """A validated search or ask request, shared by the UI, the Gradio API and the JSON API."""

    question: str
    k: int = DEFAULT_K
    mode: str = "hybrid"
    filters: Filters = field(default_factory=Filters)
    history: tuple[Turn, ...] = ()


_QUERY_FIELDS = ("question", "k", "mode", "filters")
_FILTER_FIELDS = ("sources", "categories", "since", "until", "keep_undated")


def parse_query(body: Any, *, with_history: bool) -> Query:
    """Check a request body (a decoded JSON object) and turn it into a Query.

    Raises:
        RequestError: a field is missing, unknown, of the wrong type or out of range.
        QueryError: the question is empty or too long (the library's own check).
    """
    if not isinstance(body, dict):
        raise RequestError(f"the body must be a JSON object, got {_json_type(body)}")
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        # JSON may escape half of a surrogate pair ("\ud800"); no tokenizer can read the result.
        raise RequestError("the request holds text that is not valid Unicode (an unpaired surrogate such as \\ud800)") from None
    except (TypeError, ValueError):
        pass  # not JSON data at all: the checks below name the field
    allowed = _QUERY_FIELDS + (("history",) if with_history else ())
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise RequestError(f"unknown field {unknown[0]!r}; the fields are {', '.join(allowed)}")
    if "question" not in body:
        raise RequestError("the field 'question' is required")
    question = body["question"]
    if not isinstance(question, str):
        raise RequestError(f"'question' must be a string, got {_json_type(question)}")
    question = strip_bidi_controls(question)
    check_question(question)
    k = body.get("k", DEFAULT_K)
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise RequestError(f"'k' must be a whole number from 1 to {MAX_K}, got {json.dumps(k, ensure_ascii=False)}")
    mode = body.get("mode", "hybrid")
    if mode not in MODES:
        raise RequestError(f"'mode' must be one of {', '.join(MODES)}, got {json.dumps(mode, ensure_ascii=False)}")
    history = _parse_history(body.get("history")) if with_history else ()
    return Query(question=question.strip(), k=k, mode=mode, filters=_parse_filters(body.get("filters")), history=history)


def _parse_filters(value: Any) -> Filters:
    if value is None:
        return Filters()
    if not isinstance(value, dict):
        raise RequestError(f"'filters' must be an object, got {_json_type(value)}")
    unknown = sorted(set(value) - set(_FILTER_FIELDS))
    if unknown:
        raise RequestError(f"unknown filter {unknown[0]!r}; the filters are {', '.join(_FILTER_FIELDS)}")
    lists = {}
    for name in ("sources", "categories"):
        items = value.get(name) or []
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, list) or not all(isinstance(i, str) and len(i) <= 200 for i in items) or len(items) > 50:
            raise RequestError(f"'filters.{name}' must be a list of at most 50 short strings")
        lists[name] = tuple(i.strip() for i in items if i.strip())
    bounds = {}
    for name in ("since", "until"):
        bound = value.get(name)
        if bound is not None and (not isinstance(bound, str) or len(bound) > 40):
            raise RequestError(f"'filters.{name}' must be an ISO date string such as 2015-11-26")
        bounds[name] = (bound.strip() or None) if bound else None
    keep_undated = value.get("keep_undated", True)
    if not isinstance(keep_undated, bool):
        raise RequestError(f"'filters.keep_undated' must be true or false, got {_json_type(keep_undated)}")
    return Filters(sources=lists["sources"], categories=lists["categories"], keep_undated=keep_undated, **bounds)


def _parse_history(value: Any) -> tuple[Turn, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_HISTORY_TURNS:
        raise RequestError(f"'history' must be a list of at most {MAX_HISTORY_TURNS} turns")
    turns = []
    for turn in value:
        if not isinstance(turn, dict) or not isinstance(turn.get("question"), str) or not isinstance(turn.get("answer", ""), str):
            raise RequestError('each turn of \'history\' must be {"question": str, "answer": str}')
        if len(turn["question"]) > MAX_QUESTION_CHARS or len(turn.get("answer", "")) > MAX_HISTORY_ANSWER_CHARS:
            raise RequestError(
                f"a turn of 'history' is too long (questions up to {MAX_QUESTION_CHARS:,} characters, "
                f"answers up to {MAX_HISTORY_ANSWER_CHARS:,})"
            )
        turns.append(Turn(question=turn["question"], answer=turn.get("answer", "")))
    return tuple(turns)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


# Explicit embeddings, overrides and isolates (not the LRM/RLM marks): invisible, they reorder how the
# text around them is shown ("Trojan Source"), so questions and everything the page shows drop them.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def strip_bidi_controls(text: str) -> str:
    return _BIDI_CONTROLS.sub("", text)


def split_sources(text: str | None) -> list[str]:
    """Sites typed in one box, separated by Latin or Arabic commas."""
    return [s.strip() for s in re.split(r"[,،]", text or "") if s.strip()]


# ---------------------------------------------------------------- the shared engine

class LiveIndex:
    """The retriever being served, switched to a newly published index generation without a restart.

    `qa build` publishes a new generation folder and atomically replaces the CURRENT pointer of the
    index folder. At most once every `check_seconds`, a request reads that pointer (one small file);
    when it names another generation, a background thread loads it, sharing the loaded model, and
    swaps it in. Requests already running keep the retriever they started with. A generation that
    fails to load is logged, reported by `reload_problem` and not tried again; the previous one goes
    on serving. With no retriever at all (no index yet), the first generation published is loaded.
    """

    def __init__(self, retriever: qa.Retriever | None, folder: Path | None = None, *, problem: str | None = None,
                 check_seconds: float = POINTER_CHECK_SECONDS) -> None:
        self.folder = folder
        self.check_seconds = check_seconds
        self._retriever = retriever
        self._problem = problem
        self._reload_problem: str | None = None
        self._failed: str | None = None
        self._loading = False
        self._next_check = 0.0
        self._lock = threading.Lock()

    @property
    def generation(self) -> str | None:
        """The name of the generation folder being served."""
        retriever = self._retriever
        return retriever.folder.name if retriever is not None else None

    @property
    def problem(self) -> str | None:
        """Why no index is served (None when one is)."""
        return None if self._retriever is not None else self._problem

    @property
    def reload_problem(self) -> str | None:
        """Why the generation the pointer names is not the one served (it failed to load), or None."""
        return self._reload_problem

    def current(self) -> qa.Retriever | None:
        """The retriever to use for one request, after a cheap check of the pointer (at most once a second)."""
        self.check()
        return self._retriever

    def check(self) -> None:
        """Start loading the generation the pointer names if it is new; return at once."""
        if self.folder is None or time.monotonic() < self._next_check or not self._lock.acquire(blocking=False):
            return
        try:
            if self._loading or time.monotonic() < self._next_check:
                return
            self._next_check = time.monotonic() + self.check_seconds
            name = self._pointer()
            if name is None or name == self.generation or name == self._failed:
                return
            self._loading = True
        finally:
            self._lock.release()
        threading.Thread(target=self._load, args=(name,), name="qa-index-reload", daemon=True).start()

    def _pointer(self) -> str | None:
        try:
            return (self.folder / CURRENT).read_bytes().decode("utf-8", "replace").strip() or None
        except OSError:
            return None

    def _load(self, name: str) -> None:
        started = time.monotonic()
        try:
            retriever = self._open()
        except Exception as exc:  # whatever is wrong with the new index, the old one keeps serving
            with self._lock:
                self._failed = name
                self._reload_problem = f"the index generation {name} could not be loaded: {exc}"
                self._loading = False
            serving = f"still serving {self.generation}" if self._retriever is not None else "no index is served"
            logger.error("%s; %s", self._reload_problem, serving, exc_info=not isinstance(exc, qa.QAError))
            return
        with self._lock:
            self._retriever = retriever
            self._problem = None
            self._reload_problem = None
            self._failed = None
            self._loading = False
        logger.info("now serving the index generation %s (%d passages, loaded in %.1f s)",
                    retriever.folder.name, retriever.size, time.monotonic() - started)

    def _open(self) -> qa.Retriever:
        old = self._retriever
        if old is None:
            return qa.Retriever.load(self.folder)
        try:
            return qa.Retriever.load(self.folder, embedder=old.embedder)
        except IndexMismatchError:
            # Built with another model: it needs its own (the old one is released with the old retriever).
            return qa.Retriever.load(self.folder)


class Engine:
    """The retriever (model and index), loaded once and shared by every session and API.

    At most `slots` searches run at once (the model saturates the cores); at most
    `backlog` more wait, so latency stays bounded and extra requests get "busy".
    With `index` (the index folder), a newly published generation replaces the
    served one without a restart (see `LiveIndex`).
    """

    def __init__(self, retriever: qa.Retriever | None, problem: str | None = None, *, slots: int = 1, backlog: int = 32,
                 index: Path | None = None, check_seconds: float = POINTER_CHECK_SECONDS) -> None:
        self.live = LiveIndex(retriever, index, problem=problem, check_seconds=check_seconds)
        self.slots = slots
        self.backlog = backlog
        self._semaphore = threading.BoundedSemaphore(slots)
        self._waiting = 0
        self._admitted = 0
        self._lock = threading.Lock()

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Count a request from its arrival to its answer; refuse it (Busy) when `slots + backlog` are counted."""
        with self._lock:
            if self._admitted >= self.slots + self.backlog:
                raise Busy()
            self._admitted += 1
        try:
            yield
        finally:
            with self._lock:
                self._admitted -= 1

    @contextmanager
    def _slot(self) -> Iterator[qa.Retriever]:
        with self._lock:
            if self._waiting >= self.backlog:
                raise Busy()
            self._waiting += 1
        try:
            acquired = self._semaphore.acquire(timeout=WAIT_SECONDS)
        finally:
            with self._lock:
                self._waiting -= 1
        if not acquired:
            raise Busy()
        try:
            # Taken once: the whole request uses one generation, even if another is swapped in meanwhile.
            retriever = self.live.current()
            if retriever is None:
                raise IndexStoreError(self.live.problem or "no index is loaded")
            yield retriever
        finally:
            self._semaphore.release()

    def search(self, query: Query) -> list[Hit]:
        with self._slot() as retriever:
            return retriever.search(query.question, k=query.k, mode=query.mode, filters=query.filters)

    def ask(self, query: Query, *, with_articles: bool = False) -> tuple[Answer, dict[str, Article]]:
        """The answer, and (for the UI) the whole articles it cites, by id."""
        with self._slot() as retriever:
            answer = qa.ask(query.question, retriever, history=query.history, k=query.k, mode=query.mode, filters=query.filters)
            articles = {}
            if with_articles:
                for article_id in dict.fromkeys(c.article_id for c in answer.citations):
                    articles[article_id] = retriever.article(article_id)
        return answer, articles

    def health(self) -> dict[str, Any]:
        """What is served: "ok" with the index, its generation and counts, or "unavailable" with the reason."""
        retriever = self.live.current()
        if retriever is None:
            health = {"status": "unavailable", "message": self.live.problem or "no index is loaded"}
        else:
            manifest = retriever.manifest
            health = {
                "status": "ok",
                "index": str(self.live.folder or retriever.folder.parent),
                "generation": retriever.folder.name,
                "articles": manifest.get("counts", {}).get("articles"),
                "passages": retriever.size,
                "model": manifest.get("model", {}).get("name"),
                "created": manifest.get("created"),
            }
        if self.live.reload_problem:
            health["reload_problem"] = self.live.reload_problem
        return health


# ---------------------------------------------------------------- JSON views of the records

def hit_json(hit: Hit, rank: int) -> dict[str, Any]:
    return {"rank": rank, **asdict(hit)}


def answer_json(answer: Answer, took_ms: float) -> dict[str, Any]:
    return {
        "question": answer.question,
        "answer": answer.text,
        "abstained": answer.abstained,
        "language": answer.language,
        "search_query": answer.search_query,
        "citations": [asdict(c) for c in answer.citations],
        "hits": [hit_json(h, i) for i, h in enumerate(answer.hits, start=1)],
        "took_ms": round(took_ms, 1),
    }


def search_json(query: Query, hits: Sequence[Hit], took_ms: float) -> dict[str, Any]:
    return {
        "question": query.question,
        "mode": query.mode,
        "k": query.k,
        "hits": [hit_json(h, i) for i, h in enumerate(hits, start=1)],
        "took_ms": round(took_ms, 1),
    }


# ---------------------------------------------------------------- HTML (everything escaped)

_RTL_LETTER = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
_MARKER = re.compile(r"\[(\d{1,3})\]")


def direction(text: str) -> str:
    """"rtl" when right-to-left letters (Arabic, Hebrew) are at least as many as Latin ones, else "ltr"."""
    rtl = len(_RTL_LETTER.findall(text))
    return "rtl" if rtl and rtl >= len(_LATIN_LETTER.findall(text)) else "ltr"


def esc(text: str | None) -> str:
    return html.escape(strip_bidi_controls(text or ""), quote=True)


def _lines(text: str) -> str:
    """Escaped text with its line breaks kept (no blank line, so Markdown never parses it)."""
    return "<br>".join(esc(line) for line in text.strip().split("\n"))


def source_id(turn: int, number: int) -> str:
    return f"qa-src-{turn}-{number}"


def user_message(question: str) -> str:
    return f'<div class="qa-msg qa-question" dir="{direction(question)}">{_lines(question)}</div>'


def answer_message(answer: Answer, turn: int) -> str:
    numbers = {c.number for c in answer.citations}

    def link(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if number not in numbers:
            return match.group(0)
        return f'<a class="qa-cite" href="#{source_id(turn, number)}" title="المصدر {number}">[{number}]</a>'

    text = _MARKER.sub(link, _lines(answer.text))
    note = ""
    if answer.search_query and answer.search_query.strip() != answer.question.strip():
        note = f'<div class="qa-note" dir="rtl">بحثت عن: <bdi>{esc(answer.search_query)}</bdi></div>'
    kind = "qa-answer qa-abstained" if answer.abstained else "qa-answer"
    return f'<div class="qa-msg {kind}" dir="{direction(answer.text)}" lang="{esc(answer.language)}">{text}{note}</div>'


def error_message(problem: Problem) -> str:
    return (
        f'<div class="qa-msg qa-error" dir="rtl"><strong>⚠ {esc(problem.headline)}</strong>'
        f'<div dir="{direction(problem.detail)}">{_lines(problem.detail)}</div></div>'
    )


def _highlight(text: str, start: int, end: int) -> str:
    """Escaped `text` with `text[start:end]` in a <mark>; the whole text unmarked when the span is off."""
    if not 0 <= start < end <= len(text):
        return _lines(text)
    return f'{_lines(text[:start])}<mark class="qa-hl">{_lines(text[start:end])}</mark>{_lines(text[end:])}'


def _meta(site: str | None, agency: str | None, published: str | None, score: float | None) -> str:
    parts = [esc(x) for x in (site, agency, published) if x]
    if score is not None:
        parts.append(f'<span dir="ltr">score {score:.3f}</span>')
    return " · ".join(parts)


def _link(url: str | None) -> str:
    if not url or not re.match(r"https?://", url, re.IGNORECASE):
        return ""
    return f'<a class="qa-url" href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">الرابط الأصلي ↗</a>'


def sources_section(turn: int, answer: Answer, articles: dict[str, Article]) -> str:
    """The sources of one answer: each cited passage with its sentence highlighted, and its article."""
    cards = []
    for c in answer.citations:
        offset = c.start - c.passage_start
        sentence_end = c.end - c.passage_start
        if not (0 <= offset < sentence_end <= len(c.passage_text)) or c.passage_text[offset:sentence_end] != c.sentence:
            found = c.passage_text.find(c.sentence)
            offset, sentence_end = (found, found + len(c.sentence)) if found >= 0 else (0, 0)
        article = articles.get(c.article_id)
        whole = ""
        if article is not None:
            body = _highlight(article.text, c.start, c.end) if article.text[c.start:c.end] == c.sentence else _lines(article.text)
            whole = (
                f'<details class="qa-article"><summary>المقال كاملا</summary>'
                f'<div class="qa-article-text" dir="{direction(article.text)}">{body}</div></details>'
            )
        cards.append(
            f'<article class="qa-src" id="{source_id(turn, c.number)}" dir="{direction(c.passage_text)}">'
            f'<header><span class="qa-num">[{c.number}]</span> <span class="qa-title">{esc(c.title)}</span></header>'
            f'<div class="qa-meta">{_meta(c.site, c.agency, c.published, c.score)}</div>'
            f'<p class="qa-passage">{_highlight(c.passage_text, offset, sentence_end)}</p>'
            f"{whole}{_link(c.url)}</article>"
        )
    if not answer.citations:
        heading = "أقرب المقاطع (لا إجابة)"
        for rank, hit in enumerate(answer.hits, start=1):
            cards.append(
                f'<article class="qa-src qa-near" dir="{direction(hit.text)}">'
                f'<header><span class="qa-num">{rank}.</span> <span class="qa-title">{esc(hit.title)}</span></header>'
                f'<div class="qa-meta">{_meta(hit.site, hit.agency, hit.published, hit.score)}</div>'
                f'<p class="qa-passage">{_lines(hit.text)}</p>{_link(hit.url)}</article>'
            )
    else:
        heading = "المصادر"
    question = f'<div class="qa-turn-q" dir="{direction(answer.question)}">{esc(answer.question)}</div>'
    return f'<section class="qa-turn" data-turn="{turn}"><h4>{heading}</h4>{question}{"".join(cards)}</section>'


EMPTY_PANEL = '<div class="qa-sources" dir="rtl"><p class="qa-empty">ستظهر هنا المقاطع التي يستشهد بها الجواب، والجملة المستشهد بها مظللة.</p></div>'


def sources_panel(sections: Sequence[str]) -> str:
    """The newest answer's sources open, older ones folded."""
    if not sections:
        return EMPTY_PANEL
    newest, older = sections[-1], sections[:-1]
    folded = "".join(
        f'<details class="qa-older"><summary>سؤال سابق ({i})</summary>{s}</details>'
        for i, s in reversed(list(enumerate(older, start=1)))
    )
    return f'<div class="qa-sources" dir="rtl">{newest}{folded}</div>'


CSS = """
.gradio-container { direction: rtl; }
.qa-msg { line-height: 1.7; }
.qa-msg[dir=rtl], .qa-sources [dir=rtl] { text-align: right; }
.qa-msg[dir=ltr], .qa-sources [dir=ltr] { text-align: left; }
a.qa-cite { text-decoration: none; font-weight: 600; padding: 0 2px; border-radius: 4px; cursor: pointer; unicode-bidi: isolate; }
a.qa-cite:hover { background: rgba(59,130,246,.15); }
.qa-note { font-size: .85em; opacity: .7; margin-top: .4em; }
.qa-error strong { display: block; color: #b91c1c; }
.qa-sources { max-height: 75vh; overflow-y: auto; padding: 4px 8px; scroll-behavior: auto; }
.qa-src { border: 1px solid rgba(128,128,128,.3); border-radius: 8px; padding: 8px 12px; margin: 8px 0; }
.qa-src.qa-active { border-color: #2563eb; box-shadow: 0 0 0 2px rgba(37,99,235,.35); }
.qa-src header { font-weight: 600; }
.qa-meta { font-size: .85em; opacity: .75; margin: 2px 0 6px; }
.qa-passage { line-height: 1.8; margin: 0 0 6px; }
mark.qa-hl { background: #fde68a; color: inherit; padding: 0 2px; border-radius: 3px; }
.qa-article-text { max-height: 40vh; overflow-y: auto; line-height: 1.8; padding: 6px; }
.qa-turn-q { font-style: italic; opacity: .8; }
.qa-empty { opacity: .7; }
"""

# Citation markers live in the chat, their passages in the sources panel: one delegated listener
# (capture phase, so the chat's own link handling never runs) scrolls the passage into view.
HEAD = """
<script>
document.addEventListener("click", function (event) {
  var link = event.target && event.target.closest ? event.target.closest("a.qa-cite") : null;
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  var id = (link.getAttribute("href") || "").replace(/^#/, "");
  var target = document.getElementById(id);
  if (!target) return;
  var folded = target.closest("details");
  if (folded) folded.open = true;
  document.querySelectorAll(".qa-src.qa-active").forEach(function (e) { e.classList.remove("qa-active"); });
  target.classList.add("qa-active");
  var box = target.closest(".qa-sources");
  if (box) {
    box.scrollTop += target.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
    box.scrollIntoView({block: "nearest"});
  } else {
    target.scrollIntoView({block: "nearest"});
  }
}, true);
// The question box follows what is typed: right to left for Arabic, left to right for Latin text.
document.addEventListener("input", function (event) {
  var box = event.target;
  if (box && box.closest && box.closest("#qa-question")) box.dir = box.value.trim() ? "auto" : "rtl";
}, true);
</script>
"""


# ---------------------------------------------------------------- the Gradio app

def build_ui(engine: Engine) -> gr.Blocks:
    """The chat page, plus the named API endpoints `ask` and `search`."""

    def respond(question: str, chat: list[dict[str, Any]], state: dict[str, Any], k: float, mode: str,
                sources: str, since: str, until: str) -> Iterator[tuple[Any, ...]]:
        chat = list(chat or [])
        state = {"turns": list(state.get("turns", [])), "sections": list(state.get("sections", [])), "count": state.get("count", 0)}
        try:
            query = parse_query(
                {"question": question or "", "k": int(k), "mode": mode,
                 "filters": {"sources": split_sources(sources), "since": since or None, "until": until or None}},
                with_history=False,
            )
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message in the chat
            chat.append({"role": "assistant", "content": error_message(explain(exc))})
            yield chat, gr.update(), gr.update(), state
            return
        history = tuple(Turn(question=t["question"], answer=t["answer"]) for t in state["turns"])
        query = Query(query.question, query.k, query.mode, query.filters, history)
        chat.append({"role": "user", "content": user_message(query.question)})
        chat.append({"role": "assistant", "content": '<div class="qa-msg qa-pending" dir="rtl">… جارٍ البحث في المقالات</div>'})
        yield chat, "", gr.update(), state
        try:
            answer, articles = engine.ask(query, with_articles=True)
        except Exception as exc:  # noqa: BLE001
            chat[-1] = {"role": "assistant", "content": error_message(explain(exc))}
            yield chat, gr.update(), gr.update(), state
            return
        turn = state["count"] = state["count"] + 1
        chat[-1] = {"role": "assistant", "content": answer_message(answer, turn)}
        state["turns"] = [*state["turns"], {"question": answer.question, "answer": answer.text}][-MAX_HISTORY_TURNS:]
        state["sections"] = [*state["sections"], sources_section(turn, answer, articles)][-MAX_PANEL_TURNS:]
        yield chat, gr.update(), sources_panel(state["sections"]), state

    def clear() -> tuple[Any, ...]:
        return [], "", EMPTY_PANEL, NEW_SESSION

    def api_ask(question: str, k: int = DEFAULT_K, mode: str = "hybrid", sources: list[str] | None = None,
                since: str | None = None, until: str | None = None, history: list[dict] | None = None) -> dict:
        """Answer a question with cited sentences. `history` lists earlier turns as {"question", "answer"}."""
        started = time.perf_counter()
        try:
            query = parse_query(
                {"question": question, "k": k, "mode": mode, "history": history,
                 "filters": {"sources": sources or [], "since": since, "until": until}},
                with_history=True,
            )
            answer, _ = engine.ask(query)
        except Exception as exc:  # noqa: BLE001
            raise gr.Error(explain(exc).detail) from None
        return answer_json(answer, (time.perf_counter() - started) * 1000)

    def api_search(question: str, k: int = DEFAULT_K, mode: str = "hybrid", sources: list[str] | None = None,
                   since: str | None = None, until: str | None = None) -> dict:
        """The k passages that best answer a question, best first."""
        started = time.perf_counter()
        try:
            query = parse_query(
                {"question": question, "k": k, "mode": mode, "filters": {"sources": sources or [], "since": since, "until": until}},
                with_history=False,
            )
            hits = engine.search(query)
        except Exception as exc:  # noqa: BLE001
            raise gr.Error(explain(exc).detail) from None
        return search_json(query, hits, (time.perf_counter() - started) * 1000)

    with gr.Blocks(title="أسئلة الأخبار — qa", analytics_enabled=False) as demo:
        gr.HTML(
            '<div dir="rtl" class="qa-header"><h2 style="margin:0">اسأل الأخبار</h2>'
            "<p style=\"margin:4px 0\">إجابات من المقالات المفهرسة، كل جملة بمصدرها. انقر على رقم المصدر لترى المقطع.</p></div>",
            js_on_load=None,
        )
        state = gr.State(NEW_SESSION)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="المحادثة", elem_id="qa-chat", height=520, latex_delimiters=[],
                    sanitize_html=True, render_markdown=True, line_breaks=False, feedback_options=None, buttons=[],
                    placeholder='<div dir="rtl">اكتب سؤالا عن الأخبار، بالعربية أو بالإنجليزية أو بالفرنسية.</div>',
                )
                with gr.Row():
                    question = gr.Textbox(
                        show_label=False, placeholder="اكتب سؤالك هنا…", elem_id="qa-question", rtl=True,
                        lines=1, max_lines=6, scale=6, autofocus=True,
                    )
                    send = gr.Button("اسأل", variant="primary", elem_id="qa-send", scale=1, min_width=80)
                    new = gr.Button("محادثة جديدة", elem_id="qa-new", scale=1, min_width=150)
                gr.Examples(examples=[[q] for q in EXAMPLES], inputs=[question], label="أمثلة")
                with gr.Accordion("الإعدادات", open=False):
                    with gr.Row():
                        k = gr.Slider(1, MAX_K, value=DEFAULT_K, step=1, label="عدد المقاطع")
                        mode = gr.Radio(list(MODES), value="hybrid", label="طريقة البحث")
                    with gr.Row():
                        sources = gr.Textbox(label="المصادر (مفصولة بفواصل)", placeholder="مصدر24، reuters.com")
                        since = gr.Textbox(label="من تاريخ", placeholder="2015-11-01")
                        until = gr.Textbox(label="إلى تاريخ", placeholder="2015-11-30")
            with gr.Column(scale=2):
                panel = gr.HTML(EMPTY_PANEL, elem_id="qa-sources-panel", js_on_load=None)

        inputs = [question, chatbot, state, k, mode, sources, since, until]
        outputs = [chatbot, question, panel, state]
        for trigger in (question.submit, send.click):
            trigger(respond, inputs, outputs, api_visibility="private", show_progress="hidden", concurrency_id="engine")
        new.click(clear, None, outputs, api_visibility="private", queue=False)
        chatbot.clear(clear, None, outputs, api_visibility="private", queue=False)
        gr.api(api_ask, api_name="ask", concurrency_id="engine")
        gr.api(api_search, api_name="search", concurrency_id="engine")
    demo.queue(default_concurrency_limit=engine.slots, max_size=engine.backlog)
    demo.state_session_capacity = STATE_SESSIONS
    return demo


THEME_FONTS = ["Noto Sans Arabic", "Noto Naskh Arabic", "DejaVu Sans", "Tahoma", "system-ui", "sans-serif"]


# ---------------------------------------------------------------- the server

def create_app(engine: Engine, *, auth: tuple[str, str] | None = None) -> FastAPI:
    """The FastAPI server: JSON endpoints under /api, the Gradio page at /."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(_Guard, limit=MAX_ANY_BODY_BYTES, blocked=BLOCKED_ROUTES)

    def failure(exc: BaseException) -> JSONResponse:
        problem = explain(exc)
        headers = {"Retry-After": "1"} if problem.status == 503 else None
        return JSONResponse({"error": {"type": problem.kind, "message": problem.detail}}, problem.status, headers=headers)

    def authorized(request: Request) -> bool:
        if auth is None:
            return True
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except ValueError:
            return False
        return secrets.compare_digest(user.encode(), auth[0].encode()) & secrets.compare_digest(password.encode(), auth[1].encode())

    def unauthorized() -> JSONResponse:
        return JSONResponse(
            {"error": {"type": "unauthorized", "message": "this server needs a user name and password (HTTP basic auth)"}},
            401, headers={"WWW-Authenticate": 'Basic realm="qa"'},
        )

    # JSON questions wait here for their turn (the engine runs `slots` at once); at most `slots + backlog`
    # are admitted, the rest are refused at once with 503 and Retry-After.
    pool = ThreadPoolExecutor(max_workers=engine.slots, thread_name_prefix="qa-api")

    async def handle(request: Request, work: Callable[[Query], dict[str, Any]], *, with_history: bool) -> JSONResponse:
        if not authorized(request):
            return unauthorized()
        try:
            query = parse_query(await read_json(request), with_history=with_history)
            with engine.admit():
                return JSONResponse(await asyncio.get_running_loop().run_in_executor(pool, work, query))
        except Exception as exc:  # noqa: BLE001 - clients get a message, the log gets the trace
            return failure(exc)

    def do_search(query: Query) -> dict[str, Any]:
        started = time.perf_counter()
        hits = engine.search(query)
        return search_json(query, hits, (time.perf_counter() - started) * 1000)

    def do_ask(query: Query) -> dict[str, Any]:
        started = time.perf_counter()
        answer, _ = engine.ask(query)
        return answer_json(answer, (time.perf_counter() - started) * 1000)

    @app.post("/api/search")
    async def search(request: Request) -> JSONResponse:
        return await handle(request, do_search, with_history=False)

    @app.post("/api/ask")
    async def ask(request: Request) -> JSONResponse:
        return await handle(request, do_ask, with_history=True)

    @app.get("/api/health")
    async def health(request: Request) -> JSONResponse:
        if not authorized(request):
            return unauthorized()
        payload = engine.health()
        return JSONResponse(payload, 200 if payload["status"] == "ok" else 503)

    demo = build_ui(engine)
    return gr.mount_gradio_app(
        app, demo, path="/", auth=auth, allowed_paths=[], show_error=False, ssr_mode=False, run_history=False,
        mcp_server=False, footer_links=["api"], theme=gr.themes.Soft(font=THEME_FONTS, font_mono=["DejaVu Sans Mono", "monospace"]),
        css=CSS, head=HEAD,
    )


async def read_json(request: Request, limit: int = MAX_BODY_BYTES) -> Any:
    """The request's JSON body, refusing a wrong content type, a body over `limit` bytes or bad JSON."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise RequestError("send the request as JSON (Content-Type: application/json)", 415, "unsupported_media_type")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise RequestError(f"the request body is over the limit of {limit:,} bytes", 413, "too_large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise RequestError(f"the request body is over the limit of {limit:,} bytes", 413, "too_large")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RequestError(f"the request body is not valid UTF-8 JSON ({exc})") from None


class _Guard:
    """ASGI middleware: 404 for the `blocked` route prefixes; 413 for any body over `limit` bytes, declared or streamed."""

    def __init__(self, app: Any, limit: int, blocked: Sequence[str] = ()) -> None:
        self.app = app
        self.limit = limit
        self.blocked = tuple(blocked)

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        # scope["path"] is percent-decoded, as the router sees it: an encoded name cannot slip through.
        if scope["path"].startswith(self.blocked):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await JSONResponse({"error": {"type": "not_found", "message": "no such page"}}, 404)(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            response = JSONResponse(
                {"error": {"type": "too_large", "message": f"the request body is over the limit of {self.limit:,} bytes"}}, 413
            )
            await response(scope, receive, send)
            return
        seen = 0

        async def limited() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, limited, send)


# ---------------------------------------------------------------- startup: index, model, settings

def stale_reason(manifest: dict[str, Any], seeds: Path) -> str | None:
    """Why an index built from `seeds` must be rebuilt (an article is newer than it), or None."""
    built_from = {Path(s).resolve() for s in manifest.get("sources", [])}
    if seeds.resolve() not in built_from:
        return None  # built from other sources: never overwrite it with the seeds
    try:
        created = datetime.fromisoformat(manifest["created"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return "its manifest has no build time"
    newest = max((p.stat().st_mtime for p in [seeds, *seeds.rglob("*")]), default=0.0)
    return f"{seeds} changed after it was built" if newest > created + 1 else None


def open_engine(index: Path, seeds: Path, *, build: str = "auto", slots: int = 1, backlog: int = 32) -> Engine:
    """Load the index (building it first from `seeds` when it is missing or stale); never raises a QAError.

    When the index cannot be used, the engine carries the reason, and every question gets it as an answer,
    until a build publishes one that can. Later builds are served as soon as they are published.
    """
    try:
        retriever = _load_or_build(index, seeds, build)
    except qa.QAError as exc:
        logger.error("the index cannot be used: %s", exc)
        return Engine(None, str(exc), slots=slots, backlog=backlog, index=index)
    return Engine(retriever, slots=slots, backlog=backlog, index=index)


def _load_or_build(index: Path, seeds: Path, build: str) -> qa.Retriever:
    retriever = None
    reason = "--build always"
    if build != "always":
        try:
            retriever = qa.Retriever.load(index)
        except IndexMissingError:
            if build == "never" or not seeds.exists():
                raise
            reason = f"there is no index at {index}"
        else:
            reason = stale_reason(retriever.manifest, seeds) if build == "auto" and seeds.exists() else None
            if reason is None:
                return retriever
    print(f"qa: building the index of {seeds} in {index} ({reason})", file=sys.stderr, flush=True)
    embedder = retriever.embedder if retriever is not None else None
    report = qa.build_index([str(seeds)], index, embedder=embedder, progress=_print_progress)
    print(
        f"qa: indexed {report.articles} articles, {report.passages} passages "
        f"({report.embedded} embedded, {report.reused} reused) in {report.seconds:.1f} s",
        file=sys.stderr, flush=True,
    )
    return qa.Retriever.load(index, embedder=embedder)


def _print_progress(progress: Any) -> None:
    print(
        f"qa:   {progress.articles} articles, {progress.passages} passages, {progress.embedded} embedded, "
        f"{progress.reused} reused ({progress.seconds:.1f} s)",
        file=sys.stderr, flush=True,
    )


def parse_auth(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise argparse.ArgumentTypeError("credentials must be USER:PASSWORD")
    return user, password


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(description="Start the chat app over the indexed news.")
    parser.add_argument("--host", default=env("QA_HOST", "127.0.0.1"), help="address to listen on (default: %(default)s, or $QA_HOST); loopback unless told otherwise")
    parser.add_argument("--port", type=int, default=env("QA_PORT", "7860"), help="port (default: %(default)s, or $QA_PORT)")
    parser.add_argument("--index", default=env("QA_INDEX", DEFAULT_INDEX_DIR), help="index folder (default: %(default)s, or $QA_INDEX)")
    parser.add_argument("--seeds", default=env("QA_SEEDS", DEFAULT_SOURCES[0]), help="articles to index when the index is missing or older (default: %(default)s, or $QA_SEEDS)")
    parser.add_argument("--build", choices=("auto", "never", "always"), default=env("QA_BUILD", "auto"), help="auto: build when missing or stale (default: %(default)s, or $QA_BUILD)")
    parser.add_argument("--auth", default=env("QA_AUTH"), help="USER:PASSWORD required to use the app and the APIs (or $QA_AUTH; prefer the variable, a flag shows in `ps`)")
    parser.add_argument("--concurrency", type=int, default=env("QA_CONCURRENCY", "1"), help="questions answered at once (default: %(default)s, or $QA_CONCURRENCY)")
    parser.add_argument("--backlog", type=int, default=env("QA_BACKLOG", "32"), help="questions allowed to wait; more get 'busy' (default: %(default)s, or $QA_BACKLOG)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        auth = parse_auth(args.auth)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    if args.concurrency < 1 or args.backlog < 1:
        parser.error("--concurrency and --backlog must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    if args.host not in ("127.0.0.1", "localhost", "::1") and auth is None:
        print(f"qa: warning: listening on {args.host} without --auth; anyone who can reach it can use it", file=sys.stderr)
    engine = open_engine(Path(args.index), Path(args.seeds), build=args.build, slots=args.concurrency, backlog=args.backlog)
    app = create_app(engine, auth=auth)
    print(f"qa: serving on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    # Open pages keep an event stream that never ends by itself: on Ctrl-C or SIGTERM, wait for open
    # connections at most this long, not until every browser tab is closed.
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=SHUTDOWN_SECONDS)
    return 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class BackgroundServer:
    """An app started by `background_server`: its URL and process id."""

    url: str
    pid: int


@contextmanager
def serve_in_background(args: Sequence[str] = (), *, env: dict[str, str] | None = None, timeout: float = 300.0) -> Iterator[str]:
    """Run this app in a subprocess on a free loopback port; yield its URL once it answers; stop it on exit.

    For the tests, the screenshot script and the benchmarks; see `background_server`.
    """
    with background_server(args, env=env, timeout=timeout) as server:
        yield server.url


@contextmanager
def background_server(args: Sequence[str] = (), *, env: dict[str, str] | None = None, timeout: float = 300.0) -> Iterator[BackgroundServer]:
    """Run this app in a subprocess on a free loopback port; yield it once it answers; stop it on exit.

    Raises RuntimeError, with the end of the app's console output, when it exits or does not
    answer within `timeout` seconds.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, str(Path(__file__).resolve()), "--host", "127.0.0.1", "--port", str(port), *args]
    with tempfile.TemporaryFile("w+", encoding="utf-8") as console:
        process = subprocess.Popen(command, stdout=console, stderr=subprocess.STDOUT, env=env, cwd=Path(__file__).resolve().parent)

        def failure(why: str) -> RuntimeError:
            console.seek(0)
            return RuntimeError(f"the app {why}; its console said:\n{console.read()[-4000:]}")

        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    raise failure(f"exited with status {process.returncode}")
                if time.monotonic() > deadline:
                    raise failure(f"did not answer within {timeout:.0f} s")
                try:
                    urllib.request.urlopen(f"{url}/api/health", timeout=5).close()
                    break
                except urllib.error.HTTPError:
                    break  # it answers (503 without an index, 401 with auth)
                except OSError:
                    time.sleep(0.5)
            yield BackgroundServer(url, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


if __name__ == "__main__":
    sys.exit(main())
