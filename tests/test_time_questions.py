"""Time in questions, end to end on real ANT articles of 7-9 May 2018: the days a question names, `now`, the latest state."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import qa
from qa.answer import ask, make_answerer
from qa.cli import main
from qa.embed import Embedder
from qa.errors import QueryError
from qa.records import Answer, Filters, Hit
from qa.retrieve import newest_first
from qa.text import published_date, topic

DAYS = ("2018-05-07", "2018-05-08", "2018-05-09")
# The 8 May articles on Trump's withdrawal from the Iran deal, published after his speech.
IRAN_DEAL = ("CN-middleEast-844-20180508", "FR-internationalNews-1140-20180508", "BB-internationalNews-479-20180508",
             "CN-middleEast-843-20180508", "AL-internationalNews-1074-20180508")
# Other 8 May articles on the deal that the day's nuclear-deal sample takes (titles: Trump prepares his decision on
# the deal; Trump's four options; the deal's terms and why Trump wants out): which of them rank first differs by CPU.
DEAL_OF_8_MAY = (*IRAN_DEAL, "BB-internationalNews-477-20180508", "BB-middleEast-467-20180508",
                 "FR-internationalNews-1136-20180508")


def _articles(ant: Path) -> list[dict[str, Any]]:
    """The Iran-deal articles, and of each day the first ten on the nuclear deal and three on Lebanon's elections."""
    rows = []
    with gzip.open(ant, "rt", encoding="utf-8") as lines:
        for line in lines:
            article = json.loads(line)
            if (article.get("published") or "")[:10] in DAYS:
                rows.append(article)
    rows.sort(key=lambda a: (a["published"], a["id"]))
    taken: dict[tuple[str, str], int] = {}
    picked = []
    for article in rows:
        day, title = article["published"][:10], article["title"]
        topic = "deal" if "النووي" in title else "lebanon" if "لبنان" in title else None
        wanted = {"deal": 10, "lebanon": 3}.get(topic or "", 0)
        if article["id"] in IRAN_DEAL or (topic and taken.get((day, topic), 0) < wanted):
            taken[(day, topic or "")] = taken.get((day, topic or ""), 0) + 1
            picked.append(article)
    return picked


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, ant: Path, embedder: Embedder) -> Iterator[tuple[Path, qa.Retriever]]:
    folder = tmp_path_factory.mktemp("may")
    articles = _articles(ant)
    assert {a["id"] for a in articles} >= set(IRAN_DEAL)
    (folder / "news.jsonl").write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in articles), encoding="utf-8")
    qa.build_index([folder / "news.jsonl"], folder / "vectors", embedder=embedder)
    with qa.Retriever.load(folder / "vectors", embedder=embedder) as retriever:
        yield folder / "vectors", retriever


@pytest.fixture(scope="module")
def answerer(embedder: Embedder) -> Any:
    return make_answerer("extractive", embedder)


def _days(answer: Answer, retriever: qa.Retriever) -> set[dt.date | None]:
    """The publication days of every passage the answer cites or lists, read from the articles themselves."""
    ids = {c.article_id for c in answer.citations} | {h.article_id for h in answer.hits}
    return {published_date(retriever.article(i).published) for i in ids}


@pytest.mark.slow
def test_the_newest_article_is_the_reference(index: tuple[Path, qa.Retriever]) -> None:
    _, retriever = index
    assert retriever.newest == dt.date(2018, 5, 9)


@pytest.mark.slow
def test_a_named_day_keeps_the_answer_to_it(index: tuple[Path, qa.Retriever], answerer: Any) -> None:
    _, retriever = index
    answer = ask("ماذا قال ترامب عن الاتفاق النووي مع إيران في 8 مايو 2018؟", retriever, answerer=answerer)
    assert not answer.abstained and answer.citations
    assert _days(answer, retriever) == {dt.date(2018, 5, 8)}
    assert (answer.searched, answer.searched_since, answer.searched_until) == ("مقالات 8 مايو 2018", "2018-05-08", "2018-05-08")
    assert answer.text.endswith("\nبحث في مقالات 8 مايو 2018.")
    # The Iran-deal articles of that day are among the sources.
    assert {h.article_id for h in answer.hits} & set(DEAL_OF_8_MAY)


