"""Split article bodies into sentences and token-bounded passages with exact character offsets."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa.errors import SettingsError
from qa.records import Article, Passage

CountTokens = Callable[[Sequence[str]], list[int]]

# A sentence ends at . ! ? ؟ ؛ … (possibly repeated), followed by closing quotes
# or brackets, then whitespace or the end of the text; a line break always ends one.
_END = re.compile(r"[.!?\u061f\u061b\u2026]+[\"'\u201d\u2019\u00bb)\]]*(?=\s|$)|\n+")
# Clause boundaries used only to cut a sentence longer than a whole window.
_CLAUSE = re.compile(r"[\u060c,;:\u061b]+(?=\s)")
_SPACE = re.compile(r"\S+")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr vs etc inc ltd co corp gen col lt sgt rep sen gov "
    "mm m mme dr pr av ap jan feb mar apr jun jul aug sep sept oct nov dec".split()
)


def embed_text(title: str, text: str) -> str:
    """The text a passage is embedded as: its article's title, a line break, then the passage.

    The title tells the model what a passage mid-article is about; every writer of embedded
    text (the chunker, the store's rebuild of kept passages) calls this, so both stay the same.
    """
    return f"{title}\n{text}" if title else text


@dataclass(frozen=True)
class Span:
    """A half-open character range `[start, end)` of a text."""

    start: int
    end: int


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Return the sentences of `text[start:end]` as trimmed spans of `text`.

    A period after a number's digit with a digit following (3.5), after a
    single letter (U.S., د.) or after a known abbreviation (Mr., Dr.) does not
    end a sentence; closing quotes stay with the sentence they close.
    """
    end = len(text) if end is None else end
    spans: list[Span] = []
    cursor = start
    for match in _END.finditer(text, start, end):
        if match.group().startswith(".") and _is_abbreviation(text, match.start(), start):
            continue
        _append_trimmed(text, cursor, match.end(), spans)
        cursor = match.end()
    _append_trimmed(text, cursor, end, spans)
    return spans


def _is_abbreviation(text: str, dot: int, floor: int) -> bool:
    word_start = dot
    while word_start > floor and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:dot].strip("\"'(\u201c\u00ab").rstrip(".")
    if not word:
        return False
    last = word.split(".")[-1]
    return (len(last) == 1 and last.isalpha()) or last.casefold() in _ABBREVIATIONS


def _append_trimmed(text: str, start: int, end: int, spans: list[Span]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append(Span(start, end))


@dataclass(frozen=True)
class Chunker:
    """Packs sentences into passages of at most `max_tokens` model tokens.

    Args:
        count_tokens: the embedding model's token counter (batch of texts in,
            counts out, without special tokens).
        max_tokens: the passage window, in model tokens.
        overlap_sentences: sentences a passage repeats from the end of the previous one.
    """

    count_tokens: CountTokens
    max_tokens: int = 200
    overlap_sentences: int = 1

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise SettingsError(f"max_tokens must be at least 16, got {self.max_tokens}")
        if self.overlap_sentences < 0:
            raise SettingsError(f"overlap_sentences must be 0 or more, got {self.overlap_sentences}")

    def chunk(self, article: Article) -> list[Passage]:
        """Split one article; the same article always gives the same passages."""
        return self.chunk_many([article])[0]

    def chunk_many(self, articles: Sequence[Article]) -> list[list[Passage]]:
        """Split articles, counting the tokens of all their sentences in one batch."""
        units_per_article = [split_sentences(article.text) for article in articles]
        flat = [article.text[u.start:u.end] for article, units in zip(articles, units_per_article) for u in units]
        counts = iter(self.count_tokens(flat)) if flat else iter(())
        results = []
        for article, units in zip(articles, units_per_article):
            sized = [(unit, next(counts)) for unit in units]
            sized = self._split_long(article.text, sized)
            results.append(self._windows(article, sized))
        return results

    def _split_long(self, text: str, sized: list[tuple[Span, int]]) -> list[tuple[Span, int]]:
        out: list[tuple[Span, int]] = []
        for unit, tokens in sized:
            if tokens <= self.max_tokens:
                out.append((unit, tokens))
                continue
            # Cut at clause marks first, then at spaces, never inside a word.
            pieces = _cut_points(text, unit, _CLAUSE) or [unit]
            words = [w for piece in pieces for w in _cut_points(text, piece, _SPACE, keep_match=True)]
            counts = self.count_tokens([text[w.start:w.end] for w in words])
            current: list[tuple[Span, int]] = []
            total = 0
            for word, count in zip(words, counts):
                if current and total + count > self.max_tokens:
                    out.append((Span(current[0][0].start, current[-1][0].end), total))
                    current, total = [], 0
                current.append((word, count))
                total += count
            if current:
                out.append((Span(current[0][0].start, current[-1][0].end), total))
        return out

    def _windows(self, article: Article, sized: list[tuple[Span, int]]) -> list[Passage]:
        passages: list[Passage] = []
        first = 0
        while first < len(sized):
            last = first
            total = sized[first][1]
            while last + 1 < len(sized) and total + sized[last + 1][1] <= self.max_tokens:
                last += 1
                total += sized[last][1]
            start, end = sized[first][0].start, sized[last][0].end
            body = article.text[start:end]
            passages.append(
                Passage(
                    id=f"{article.id}:{len(passages)}",
                    article_id=article.id,
                    ordinal=len(passages),
                    start=start,
                    end=end,
                    text=body,
                    embed_text=embed_text(article.title, body),
                )
            )
            if last + 1 >= len(sized):
                break
            # The next window repeats the last sentences, but always moves forward.
            first = max(first + 1, last + 1 - self.overlap_sentences)
        return passages


def _cut_points(text: str, unit: Span, pattern: re.Pattern[str], keep_match: bool = False) -> list[Span]:
    spans: list[Span] = []
    if keep_match:
        return [Span(m.start(), m.end()) for m in pattern.finditer(text, unit.start, unit.end)]
    cursor = unit.start
    for match in pattern.finditer(text, unit.start, unit.end):
        _append_trimmed(text, cursor, match.end(), spans)
        cursor = match.end()
    _append_trimmed(text, cursor, unit.end, spans)
    return spans if len(spans) > 1 else []


_OPEN_QUOTES = "\u201c\u00ab"
_CLOSE_QUOTES = "\u201d\u00bb"


def answer_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """The sentences of `text[start:end]` as spans of `text`, a quotation kept whole.

    `chunk.split_sentences` ends a sentence at every full stop; a sentence that
    opens a quotation (`“`, `«`) runs on here until the quotation closes, so an
    answer never cites half a quote.
    """
    spans = split_sentences(text, start, end)
    merged: list[Span] = []
    depth = 0
    for span in spans:
        piece = text[span.start:span.end]
        if depth > 0 and merged and "\n" not in text[merged[-1].end:span.start]:
            merged[-1] = Span(merged[-1].start, span.end)
        else:
            merged.append(span)
            depth = 0
        depth = max(0, depth + sum(piece.count(q) for q in _OPEN_QUOTES) - sum(piece.count(q) for q in _CLOSE_QUOTES))
    return merged
