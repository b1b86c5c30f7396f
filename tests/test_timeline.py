"""Timelines on real ANT articles: one dated line per event, oldest first, wire copies in one line; the page's list; the chat's examples."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import qa
from qa.extractive import ExtractiveAnswerer
from qa.normalize import normalize
from qa.records import Answer, Hit, TimelineEntry
from qa.text import format_date
from qa import timeline as timeline_module
from qa.text.dates import find_dates_on
from qa.timeline import PUBLISHED, TIMELINE_HITS, build_timeline, with_timeline
from qa.web.render import answer_message, timeline_list
from qa.web.startup import SEED_EXAMPLES, index_examples, read_examples, title_question
from tests.conftest import SEEDS

QUESTION = "ما قصة السفينة أكواريوس؟"
# The June 2018 ANT articles on the rescue ship Aquarius (every one naming it) and the threat that began
# it; alarabia and skynews ran one wire story on 30 June, and skynews one story twice on 14 June.
WIRE_COPIES = ("AL-internationalNews-1812-20180630", "SK-internationalNews-2397-20180630")
THREAT = "AL-internationalNews-1557-20180610"


def _aquarius(ant: Path) -> list[dict]:
    rows = []
    with gzip.open(ant, "rt", encoding="utf-8") as lines:
        for line in lines:
            if '"2018-06' in line and ("أكواريوس" in line or "اكواريوس" in line or THREAT in line):
                row = json.loads(line)
                if (row.get("published") or "").startswith("2018-06"):
                    rows.append(row)
    assert {THREAT, *WIRE_COPIES} <= {r["id"] for r in rows}
    return rows


def _wire_groups(rows: list[dict], min_words: int = 20) -> dict[str, set[str]]:
    """Each article's wire story: the articles that share a paragraph of `min_words` words with it (benchmarks/wire_groups.py)."""
    owners: dict[str, set[str]] = {}
    for row in rows:
        for paragraph in row["text"].split("\n"):
            words = normalize(paragraph).split()
            if len(words) >= min_words:
                owners.setdefault(" ".join(words), set()).add(row["id"])
    groups: dict[str, set[str]] = {row["id"]: {row["id"]} for row in rows}
    for ids in owners.values():
        for article_id in ids:
            groups[article_id] |= ids
    return groups


@pytest.fixture(scope="module")
def aquarius(tmp_path_factory: pytest.TempPathFactory, ant: Path, embedder: object) -> Iterator[tuple[qa.Retriever, list[dict]]]:
    folder = tmp_path_factory.mktemp("timeline")
    rows = _aquarius(ant)
    source = folder / "aquarius.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    qa.build_index([str(source)], folder / "vectors", embedder=embedder)
    retriever = qa.Retriever.load(folder / "vectors", embedder=embedder)
    yield retriever, rows
    retriever.close()


@pytest.fixture(scope="module")
def timeline(aquarius: tuple[qa.Retriever, list[dict]]) -> tuple[list[Hit], tuple[TimelineEntry, ...]]:
    retriever, _ = aquarius
    hits = retriever.search(QUESTION, k=TIMELINE_HITS)
    return hits, build_timeline(QUESTION, hits, language="ar", embedder=retriever.embedder)


def test_the_lines_are_dated_sentences_of_their_articles_oldest_first(aquarius, timeline) -> None:
    retriever, rows = aquarius
    _, entries = timeline
    assert len(entries) >= 3, entries
    published = {r["id"]: dt.date.fromisoformat(r["published"][:10]) for r in rows}
    days = [dt.date.fromisoformat(e.date.partition("/")[0]) for e in entries]
    assert days == sorted(days)
    assert [e.citation for e in entries] == list(range(1, len(entries) + 1))
    for entry in entries:
        assert retriever.article(entry.article_id).text[entry.start:entry.end] == entry.sentence
        day = dt.date.fromisoformat(entry.date.partition("/")[0])
        # an event is reported on its day or after it, never before
        assert day <= published[entry.article_id], entry
        if entry.certainty == PUBLISHED:
            assert day == published[entry.article_id] and entry.when_start is None
        else:
            words = retriever.article(entry.article_id).text[entry.when_start:entry.when_end]
            assert words and words in entry.sentence
        if "/" not in entry.date:
            assert entry.date_text == format_date(day, "ar")
        assert entry.sites and entry.articles[0] == entry.article_id


