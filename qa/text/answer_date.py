"""The date that answers a when-question: a time expression of the cited sentence, resolved and written for the reader."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from qa.normalize import normalize
from qa.text.dates import (
    UNRESOLVED,
    TimeExpression,
    find_dates_on,
    format_time,
    published_date,
)
from qa.text.words import WORD, content_words, match_keys, split_words


@dataclass(frozen=True)
class AnswerDate:
    """A time expression that answers a when-question: `sentence[start:end] == text`, the article's own words.

    `date` is what it denotes in ISO 8601: a day (`2018-05-08`) or a range (`2018-05-01/2018-05-31`);
    `display` is that date written for the reader in the question's language («الثلاثاء 8 مايو 2018»,
    "Tuesday 8 May 2018", "mardi 8 mai 2018"). Both are None when the words cannot be resolved
    (a relative expression in an undated article): the words are the answer, never a guess.
    """

    start: int
    end: int
    text: str
    date: str | None
    display: str | None
    certainty: str


def iso_date(found: TimeExpression) -> str | None:
    """An expression's day (`2018-05-08`) or range (`2018-05-01/2018-05-31`) in ISO 8601; None when unresolved."""
    if found.since is None or found.until is None:
        return None
    if found.since == found.until:
        return found.since.isoformat()
    return f"{found.since.isoformat()}/{found.until.isoformat()}"


def answer_date(question: str, sentence: str, published: str | dt.date | None, *, language: str,
                prefer: tuple[int, int] | None = None) -> AnswerDate | None:
    """The time expression of `sentence` that answers the when-question `question`, resolved against `published`.

    Of several expressions, the one that overlaps `prefer` (the span a short-answer rule picked, in
    `sentence`) wins; else the one nearest the words the sentence shares with the question (the
    time of the verb asked about stands beside it: «أعلن ترامب، الثلاثاء، ...»), one that follows
    them before one that precedes them, then the earlier one. None when the sentence holds none.

    Args:
        question: the when-question as asked (its words locate the event in the sentence).
        sentence: the cited sentence.
        published: the article's `published` value or its day; None for an undated article.
        language: "ar", "en" or "fr": the language `display` is written in.
        prefer: a span of `sentence` to prefer, or None.

    Raises:
        DateError: `published` is present but not a date, or `language` is not one of ar, en, fr.
    """
    anchor = published if isinstance(published, dt.date) else published_date(published)
    found = find_dates_on(sentence, anchor)
    chosen = choose_expression(question, sentence, found, prefer=prefer)
    if chosen is None:
        return None
    display = format_time(chosen, language) if chosen.certainty != UNRESOLVED else None
    return AnswerDate(chosen.start, chosen.end, chosen.text, iso_date(chosen), display, chosen.certainty)


def choose_expression(question: str, sentence: str, found: Sequence[TimeExpression], *,
                      prefer: tuple[int, int] | None = None) -> TimeExpression | None:
    """Of the expressions `found` in `sentence`, the one that tells the time of what `question` asks about (see `answer_date`)."""
    if not found:
        return None
    if prefer is not None:
        overlapping = [f for f in found if f.start < prefer[1] and prefer[0] < f.end]
        if overlapping:
            return overlapping[0]
    if len(found) == 1:
        return found[0]
    asked = frozenset().union(*(w.keys for w in content_words(split_words(question))))
    words = [(m.start(), m.end(), match_keys(normalize(m.group()))) for m in WORD.finditer(sentence)]

    def inside(start: int, end: int) -> bool:
        return any(f.start <= start and end <= f.end for f in found)

    shared = [i for i, (start, end, keys) in enumerate(words) if keys & asked and not inside(start, end)]
    if not shared:
        return found[0]

    def rank(expression: TimeExpression) -> tuple[int, int, int]:
        first = next((i for i, (start, end, _) in enumerate(words) if end > expression.start), len(words))
        last = max((i for i, (start, _, _) in enumerate(words) if start < expression.end), default=first)
        gaps = [(first - i, 0) if i < first else (i - last, 1) for i in shared]
        gap, before = min(gaps)
        return gap, before, expression.start

    return min(found, key=rank)
