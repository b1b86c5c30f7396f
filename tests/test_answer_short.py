"""The short answer and wordless questions, in the library and in the web app's JSON, with the real model over the seed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import qa
from qa.answer import NO_WORDS, SHORT_SEPARATOR, ask, is_wordless, make_answerer
from qa.config import ANSWERERS
from qa.embed import Embedder
from qa.records import Answer

WORDLESS = [
    pytest.param("<script>alert(1)</script>", "en", id="script"),
    pytest.param('<script>alert(1)</script><img src=x onerror="alert(2)">', "en", id="script-and-img"),
    pytest.param("؟؟؟", "ar", id="arabic-question-marks"),
    pytest.param("<b></b>", "en", id="empty-tags"),
    pytest.param("؟؟؟ ... !!! ،،", "ar", id="punctuation"),
    pytest.param("🙂🚀🔥", "en", id="emoji"),
]


@pytest.mark.parametrize(("question", "language"), WORDLESS)
def test_wordless_questions_are_recognised(question: str, language: str) -> None:
    assert is_wordless(question)


@pytest.mark.parametrize("question", ["<b>متى يزور أولوند موسكو؟</b>", "2015?", "a < b", "alert(1)"])
def test_questions_with_a_word_are_not_wordless(question: str) -> None:
    assert not is_wordless(question)


@pytest.fixture(scope="module")
def retriever(seed_index: Path, embedder: Embedder) -> Iterator[qa.Retriever]:
    with qa.Retriever.load(seed_index, embedder=embedder) as loaded:
        yield loaded


@pytest.mark.slow
@pytest.mark.parametrize("answerer", ANSWERERS)
@pytest.mark.parametrize(("question", "language"), WORDLESS)
def test_a_wordless_question_abstains_in_its_language_citing_nothing(retriever: qa.Retriever, embedder: Embedder, answerer: str,
                                                                     question: str, language: str) -> None:
    answer = ask(question, retriever, answerer=make_answerer(answerer, embedder))
    assert answer.abstained and answer.citations == () and answer.hits == ()
    assert answer.language == language and answer.text == NO_WORDS[language]
    assert answer.short is None and answer.figures == ()


def assert_short(answer: Answer, retriever: qa.Retriever, expected: str, kind: str) -> None:
    short = answer.short
    assert short is not None and expected in short.text and short.kind == kind
    assert retriever.article(short.article_id).text[short.start:short.end] == short.text
    cited = [c for c in answer.citations if c.number == short.citation and c.start <= short.start < short.end <= c.end]
    assert cited, "the short answer lies inside the sentence it cites"
    assert answer.text.startswith(f"{short.text} {SHORT_SEPARATOR} ")
    assert all(f"[{c.number}]" in answer.text for c in answer.citations)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "expected", "kind"),
    [
        ("كم شخصا قتل في هجمات باريس؟", "130", "number"),
        ("متى يزور أولوند موسكو؟", "الخميس", "date"),
    ],
)
def test_a_factoid_answer_leads_with_its_short_answer(retriever: qa.Retriever, question: str, expected: str, kind: str) -> None:
    assert_short(ask(question, retriever), retriever, expected, kind)


@pytest.mark.slow
def test_a_why_question_has_no_short_answer(retriever: qa.Retriever) -> None:
    answer = ask("لماذا يزور أولوند موسكو؟", retriever)
    assert answer.short is None and not answer.text.startswith(SHORT_SEPARATOR)


# The web app's JSON, through its real routes.

@pytest.fixture(scope="module")
def client(retriever: qa.Retriever) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from qa.web.engine import Engine
    from qa.web.server import create_app

    with TestClient(create_app(Engine(retriever))) as started:
        yield started


@pytest.mark.slow
def test_the_json_api_returns_the_short_answer(client: Any, retriever: qa.Retriever) -> None:
    reply = client.post("/api/ask", json={"question": "كم شخصا قتل في هجمات باريس؟"}).json()
    short = reply["short"]
    assert short is not None and "130" in short["text"] and short["kind"] == "number"
    assert retriever.article(short["article_id"]).text[short["start"]:short["end"]] == short["text"]
    assert reply["answer"].startswith(short["text"]) and short["citation"] in {c["number"] for c in reply["citations"]}
    assert reply["figures"] == []


@pytest.mark.slow
@pytest.mark.parametrize(("question", "language"), WORDLESS)
def test_the_json_api_abstains_on_a_wordless_question(client: Any, question: str, language: str) -> None:
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["abstained"] and reply["citations"] == [] and reply["hits"] == []
    assert reply["language"] == language and reply["answer"] == NO_WORDS[language] and reply["short"] is None
