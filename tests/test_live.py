"""LiveIndex: a published generation is swapped in, the replaced one is closed once no request uses it."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from qa.errors import IndexCorruptError, IndexMismatchError
from qa.live import LiveIndex
from qa.stores.generations import CURRENT


class FakeRetriever:
    """What LiveIndex uses of a Retriever: its folder, size, embedder, and close()."""

    def __init__(self, folder: Path, embedder: object | None) -> None:
        self.folder = folder
        self.embedder = embedder if embedder is not None else object()
        self.size = 3
        self.closed = False

    def close(self) -> None:
        self.closed = True


class Loader:
    """Loads FakeRetrievers of the generation CURRENT names; `fail` maps a generation to the error it raises."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object | None]] = []
        self.fail: dict[str, Exception] = {}

    def __call__(self, folder: Path, embedder: object | None) -> FakeRetriever:
        name = (folder / CURRENT).read_text(encoding="utf-8").strip()
        self.calls.append((name, embedder))
        error = self.fail.get(name)
        if error is not None and not (isinstance(error, IndexMismatchError) and embedder is None):
            raise error
        return FakeRetriever(folder / name, embedder)


def publish(index: Path, name: str) -> None:
    (index / name).mkdir(exist_ok=True)
    (index / f"{CURRENT}.tmp").write_text(name + "\n", encoding="utf-8")
    os.replace(index / f"{CURRENT}.tmp", index / CURRENT)


def wait_for(condition: Callable[[], bool], live: LiveIndex, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        with live.use():  # each request looks at the pointer
            pass
        time.sleep(0.01)


def reloads_finished(timeout: float = 10.0) -> None:
    """Wait until no reload thread runs: a load that `check()` started has then called the loader, or failed.

    `LiveIndex.check` starts its thread (named "qa-index-reload") before it returns, so once the requests
    of a test are done, this is the moment after which no load can still come: no fixed sleep needed.
    """
    deadline = time.monotonic() + timeout
    while any(t.name == "qa-index-reload" and t.is_alive() for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a reload thread still runs"
        time.sleep(0.01)


@pytest.fixture()
def index(tmp_path: Path) -> Path:
    publish(tmp_path, "gen-1")
    return tmp_path


def test_a_published_generation_is_served_and_the_old_one_closed(index: Path) -> None:
    loader = Loader()
    first = FakeRetriever(index / "gen-1", None)
    live = LiveIndex(first, index, check_seconds=0, load=loader)
    with live.use() as served:
        assert served is first
    publish(index, "gen-2")
    wait_for(lambda: live.generation == "gen-2", live)
    assert loader.calls == [("gen-2", first.embedder)]  # the loaded model is shared
    wait_for(lambda: first.closed, live)
    assert live.reload_problem is None and live.problem is None


def test_the_old_generation_stays_open_while_a_request_uses_it(index: Path) -> None:
    first = FakeRetriever(index / "gen-1", None)
    live = LiveIndex(first, index, check_seconds=0, load=Loader())
    with live.use() as running, live.use() as other:
        assert running is other is first
        publish(index, "gen-2")
        wait_for(lambda: live.generation == "gen-2", live)
        with live.use() as newer:
            assert newer is not first and not newer.closed
        assert not first.closed  # two requests still run on it
    assert first.closed


def test_a_generation_that_fails_to_load_is_reported_and_not_retried(index: Path) -> None:
    loader = Loader()
    loader.fail["gen-2"] = IndexCorruptError("gen-2/index.faiss: checksum mismatch")
    first = FakeRetriever(index / "gen-1", None)
    live = LiveIndex(first, index, check_seconds=0, load=loader)
    publish(index, "gen-2")
    wait_for(lambda: live.reload_problem is not None, live)
    assert "gen-2" in live.reload_problem and "index.faiss" in live.reload_problem
    for _ in range(5):
        with live.use() as served:
            assert served is first
    reloads_finished()
    assert [name for name, _ in loader.calls] == ["gen-2"] and not first.closed
    publish(index, "gen-3")
    wait_for(lambda: live.generation == "gen-3", live)
    assert live.reload_problem is None


def test_another_model_loads_its_own_embedder(index: Path) -> None:
    loader = Loader()
    loader.fail["gen-2"] = IndexMismatchError("built with another model")
    first = FakeRetriever(index / "gen-1", None)
    live = LiveIndex(first, index, check_seconds=0, load=loader)
    publish(index, "gen-2")
    wait_for(lambda: live.generation == "gen-2", live)
    assert loader.calls == [("gen-2", first.embedder), ("gen-2", None)]


def test_without_an_index_the_first_one_published_is_served(tmp_path: Path) -> None:
    live = LiveIndex(None, tmp_path, problem="no index at x", check_seconds=0, load=Loader())
    with live.use() as served:
        assert served is None
    assert live.problem == "no index at x" and live.generation is None
    publish(tmp_path, "gen-1")
    wait_for(lambda: live.generation == "gen-1", live)
    assert live.problem is None


def test_the_pointer_is_read_at_most_once_per_interval(index: Path) -> None:
    loader = Loader()
    live = LiveIndex(FakeRetriever(index / "gen-1", None), index, check_seconds=3600, load=loader)
    with live.use():
        pass
    publish(index, "gen-2")
    with live.use():
        pass
    reloads_finished()
    assert loader.calls == [] and live.generation == "gen-1"
