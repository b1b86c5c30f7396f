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
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from qa.answer_base import Encoder, cite
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
    published_day,
)

__all__ = ["PUBLISHED", "TIMELINE_HITS", "build_timeline", "with_timeline"]

# Passages a timeline reads: a story's days are spread over many articles, each telling one event.
TIMELINE_HITS = 100
# Sentences embedded for a timeline's lines, the most promising first (as an answer's are; see ExtractiveAnswerer).
TIMELINE_SENTENCES = 60
# A story's articles are known by their titles (a headline is its article's event in a line): an article of
# the retrieved passages is on the story when its title's cosine to the question is within TITLE_MARGIN of
# the best title's and its best passage's within PASSAGE_MARGIN of the best passage's. Articles of one day
# whose titles' cosine is at least SAME_EVENT tell one event: one line, its outlets listed. Events are
# ranked by title plus passage cosine; each day's best event comes before a second one of any day (at most
# EVENTS_A_DAY a day), at most MAX_LINES lines, and a line whose best sentence scores below the answerer's
# abstention threshold is dropped. Set on the odd ids of the newsroom dev timeline questions (questions
# with 3+ gold events / gold events found of 18, 6 questions; by a throwaway script on the articles chosen,
# before lines and wire copies; `benchmarks/bench_timeline.py --sweep` reruns the grid through the whole
# pipeline): TITLE_MARGIN 0.05 2/11, 0.08 3/12, 0.12 3/12 (more lines off the story); PASSAGE_MARGIN 0.02
# 1/6, 0.04 2/11, 0.06 3/12, none 3/12; SAME_EVENT 0.88 3/13, 0.90 3/12, 0.92 2/10 (0.90 taken: a lower one
# merges more of a day's distinct events into one line). TIMELINE_HITS through the whole pipeline, odd ids:
# 30 passages 3/6, 12 events, dates right 47/54, on the story 47/54; 60: 3/6, 13, 56/64, 53/64; 100: 3/6,
# 12, 55/59, 45/59 (taken for its dates; fewer passages keep more lines on the story).
# Before (each article's best sentence within 0.1 of the best sentence, 30 passages): 0/6 with 6/18 events on
# the odd ids (with the hand-listed same-day reports of each event). The cost: more lines off the story
# (lines naming the story's words in an article's title or opening, all ids: 110/121 before, 93/113 now);
# neither a stricter sentence threshold (+0.03: 84/103, +0.06: 71/89) nor words of the question in the
# title (a weighted share added to its cosine) kept more on the story without losing events.
TITLE_MARGIN = 0.08
PASSAGE_MARGIN = 0.06
SAME_EVENT = 0.90
EVENTS_A_DAY = 2
# A question that names its days (`build_timeline(spread=False)`) reads the best sentences of its first
# DAY_HITS hits within TIMELINE_MARGIN of the best one, one an article (the settings timelines had before titles).
DAY_HITS = 30
TIMELINE_MARGIN = 0.1
MAX_LINES = 12
# Two lines are one wire story (collapsed, their outlets listed together) when they fall on one day and
# this share of the shorter sentence's words is in the other, or when their articles share a paragraph of
# WIRE_WORDS words or more (one agency text, as benchmarks/wire_groups.py counts them), whatever their days.
COPY_OVERLAP = 0.6
WIRE_WORDS = 20
# An untitled article is known by this many characters of its best passage instead.
UNTITLED_CHARS = 200
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


@dataclass
class _Event:
    """The articles of one day whose titles tell one event, the best first (`score`, `title`: its title plus
    passage cosine, its title or, untitled, its passage's opening)."""

    day: dt.date | None
    score: float
    vector: np.ndarray
    title: str
    articles: list[str] = field(default_factory=list)


