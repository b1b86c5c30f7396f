"""Figures that disagree across outlets: reading numbers, deciding disagreement, and the answer that shows each one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import qa
from qa.answer import FIGURES_LEAD, ask, make_answerer
from qa.embed import Embedder
from qa.figures import Reading, disagree, parse_number, read_figure


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("130 شخصا", (130.0, "شخصا")),
        ("20 مليون دولار", (2e7, "دولار")),
        ("1,000", (1000.0, "")),
        ("56,2 ٪", (56.2, "%")),
        ("3.5 بالمئة", (3.5, "%")),
        ("أربعة", (4.0, "")),
        ("خمسة وعشرين قتيلا", (25.0, "قتيلا")),
        ("two million people", (2e6, "people")),
        ("قتلى", None),
    ],
)
def test_parse_number(phrase: str, expected: tuple[float, str] | None) -> None:
    assert parse_number(phrase) == expected


def reading(number: float, unit: str = "") -> Reading:
    return Reading(str(number), number, unit, 0, 1)


def test_outlets_disagree_only_on_different_numbers_of_one_thing() -> None:
    assert disagree([reading(12), reading(11, "قتيلا")])
    assert not disagree([reading(12), reading(12, "شخصا")])
    assert not disagree([reading(12)])
    assert not disagree([reading(20, "دولار"), reading(18, "يورو")])  # different units: different things
    assert disagree([reading(20, "شخصا"), reading(18, "أشخاص")])


def test_read_figure_reads_how_many_questions_only() -> None:
    sentence = "وقالت الشرطة إن 12 شخصا قتلوا في الهجوم على مفوضية الانتخابات."
    found = read_figure("كم شخصا قتل في الهجوم على مفوضية الانتخابات؟", sentence)
    assert found is not None and found.number == 12 and sentence[found.start:found.end] == found.value
    assert read_figure("متى وقع الهجوم على مفوضية الانتخابات؟", sentence) is None


# End to end: three outlets report the same attack with different tolls; a fourth article is about something else.
ARTICLES = [
    {"id": "bbc-1", "source": "BBC", "published": "2018-05-02T12:45:00+00:00", "title": "هجوم على مفوضية الانتخابات في طرابلس",
     "text": "قال مسؤولون في طرابلس إن 12 شخصا قتلوا في هجوم انتحاري على مقر مفوضية الانتخابات الليبية.\n"
             "واقتحم مسلحون المبنى وأضرموا فيه النار قبل أن يفجر اثنان منهم نفسيهما.\n"
             "وتستعد ليبيا لإجراء انتخابات عامة قبل نهاية العام."},
    {"id": "f24-1", "source": "france24", "published": "2018-05-02T13:25:00+00:00", "title": "ليبيا: قتلى في اعتداء على مفوضية الانتخابات",
     "text": "أعلنت وزارة الصحة الليبية مقتل 14 شخصا في الاعتداء الانتحاري على مفوضية الانتخابات في العاصمة طرابلس.\n"
             "وتبنى تنظيم الدولة الإسلامية الاعتداء في بيان نشره على الإنترنت.\n"
             "وكانت المفوضية قد بدأت تسجيل الناخبين في ديسمبر الماضي."},
    {"id": "weather-1", "source": "skynews", "published": "2018-05-03T08:00:00+00:00", "title": "طقس معتدل في المغرب",
     "text": "يتوقع أن تبلغ درجات الحرارة 25 درجة في الرباط يوم الجمعة.\nوتهب رياح خفيفة على السواحل الأطلسية."},
]
AGREEING = [
    {**ARTICLES[0]},
    {**ARTICLES[1], "text": ARTICLES[1]["text"].replace("14", "12")},
    ARTICLES[2],
]


def _index(folder: Path, articles: list[dict[str, str]], embedder: Embedder) -> qa.Retriever:
    folder.mkdir(parents=True)
    (folder / "news.jsonl").write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in articles), encoding="utf-8")
    qa.build_index([folder / "news.jsonl"], folder / "index", embedder=embedder)
    return qa.Retriever.load(folder / "index", embedder=embedder)


@pytest.fixture(scope="module")
def outlets(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[tuple[qa.Retriever, qa.Retriever]]:
    folder = tmp_path_factory.mktemp("figures")
    with _index(folder / "differ", ARTICLES, embedder) as differ, _index(folder / "agree", AGREEING, embedder) as agree:
        yield differ, agree


QUESTION = "كم شخصا قتل في الهجوم على مفوضية الانتخابات في ليبيا؟"


@pytest.mark.slow
def test_each_outlets_figure_is_shown_with_its_site_and_date(outlets: tuple[qa.Retriever, qa.Retriever], embedder: Embedder) -> None:
    retriever, _ = outlets
    answer = ask(QUESTION, retriever, answerer=make_answerer("extractive", embedder))
    assert not answer.abstained and answer.short is None
    assert sorted((f.site, f.number) for f in answer.figures) == [("BBC", 12.0), ("france24", 14.0)]
    numbers = {c.number: c for c in answer.citations}
    for figure in answer.figures:
        article = retriever.article(figure.article_id)
        assert article.text[figure.start:figure.end] == figure.value
        assert numbers[figure.citation].sentence == figure.sentence and figure.value in figure.sentence
        assert f"{figure.value} ({figure.site}، {figure.published[:10]}) [{figure.citation}]" in answer.text
    assert answer.text.startswith(FIGURES_LEAD["ar"])


@pytest.mark.slow
def test_outlets_that_agree_give_one_short_answer(outlets: tuple[qa.Retriever, qa.Retriever], embedder: Embedder) -> None:
    _, retriever = outlets
    answer = ask(QUESTION, retriever, answerer=make_answerer("extractive", embedder))
    assert not answer.abstained and answer.figures == ()
    assert answer.short is not None and answer.short.text.startswith("12")


@pytest.mark.slow
def test_other_questions_get_no_figures(outlets: tuple[qa.Retriever, qa.Retriever], embedder: Embedder) -> None:
    retriever, _ = outlets
    answer = ask("من تبنى الهجوم على مفوضية الانتخابات في ليبيا؟", retriever, answerer=make_answerer("extractive", embedder))
    assert answer.figures == ()
