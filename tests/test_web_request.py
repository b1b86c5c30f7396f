"""Requests of the web app: what parse_query accepts, what it refuses and with which message."""

from __future__ import annotations

from typing import Any

import pytest

from qa.config import MODES
from qa.errors import QueryError
from qa.records import Filters
from qa.web.errors import RequestError
from qa.web.request import DEFAULT_K, MAX_K, Query, parse_query, source_names, split_sources, strip_bidi_controls


def test_parse_query_defaults_and_filters() -> None:
    query = parse_query(
        {"question": "  متى؟ ", "k": 3, "mode": "dense",
         "filters": {"sources": ["مصدر24"], "since": "2015-11-01", "until": "", "keep_undated": False}},
        with_history=False,
    )
    assert query == Query("متى؟", 3, "dense", Filters(sources=("مصدر24",), since="2015-11-01", keep_undated=False))
    assert parse_query({"question": "q"}, with_history=True).k == DEFAULT_K
    history = parse_query({"question": "q", "history": [{"question": "a", "answer": "b"}]}, with_history=True).history
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
        ({"question": "q", "mode": ["dense"]}, "'mode' must be one of"),
        ({"question": "q", "top": 3}, "unknown field 'top'"),
        ({"question": "q", "filters": []}, "'filters' must be an object"),
        ({"question": "q", "filters": {"site": "x"}}, "unknown filter 'site'"),
        ({"question": "q", "filters": {"sources": [1]}}, "'filters.sources' must be a list"),
        ({"question": "q", "filters": {"sources": ["x"] * 51}}, "at most 50"),
        ({"question": "q", "filters": {"since": 2015}}, "'filters.since' must be an ISO date"),
        ({"question": "q", "filters": {"keep_undated": "no"}}, "'filters.keep_undated' must be true or false"),
        ({"question": "q", "history": "x"}, "'history' must be a list"),
        ({"question": "q", "history": [{"question": "a"}] * 11}, "at most 10 turns"),
        ({"question": "q", "history": [{"answer": "a"}]}, "each turn of 'history'"),
        ({"question": "q", "history": [{"question": "a", "answer": "b" * 8001}]}, "too long"),
        ({"question": "\ud800"}, "not valid Unicode"),
    ],
)
def test_parse_query_refuses_bad_requests(body: Any, message: str) -> None:
    with pytest.raises(RequestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_query(body, with_history=True)


def test_history_is_refused_where_the_endpoint_has_none() -> None:
    with pytest.raises(RequestError, match="unknown field 'history'"):
        parse_query({"question": "q", "history": []}, with_history=False)


@pytest.mark.parametrize(("question", "message"), [("", "empty"), ("   ", "empty"), ("\u202e\u2066", "empty"), ("س" * 2001, "limit is 2,000")])
def test_parse_query_uses_the_library_question_check(question: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query({"question": question}, with_history=False)


def test_the_modes_and_the_cap_are_the_library_s() -> None:
    assert [parse_query({"question": "q", "mode": m}, with_history=False).mode for m in MODES] == list(MODES)
    assert parse_query({"question": "q", "k": MAX_K}, with_history=False).k == MAX_K


def test_bidi_controls_are_dropped_from_the_question() -> None:
    assert parse_query({"question": "\u202eمتى؟\u202c"}, with_history=False).question == "متى؟"
    assert strip_bidi_controls("a\u2066b\u2069c\u200fd") == "abc\u200fd"  # the RLM mark stays: it reorders nothing


def test_split_sources_accepts_arabic_commas() -> None:
    assert split_sources(" مصدر24، reuters.com ,, ") == ["مصدر24", "reuters.com"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(["مصدر24", " reuters.com ", ""], ["مصدر24", "reuters.com"]), ("a، b", ["a", "b"]), (None, []), ([], [])],
)
def test_source_names_of_the_dropdown_or_a_typed_list(value: Any, expected: list[str]) -> None:
    assert source_names(value) == expected


def test_stream_is_a_boolean_of_the_ask_endpoint_only() -> None:
    assert parse_query({"question": "سؤال", "stream": True}, with_history=True).stream is True
    assert parse_query({"question": "سؤال"}, with_history=True).stream is False
    with pytest.raises(RequestError, match="'stream' must be true or false"):
        parse_query({"question": "سؤال", "stream": "yes"}, with_history=True)
    with pytest.raises(RequestError, match="unknown field 'stream'"):
        parse_query({"question": "سؤال", "stream": True}, with_history=False)