def build_timeline(question: str, hits: Sequence[Hit], *, language: str, embedder: Encoder,
                   article_text: Callable[[str], str] | None = None, spread: bool = True) -> tuple[TimelineEntry, ...]:
    """The dated lines of a story, oldest first: one per event, its best sentence for `question`.

    The story's articles are those of `hits` whose titles are on it (`TITLE_MARGIN`, `PASSAGE_MARGIN`);
    the articles of one day with like titles (`SAME_EVENT`) are one event, and each day's best event comes
    before a second of any day (`EVENTS_A_DAY`, `MAX_LINES`). An event's line is the sentence of its best
    article that best answers `question` and that article's title together (the headline's event), scored
    as the extractive answerer scores an answer's; an event whose best sentence falls below the answerer's
    abstention threshold has no line. A line's date is the
    sentence's own time expression (the one nearest the question's words, of those that can date an event:
    a day or a span of at most `EVENT_DAYS`, not after the article's day) resolved against the article's
    publication date; a sentence that names no such time (none, "since 2015", or a coming day: a plan,
    reported that day) is dated by its article's publication day (certainty `PUBLISHED`). An article with
    no date whose sentence names no absolute date cannot be placed, and is left out. Lines on one day whose
    sentences share `COPY_OVERLAP` of their words, or whose articles share a paragraph of `WIRE_WORDS`
    words, are one wire story: one line (the best event's sentence), every outlet listed. Citation numbers
    run 1, 2, ... in line order; `with_timeline` renumbers them among an answer's.

    Args:
        question: what titles and sentences are scored against (for a follow-up, the resolved query).
        hits: the retrieved passages, best first (`TIMELINE_HITS` of them is what this reads).
        language: "ar", "en" or "fr": the language of `date_text`.
        embedder: the retriever's embedder (`retriever.embedder`).
        article_text: an article's whole text by its id (`lambda a: retriever.article(a).text`), so that
            two outlets' copies of one wire story are known by any paragraph they share, not only by
            those their retrieved passages show (None: the passages alone).
        spread: True for a story's course over its days (events chosen by their titles, as above); False
            when the question names a short span ("ماذا حدث في درعا الأسبوع الماضي", the hits already kept
            to it; `qa.answer.DAYS_NOT_SPREAD` decides): the best sentences of the first `DAY_HITS` hits,
            one an article, each within `TIMELINE_MARGIN` of the best (titles near the best of one day's
            articles let that day's other news in).
    """
    language = language if language in LANGUAGES else "en"
    answerer = _answerer(embedder)
    chosen = _story_lines(question, hits, answerer, embedder) if spread else _day_lines(question, hits, answerer)
    if not chosen:
        return ()
    readers = {a for event, candidate in chosen
               for a in (*event.articles, candidate.hit.article_id, *(k.article_id for k in candidate.hit.carriers))}
    paragraphs = _long_paragraphs(hits, article_text, readers)
    sites = {a: site for hit in hits for a, site in
             [(hit.article_id, hit.site), *((c.article_id, c.site) for c in hit.carriers)] if site}
    lines: list[tuple[TimelineEntry, frozenset[str], frozenset[str]]] = []
    for event, candidate in chosen:
        entry = _entry(question, candidate, language)
        if entry is None:
            continue
        articles = tuple(dict.fromkeys([*entry.articles, *event.articles]))
        entry = replace(entry, articles=articles,
                        sites=tuple(dict.fromkeys([*entry.sites, *(sites[a] for a in articles if a in sites)])))
        words = frozenset(normalize(candidate.text).split())
        shared = frozenset().union(*(paragraphs.get(a, frozenset()) for a in entry.articles))
        copies = [i for i, (kept, kept_words, kept_shared) in enumerate(lines)
                  if kept.date == entry.date and _overlap(words, kept_words) >= COPY_OVERLAP or shared & kept_shared]
        if not copies:
            lines.append((entry, words, shared))
            continue
        # One line for the story, however many lines it joins (a copy of two of them makes them one story).
        kept, kept_words, kept_shared = lines[copies[0]]
        for other, _, other_shared in [*(lines[i] for i in copies[1:]), (entry, words, shared)]:
            kept = replace(kept, sites=tuple(dict.fromkeys(kept.sites + other.sites)),
                           articles=tuple(dict.fromkeys(kept.articles + other.articles)))
            kept_shared |= other_shared
        lines[copies[0]] = (kept, kept_words, kept_shared)
        for i in reversed(copies[1:]):
            del lines[i]
    ordered = sorted((entry for entry, _, _ in lines), key=_chronological)
    return tuple(replace(entry, citation=number) for number, entry in enumerate(ordered, start=1))


