"""Requests of the page, the Gradio API and the JSON API, checked once and turned into a `Query`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from qa.config import MAX_QUESTION_CHARS, MAX_TOP_K, MODES, check_choice
from qa.records import Filters, Turn
from qa.retrieve import check_question
from qa.web.errors import RequestError

DEFAULT_K = 5
# The app's own cap, below the library's MAX_TOP_K: a page of sources, not a bulk export.
MAX_K = min(20, MAX_TOP_K)
MAX_HISTORY_TURNS = 10
MAX_HISTORY_ANSWER_CHARS = 8000
MAX_FILTER_ITEMS = 50
MAX_FILTER_ITEM_CHARS = 200

QUERY_FIELDS = ("question", "k", "mode", "filters")
ASK_FIELDS = ("history", "stream", "now", "timeline")
FILTER_FIELDS = ("sources", "categories", "since", "until", "keep_undated")


@dataclass(frozen=True)
class Query:
    """A validated search or ask request, shared by the UI, the Gradio API and the JSON API."""

    question: str
    k: int = DEFAULT_K
    mode: str = "hybrid"
    filters: Filters = field(default_factory=Filters)
    history: tuple[Turn, ...] = ()
    # JSON API only: the answer as server-sent events, its text as it is generated, then the answer.
    stream: bool = False
    # Ask only: the day the question is asked from (an ISO date; None: the newest article's), and whether
    # the answer lists the story's dated events (None: the question decides). `qa.ask` checks `now`.
    now: str | None = None
    timeline: bool | None = None


def parse_query(body: Any, *, with_history: bool) -> Query:
    """Check a request body (a decoded JSON object) and turn it into a Query.

    Raises:
        RequestError: a field is missing, unknown, of the wrong type or out of range.
        QueryError: the question is empty or too long (the library's own check).
    """
    if not isinstance(body, dict):
        raise RequestError(f"the body must be a JSON object, got {json_type(body)}")
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        # JSON may escape half of a surrogate pair ("\ud800"); no tokenizer can read the result.
        raise RequestError("the request holds text that is not valid Unicode (an unpaired surrogate such as \\ud800)") from None
    except (TypeError, ValueError):
        pass  # not JSON data at all: the checks below name the field
    allowed = QUERY_FIELDS + (ASK_FIELDS if with_history else ())
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise RequestError(f"unknown field {unknown[0]!r}; the fields are {', '.join(allowed)}")
    if "question" not in body:
        raise RequestError("the field 'question' is required")
    question = body["question"]
    if not isinstance(question, str):
        raise RequestError(f"'question' must be a string, got {json_type(question)}")
    question = strip_bidi_controls(question)
    check_question(question)
    k = body.get("k", DEFAULT_K)
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise RequestError(f"'k' must be a whole number from 1 to {MAX_K}, got {json.dumps(k, ensure_ascii=False)}")
    mode = check_choice("'mode'", body.get("mode", "hybrid"), MODES, RequestError)
    history = parse_history(body.get("history")) if with_history else ()
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise RequestError(f"'stream' must be true or false, got {json_type(stream)}")
    now = body.get("now")
    if now is not None and (not isinstance(now, str) or len(now) > 40):
        raise RequestError(f"'now' must be an ISO date string such as 2018-06-30, got {json_type(now)}")
    timeline = body.get("timeline")
    if timeline is not None and not isinstance(timeline, bool):
        raise RequestError(f"'timeline' must be true, false or null, got {json_type(timeline)}")
    return Query(question=question.strip(), k=k, mode=mode, filters=parse_filters(body.get("filters")), history=history,
                 stream=stream, now=(now.strip() or None) if now else None, timeline=timeline)


def parse_filters(value: Any) -> Filters:
    """The `filters` object of a request (None: no filter)."""
    if value is None:
        return Filters()
    if not isinstance(value, dict):
        raise RequestError(f"'filters' must be an object, got {json_type(value)}")
    unknown = sorted(set(value) - set(FILTER_FIELDS))
    if unknown:
        raise RequestError(f"unknown filter {unknown[0]!r}; the filters are {', '.join(FILTER_FIELDS)}")
    lists = {}
    for name in ("sources", "categories"):
        items = value.get(name) or []
        if isinstance(items, str):
            items = [items]
        if (not isinstance(items, list) or len(items) > MAX_FILTER_ITEMS
                or not all(isinstance(i, str) and len(i) <= MAX_FILTER_ITEM_CHARS for i in items)):
            raise RequestError(f"'filters.{name}' must be a list of at most {MAX_FILTER_ITEMS} short strings")
        lists[name] = tuple(i.strip() for i in items if i.strip())
    bounds = {}
    for name in ("since", "until"):
        bound = value.get(name)
        if bound is not None and (not isinstance(bound, str) or len(bound) > 40):
            raise RequestError(f"'filters.{name}' must be an ISO date string such as 2015-11-26")
        bounds[name] = (bound.strip() or None) if bound else None
    keep_undated = value.get("keep_undated", True)
    if not isinstance(keep_undated, bool):
        raise RequestError(f"'filters.keep_undated' must be true or false, got {json_type(keep_undated)}")
    return Filters(sources=lists["sources"], categories=lists["categories"], keep_undated=keep_undated, **bounds)


def parse_history(value: Any) -> tuple[Turn, ...]:
    """The earlier turns of a conversation, `[{"question": str, "answer": str}]` (None: none)."""
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


def json_type(value: Any) -> str:
    """How JSON calls the type of `value`, for messages."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


# Explicit embeddings, overrides and isolates (not the LRM/RLM marks): invisible, they reorder how the
# text around them is shown ("Trojan Source"), so questions and everything the page shows drop them.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def strip_bidi_controls(text: str) -> str:
    """`text` without the bidi embedding, override and isolate controls."""
    return _BIDI_CONTROLS.sub("", text)


def split_sources(text: str | None) -> list[str]:
    """Sites typed in one box, separated by Latin or Arabic commas."""
    return [s.strip() for s in re.split(r"[,،]", text or "") if s.strip()]


def source_names(value: str | list[str] | None) -> list[str]:
    """The sites chosen in the page's filter: a list from the dropdown, or one comma-separated string."""
    if isinstance(value, str) or value is None:
        return split_sources(value)
    return [s.strip() for s in value if isinstance(s, str) and s.strip()]
