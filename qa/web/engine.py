"""Admission: the served index shared by every session and API, a bounded number of questions at a time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import qa
from qa.errors import IndexStoreError
from qa.live import POINTER_CHECK_SECONDS, LiveIndex
from qa.records import Answer, Article, Hit
from qa.web.errors import Busy
from qa.web.request import Query

if TYPE_CHECKING:
    from qa.answer import Answerer, AnswererFactory
    from qa.embed import Embedder
    from qa.retrieve import Retriever

# How long a question waits for a free slot before it is told the server is busy.
WAIT_SECONDS = 60.0


class Engine:
    """The retriever (model and index), loaded once and shared by every session and API.

    At most `slots` searches run at once (the model saturates the cores); at most
    `backlog` more wait, so latency stays bounded and extra requests get "busy".
    With `index` (the index folder), a newly published generation replaces the
    served one without a restart (see `qa.live.LiveIndex`).
    """

    def __init__(self, retriever: Retriever | None, problem: str | None = None, *, slots: int = 1, backlog: int = 32,
                 index: Path | None = None, check_seconds: float = POINTER_CHECK_SECONDS,
                 answerer: str | Answerer | AnswererFactory | None = None, live: LiveIndex | None = None,
                 store_info: dict[str, str] | None = None) -> None:
        # `live` replaces the index-folder watch (a Milvus alias); `store_info` names the store for health (no secret).
        self.live = live if live is not None else LiveIndex(retriever, index, problem=problem, check_seconds=check_seconds)
        self.store_info = dict(store_info or {})
        self.slots = slots
        self.backlog = backlog
        self._semaphore = threading.BoundedSemaphore(slots)
        self._waiting = 0
        self._admitted = 0
        self._lock = threading.Lock()
        # The site names of the generation served, read once per generation (a scan of the passage store).
        self._sites: tuple[str | None, list[str]] = (None, [])
        # One answerer for every request (its sentence-vector cache must outlive a request), remade
        # only when a new generation comes with another embedder.
        self._answerer_choice = answerer
        self._answerer: tuple[Embedder | None, Answerer | None] = (None, None)

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
    def _slot(self) -> Iterator[Retriever]:
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
            with self.live.use() as retriever:
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
            answer = qa.ask(query.question, retriever, history=query.history, k=query.k, mode=query.mode,
                            filters=query.filters, answerer=self._answerer_for(retriever))
            articles = {}
            if with_articles:
                for article_id in dict.fromkeys(c.article_id for c in answer.citations):
                    articles[article_id] = retriever.article(article_id)
        return answer, articles

    def use_answerer(self, choice: str | Answerer | AnswererFactory | None) -> None:
        """Answer later questions with `choice` (a name, an answerer or a factory such as `qa.llm.llm_answerer(config)`)."""
        with self._lock:
            self._answerer_choice = choice
            self._answerer = (None, None)

    def ask_stream(self, query: Query, *, with_articles: bool = False) -> Iterator[str | tuple[Answer, dict[str, Article]]]:
        """`ask`, with the text of a generating answerer piece by piece first (unverified), then the answer and articles."""
        from qa.answer import ask_stream

        with self._slot() as retriever:
            for event in ask_stream(query.question, retriever, history=query.history, k=query.k, mode=query.mode,
                                              filters=query.filters, answerer=self._answerer_for(retriever)):
                if isinstance(event, str):
                    yield event
                    continue
                articles = {}
                if with_articles:
                    for article_id in dict.fromkeys(c.article_id for c in event.citations):
                        articles[article_id] = retriever.article(article_id)
                yield event, articles

    def _answerer_for(self, retriever: Retriever) -> Answerer:
        from qa.answer import make_answerer

        with self._lock:
            embedder, answerer = self._answerer
            if answerer is None or embedder is not retriever.embedder:
                answerer = make_answerer(self._answerer_choice, retriever.embedder)
                self._answerer = (retriever.embedder, answerer)
            return answerer

    def sites(self) -> tuple[str | None, list[str]]:
        """The generation served and the site names its articles carry, sorted (none without an index)."""
        with self.live.use() as retriever:
            if retriever is None:
                return None, []
            cached = self._sites
            if cached[0] != retriever.folder.name:
                cached = self._sites = (retriever.folder.name, retriever.sites())
            return cached

    def health(self) -> dict[str, Any]:
        """What is served: "ok" with the index, its generation and counts, or "unavailable" with the reason."""
        with self.live.use() as retriever:
            if retriever is None:
                health = {"status": "unavailable", "message": self.live.problem or "no index is loaded", **self.store_info}
            elif (problem := _unreachable(retriever)) is not None:
                health = {"status": "unavailable", "message": problem, **self.store_info,
                          "generation": retriever.folder.name}
            else:
                manifest = retriever.manifest
                health = {
                    "status": "ok",
                    "index": str(self.live.folder or retriever.folder.parent),
                    "generation": retriever.folder.name,
                    "articles": manifest.counts.articles,
                    "passages": retriever.size,
                    "model": manifest.model.name,
                    "created": manifest.created,
                    **self.store_info,
                }
        if self.live.reload_problem:
            health["reload_problem"] = self.live.reload_problem
        return health


def _unreachable(retriever: Retriever) -> str | None:
    """Why the served store's server cannot be used now (None when it answers, or has no server)."""
    ping = getattr(retriever.store, "ping", None)
    if ping is None:
        return None
    try:
        ping()
    except IndexStoreError as exc:
        return str(exc)
    return None