def _story_lines(question: str, hits: Sequence[Hit], answerer: ExtractiveAnswerer, embedder: Encoder) -> list[tuple[_Event, Any]]:
    """Each chosen event of the story with the sentence its line shows (see `build_timeline`)."""
    chosen = []
    for event in _spread_over_days(_events(question, hits, embedder), per_day=EVENTS_A_DAY):
        # Each event's line is read from its best article's passages, apart from the other events' (one
        # ranking of all would leave a quiet day's sentences out of the most promising), scored against the
        # question and the article's title: the sentence that tells the headline's event, not one that
        # repeats the story's background ("وكان البرلمان قد أصدر قرارا بإعادة فرز الأصوات"). Lines whose
        # date is right by hand (benchmarks/data/timeline-line-dates.json): 93/114 scored against the
        # question alone, 103/112 against the title alone, 104/113 against both.
        wanted = set(event.articles[:1])
        told = [hit for hit in hits if wanted & {hit.article_id, *(c.article_id for c in hit.carriers)}]
        candidates = answerer.rank_sentences(f"{question} {event.title}", told)
        if candidates and candidates[0].score >= answerer.min_support:
            chosen.append((event, candidates[0]))
    return chosen


def _day_lines(question: str, hits: Sequence[Hit], answerer: ExtractiveAnswerer) -> list[tuple[_Event, Any]]:
    """The best sentence of each relevant article among the first `DAY_HITS` hits, spread over their days."""
    candidates = answerer.rank_sentences(question, hits[:DAY_HITS])
    if not candidates:
        return []
    floor = max(answerer.min_support, candidates[0].score - TIMELINE_MARGIN)
    best: dict[str, Any] = {}
    for candidate in candidates:
        if candidate.score < floor:
            break
        best.setdefault(candidate.hit.article_id, candidate)
    events = [_Event(day=published_day(c.hit.published), score=c.score, vector=np.zeros(0), title=c.hit.title,
                     articles=[article_id]) for article_id, c in best.items()]
    return [(event, best[event.articles[0]]) for event in _spread_over_days(events, per_day=None)]


def _events(question: str, hits: Sequence[Hit], embedder: Encoder) -> list[_Event]:
    """The story's events among the articles of `hits`, best first (see `build_timeline`)."""
    found: dict[str, tuple[str, dt.date | None, float]] = {}
    for hit in hits:
        for article_id, title, published in [(hit.article_id, hit.title, hit.published),
                                             *((c.article_id, c.title, c.published) for c in hit.carriers)]:
            if article_id not in found:
                found[article_id] = ((title or "").strip() or hit.text[:UNTITLED_CHARS], published_day(published), hit.similarity)
    if not found:
        return []
    ids = list(found)
    vectors = embedder.encode_passages([found[a][0] for a in ids])
    titles = vectors @ embedder.encode_queries([question])[0]
    best_title = float(titles.max())
    best_passage = max(similarity for _, _, similarity in found.values())
    on_story = sorted(((float(score) + found[a][2], i) for i, (a, score) in enumerate(zip(ids, titles))
                       if score >= best_title - TITLE_MARGIN and found[a][2] >= best_passage - PASSAGE_MARGIN),
                      reverse=True)
    events: list[_Event] = []
    for score, i in on_story:
        day = found[ids[i]][1]
        same = next((e for e in events if e.day == day and float(e.vector @ vectors[i]) >= SAME_EVENT), None)
        if same is None:
            events.append(_Event(day=day, score=score, vector=vectors[i], title=found[ids[i]][0], articles=[ids[i]]))
        else:
            same.articles.append(ids[i])
    return events


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
    published = published_day(hit.published)
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


def _spread_over_days(events: list[_Event], *, per_day: int | None) -> list[_Event]:
    """At most `MAX_LINES` of `events` (best first): the best event of each day first, best days first, then
    the second of each day, and so on, at most `per_day` a day (None: no bound). A story's course is its days:
    seven lines of a summit's day told less of it than one line each of the summit, the visit that followed
    and the sanctions kept."""
    taken: dict[dt.date | None, int] = {}
    rounds: list[list[_Event]] = []
    for event in events:
        n = taken.get(event.day, 0)
        taken[event.day] = n + 1
        if per_day is None or n < per_day:
            rounds.extend([] for _ in range(n + 1 - len(rounds)))
            rounds[n].append(event)
    return [event for events_of_round in rounds for event in events_of_round][:MAX_LINES]


def _chronological(entry: TimelineEntry) -> tuple[str, float, str]:
    moment = published_timestamp(entry.published)
    return entry.date.partition("/")[0], float("inf") if moment is None else moment, entry.article_id


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0
