"""The records the library passes around: articles, passages and search hits."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Article:
    """One news article as ingested.

    `text` is the body as it will be displayed; passages and citations are
    character spans into it. `paragraphs` are the body's paragraphs, in order.
    """

    id: str
    title: str
    text: str
    origin: str
    site: str | None = None
    agency: str | None = None
    published: str | None = None
    url: str | None = None
    category: str | None = None
    author: str | None = None
    summary: str | None = None

    @property
    def paragraphs(self) -> list[str]:
        return [line.strip() for line in self.text.split("\n") if line.strip()]


@dataclass(frozen=True)
class Passage:
    """A window of an article's body: `article.text[start:end] == text`."""

    id: str
    article_id: str
    ordinal: int
    start: int
    end: int
    text: str
    embed_text: str


@dataclass(frozen=True)
class Hit:
    """A passage returned by a search, with what a reader needs to cite it."""

    passage_id: str
    article_id: str
    ordinal: int
    text: str
    score: float
    start: int
    end: int
    title: str
    origin: str
    site: str | None = None
    agency: str | None = None
    published: str | None = None
    url: str | None = None
    category: str | None = None
    also_in: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Skipped:
    """An input that was not ingested, and why."""

    origin: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = self.origin if self.line is None else f"{self.origin}:{self.line}"
        return f"{where}: {self.reason}"
