"""The CLI's human output shows `published` as a date for people; `--json` keeps ISO 8601."""

from __future__ import annotations

import json
from typing import Any

import pytest

import qa
import qa.answer
from qa.cli import main
from qa.records import Answer, Carrier, Citation, Hit

ISO = "2018-05-08T13:50:28+00:00"
HIT = Hit(passage_id="a:0", article_id="a", ordinal=0, text="أعلن ترامب الثلاثاء الانسحاب.", score=0.5, start=0, end=30,
          title="ترامب ينسحب", origin="ant", site="CNN", published=ISO,
          carriers=(Carrier("a", "a:0", "ترامب ينسحب", "CNN", ISO), Carrier("b", "b:0", "انسحاب", "BBC", "2018-05-09")))
CITATION = Citation(number=1, sentence="أعلن ترامب الثلاثاء الانسحاب.", start=0, end=30, passage_id="a:0",
                    passage_text="أعلن ترامب الثلاثاء الانسحاب.", passage_start=0, passage_end=30, article_id="a",
                    title="ترامب ينسحب", origin="ant", score=0.5, site="CNN", published=ISO)


class _Retriever:
    def __enter__(self) -> _Retriever:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def search(self, question: str, **_: Any) -> list[Hit]:
        return [HIT]


@pytest.fixture
def fake_index(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qa.Retriever, "load", classmethod(lambda cls, *a, **k: _Retriever()))

    def ask(question: str, retriever: Any, **_: Any) -> Answer:
        language = "en" if question.isascii() else "ar"
        return Answer(question=question, text="أعلن ترامب الثلاثاء الانسحاب. [1]", citations=(CITATION,), hits=(HIT,),
                      abstained=False, language=language, search_query=question)

    monkeypatch.setattr(qa.answer, "ask", ask)


@pytest.mark.parametrize(("question", "shown"), [("متى أعلن ترامب الانسحاب؟", "8 مايو 2018"),
                                                 ("When did Trump withdraw?", "8 May 2018")])
def test_search_and_ask_show_dates_for_people(fake_index: None, capsys: pytest.CaptureFixture[str], question: str,
                                              shown: str) -> None:
    assert main(["search", question, "--index", "x"]) == 0
    out = capsys.readouterr().out
    assert f"(CNN · {shown})" in out and ISO not in out
    assert main(["ask", question, "--index", "x"]) == 0
    out = capsys.readouterr().out
    assert f"[1] ترامب ينسحب (CNN · {shown})" in out and ISO not in out


def test_json_keeps_iso(fake_index: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "متى؟", "--index", "x", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["published"] == ISO
    assert main(["ask", "متى؟", "--index", "x", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["citations"][0]["published"] == ISO