@pytest.mark.slow
def test_relative_days_count_from_now(index: tuple[Path, qa.Retriever], answerer: Any) -> None:
    _, retriever = index
    question = "ماذا قالت روسيا عن انسحاب أمريكا من الاتفاق النووي أمس؟"
    on_ninth = ask(question, retriever, answerer=answerer, now="2018-05-09")
    assert _days(on_ninth, retriever) == {dt.date(2018, 5, 8)} and on_ninth.searched_since == "2018-05-08"
    # By default "yesterday" is the day before the newest article (9 May): the same question.
    assert ask(question, retriever, answerer=answerer).searched_since == "2018-05-08"
    on_eighth = ask(question, retriever, answerer=answerer, now=dt.date(2018, 5, 8))
    assert _days(on_eighth, retriever) <= {dt.date(2018, 5, 7)} and on_eighth.searched_until == "2018-05-07"


@pytest.mark.slow
def test_a_week_names_a_span_and_english_is_labelled_in_english(index: tuple[Path, qa.Retriever], answerer: Any) -> None:
    _, retriever = index
    answer = ask("What did Trump announce about the Iran nuclear deal between 8 and 9 May 2018?", retriever, answerer=answerer)
    assert answer.searched == "articles 8–9 May 2018" and answer.text.endswith("\nSearched articles 8–9 May 2018.")
    assert _days(answer, retriever) <= {dt.date(2018, 5, 8), dt.date(2018, 5, 9)}


@pytest.mark.slow
@pytest.mark.parametrize(("now", "message"), [
    ("yesterday", "now 'yesterday' is not a date"),
    ("2018-13-40", "is not a date"),
    ("", "is not a date"),
    ((dt.date.today() + dt.timedelta(days=2)).isoformat(), "is in the future"),
])
def test_a_bad_now_is_refused_with_a_message(index: tuple[Path, qa.Retriever], answerer: Any, now: str, message: str) -> None:
    _, retriever = index
    with pytest.raises(QueryError, match=message):
        ask("ماذا حدث أمس؟", retriever, answerer=answerer, now=now)
    # Even a question with no time in it: the caller's `now` is checked, never ignored.
    with pytest.raises(QueryError, match=message):
        ask("ما موقف روسيا من الاتفاق النووي؟", retriever, answerer=answerer, now=now)


@pytest.mark.slow
@pytest.mark.parametrize(("question", "message"), [
    ("ماذا حدث بين 15 و1 مايو 2018؟", "cannot be|end"),
    ("ماذا حدث في 31 فبراير 2018؟", "cannot be"),
])
def test_impossible_days_are_refused(index: tuple[Path, qa.Retriever], answerer: Any, question: str, message: str) -> None:
    _, retriever = index
    with pytest.raises(QueryError, match=message):
        ask(question, retriever, answerer=answerer)


@pytest.mark.slow
def test_days_the_filters_leave_out_are_a_message(index: tuple[Path, qa.Retriever], answerer: Any) -> None:
    _, retriever = index
    with pytest.raises(QueryError, match="no day is in both"):
        ask("ماذا حدث في 7 مايو 2018؟", retriever, answerer=answerer, filters=Filters(since="2018-05-09"))
    # Days in common: both bounds hold.
    answer = ask("ماذا قال ترامب عن الاتفاق النووي بين 7 و9 مايو 2018؟", retriever, answerer=answerer,
                 filters=Filters(until="2018-05-08"))
    assert _days(answer, retriever) <= {dt.date(2018, 5, 7), dt.date(2018, 5, 8)}


@pytest.mark.slow
def test_days_with_no_article_abstain_saying_so(index: tuple[Path, qa.Retriever], answerer: Any) -> None:
    _, retriever = index
    empty = ask("ماذا حدث في لبنان يوم 8 مايو 2018؟", retriever, answerer=answerer, filters=Filters(sources=("no-such-site",)))
    assert empty.abstained and not empty.hits and "لا يحمل الفهرس مقالات من هذه الأيام" in empty.text
    assert empty.searched == "مقالات 8 مايو 2018"


