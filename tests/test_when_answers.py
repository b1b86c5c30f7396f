"""When-questions answered with the date: the cited sentence's time words resolved against its article's publication date."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

import qa
from qa.extractive import ExtractiveAnswerer
from qa.text.answer_date import answer_date, choose_expression
from qa.text.dates import find_dates

CNN_SENTENCE = "(CNN)-- أعلن الرئيس الأميركي، دونالد ترامب، الثلاثاء، انسحاب الولايات المتحدة من الاتفاق النووي مع إيران وإعادة فرض عقوبات عليها."
CNN_PUBLISHED = "2018-05-08T19:04:32+00:00"
QUESTION = "متى أعلن ترامب الانسحاب من الاتفاق النووي مع إيران؟"
# The 8 May 2018 articles on the withdrawal (CNN and BBC), and others of that day as distractors.
IRAN_DEAL = ("CN-internationalNews-327-20180508", "CN-middleEast-844-20180508", "BB-middleEast-467-20180508",
             "BB-internationalNews-477-20180508", "CN-economy-103-20180508")
DISTRACTORS = 15


@pytest.mark.parametrize(("language", "display"), [
    ("ar", "الثلاثاء 8 مايو 2018"), ("en", "Tuesday 8 May 2018"), ("fr", "mardi 8 mai 2018"),
])
def test_the_weekday_of_the_sentence_is_the_article_s_day(language: str, display: str) -> None:
    found = answer_date(QUESTION, CNN_SENTENCE, CNN_PUBLISHED, language=language)
    assert found is not None
    assert CNN_SENTENCE[found.start:found.end] == found.text == "الثلاثاء"
    assert (found.date, found.display, found.certainty) == ("2018-05-08", display, "weekday")


def test_an_undated_article_keeps_its_words() -> None:
    found = answer_date(QUESTION, CNN_SENTENCE, None, language="ar")
    assert found is not None and found.text == "الثلاثاء"
    assert found.date is None and found.display is None and found.certainty == "unresolved"


def test_of_several_times_the_one_beside_the_asked_verb_answers() -> None:
    sentence = "قال ترامب الثلاثاء إن الاتفاق الذي أبرم في 2015 كان كارثيا."
    asked_signing = answer_date("متى أبرم الاتفاق النووي؟", sentence, "2018-05-08", language="ar")
    asked_saying = answer_date("متى قال ترامب إن الاتفاق كارثي؟", sentence, "2018-05-08", language="ar")
    assert asked_signing is not None and asked_signing.date == "2015-01-01/2015-12-31" and asked_signing.display == "2015"
    assert asked_saying is not None and asked_saying.date == "2018-05-08"
    # a span the short-answer rule picked wins over nearness
    prefer = (sentence.index("الثلاثاء"), sentence.index("الثلاثاء") + len("الثلاثاء"))
    assert choose_expression("متى أبرم الاتفاق النووي؟", sentence, find_dates(sentence, "2018-05-08"), prefer=prefer).text == "الثلاثاء"
    assert answer_date("متى أبرم الاتفاق؟", "أبرم الاتفاق بعد مفاوضات طويلة.", "2018-05-08", language="ar") is None


def test_a_range_in_an_english_question_is_written_in_english() -> None:
    found = answer_date("When did prices fall?", "تراجعت الأسعار الشهر الماضي.", "2018-06-12", language="en")
    assert found is not None and found.date == "2018-05-01/2018-05-31" and found.display == "May 2018"


def _ant_lines(ant: Path) -> list[dict]:
    """The Iran-deal articles of 8 May 2018 and the first other articles of that day."""
    wanted, others = {}, []
    with gzip.open(ant, "rt", encoding="utf-8") as lines:
        for line in lines:
            if '"2018-05-08' not in line:
                continue
            row = json.loads(line)
            if row["id"] in IRAN_DEAL:
                wanted[row["id"]] = row
            elif len(others) < DISTRACTORS and row.get("text"):
                others.append(row)
    assert set(wanted) == set(IRAN_DEAL)
    return [*wanted.values(), *others]


@pytest.fixture(scope="module")
def ant_index(tmp_path_factory: pytest.TempPathFactory, ant: Path, embedder: object) -> Iterator[tuple[qa.Retriever, dict]]:
    folder = tmp_path_factory.mktemp("when")
    rows = _ant_lines(ant)
    dated, undated = folder / "dated.jsonl", folder / "undated.jsonl"
    dated.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    # The same articles with no date: their weekdays cannot be resolved, and must not be guessed.
    undated.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "published"}, ensure_ascii=False) + "\n"
                               for r in rows), encoding="utf-8")
    retrievers = {}
    for name, path in (("dated", dated), ("undated", undated)):
        qa.build_index([str(path)], folder / name, embedder=embedder)
        retrievers[name] = qa.Retriever.load(folder / name, embedder=embedder)
    yield retrievers["dated"], retrievers
    for retriever in retrievers.values():
        retriever.close()


def test_the_iran_deal_withdrawal_is_answered_with_its_date(ant_index: tuple[qa.Retriever, dict]) -> None:
    retriever, _ = ant_index
    answer = qa.ask(QUESTION, retriever)
    short = answer.short
    assert short is not None and short.kind == "date", answer.text
    assert short.date == "2018-05-08" and short.display == "الثلاثاء 8 مايو 2018"
    cited = next(c for c in answer.citations if c.number == short.citation)
    article = retriever.article(short.article_id)
    assert article.text[short.start:short.end] == short.text == "الثلاثاء"
    assert cited.start <= short.start < short.end <= cited.end
    assert answer.text.startswith("الثلاثاء 8 مايو 2018 — ")
    english = qa.ask("When did Trump announce the withdrawal from the Iran nuclear deal?", retriever)
    assert english.short is not None and english.short.date == "2018-05-08", english.text
    assert english.short.display == "Tuesday 8 May 2018" and english.text.startswith("Tuesday 8 May 2018 — ")


def test_an_undated_index_answers_with_the_article_s_words(ant_index: tuple[qa.Retriever, dict]) -> None:
    _, retrievers = ant_index
    answer = qa.ask(QUESTION, retrievers["undated"])
    short = answer.short
    assert short is not None and short.text == "الثلاثاء", answer.text
    assert short.date is None and short.display is None
    assert retrievers["undated"].article(short.article_id).text[short.start:short.end] == "الثلاثاء"
    assert answer.text.startswith("الثلاثاء — ")


def test_a_published_value_that_is_not_a_date_loses_nothing(ant_index: tuple[qa.Retriever, dict]) -> None:
    retriever, _ = ant_index
    hits = [replace(hit, published="sometime in May") for hit in retriever.search(QUESTION, k=5)]
    answer = ExtractiveAnswerer(retriever.embedder).answer(QUESTION, hits, language="ar")
    assert not answer.abstained and answer.short is not None
    assert answer.short.text == "الثلاثاء" and answer.short.date is None
