"""qa.web.engine: the slots' two lanes, the Gradio queue's before the JSON API's, neither starved."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable

import pytest

from qa.web.engine import UI_TURNS, Engine, Turns
from qa.web.errors import Busy
from qa.web.request import parse_query

SERVICE_SECONDS = 0.05


class SlowRetriever:
    """Stands in for the retriever: every search takes SERVICE_SECONDS, off the CPU."""

    def search(self, *args: object, **kwargs: object) -> list[object]:
        time.sleep(SERVICE_SECONDS)
        return []


def _in_order(turns: Turns, lanes: list[str]) -> list[str]:
    """Start one waiter per lane, in this order, behind a held slot; return the order they ran in."""
    ran: list[str] = []
    threads = []
    with turns.turn("api"):
        for lane in lanes:
            def run(lane: str = lane) -> None:
                with turns.turn(lane, timeout=5):
                    ran.append(lane)
            threads.append(threading.Thread(target=run))
            threads[-1].start()
            _wait_until(lambda: turns.waiting == len(threads))
    for thread in threads:
        thread.join(5)
    return ran


def _wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_a_freed_slot_goes_to_a_waiting_person_before_earlier_json_questions() -> None:
    assert _in_order(Turns(1), ["api", "api", "ui"]) == ["ui", "api", "api"]


def test_json_questions_keep_one_turn_in_ui_turns_plus_one() -> None:
    ran = _in_order(Turns(1, ui_turns=UI_TURNS), ["api"] * 2 + ["ui"] * (2 * UI_TURNS))
    assert ran == (["ui"] * UI_TURNS + ["api"]) * 2


def test_each_lane_is_first_come_first_served() -> None:
    turns = Turns(1)
    order: list[int] = []
    threads = []
    with turns.turn("ui"):
        for number in range(4):
            def run(number: int = number) -> None:
                with turns.turn("api", timeout=5):
                    order.append(number)
            threads.append(threading.Thread(target=run))
            threads[-1].start()
            _wait_until(lambda: turns.waiting == len(threads))
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3]


def test_a_question_that_waits_too_long_is_told_busy_and_leaves_the_line() -> None:
    turns = Turns(1)
    with turns.turn("api"), pytest.raises(Busy), turns.turn("ui", timeout=0.05):
        pass
    assert turns.waiting == 0
    with turns.turn("ui", timeout=0.05):  # and the slot is free again
        pass


def test_an_unknown_lane_is_named() -> None:
    with pytest.raises(ValueError, match="lane must be one of ui, api, got 'web'"), Turns(1).turn("web"):
        pass


def test_the_gradio_queue_hands_over_one_waiting_question_per_slot() -> None:
    assert Engine(None, slots=3).ui_concurrency == 6


def test_a_person_is_not_starved_by_json_traffic() -> None:
    """4 JSON clients back to back and one person asking 8 questions in a row, on one slot of 50 ms a question.

    A person is served after the question running (and, one time in UI_TURNS + 1, one JSON question more):
    about 2 service times a question. Queued behind the JSON clients, first come first served, it is 5.
    """
    engine = Engine(SlowRetriever(), slots=1, backlog=16)  # type: ignore[arg-type]
    query = parse_query({"question": "متى يزور أولوند موسكو؟"}, with_history=False)
    done = threading.Event()
    answered = {"api": 0}

    def json_client() -> None:
        while not done.is_set():
            engine.search(query, lane="api")
            answered["api"] += 1

    clients = [threading.Thread(target=json_client) for _ in range(4)]
    for client in clients:
        client.start()
    try:
        _wait_until(lambda: engine.turns.waiting >= 3)
        waits = []
        for _ in range(8):
            started = time.monotonic()
            engine.search(query)
            waits.append(time.monotonic() - started)
    finally:
        done.set()
        for client in clients:
            client.join(5)
    assert statistics.median(waits) < 2.6 * SERVICE_SECONDS, waits
    assert answered["api"] >= 2  # and the JSON clients were not shut out