@pytest.mark.slow
@pytest.mark.parametrize(("question", "note"), [
    ("ماذا قال حزب الله عن الانتخابات اللبنانية في 20 مايو 2018؟", "تقع تواريخ السؤال (20 مايو 2018) خارج أيام المقالات (7–9 مايو 2018)"),
    ("What did Iran agree to in the nuclear deal of 2015?", "The question's dates (2015) lie outside the articles' days (7–9 May 2018)"),
])
def test_dates_outside_the_articles_are_the_events_time(index: tuple[Path, qa.Retriever], answerer: Any, question: str,
                                                         note: str) -> None:
    _, retriever = index
    answer = ask(question, retriever, answerer=answerer)
    assert note in answer.note and answer.searched == ""
    assert list(answer.hits) == retriever.search(question)


@pytest.mark.slow
def test_a_latest_question_cites_the_newest_relevant_passage_first(index: tuple[Path, qa.Retriever], answerer: Any) -> None:
    _, retriever = index
    question = "ما آخر المواقف من انسحاب أمريكا من الاتفاق النووي الإيراني؟"
    answer = ask(question, retriever, answerer=answerer)
    assert not answer.abstained and answer.as_of
    first = answer.citations[0]
    day = published_date(first.published)
    assert day is not None and answer.as_of == f"حتى {day.day} مايو 2018 ({first.site})"
    assert answer.text.endswith(f"\n{answer.as_of}.")
    assert answer.searched == "" and answer.searched_since is None
    # Searched by its story's words, the newest of the passages near the best one opens the answer's sources.
    assert answer.search_query == topic(question) == "ما المواقف من انسحاب أمريكا من الاتفاق النووي الإيراني؟"
    plain = retriever.search(topic(question), 20)
    near = newest_first(plain, qa.answer.RECENCY_MARGIN)
    assert answer.hits[0].article_id == near[0].article_id
    assert first.article_id == near[0].article_id or answer.hits[0].published <= first.published
    # From a past `now`, later articles are not the latest.
    earlier = ask(question, retriever, answerer=answerer, now="2018-05-08")
    assert all(d is not None and d <= dt.date(2018, 5, 8) for d in _days(earlier, retriever))


@pytest.mark.slow
@pytest.mark.parametrize("question", [
    "ما موقف روسيا من الاتفاق النووي الإيراني؟",
    "كم بلغت نسبة المشاركة في الانتخابات اللبنانية؟",
    "What did Kerry say about the Iran deal?",
])
def test_other_questions_keep_their_ranking_and_answer(index: tuple[Path, qa.Retriever], answerer: Any, question: str) -> None:
    _, retriever = index
    answer = ask(question, retriever, answerer=answerer, now="2018-05-09")
    hits = retriever.search(question)
    assert list(answer.hits) == hits
    plain = answerer.answer(question, hits, language=answer.language)
    assert (answer.text, answer.citations) == (plain.text, plain.citations)
    assert (answer.searched, answer.as_of) == ("", "")


@pytest.mark.slow
def test_a_story_question_gets_a_timeline_and_the_switch_decides(index: tuple[Path, qa.Retriever], answerer: Any) -> None:
    _, retriever = index
    question = "ما تطورات الاتفاق النووي مع إيران؟"
    answer = ask(question, retriever, answerer=answerer)
    dates = [entry.date for entry in answer.timeline]
    assert len(dates) >= 2 and dates == sorted(dates)
    numbers = {c.number for c in answer.citations}
    assert all(entry.citation in numbers for entry in answer.timeline)
    assert ask(question, retriever, answerer=answerer, timeline=False).timeline == ()
    assert ask("ما موقف روسيا من الاتفاق النووي الإيراني؟", retriever, answerer=answerer, timeline=True).timeline
    # Days named keep the timeline to them too.
    dated = ask("ما تطورات الاتفاق النووي مع إيران في 9 مايو 2018؟", retriever, answerer=answerer)
    assert {(entry.published or "")[:10] for entry in dated.timeline} <= {"2018-05-09"}


