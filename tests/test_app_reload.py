"""Hot index switch: the running app serves a newly published index generation without a restart or a failed request."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from qa.web.background import background_server
from tests.conftest import SEEDS

QUESTION = "متى يزور أولوند موسكو؟"
UNIQUE = "زربولون"
NEW_ARTICLE = f"""مهرجان {UNIQUE} للزيتون يختتم دورته الأولى – وكالة الاختبار
مهرجان {UNIQUE} للزيتون يختتم دورته الأولى

اختتم مهرجان {UNIQUE} للزيتون دورته الأولى يوم السبت في قرية تلة الصفصاف بحضور ألفي زائر من القرى المجاورة.

وقال منظمو مهرجان {UNIQUE} إن الدورة الثانية ستقام في الربيع المقبل وستضم معرضا لمعاصر الزيت القديمة.

المصدر:وكالة الاختبار
"""


def call(url: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    """GET (no body) or POST JSON; the status and the decoded reply."""
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


class Hammer:
    """A thread that asks and searches without pause, keeping every failure."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answered = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for path, body, check in (
                ("/api/search", {"question": QUESTION, "k": 2}, lambda r: "الخميس" in r["hits"][0]["text"]),
                ("/api/ask", {"question": QUESTION}, lambda r: "الخميس" in r["answer"]),
            ):
                try:
                    status, reply = call(self.url + path, body)
                    ok = status == 200 and check(reply)
                except (OSError, ValueError, KeyError, IndexError) as exc:
                    status, reply, ok = 0, {"exception": repr(exc)}, False
                if ok:
                    self.answered += 1
                else:
                    self.failures.append(f"{path}: {status} {json.dumps(reply, ensure_ascii=False)[:300]}")

    def __enter__(self) -> Hammer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=120)


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def point_current_at(index: Path, generation: str) -> None:
    """Replace the CURRENT pointer atomically, as a build publishing `generation` does."""
    pointer = index / "CURRENT.test-tmp"
    pointer.write_text(generation + "\n", encoding="utf-8")
    os.replace(pointer, index / "CURRENT")


@pytest.mark.slow
def test_a_published_build_is_served_without_a_restart_or_a_failed_request(tmp_path: Path, embedder: Any) -> None:
    import qa

    sources = tmp_path / "articles"
    shutil.copytree(SEEDS, sources)
    index = tmp_path / "vectors"
    first = qa.build_index([str(sources)], index, embedder=embedder)

    with background_server(["--index", str(index), "--build", "never"]) as server:

        def health() -> dict[str, Any]:
            return call(f"{server.url}/api/health")[1]

        assert health()["generation"] == first.path.name
        with Hammer(server.url) as hammer:
            wait_for(lambda: hammer.answered >= 2, 60, "the first answers")
            (sources / "zarbulon.txt").write_text(NEW_ARTICLE, encoding="utf-8")
            second = qa.build_index([str(sources)], index, embedder=embedder)
            assert second.path.name != first.path.name
            wait_for(lambda: health()["generation"] == second.path.name, 30, "the new generation to be served")
            status, found = call(f"{server.url}/api/search", {"question": f"متى اختتم مهرجان {UNIQUE} دورته الأولى؟", "k": 1})
            assert status == 200 and UNIQUE in found["hits"][0]["title"], found
            assert health()["articles"] == 2

            # A damaged generation is published: it is refused, logged and reported; the last good one goes on serving.
            damaged = index / "gen-29991231T235959-damaged"
            shutil.copytree(second.path, damaged)
            vectors = damaged / "index.faiss"
            data = bytearray(vectors.read_bytes())
            data[len(data) // 2] ^= 0xFF
            vectors.write_bytes(bytes(data))
            point_current_at(index, damaged.name)
            wait_for(lambda: "reload_problem" in health(), 30, "the damaged generation to be reported")
            report = health()
            assert report["status"] == "ok" and report["generation"] == second.path.name
            assert damaged.name in report["reload_problem"] and "index.faiss" in report["reload_problem"]

            # The next good generation is served again.
            copy = index / "gen-29991231T235959-copy"
            shutil.copytree(second.path, copy)
            point_current_at(index, copy.name)
            wait_for(lambda: health()["generation"] == copy.name, 30, "the good generation after the damaged one")
            assert "reload_problem" not in health()
            answered_before = hammer.answered
            wait_for(lambda: hammer.answered > answered_before, 60, "answers from the last generation")
    assert hammer.failures == []
    assert hammer.answered >= 4