def test_one_wire_story_is_one_line_listing_its_outlets(aquarius, timeline) -> None:
    _, rows = aquarius
    _, entries = timeline
    groups = _wire_groups(rows)
    lines_of = {}
    for number, entry in enumerate(entries):
        for article_id in entry.articles:
            for member in groups[article_id]:
                lines_of.setdefault(member, set()).add(number)
    assert all(len(lines) == 1 for lines in lines_of.values()), lines_of
    wire = [e for e in entries if set(WIRE_COPIES) & set(e.articles)]
    if wire:  # the 30 June story, when it is relevant enough to be a line, names both outlets
        assert set(wire[0].articles) == set(WIRE_COPIES) and len(wire[0].sites) == 2, wire


def test_an_answer_cites_every_line_and_the_page_lists_them_right_to_left(aquarius, timeline) -> None:
    retriever, _ = aquarius
    hits, entries = timeline
    answer = ExtractiveAnswerer(retriever.embedder).answer(QUESTION, hits[:5], language="ar")
    dated = with_timeline(answer, entries, hits)
    numbers = {c.number: c for c in dated.citations}
    assert len(dated.timeline) == len(entries)
    assert dated.citations[:len(answer.citations)] == answer.citations
    for entry in dated.timeline:
        citation = numbers[entry.citation]
        assert citation.passage_id == entry.passage_id
        assert any(c.number == entry.citation and c.sentence == entry.sentence and c.start == entry.start
                   for c in dated.citations)
    html = timeline_list(dated, turn=3)
    assert html.startswith('<ol class="qa-timeline" dir="rtl"') and html.count("<li") == len(entries)
    first = dated.timeline[0]
    assert f'<time class="qa-tl-date" datetime="{first.date}"' in html and f">{first.date_text}</time>" in html
    assert html.count('title="تاريخ نشر المقال') == sum(e.certainty == PUBLISHED for e in dated.timeline)
    assert f'href="#qa-src-3-{first.citation}"' in html
    assert html in answer_message(dated, turn=3)
    assert timeline_list(answer, turn=3) == ""


def test_no_relevant_passage_makes_no_timeline(aquarius) -> None:
    retriever, _ = aquarius
    assert build_timeline(QUESTION, [], language="ar", embedder=retriever.embedder) == ()
    answer = Answer(question="q", text="t", citations=(), hits=(), abstained=True, language="ar", search_query="q")
    assert with_timeline(answer, (), ()) is answer


def test_examples_come_from_the_index_served(aquarius, seed_index: Path, embedder: object, tmp_path: Path) -> None:
    retriever, rows = aquarius
    examples = index_examples(retriever, seeds=SEEDS)
    assert len(examples) == 5 and not set(examples) & set(SEED_EXAMPLES)
    newest = max(rows, key=lambda r: r["published"])
    assert examples[0] == title_question(newest["title"])
    assert all(e.startswith("ما تفاصيل خبر «") and e.endswith("»؟") for e in examples)
    seeds = qa.Retriever.load(seed_index, embedder=embedder)
    try:
        assert index_examples(seeds, seeds=SEEDS) == list(SEED_EXAMPLES)
    finally:
        seeds.close()
    listed = tmp_path / "examples.txt"
    listed.write_text("# asked on Mondays\nما آخر أخبار الهجرة؟\n\nWhat happened in Valencia?\n", encoding="utf-8")
    assert read_examples(listed) == ["ما آخر أخبار الهجرة؟", "What happened in Valencia?"]
    (tmp_path / "empty.txt").write_text("# none\n", encoding="utf-8")
    with pytest.raises(qa.QAError, match="holds no question"):
        read_examples(tmp_path / "empty.txt")
    with pytest.raises(qa.QAError, match="cannot read the examples file"):
        read_examples(tmp_path / "missing.txt")


@pytest.mark.parametrize(("title", "question"), [
    ("شاهد.. ترامب يوقع قرار الانسحاب من الإتفاق النووي الإيراني",
     "ما تفاصيل خبر «ترامب يوقع قرار الانسحاب من الإتفاق النووي الإيراني»؟"),
    ("Spain's new cabinet is sworn in - BBC News", 'What are the details of "Spain\'s new cabinet is sworn in"?'),
    ("Le navire Lifeline accoste à Malte", "Quels sont les détails de « Le navire Lifeline accoste à Malte » ?"),
    ("عاجل", None),
])
def test_a_title_becomes_a_question_in_its_language(title: str, question: str | None) -> None:
    assert title_question(title) == question