@pytest.mark.slow
def test_cli_now(index: tuple[Path, qa.Retriever], capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = index
    assert main(["ask", "ماذا قالت روسيا عن الاتفاق النووي أمس؟", "--index", str(path), "--now", "2018-05-09", "--json"]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert (reply["searched_since"], reply["searched_until"]) == ("2018-05-08", "2018-05-08")
    assert main(["ask", "ماذا قالت روسيا عن الاتفاق النووي أمس؟", "--index", str(path), "--now", "2018-05-09"]) == 0
    assert "\nبحث في مقالات 8 مايو 2018.\n" in capsys.readouterr().out
    assert main(["ask", "ماذا حدث أمس؟", "--index", str(path), "--now", "9 May"]) == 2
    assert "qa: error: now '9 May' is not a date" in capsys.readouterr().err
    assert main(["ask", "ما موقف روسيا من الاتفاق النووي؟", "--index", str(path), "--timeline"]) == 0
    assert "\nTimeline:\n- " in capsys.readouterr().out


@pytest.mark.slow
def test_json_now(index: tuple[Path, qa.Retriever]) -> None:
    from fastapi.testclient import TestClient

    from qa.web.engine import Engine
    from qa.web.server import create_app

    _, retriever = index
    with TestClient(create_app(Engine(retriever))) as client:
        reply = client.post("/api/ask", json={"question": "ماذا قالت روسيا عن الاتفاق النووي أمس؟", "now": "2018-05-09"})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert (body["searched"], body["searched_since"], body["searched_until"]) == ("مقالات 8 مايو 2018", "2018-05-08", "2018-05-08")
        assert all(c["published"].startswith("2018-05-08") for c in body["citations"])
        for bad, message in (("soon", "is not a date"), ("2999-01-01", "is in the future")):
            refused = client.post("/api/ask", json={"question": "ماذا حدث أمس؟", "now": bad})
            assert refused.status_code == 400 and message in refused.json()["error"]["message"]
        story = client.post("/api/ask", json={"question": "ما موقف روسيا من الاتفاق النووي؟", "timeline": True}).json()
        assert story["timeline"] and all({"date", "date_text", "sentence", "sites", "citation"} <= set(e) for e in story["timeline"])
        wrong_type = client.post("/api/ask", json={"question": "ماذا حدث أمس؟", "now": 20180509})
        assert wrong_type.status_code == 400 and "'now' must be an ISO date string" in wrong_type.json()["error"]["message"]


def test_a_newer_article_that_tells_the_story_in_its_background_is_not_the_latest(embedder: Embedder) -> None:
    """Of the passages near the best, the ones whose article's title is on the question's story come first."""
    def hit(article: str, title: str, published: str, similarity: float) -> Hit:
        return Hit(passage_id=f"{article}:0", article_id=article, ordinal=0, text="نص", score=similarity, start=0, end=3,
                   title=title, origin="test", published=published, similarity=similarity)

    vacuum = hit("SK-middleEast-2686-20180630", "العراق يدخل أول فراغ تشريعي منذ 2003", "2018-06-30T19:03:51+00:00", 0.913)
    recount = hit("SK-middleEast-2678-20180630", "الإعلان عن موعد إعادة فرز الأصوات بالانتخابات العراقية",
                  "2018-06-30T12:13:05+00:00", 0.925)
    older = hit("FR-middleEast-654-20180621", "القضاء العراقي يقرر إعادة فرز الأصوات يدويا", "2018-06-21T09:46:00+00:00", 0.80)
    ordered = newest_first([recount, vacuum, older], qa.answer.RECENCY_MARGIN)
    assert [h.article_id for h in ordered] == [vacuum.article_id, recount.article_id, older.article_id]
    first = qa.answer._on_point_first(ordered, topic("ما آخر التطورات في إعادة فرز أصوات الانتخابات العراقية؟"), embedder)
    assert [h.article_id for h in first] == [recount.article_id, vacuum.article_id, older.article_id]
    # One title near the best: nothing to choose between.
    assert qa.answer._on_point_first([older], "إعادة فرز الأصوات", embedder) == [older]
