"""Admission: the served index shared by every session and API, a bounded number of questions at a time, people first."""

from __future__ import annotations

import threading
from collections import deque
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
# The lanes questions wait in: "ui" for the Gradio queue (the chat page, and the Gradio API beside it),
# "api" for the JSON endpoints.
LANES = ("ui", "api")
# While both lanes wait, the chat takes this many turns for each one the JSON API gets: a person waits
# behind at most one JSON question per UI_TURNS, and the JSON API keeps a quarter of the engine.
# Set by hand, checked with benchmarks/load_fair.py (8 Gradio + 24 JSON clients, 10,304 passages, 2 cores,
# load 1.9): Gradio p95 1.67 s, 73% of the answers (2.35 s and 45% with one shared semaphore).
UI_TURNS = 3


class Turns:
    """Who runs next: at most `slots` at once; a freed slot goes to the next waiter of the lane whose turn it is.

    Each lane is first come, first served. While both wait, "ui" gets `ui_turns` turns for each "api" one;
    a lane alone gets every turn. A freed slot is handed to the waiter chosen, so a thread that just
    released one cannot take it back ahead of those waiting (a plain semaphore lets it).
    """

    def __init__(self, slots: int, *, ui_turns: int = UI_TURNS) -> None:
        if slots < 1 or ui_turns < 1:
            raise ValueError(f"slots and ui_turns must be at least 1, got {slots} and {ui_turns}")
        self.slots = slots
        self.ui_turns = ui_turns
        self._free = slots
        self._waiting: dict[str, deque[list[bool]]] = {lane: deque() for lane in LANES}
        self._ui_in_a_row = 0
        self._changed = threading.Condition()

    @property
    def waiting(self) -> int:
        """Questions waiting for a slot, in both lanes."""
        with self._changed:
            return sum(len(queue) for queue in self._waiting.values())

    @contextmanager
    def turn(self, lane: str, timeout: float = WAIT_SECONDS) -> Iterator[None]:
        """Hold a slot for the block, waiting for it in `lane` at most `timeout` seconds (then Busy)."""
        if lane not in self._waiting:
            raise ValueError(f"lane must be one of {', '.join(LANES)}, got {lane!r}")
        ticket = [False]
        with self._changed:
            self._waiting[lane].append(ticket)
            self._hand_out()
            if not self._changed.wait_for(lambda: ticket[0], timeout):
                self._waiting[lane].remove(ticket)
                raise Busy()
        try:
            yield
        finally:
            with self._changed:
                self._free += 1
                self._hand_out()

    def _hand_out(self) -> None:
        ui, api = self._waiting["ui"], self._waiting["api"]
        handed = False
        while self._free and (ui or api):
            if ui and (not api or self._ui_in_a_row < self.ui_turns):
                self._ui_in_a_row = self._ui_in_a_row + 1 if api else 0
                ticket = ui.popleft()
            else:
                self._ui_in_a_row = 0
                ticket = api.popleft()
            ticket[0] = True
            self._free -= 1
            handed = True
        if handed:
            self._changed.notify_all()


class Engine:
    """The retriever (model and index), loaded once and shared by every session and API.

    At most `slots` searches run at once (the model saturates the cores); at most
    `backlog` more wait, so latency stays bounded and extra requests get "busy".
    Questions wait in two lanes (`Turns`): the Gradio queue's ("ui", the default) go
    before the JSON API's ("api"), which keeps one turn in UI_TURNS + 1.
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
        self.turns = Turns(slots)
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

    @property
    def ui_concurrency(self) -> int:
        """How many of its questions the Gradio queue hands over at once: one waiting for each slot running,
        so that a slot freed goes to the next person rather than to a JSON question that happened to be there."""
        return 2 * self.slots

    @contextmanager
    def _slot(self, lane: str) -> Iterator[Retriever]:
        if self.turns.waiting >= self.backlog:
            raise Busy()
        with self.turns.turn(lane):
            # Taken once: the whole request uses one generation, even if another is swapped in meanwhile.
            with self.live.use() as retriever:
                if retriever is None:
                    raise IndexStoreError(self.live.problem or "no index is loaded")
                yield retriever

    def search(self, query: Query, *, lane: str = "ui") -> list[Hit]:
        with self._slot(lane) as retriever:
            return retriever.search(query.question, k=query.k, mode=query.mode, filters=query.filters)

    def ask(self, query: Query, *, with_articles: bool = False, lane: str = "ui") -> tuple[Answer, dict[str, Article]]:
        """The answer, and (for the UI) the whole articles it cites, by id; `lane` is one of LANES."""
        with self._slot(lane) as retriever:
            answer = qa.ask(query.question, retriever, history=query.history, k=query.k, mode=query.mode,
                            filters=query.filters, answerer=self._answerer_for(retriever), now=query.now,
                            timeline=query.timeline)
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

    def ask_stream(self, query: Query, *, with_articles: bool = False,
                   lane: str = "ui") -> Iterator[str | tuple[Answer, dict[str, Article]]]:
        """`ask`, with the text of a generating answerer piece by piece first (unverified), then the answer and articles."""
        from qa.answer import ask_stream

        with self._slot(lane) as retriever:
            for event in ask_stream(query.question, retriever, history=query.history, k=query.k, mode=query.mode,
                                    filters=query.filters, answerer=self._answerer_for(retriever), now=query.now,
                                    timeline=query.timeline):
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
