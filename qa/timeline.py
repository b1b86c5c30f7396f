"""A story's timeline: one dated line per event from the retrieved articles, oldest first, wire copies collapsed.

For `ask`/`ask_stream` (qa/answer.py): search `TIMELINE_HITS` passages for a timeline (the answer itself
keeps its own `k`), call `build_timeline(query, hits, language=..., embedder=retriever.embedder)`, then
`with_timeline(answer, entries, hits)`, which numbers each line's `[n]` among the answer's citations
(a passage already cited keeps its number, the others are cited after them).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from qa.answer_base import Encoder, cite
from qa.errors import DateError
from qa.extractive import ExtractiveAnswerer
from qa.normalize import normalize
from qa.records import Answer, Hit, TimelineEntry
from qa.stores.filters import published_timestamp
from qa.text.answer_date import choose_expression
from qa.text.dates import (
    LANGUAGES,
    UNRESOLVED,
    TimeExpression,
    find_dates_on,
    format_date,
    format_range,
    published_date,
)

__all__ = ["PUBLISHED", "TIMELINE_HITS", "build_timeline", "with_timeline"]

# Passages a timeline reads: a story's days are spread over more articles than one answer's top 5.
TIMELINE_HITS = 30
# Sentences embedded for a timeline, the most promising first (as an answer's are; see ExtractiveAnswerer).
TIMELINE_SENTENCES = 60
# An article's line is kept when its best sentence scores within this of the best article's (and above
# the answerer's abstention threshold); at most MAX_LINES lines, the best scoring ones. Set on the odd ids
# of the newsroom dev timeline questions (benchmarks/bench_timeline.py --sweep): the margin changed nothing
# from 0.1 to 0.3 (MAX_LINES binds first); 8 lines found 6 of 18 gold events, 12 found 8, 16 found 8;
# 150 sentences instead of 60 found one more at 12 lines, for 2.5 times the embedding; weighing a sentence
# that dates its own event 0.03 to 0.1 more found none more.
TIMELINE_MARGIN = 0.1
MAX_LINES = 12
# Two lines are one wire story (collapsed, their outlets listed together) when they fall on one day and
# this share of the shorter sentence's words is in the other, or when their articles share a paragraph of
# WIRE_WORDS words or more (one agency text, as benchmarks/wire_groups.py counts them), whatever their days.
COPY_OVERLAP = 0.6
WIRE_WORDS = 20
# The longest span that still dates one event ("الأسبوع الماضي"); longer ones are the story's background.
EVENT_DAYS = 7
# "منذ" / "since" / "depuis" and at most ONSET_WORDS words before a time expression, within its clause.
ONSET_WORDS = 8
_SINCE = re.compile(rf"(?<!\w)(?:منذ|ومنذ|since|depuis|dès)(?!\w)(?:\s+\S+){{0,{ONSET_WORDS}}}\s*$", re.IGNORECASE)
PUBLISHED = "published"
"""A line's certainty when its sentence names no time and the article's publication day stands in."""

_answerers: weakref.WeakKeyDictionary[Any, ExtractiveAnswerer] = weakref.WeakKeyDictionary()
_answerers_lock = threading.Lock()


def _answerer(embedder: Encoder) -> ExtractiveAnswerer:
    """One answerer per embedder, so the sentence vectors of a story asked about again are not embedded again."""
    with _answerers_lock:
        try:
            answerer = _answerers.get(embedder)
        except TypeError:  # an embedder that cannot be weakly referenced gets a fresh answerer each time
            return ExtractiveAnswerer(embedder, passages=TIMELINE_HITS, sentences=TIMELINE_SENTENCES)
        if answerer is None:
            answerer = _answerers[embedder] = ExtractiveAnswerer(embedder, passages=TIMELINE_HITS, sentences=TIMELINE_SENTENCES)
        return answerer


def build_timeline(question: str, hits: Sequence[Hit], *, language: str, embedder: Encoder,
                   article_text: Callable[[str], str] | None = None) -> tuple[TimelineEntry, ...]:
    """The dated lines of a story, oldest first: for each relevant article, its sentence that best answers `question`.

    A sentence is scored as the extractive answerer scores an answer's; an article is relevant when
    its best sentence passes the answerer's abstention threshold and lies within `TIMELINE_MARGIN` of
    the best article's. A line's date is the sentence's own time expression (the one nearest the
    question's words, of those that can date an event: a day or a span of at most `EVENT_DAYS`, not
    after the article's day) resolved against the article's publication date; a sentence that names no
    such time (none, "since 2015", or a coming day: a plan, reported that day) is dated by its article's
    publication day (certainty `PUBLISHED`). An article with no date whose sentence names no absolute
    date cannot be placed, and is left out. Lines on one day whose sentences share `COPY_OVERLAP` of
    their words, or whose articles' passages share a paragraph of `WIRE_WORDS` words, are one wire
    story: one line (the best scoring one's sentence), every outlet listed. Citation numbers run 1, 2, ... in
    line order; `with_timeline` renumbers them among an answer's.

    Args:
        question: what the sentences are scored against (for a follow-up, the resolved query).
        hits: the retrieved passages, best first (`TIMELINE_HITS` of them is what this reads).
        language: "ar", "en" or "fr": the language of `date_text`.
        embedder: the retriever's embedder (`retriever.embedder`).
        article_text: an article's whole text by its id (`lambda a: retriever.article(a).text`), so that
            two outlets' copies of one wire story are known by any paragraph they share, not only by
            those their retrieved passages show (None: the passages alone).
    """
    language = language if language in LANGUAGES else "en"
    answerer = _answerer(embedder)
    candidates = answerer.rank_sentences(question, hits)
    if not candidates:
        return ()
    floor = max(answerer.min_support, candidates[0].score - TIMELINE_MARGIN)
    best: dict[str, Any] = {}
    for candidate in candidates:
        if candidate.score < floor:
            break
        best.setdefault(candidate.hit.article_id, candidate)
    chosen = {a for c in best.values() for a in (c.hit.article_id, *(k.article_id for k in c.hit.carriers))}
    paragraphs = _long_paragraphs(hits, article_text, chosen)
    lines: list[tuple[float, TimelineEntry, frozenset[str], frozenset[str]]] = []
    for candidate in best.values():
        entry = _entry(question, candidate, language)
        if entry is None:
            continue
        words = frozenset(normalize(candidate.text).split())
        shared = frozenset().union(*(paragraphs.get(a, frozenset()) for a in entry.articles))
        copy = next((i for i, (_, kept, kept_words, kept_shared) in enumerate(lines)
                     if kept.date == entry.date and _overlap(words, kept_words) >= COPY_OVERLAP or shared & kept_shared), None)
        if copy is None:
            lines.append((candidate.score, entry, words, shared))
            continue
        score, kept, kept_words, kept_shared = lines[copy]
        sites = tuple(dict.fromkeys(kept.sites + entry.sites))
        articles = tuple(dict.fromkeys(kept.articles + entry.articles))
        lines[copy] = (score, replace(kept, sites=sites, articles=articles), kept_words, kept_shared | shared)
    ordered = sorted(_spread_over_days([(score, entry) for score, entry, _, _ in lines]), key=_chronological)
    return tuple(replace(entry, citation=number) for number, entry in enumerate(ordered, start=1))


def with_timeline(answer: Answer, entries: Sequence[TimelineEntry], hits: Sequence[Hit]) -> Answer:
    """`answer` with `entries` as its timeline, each line's `[n]` one of the answer's citations.

    A line from a passage the answer cites takes that citation's number; the others are cited after
    the answer's own, in line order (`hits` holds their passages).
    """
    if not entries:
        return answer
    citations = list(answer.citations)
    numbers = {c.passage_id: c.number for c in citations}
    by_passage = {hit.passage_id: hit for hit in [*answer.hits, *hits]}
    timeline = []
    for entry in entries:
        number = numbers.get(entry.passage_id)
        hit = by_passage.get(entry.passage_id)
        if number is None and hit is not None:
            number = numbers[entry.passage_id] = max(numbers.values(), default=0) + 1
            citations.append(cite(number, hit, entry.start - hit.start, entry.end - hit.start, 0.0))
        elif number is not None and hit is not None and not any(
                c.passage_id == entry.passage_id and c.start == entry.start for c in citations):
            citations.append(cite(number, hit, entry.start - hit.start, entry.end - hit.start, 0.0))
        if number is None:
            continue  # its passage is not among the hits: nothing to cite it by
        timeline.append(replace(entry, citation=number))
    return replace(answer, timeline=tuple(timeline), citations=tuple(citations))


def _entry(question: str, candidate: Any, language: str) -> TimelineEntry | None:
    hit: Hit = candidate.hit
    try:
        published = published_date(hit.published)
    except DateError:
        published = None
    datable = [found for found in find_dates_on(candidate.text, published)
               if _dates_an_event(found, published) and not _onset(candidate.text, found)]
    found = choose_expression(question, candidate.text, datable)
    if found is not None and found.since is not None and found.until is not None:
        since, until, certainty = found.since, found.until, found.certainty
        when: tuple[int, int] | None = (candidate.start + found.start, candidate.start + found.end)
    elif published is not None:
        since = until = published
        certainty, when = PUBLISHED, None
    else:
        return None
    sites = tuple(dict.fromkeys(c.site for c in hit.carriers if c.site)) or ((hit.site,) if hit.site else ())
    articles = tuple(dict.fromkeys([hit.article_id, *(c.article_id for c in hit.carriers)]))
    date_iso = since.isoformat() if since == until else f"{since.isoformat()}/{until.isoformat()}"
    date_text = format_date(since, language) if since == until else format_range(since, until, language)
    return TimelineEntry(
        date=date_iso, date_text=date_text, sentence=candidate.text, start=candidate.start, end=candidate.end,
        article_id=hit.article_id, passage_id=hit.passage_id, title=hit.title, sites=sites, citation=0,
        certainty=certainty, published=hit.published, url=hit.url, articles=articles,
        when_start=when[0] if when else None, when_end=when[1] if when else None,
    )


def _dates_an_event(found: TimeExpression, published: dt.date | None) -> bool:
    """Whether a time expression can date the event its sentence reports: resolved, at most `EVENT_DAYS`
    long (a month, a year or "since 2015" is the story's background), and not after the article's day
    (a coming event is a plan; what happened is that it was announced)."""
    if found.certainty == UNRESOLVED or found.since is None or found.until is None:
        return False
    if (found.until - found.since).days >= EVENT_DAYS:
        return False
    return published is None or found.since <= published


def _onset(sentence: str, found: TimeExpression) -> bool:
    """Whether `found` is governed by "منذ" / "since" / "depuis" ("تتواصل الاحتجاجات منذ الأربعاء", "منذ بدء
    الهجوم في 19 يونيو"): the start of a state that goes on, not the day of the event the sentence reports,
    which its article's day dates."""
    clause = re.split(r"[،,؛;:.!?؟]", sentence[:found.start])[-1]
    return bool(_SINCE.search(clause))


def _long_paragraphs(hits: Sequence[Hit], article_text: Callable[[str], str] | None,
                     chosen: set[str]) -> dict[str, frozenset[str]]:
    """Each article's paragraphs of `WIRE_WORDS` words or more (normalized): of its whole text for the
    `chosen` articles when `article_text` is given, else as far as its retrieved passages show them."""
    found: dict[str, set[str]] = {}
    texts: list[tuple[set[str], str]] = []
    if article_text is not None:
        texts = [({article_id}, article_text(article_id)) for article_id in sorted(chosen)]
    texts += [({hit.article_id, *(c.article_id for c in hit.carriers)}, hit.text) for hit in hits]
    for article_ids, text in texts:
        for paragraph in text.split("\n"):
            words = normalize(paragraph).split()
            if len(words) >= WIRE_WORDS:
                for article_id in article_ids:
                    found.setdefault(article_id, set()).add(" ".join(words))
    return {article_id: frozenset(paragraphs) for article_id, paragraphs in found.items()}


def _spread_over_days(lines: list[tuple[float, TimelineEntry]]) -> list[TimelineEntry]:
    """At most `MAX_LINES` lines: the best scoring line of each day first, best days first, then the
    next best lines of any day. A story's course is its days: seven lines of a summit's day told less
    of it than one line each of the summit, the visit that followed and the sanctions kept."""
    ranked = sorted(lines, key=lambda line: -line[0])
    days: set[str] = set()
    first, rest = [], []
    for _, entry in ranked:
        day = entry.date.partition("/")[0]
        (rest if day in days else first).append(entry)
        days.add(day)
    return (first + rest)[:MAX_LINES]


def _chronological(entry: TimelineEntry) -> tuple[str, float, str]:
    moment = published_timestamp(entry.published)
    return entry.date.partition("/")[0], float("inf") if moment is None else moment, entry.article_id


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0
