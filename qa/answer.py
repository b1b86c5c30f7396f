"""Cited answers: the answerer registry and `ask`, the top of the answer layer.

The answerers live below it (`qa.extractive`, `qa.llm`), on the base they share (`qa.answer_base`).
The names most callers need are re-exported here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from importlib import import_module
from typing import TYPE_CHECKING, Any

from qa.answer_base import ABSTENTION, NO_WORDS, Answerer, AnswererFactory, Encoder, is_wordless, wordless_answer
from qa.chunk import answer_sentences
from qa.config import ANSWERERS, MAX_TOP_K, Settings, check_choice
from qa.errors import DateError, QueryError
from qa.extractive import FIGURES_LEAD, SHORT_SEPARATOR, ExtractiveAnswerer
from qa.records import Answer, Hit, Turn
from qa.retrieve import check_k, check_question, day_filters, near_best, newest_first, within_days
from qa.text import (
    QuestionTime,
    content_words,
    detect_language,
    format_date,
    format_range,
    published_day,
    question_time,
    resolve_followup,
    split_words,
    topic,
)
from qa.text.dates import LANGUAGES
from qa.timeline import TIMELINE_HITS, build_timeline, with_timeline

if TYPE_CHECKING:
    from qa.retrieve import Retriever

__all__ = [
    "ABSTENTION",
    "FIGURES_LEAD",
    "NO_WORDS",
    "SHORT_SEPARATOR",
    "Answerer",
    "AnswererFactory",
    "Encoder",
    "ExtractiveAnswerer",
    "answer_sentences",
    "ask",
    "answerer_factory",
    "ask_stream",
    "asked_time",
    "is_wordless",
    "make_answerer",
]


def answerer_factory(name: str) -> AnswererFactory:
    """The factory of built-in answerer `name`: `build_answerer` of its module, `qa.<name>`.

    `qa.config.ANSWERERS` is the one list of names. A new answerer is a module `qa.<name>` that
    implements `Answerer` and offers `build_answerer(embedder)`, and its name added to `ANSWERERS`;
    the module is imported when the answerer is chosen, so its dependencies load only then.
    The answer tests run end to end against every one.

    Raises:
        SettingsError: `name` is not one of `qa.config.ANSWERERS`.
    """
    return import_module(f"qa.{check_choice('answerer', name, ANSWERERS)}").build_answerer  # type: ignore[no-any-return]


def make_answerer(choice: str | Answerer | AnswererFactory | None, embedder: Encoder) -> Answerer:
    """The answerer `choice` names, built over `embedder`; an `Answerer` is returned as it is, a factory is called.

    Build it once and pass it to every `ask`: the extractive answerer keeps the
    vectors of the sentences it has read, so passages asked about again are not
    embedded again.

    Args:
        choice: a name in `qa.config.ANSWERERS`, an `Answerer`, a factory taking the embedder
            (such as `qa.llm.llm_answerer(config)`), or None for `Settings().answerer`.
        embedder: the retriever's embedder (`retriever.embedder`).

    Raises:
        SettingsError: `choice` is neither an `Answerer` nor a factory nor one of the names in `qa.config.ANSWERERS`.
    """
    if choice is None:
        choice = Settings().answerer
    # A class has an `answer` attribute too: only an instance is an answerer ready to use.
    if isinstance(choice, Answerer) and not isinstance(choice, type):
        return choice
    if callable(choice) and not isinstance(choice, str):
        return choice(embedder)
    return answerer_factory(choice)(embedder)


# Recency: a latest-state question (`QuestionTime.latest`: آخر، أحدث، حاليا، latest, current...) takes
# the hits whose cosine is within RECENCY_MARGIN of the best one's as relevant, and seeks its answer
# first in the newest of them. Fitted by `benchmarks/bench_newsroom.py --fit` on the odd-numbered
# latest questions of benchmarks/data/newsroom-dev.json (June 2018 ANT index, now 2018-06-30), with the
# question searched by its story's words (`topic`): newest relevant article cited first, odd / even:
# margin 0 (today's ranking) 0.167 / 0.333, 0.01 0.333 / 0.5, 0.02 0.333 / 0.833, 0.03 0.333 / 0.5,
# 0.05 to 0.12 0 / 0.5. The odd half ties 0.01 to 0.03; 0.02, the value before, is kept. Under the 0.8
# aimed at: the newest relevant article is sometimes not among the 20 passages retrieved, and a newer
# one near in cosine can be off the point (docs/benchmarks.md).
RECENCY_MARGIN = 0.02
# Of those, the ones whose article's title is within TITLE_MARGIN of the best title's cosine to the question
# are taken first (`_on_point_first`). Fitted the same way: odd / even newest first at 0 0.333 / 0.333,
# 0.01 0.333 / 0.333, 0.02 0.333 / 0.5, 0.03 0.5 / 0.667, 0.04 0.5 / 1.0, 0.05 0.5 / 1.0, 0.06 and 0.08
# 0.333 / 1.0, 0.1 and 0.15 0.333 / 0.833 (without titles 0.333 / 0.833). The odd half ties 0.03 to 0.05;
# the middle of the tie was taken. Six questions a half: one question is 0.167.
TITLE_MARGIN = 0.04
# Passages a latest-state question looks through for the newest relevant one: the top k may all be older.
LATEST_DEPTH = 20
# A timeline question naming a span of at most this many days ("ماذا حدث في درعا الأسبوع الماضي": 23–30 June,
# 8 days with the reference) lists those days' best sentences; a longer span ("تطورات أوبك في يونيو") is a
# story's course, told by its events (`build_timeline(spread=...)`). The dev set's spans are 1, 8 and 30 days:
# any bound from 8 to 29 does the same on it (dated answer-hit 0.800; with spread for all, 0.600).
DAYS_NOT_SPREAD = 14
# The line a dated question's answer closes with, the label being `QuestionTime.label` («مقالات 8–15 مايو 2018»).
SEARCHED = {"ar": "بحث في {label}.", "en": "Searched {label}.", "fr": "Recherche dans les {label}."}
# The line a latest-state answer closes with: the date and site of the passage it cites first (the answer's
# own first words stay first: a short answer leads them).
AS_OF = {"ar": "حتى {date} ({site})", "en": "As of {date} ({site})", "fr": "Au {date} ({site})"}
AS_OF_UNSITED = {"ar": "حتى {date}", "en": "As of {date}", "fr": "Au {date}"}
# The abstentions of a dated question whose days hold no article.
NO_ARTICLES = {
    "ar": "لا يحمل الفهرس مقالات من هذه الأيام.",
    "en": "The index holds no article of these days.",
    "fr": "L'index ne contient aucun article de ces jours.",
}
# The note of a question whose dates lie outside the articles' (the Gulf war "عام 1990" asked of 2018 news,
# the World Cup final of "15 July" asked of June's): no article can be of those days, so they are read as
# the time of the event asked about, and the question is answered as one that names no date.
OUTSIDE = {
    "ar": "تقع تواريخ السؤال ({words}) خارج أيام المقالات ({span})، فالإجابة من كل المقالات.",
    "en": "The question's dates ({words}) lie outside the articles' days ({span}), so it is answered from all of them.",
    "fr": "Les dates de la question ({words}) sont hors des jours des articles ({span}) : la réponse puise dans tous.",
}


def ask(
    question: str,
    retriever: Retriever,
    *,
    history: Sequence[Turn] = (),
    k: int | None = None,
    answerer: str | Answerer | AnswererFactory | None = None,
    now: str | dt.date | None = None,
    timeline: bool | None = None,
    **search_options: Any,
) -> Answer:
    """Answer a question from the index, every sentence cited, or say the articles do not.

    Time in the question counts from `now`, by default the newest article's day (`retriever.newest`;
    an index with no dated article reads no time in questions). A question that names days ("في 14
    مايو", "between 1 and 15 May", "last week") is answered from the articles published on them
    (`Answer.searched` says which); one asking for the latest state ("ما آخر...", "latest", "now") is
    answered from the newest of the relevant passages (`Answer.as_of`). Dates wholly outside the
    articles' days ("عام 1990" asked of 2018 news) are the event's time, not a filter (`Answer.note`
    says so). Other questions are answered as if no time were read.

    Args:
        question: in Arabic, English or French; a follow-up is resolved against `history`.
        retriever: the loaded index.
        history: the earlier turns of the conversation, oldest first.
        k: passages retrieved (the answer's candidates, and what an abstention lists);
            None means the retriever's settings (`Settings.top_k`).
        answerer: how the answer is composed: an `Answerer`, a factory, or a name in
            `qa.config.ANSWERERS` (None: `Settings().answerer`) built for this call
            by `make_answerer` over the retriever's embedder. To ask many questions,
            pass one `Answerer` built by `make_answerer`, so its caches last. For a
            generated answer: `answerer=qa.llm.llm_answerer(qa.llm.LLMConfig(url))`.
        now: the day the question is asked from: a date, a datetime or an ISO 8601 string
            ("2018-06-30"); not after today.
        timeline: add `Answer.timeline`, the story's dated events oldest first (None: when the
            question asks how a story went, "ما تطورات", "timeline", "chronologie").
        **search_options: passed to `retriever.search` (`mode`, `filters`, ...).

    Returns:
        The answer; `search_query` is what was retrieved with, `question` the question as asked.

    Raises:
        QueryError: the question, `k` or a search option is not acceptable; `now` is not a date or
            lies after today; the question names a day that cannot be ("31 فبراير"), a range that
            ends before it starts, or days the filters' own dates leave out.
        SettingsError: `answerer` names no registered answerer.
    """
    for event in ask_stream(question, retriever, history=history, k=k, answerer=answerer, now=now, timeline=timeline,
                            stream=False, **search_options):
        if isinstance(event, Answer):
            return event
    raise AssertionError("ask_stream ends with an Answer")


def ask_stream(
    question: str,
    retriever: Retriever,
    *,
    history: Sequence[Turn] = (),
    k: int | None = None,
    answerer: str | Answerer | AnswererFactory | None = None,
    now: str | dt.date | None = None,
    timeline: bool | None = None,
    stream: bool = True,
    **search_options: Any,
) -> Iterator[str | Answer]:
    """`ask`, with the answer's text piece by piece as an answerer that streams writes it, then the `Answer`.

    The pieces are the generator's raw text, before verification: show them as
    work in progress and replace them with the `Answer`, the only thing checked.
    An answerer without `stream` (and the answer to a latest-state question, sought
    in the newest passages first) yields its `Answer` alone. Arguments and errors as `ask`.
    """
    question = check_question(question)
    if timeline is not None and not isinstance(timeline, bool):
        raise QueryError(f"timeline must be true, false or None, got {timeline!r}")
    chosen = make_answerer(answerer, retriever.embedder)
    query = resolve_followup(question, history)
    language = detect_language(question)
    asked = asked_time(query, retriever, now, language=language)
    if is_wordless(question):
        # Nothing to search for: any passage found would be unrelated.
        yield wordless_answer(question, language)
        return
    note = ""
    if asked is not None and asked.filtered and not _meets_articles(asked, retriever.oldest):
        note = _outside(asked, retriever.oldest, language)
        asked = replace(asked, since=None, until=None, label=None)
    if asked is not None and (asked.filtered or asked.latest):
        events: Iterable[str | Answer] = _timed(query, asked, retriever, chosen, k, language, history, stream, search_options)
    else:
        hits = retriever.search(query, k, **search_options)
        streaming = getattr(chosen, "stream", None) if stream else None
        events = streaming(query, hits, language=language, history=history) if streaming else [chosen.answer(query, hits, language=language, history=history)]
    for event in events:
        if not isinstance(event, Answer):
            yield event
            continue
        answer = replace(event, question=question, search_query=event.search_query or query)
        if note:
            answer = replace(answer, note=f"{note} {answer.note}".strip())
        if timeline if timeline is not None else (asked is not None and asked.timeline):
            answer = _with_timeline(answer, query, asked, retriever, language, search_options)
        yield answer


def asked_time(query: str, retriever: Retriever, now: str | dt.date | None, *, language: str | None = None) -> QuestionTime | None:
    """What `query` says about time, counted from `now` or else the index's newest article (None: no article is dated).

    `language` is the label's («مقالات 8–15 مايو 2018»), by default the question's own.

    Raises:
        QueryError: `now` is malformed or after today; the question names an impossible day or a backward range.
    """
    if now is None:
        reference = retriever.newest
        if reference is None:
            return None
        # The index's own newest day is the reference even if a bad article dates itself in the future.
        today = max(dt.date.today(), reference)
    else:
        reference, today = now, None
    try:
        return question_time(query, reference, language=language if language in LANGUAGES else None, today=today)
    except DateError as error:
        raise QueryError(str(error)) from error


def _meets_articles(asked: QuestionTime, oldest: dt.date | None) -> bool:
    """Whether the question's days meet the articles' (from `oldest` to the reference day)."""
    since, until = asked.since or dt.date.min, asked.until or dt.date.max
    return oldest is not None and since <= asked.reference and until >= oldest


def _outside(asked: QuestionTime, oldest: dt.date | None, language: str) -> str:
    table = OUTSIDE.get(language, OUTSIDE["en"])
    span = format_range(oldest, asked.reference, language) if oldest is not None and oldest <= asked.reference else "—"
    asked_days = (format_range(asked.since, asked.until, language) if asked.since and asked.until
                  else ", ".join(asked.words))
    return table.format(words=asked_days, span=span)


def _timed(query: str, asked: QuestionTime, retriever: Retriever, chosen: Answerer, k: int | None, language: str,
           history: Sequence[Turn], stream: bool, search_options: dict[str, Any]) -> Iterator[str | Answer]:
    """The answer to a question that names days or asks for the latest state: from the articles of those
    days (up to the reference day for the latest state), the newest relevant passage first for the latter."""
    top_k = check_k(retriever.settings.top_k if k is None else k)
    # A latest-state question asked from a past `now` knows no later article.
    since, until = (asked.since, asked.until) if asked.filtered else (None, asked.reference)
    dated = _dated_fields(asked)
    options = dict(search_options)
    options["filters"] = day_filters(options.get("filters"), since, until, asked=asked.label or "")
    depth = min(MAX_TOP_K, max(2 * top_k, LATEST_DEPTH if asked.latest else 0))
    # A latest-state question is searched and read by its story's words, its cues ("آخر الأخبار عن") left out.
    searched = topic(query) if asked.latest else query
    hits = within_days(retriever.search(searched, depth, **options), since, until)
    if not hits:
        yield _abstention(query, NO_ARTICLES.get(language, NO_ARTICLES["en"]), language, dated)
        return
    if asked.latest:
        answer = _latest(searched, hits, chosen, top_k, language, history, retriever.embedder)
        yield _decorated(answer, dated, _as_of(answer, language))
        return
    hits = hits[:top_k]
    streaming = getattr(chosen, "stream", None) if stream else None
    events = streaming(query, hits, language=language, history=history) if streaming else [chosen.answer(query, hits, language=language, history=history)]
    for event in events:
        yield _decorated(event, dated, "") if isinstance(event, Answer) else event


def _latest(query: str, hits: list[Hit], chosen: Answerer, top_k: int, language: str, history: Sequence[Turn],
            embedder: Encoder) -> Answer:
    """The answer from the newest relevant article's passages when they answer, else from the relevant ones, newest first."""
    ordered = _on_point_first(newest_first(hits, RECENCY_MARGIN), query, embedder)
    newest = [hit for hit in ordered if hit.article_id == ordered[0].article_id]
    answer = chosen.answer(query, newest, language=language, history=history)
    if not answer.abstained:
        return replace(answer, hits=tuple(ordered[:top_k]))
    return chosen.answer(query, ordered[:top_k], language=language, history=history)


def _on_point_first(ordered: list[Hit], query: str, embedder: Encoder) -> list[Hit]:
    """`ordered` (`newest_first`: the relevant hits newest first, then the others) with the relevant hits
    whose article's title is within `TITLE_MARGIN` of the best title's cosine to `query` first: a newer
    article that tells the story in its background (a 30 June piece on Iraq's legislative vacuum, asked
    about the recount) is not its latest news. Untitled hits stay where they are."""
    near = near_best(ordered, RECENCY_MARGIN)
    titles = list(dict.fromkeys(hit.title.strip() for hit in near if hit.title.strip()))
    if len(titles) < 2:
        return ordered
    scores = embedder.encode_passages(titles) @ embedder.encode_queries([query])[0]
    best = float(scores.max())
    on_point = {title for title, score in zip(titles, scores.tolist()) if score >= best - TITLE_MARGIN}
    first = [hit for hit in near if hit.title.strip() in on_point or not hit.title.strip()]
    return first + [hit for hit in ordered if hit not in first]


def _days(asked: QuestionTime) -> int:
    """How many days the question's span holds (a span open at one end: as many as the index could)."""
    if asked.since is None or asked.until is None:
        return 10**6
    return (asked.until - asked.since).days + 1


def _dated_fields(asked: QuestionTime) -> dict[str, Any]:
    if not asked.filtered:
        return {}
    label = asked.label or ""
    return {"searched": label,
            "searched_since": asked.since.isoformat() if asked.since else None,
            "searched_until": asked.until.isoformat() if asked.until else None}


def _abstention(query: str, text: str, language: str, dated: dict[str, Any]) -> Answer:
    answer = Answer(question=query, text=text, citations=(), hits=(), abstained=True, language=language, search_query=query)
    return _decorated(answer, dated, "")


def _decorated(answer: Answer, dated: dict[str, Any], as_of: str) -> Answer:
    """`answer` closing with the date it holds as of and the days it searched, each also in its own field."""
    lines = [answer.text]
    if as_of:
        lines.append(f"{as_of}.")
    if dated:
        lines.append(SEARCHED.get(answer.language, SEARCHED["en"]).format(label=dated["searched"]))
    return replace(answer, text="\n".join(lines), as_of=as_of, **dated)


def _as_of(answer: Answer, language: str) -> str:
    """«حتى 30 يونيو 2018 (france24)» of the passage cited first; "" when the answer abstains or it is undated."""
    if answer.abstained or not answer.citations:
        return ""
    first = answer.citations[0]
    day = published_day(first.published)
    if day is None:
        return ""
    table = AS_OF if first.site else AS_OF_UNSITED
    return table.get(language, table["en"]).format(date=format_date(day, language), site=first.site)


def _with_timeline(answer: Answer, query: str, asked: QuestionTime | None, retriever: Retriever, language: str,
                   search_options: dict[str, Any]) -> Answer:
    """`answer` with the story's timeline, built from `TIMELINE_HITS` passages (of the days asked, if any)."""
    options = dict(search_options)
    named = asked if asked is not None and asked.filtered else None  # the days the question names, if any
    since, until = (named.since, named.until) if named is not None else (None, None)
    if named is not None:
        options["filters"] = day_filters(options.get("filters"), since, until, asked=named.label or "")
    # Searched and scored by its story's words, its cues ("ما تطورات", "timeline of") left out.
    story = whole = topic(query)
    if named is not None:
        # and without the days it names, which the filter keeps to ("ماذا حدث في درعا الأسبوع الماضي").
        for words in named.words:
            story = story.replace(words, " ")
        story = " ".join(story.split()) if content_words(split_words(story)) else whole
    hits = retriever.search(story, TIMELINE_HITS, **options)
    if named is not None:
        hits = within_days(hits, since, until)
    entries = build_timeline(story, hits, language=language, embedder=retriever.embedder,
                             article_text=lambda article_id: retriever.article(article_id).text,
                             spread=named is None or _days(named) > DAYS_NOT_SPREAD)
    return with_timeline(answer, entries, hits)
