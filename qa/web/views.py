"""JSON views of the library's records, as the JSON API and the Gradio API return them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from qa.records import Answer, Hit
from qa.web.request import Query


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
        "answerer": answer.answerer,
        "reader": answer.reader,
        "note": answer.note,
        "removed": [asdict(r) for r in answer.removed],
        "short": asdict(answer.short) if answer.short is not None else None,
        "figures": [asdict(f) for f in answer.figures],
        "searched": answer.searched,
        "searched_since": answer.searched_since,
        "searched_until": answer.searched_until,
        "as_of": answer.as_of,
        "timeline": [asdict(e) for e in answer.timeline],
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