@pytest.mark.parametrize(
    ("sentence", "onset"),
    [
        ("ونجحت الاحتجاجات الغاضبة التي استمرت منذ الأربعاء الماضي، في قطع الطريق", True),
        ("أدت العمليات إلى نزوح أكثر من 120 ألفا، منذ بدء هجوم القوات الحكومية على المحافظة في 19 يونيو", True),
        ("Protests have gone on since Wednesday in Amman", True),
        ("وافق مجلس النواب العراقي، الأربعاء، على قرار", False),
        # "منذ" of another clause does not govern the day.
        ("تتواصل الاحتجاجات منذ أسابيع، وأعلن الملك الأربعاء استقالة الحكومة", False),
    ],
)
def test_a_day_after_since_starts_a_state_and_does_not_date_the_event(sentence, onset):
    found = [f for f in find_dates_on(sentence, dt.date(2018, 6, 4)) if f.since == f.until]
    assert found
    assert timeline_module._onset(sentence, found[-1]) is onset


def _event(day: str, article: str, score: float) -> timeline_module._Event:
    return timeline_module._Event(day=dt.date.fromisoformat(day), score=score, vector=np.zeros(2), title="t", articles=[article])


def test_a_timeline_covers_its_days_before_a_second_event_of_one_day(monkeypatch):
    events = [_event("2018-06-12", "a", 0.99), _event("2018-06-12", "b", 0.98), _event("2018-06-12", "c", 0.97),
              _event("2018-06-19", "d", 0.90), _event("2018-06-23", "e", 0.80)]
    monkeypatch.setattr(timeline_module, "MAX_LINES", 3)
    assert [e.articles[0] for e in timeline_module._spread_over_days(events, per_day=2)] == ["a", "d", "e"]
    monkeypatch.setattr(timeline_module, "MAX_LINES", 4)
    assert [e.articles[0] for e in timeline_module._spread_over_days(events, per_day=2)] == ["a", "d", "e", "b"]
    # at most per_day events of one day, however many lines are allowed; None: every one
    monkeypatch.setattr(timeline_module, "MAX_LINES", 12)
    assert [e.articles[0] for e in timeline_module._spread_over_days(events, per_day=2)] == ["a", "d", "e", "b"]
    assert [e.articles[0] for e in timeline_module._spread_over_days(events, per_day=None)] == ["a", "d", "e", "b", "c"]


class _TitleVectors:
    """A fake encoder for `_events`' pure logic: each title's (unit) vector is given; the question's is e1."""

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors

    def encode_queries(self, texts):
        return np.array([[1.0, 0.0, 0.0] for _ in texts])

    def encode_passages(self, texts):
        found = np.array([self.vectors[t] for t in texts], dtype=float)
        return found / np.linalg.norm(found, axis=1, keepdims=True)


def _hit(article: str, title: str, published: str, similarity: float) -> Hit:
    return Hit(passage_id=f"{article}:0", article_id=article, ordinal=0, text="t", score=similarity, start=0, end=1,
               title=title, origin="o", site="s", published=published, similarity=similarity)


def test_one_days_like_titles_are_one_event_and_titles_off_the_story_are_left_out():
    # cosine to the question: the two 12 June titles 1.0 and 0.995 (one event: their cosine is ~0.995),
    # the 13 June one 0.98, the off-story one 0.8 (more than TITLE_MARGIN below the best)
    titles = {"summit": [1.0, 0.0, 0.0], "summit, handshake": [1.0, 0.1, 0.0], "sanctions kept": [1.0, 0.0, 0.2],
              "a volcano": [0.8, 0.6, 0.0]}
    hits = [_hit("a", "summit", "2018-06-12T01:00:00+00:00", 0.90), _hit("b", "summit, handshake", "2018-06-12T05:00:00+00:00", 0.89),
            _hit("c", "sanctions kept", "2018-06-13T01:00:00+00:00", 0.88), _hit("d", "a volcano", "2018-06-13T02:00:00+00:00", 0.90)]
    events = timeline_module._events("q", hits, _TitleVectors(titles))
    assert [(e.day.isoformat(), e.articles) for e in events] == [("2018-06-12", ["a", "b"]), ("2018-06-13", ["c"])]
    # like titles on two days are two events
    hits[1] = _hit("b", "summit, handshake", "2018-06-14T05:00:00+00:00", 0.89)
    assert [e.articles for e in timeline_module._events("q", hits, _TitleVectors(titles))] == [["a"], ["b"], ["c"]]
    # a passage far below the best one's cosine is not on the story, whatever its title
    hits[2] = _hit("c", "sanctions kept", "2018-06-13T01:00:00+00:00", 0.90 - timeline_module.PASSAGE_MARGIN - 0.01)
    assert [e.articles for e in timeline_module._events("q", hits, _TitleVectors(titles))] == [["a"], ["b"]]
