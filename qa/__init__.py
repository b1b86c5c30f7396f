"""Question answering over news articles, Arabic first: build an index, search it, get cited answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qa.config import Settings
from qa.errors import QAError
from qa.ingest import read_articles
from qa.normalize import normalize
from qa.records import Answer, Article, Citation, Filters, Hit, Passage, Turn

if TYPE_CHECKING:
    from qa.answer import Answerer, ask
    from qa.build import BuildReport, build_index
    from qa.retrieve import Retriever

__version__ = "0.1.0"
__all__ = [
    "Answer",
    "Answerer",
    "Article",
    "BuildReport",
    "Citation",
    "Filters",
    "Hit",
    "Passage",
    "QAError",
    "Retriever",
    "Settings",
    "Turn",
    "ask",
    "build_index",
    "normalize",
    "read_articles",
]

_LAZY = {
    "build_index": "qa.build",
    "BuildReport": "qa.build",
    "Retriever": "qa.retrieve",
    "ask": "qa.answer",
    "Answerer": "qa.answer",
}


def __getattr__(name: str) -> Any:
    # Heavy modules (torch, faiss, bm25s) load on first use, so `import qa` stays fast.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
