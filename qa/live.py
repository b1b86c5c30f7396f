"""The served index, switched to a newly published generation without a restart, old ones closed once unused."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from qa.errors import IndexMismatchError, QAError, StoreUnavailableError
from qa.stores.generations import CURRENT

if TYPE_CHECKING:
    from qa.retrieve import Retriever

logger = logging.getLogger("qa.live")

# How often requests look at the index's CURRENT pointer for a new generation.
POINTER_CHECK_SECONDS = 1.0


def _load_retriever(folder: Path | None, embedder: object | None) -> Retriever:
    from qa.retrieve import Retriever

    return Retriever.load(folder) if embedder is None else Retriever.load(folder, embedder=embedder)


class LiveIndex:
    """The retriever being served, switched to a newly published index generation without a restart.

    `qa build` publishes a new generation folder and atomically replaces the CURRENT pointer of the
    index folder. At most once every `check_seconds`, a request reads that pointer (one small file);
    when it names another generation, a background thread loads it, sharing the loaded model, and
    swaps it in. Requests already running keep the retriever they started with (`use`); the one
    replaced is closed when the last of them ends. A generation that fails to load is logged,
    reported by `reload_problem` and not tried again; the previous one goes on serving. With no
    retriever at all (no index yet), the first generation published is loaded.

    A store on a server publishes by other means (Milvus moves an alias): `published` then says
    which version is published (None when it cannot tell), and `load` opens it; a version that
    failed to load because the server did not answer is tried again.
    """

    def __init__(self, retriever: Retriever | None, folder: Path | None = None, *, problem: str | None = None,
                 check_seconds: float = POINTER_CHECK_SECONDS,
                 load: Callable[[Path | None, object | None], Retriever] = _load_retriever,
                 published: Callable[[], str | None] | None = None) -> None:
        self.folder = folder
        self._published = published
        self.check_seconds = check_seconds
        self._load_generation = load
        self._retriever = retriever
        self._problem = problem
        self._reload_problem: str | None = None
        self._failed: str | None = None
        self._loading = False
        self._next_check = 0.0
        # Requests running on each retriever, by id(); a replaced retriever waits here until its count is 0.
        self._users: dict[int, int] = {}
        self._retired: dict[int, Retriever] = {}
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

    @contextmanager
    def use(self) -> Iterator[Retriever | None]:
        """The retriever for one request (None when no index is served), kept open until the block ends.

        Looks at the pointer first (cheaply, at most once every `check_seconds`).
        """
        self.check()
        with self._lock:
            retriever = self._retriever
            if retriever is not None:
                self._users[id(retriever)] = self._users.get(id(retriever), 0) + 1
        try:
            yield retriever
        finally:
            if retriever is not None:
                self._release(retriever)

    def check(self) -> None:
        """Start loading the generation the pointer names if it is new; return at once."""
        watched = self.folder is not None or self._published is not None
        if not watched or time.monotonic() < self._next_check or not self._lock.acquire(blocking=False):
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
        if self._published is not None:
            try:
                return self._published()
            except QAError as exc:  # a server that does not answer publishes nothing new
                logger.debug("cannot tell the published version: %s", exc)
                return None
        assert self.folder is not None
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
                # A server that did not answer may answer next time: only a broken version is given up on.
                self._failed = None if isinstance(exc, StoreUnavailableError) else name
                self._reload_problem = f"the index generation {name} could not be loaded: {exc}"
                self._loading = False
            serving = f"still serving {self.generation}" if self._retriever is not None else "no index is served"
            logger.error("%s; %s", self._reload_problem, serving, exc_info=not isinstance(exc, QAError))
            return
        with self._lock:
            old = self._retriever
            self._retriever = retriever
            self._problem = None
            self._reload_problem = None
            self._failed = None
            self._loading = False
            unused = old is not None and not self._users.get(id(old))
            if old is not None and not unused:
                self._retired[id(old)] = old
        logger.info("now serving the index generation %s (%d passages, loaded in %.1f s)",
                    retriever.folder.name, retriever.size, time.monotonic() - started)
        if unused:
            _close(old)

    def _open(self) -> Retriever:
        old = self._retriever
        if old is None:
            return self._load_generation(self.folder, None)
        try:
            return self._load_generation(self.folder, old.embedder)
        except IndexMismatchError:
            # Built with another model: it needs its own (the old one is released with the old retriever).
            return self._load_generation(self.folder, None)

    def _release(self, retriever: Retriever) -> None:
        key = id(retriever)
        with self._lock:
            left = self._users[key] - 1
            if left:
                self._users[key] = left
                return
            del self._users[key]
            retired = self._retired.pop(key, None)
        if retired is not None:
            _close(retired)


def _close(retriever: Retriever) -> None:
    """Release a retriever's files and memory maps; a failure is logged, the served one is unaffected."""
    close = getattr(retriever, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception:  # closing an old generation must never break the new one
        logger.warning("closing the index generation %s failed", retriever.folder.name, exc_info=True)
    else:
        logger.info("closed the index generation %s", retriever.folder.name)
