"""Reading SQuAD v1.1 files for `qa eval`: validation, ids, ranks through wire copies, short-answer scores."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from qa.errors import InputError
from qa.evaluate import (
    answer_tokens,
    exact_match,
    load_squad,
    rank_of,
    squad_problems,
    token_f1,
)
from qa.records import Carrier, Hit

CONTEXT = "زار الرئيس موسكو يوم الخميس. وقتل 130 شخصا في الهجمات."


def squad(*titles: str, context: str = CONTEXT) -> dict[str, Any]:
    """A valid file: one article per title, one paragraph each, one question with its answer."""
    start = context.index("الخميس")
    return {"version": "1.1", "data": [
        {"title": title, "paragraphs": [{"context": context, "qas": [
            {"id": f"q{i}", "question": "متى زار الرئيس موسكو؟", "answers": [{"text": "الخميس", "answer_start": start}]},
        ]}]} for i, title in enumerate(titles)
    ]}


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "set.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def broken(change: str) -> dict[str, Any]:
    """`squad("a", "b")` with one item of the second article changed as `change` says."""
    document = squad("a", "b")
    paragraph = document["data"][1]["paragraphs"][0]
    item = paragraph["qas"][0]
    answer = item["answers"][0]
    if change == "start past the end":
        answer["answer_start"] = len(CONTEXT) - 2
    elif change == "start negative":
        answer["answer_start"] = -1
    elif change == "text elsewhere":
        answer["answer_start"] = 0
    elif change == "text nowhere":
        answer["text"] = "الجمعة"
    elif change == "start a string":
        answer["answer_start"] = "21"
    elif change == "start a boolean":
        answer["answer_start"] = True
    elif change == "no start":
        del answer["answer_start"]
    elif change == "empty text":
        answer["text"] = " "
    elif change == "answer a string":
        item["answers"][0] = "الخميس"
    elif change == "no answers":
        item["answers"] = []
    elif change == "answers not a list":
        item["answers"] = {"text": "الخميس"}
    elif change == "no question":
        del item["question"]
    elif change == "blank question":
        item["question"] = "  "
    elif change == "question a number":
        item["question"] = 7
    elif change == "qas not a list":
        paragraph["qas"] = "متى؟"
    elif change == "no context":
        del paragraph["context"]
    elif change == "surrogate in context":
        paragraph["context"] = "\ud800" + CONTEXT
    elif change == "paragraph a list":
        document["data"][1]["paragraphs"][0] = [CONTEXT]
    elif change == "no paragraphs":
        del document["data"][1]["paragraphs"]
    elif change == "title a list":
        document["data"][1]["title"] = ["b"]
    elif change == "article null":
        document["data"][1] = None
    return document


@pytest.mark.parametrize(
    ("change", "where", "what"),
    [
        ("start past the end", "data[1].paragraphs[0].qas[0].answers[0]", "answer_start 52 is out of range: the text (6 characters) would end at 58, past the end of the context (54 characters)"),
        ("start negative", "data[1].paragraphs[0].qas[0].answers[0]", "answer_start -1 is negative"),
        ("text elsewhere", "data[1].paragraphs[0].qas[0].answers[0]", "text 'الخميس' is not at answer_start 0 (the context has 'زار ال' there; the text is at 21)"),
        ("text nowhere", "data[1].paragraphs[0].qas[0].answers[0]", "text 'الجمعة' is not at answer_start 21 (the context has 'الخميس' there; the text is nowhere in the context)"),
        ("start a string", "data[1].paragraphs[0].qas[0].answers[0]", "'answer_start' must be an integer, got a string"),
        ("start a boolean", "data[1].paragraphs[0].qas[0].answers[0]", "'answer_start' must be an integer, got true"),
        ("no start", "data[1].paragraphs[0].qas[0].answers[0]", "missing 'answer_start'"),
        ("empty text", "data[1].paragraphs[0].qas[0].answers[0]", "'text' is empty"),
        ("answer a string", "data[1].paragraphs[0].qas[0].answers[0]", "an answer must be an object, got a string"),
        ("no answers", "data[1].paragraphs[0].qas[0]", "'answers' is empty (SQuAD v2.0 unanswerable questions are not supported)"),
        ("answers not a list", "data[1].paragraphs[0].qas[0]", "'answers' must be a list, got an object"),
        ("no question", "data[1].paragraphs[0].qas[0]", "missing 'question'"),
        ("blank question", "data[1].paragraphs[0].qas[0]", "'question' is empty"),
        ("question a number", "data[1].paragraphs[0].qas[0]", "'question' must be a string, got the number 7"),
        ("qas not a list", "data[1].paragraphs[0]", "'qas' must be a list, got a string"),
        ("no context", "data[1].paragraphs[0]", "missing 'context'"),
        ("surrogate in context", "data[1].paragraphs[0]", "'context' holds an unpaired surrogate escape (\\ud800-\\udfff), which is not text"),
        ("paragraph a list", "data[1].paragraphs[0]", "a paragraph must be an object, got a list"),
        ("no paragraphs", "data[1]", "missing 'paragraphs'"),
        ("title a list", "data[1]", "'title' must be a string, got a list"),
        ("article null", "data[1]", "an article must be an object, got null"),
    ],
)
def test_the_wrong_item_is_named(change: str, where: str, what: str, tmp_path: Path) -> None:
    assert squad_problems(broken(change))[0] == f"{where}: {what}"
    path = write(tmp_path, broken(change))
    with pytest.raises(InputError) as raised:
        load_squad(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: {where}: {what}") and "\n" not in message


def test_every_problem_is_counted_and_the_first_named(tmp_path: Path) -> None:
    document = squad("a", "b", "c")
    for doc in document["data"][1:]:
        doc["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 0
    problems = squad_problems(document)
    assert [p.split(":")[0] for p in problems] == ["data[1].paragraphs[0].qas[0].answers[0]", "data[2].paragraphs[0].qas[0].answers[0]"]
    with pytest.raises(InputError, match=r"data\[1\]\.paragraphs\[0\]\.qas\[0\]\.answers\[0\]: .* \(and 1 more problem\)$"):
        load_squad(write(tmp_path, document))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("[1, 2]", "the top level must be an object with a 'data' list, got a list"),
        ('{"version": "1.1"}', "the top level must be an object with a 'data' list, got an object without a 'data' list"),
        ('{"data": [', "not valid JSON (Expecting value at line 1 column 11)"),
        ('{"data": []}', "data: the file holds no questions"),
    ],
)
def test_a_file_that_is_not_squad_says_why(content: str, reason: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as raised:
        load_squad(path)
    assert reason in str(raised.value)


def test_a_file_not_utf8_or_missing_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cp1256.json"
    path.write_bytes(json.dumps(squad("عنوان"), ensure_ascii=False).encode("cp1256"))
    with pytest.raises(InputError, match="is not a SQuAD-format JSON file: it is not UTF-8 text"):
        load_squad(path)
    with pytest.raises(InputError, match="is not a SQuAD-format JSON file: cannot read it"):
        load_squad(tmp_path / "none.json")


def test_ids_do_not_need_unique_titles(tmp_path: Path) -> None:
    document = squad("Paris", "Paris", "Paris (2)", "Paris")
    document["data"][0]["paragraphs"].append(copy.deepcopy(document["data"][0]["paragraphs"][0]))
    articles, questions = load_squad(write(tmp_path, document))
    assert [a.id for a in articles] == [
        "squad:Paris:0", "squad:Paris:1", "squad:Paris (2):0", "squad:Paris (2) (2):0", "squad:Paris (3):0",
    ]
    assert [a.title for a in articles] == ["Paris", "Paris", "Paris", "Paris (2)", "Paris"]
    assert [q.article_id for q in questions] == [a.id for a in articles]
    assert all(q.answers == ("الخميس",) for q in questions)


def test_a_missing_title_is_an_empty_one(tmp_path: Path) -> None:
    document = squad("a", "b")
    for doc in document["data"]:
        del doc["title"]
    articles, _ = load_squad(write(tmp_path, document))
    assert [a.id for a in articles] == ["squad::0", "squad: (2):0"] and {a.title for a in articles} == {""}


def test_the_shared_sets_are_valid(xquad: Path, kaiflematha: Path) -> None:
    for path in (xquad, xquad.with_name("xquad.en-questions.dev.json"), kaiflematha):
        articles, questions = load_squad(path)
        assert len({a.id for a in articles}) == len(articles) and questions


def hit(article_id: str, *copies: str) -> Hit:
    carriers = tuple(Carrier(article_id=a, passage_id=f"{a}#0", title=a) for a in (article_id, *copies))
    return Hit(passage_id=f"{article_id}#0", article_id=article_id, ordinal=0, text="نص", score=1.0, start=0, end=2,
               title=article_id, origin=article_id, carriers=carriers)


@pytest.mark.parametrize(
    ("hits", "rank"),
    [
        ([hit("a"), hit("b")], (2, False)),
        ([hit("a"), hit("a"), hit("b")], (2, False)),
        ([hit("a", "b"), hit("b")], (1, True)),
        ([hit("c"), hit("a", "x", "b")], (2, True)),
        ([hit("a"), hit("c")], (None, False)),
        ([], (None, False)),
    ],
)
def test_rank_of_counts_a_copy_among_the_carriers(hits: list[Hit], rank: tuple[int | None, bool]) -> None:
    assert rank_of("b", hits) == rank


@pytest.mark.parametrize(
    ("prediction", "gold", "exact", "f1"),
    [
        ("130", "130", True, 1.0),
        ("١٣٠ شخصاً", "130 شخصا", True, 1.0),
        ("الولايات المتحدة.", "ولايات المتحدة", True, 1.0),
        ("في عام 1990", "عام 1990", False, 0.8),
        ("The Panthers", "Panthers", True, 1.0),
        ("l'Assemblée nationale", "Assemblée nationale", True, 1.0),
        ("يوم الخميس", "الجمعة", False, 0.0),
        ("", "", True, 1.0),
        ("؟!", "130", False, 0.0),
    ],
)
def test_exact_match_and_token_f1_after_arabic_normalization(prediction: str, gold: str, exact: bool, f1: float) -> None:
    assert exact_match(prediction, gold) is exact
    assert token_f1(prediction, gold) == pytest.approx(f1)
    assert token_f1(gold, prediction) == pytest.approx(f1)


def test_answer_tokens_keep_words_that_only_look_like_an_article() -> None:
    assert answer_tokens("إلى الآن، والى") == ["الي", "ان", "والي"]
