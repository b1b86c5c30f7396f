"""SQuAD-format data in: articles and questions, every problem of a file named (`qa eval`'s input)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from qa.errors import InputError
from qa.records import Article


@dataclass(frozen=True)
class Question:
    text: str
    article_id: str
    answers: tuple[str, ...]


def load_squad(path: str | Path) -> tuple[list[Article], list[Question]]:
    """Each paragraph of a SQuAD v1.1 file becomes an article; each question names its paragraph.

    The whole file is checked first (`squad_problems`), so a bad item is named
    before any model loads. A paragraph's id is `squad:TITLE:N` (N its place in
    its article); an article whose title an earlier one already has gets
    `squad:TITLE (2):N`, and so on, so titles need not be unique and ids (and
    `split_of`'s halves) stay what they were for files whose titles are.

    Raises:
        InputError: the file cannot be read, is not SQuAD v1.1 JSON, or an item of it is wrong
            (the message names the first, as `data[3].paragraphs[2].qas[0].answers[0]`).
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path} is not a SQuAD-format JSON file: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a SQuAD-format JSON file: it is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not a SQuAD-format JSON file: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except (RecursionError, ValueError):
        raise InputError(f"{path} is not a SQuAD-format JSON file: JSON nested too deeply or a number too long to read") from None
    problems = squad_problems(document)
    if problems:
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        if problems[0].startswith("the top level"):
            raise InputError(f"{path} is not a SQuAD-format JSON file: {problems[0]}")
        raise InputError(f"{path}: {problems[0]}{more}")
    articles: list[Article] = []
    questions: list[Question] = []
    used: set[str] = set()
    for doc in document["data"]:
        title = doc.get("title", "")
        key, copy = title, 1
        while key in used:
            copy += 1
            key = f"{title} ({copy})"
        used.add(key)
        for number, paragraph in enumerate(doc["paragraphs"]):
            article_id = f"squad:{key}:{number}"
            articles.append(Article(id=article_id, title=title, text=paragraph["context"], origin=f"{path}#{article_id}"))
            for item in paragraph["qas"]:
                questions.append(Question(text=item["question"], article_id=article_id, answers=tuple(a["text"] for a in item["answers"])))
    return articles, questions


_SURROGATE = re.compile("[\ud800-\udfff]")


def squad_problems(document: object) -> list[str]:
    """What is wrong in a parsed SQuAD v1.1 document, each problem as `WHERE: WHAT`, in file order; [] if nothing.

    Checked: a `data` list of articles, each with an optional string `title` and a
    `paragraphs` list; each paragraph with a non-blank string `context` and a `qas`
    list; each question with a non-blank string `question` and a non-empty
    `answers` list; each answer with a non-empty string `text` and an integer
    `answer_start` where the context holds that text. A file without a question is a problem too.
    """
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        found = _kind(document) if not isinstance(document, dict) else "an object without a 'data' list"
        return [f"the top level must be an object with a 'data' list, got {found}"]
    problems: list[str] = []
    questions = 0

    def text_problem(value: object, what: str, *, blank_ok: bool = False) -> str | None:
        if value is None:
            return f"missing {what}"
        if not isinstance(value, str):
            return f"{what} must be a string, got {_kind(value)}"
        if not blank_ok and not value.strip():
            return f"{what} is empty"
        if _SURROGATE.search(value):
            return f"{what} holds an unpaired surrogate escape (\\ud800-\\udfff), which is not text"
        return None

    def list_problem(container: dict[str, object], key: str, where: str) -> list[object] | None:
        value = container.get(key)
        if not isinstance(value, list):
            problems.append(f"{where}: {'missing ' + repr(key) if value is None else f'{key!r} must be a list, got {_kind(value)}'}")
            return None
        return value

    for i, doc in enumerate(document["data"]):
        where = f"data[{i}]"
        if not isinstance(doc, dict):
            problems.append(f"{where}: an article must be an object, got {_kind(doc)}")
            continue
        if "title" in doc and (problem := text_problem(doc["title"], "'title'", blank_ok=True)):
            problems.append(f"{where}: {problem}")
        paragraphs = list_problem(doc, "paragraphs", where)
        for j, paragraph in enumerate(paragraphs or []):
            where = f"data[{i}].paragraphs[{j}]"
            if not isinstance(paragraph, dict):
                problems.append(f"{where}: a paragraph must be an object, got {_kind(paragraph)}")
                continue
            context = paragraph.get("context")
            if problem := text_problem(context, "'context'"):
                problems.append(f"{where}: {problem}")
                context = None
            for k, item in enumerate(list_problem(paragraph, "qas", where) or []):
                where = f"data[{i}].paragraphs[{j}].qas[{k}]"
                if not isinstance(item, dict):
                    problems.append(f"{where}: a question must be an object, got {_kind(item)}")
                    continue
                questions += 1
                if problem := text_problem(item.get("question"), "'question'"):
                    problems.append(f"{where}: {problem}")
                answers = list_problem(item, "answers", where)
                if answers == []:
                    problems.append(f"{where}: 'answers' is empty (SQuAD v2.0 unanswerable questions are not supported)")
                for m, answer in enumerate(answers or []):
                    if problem := _answer_problem(answer, context):
                        problems.append(f"{where}.answers[{m}]: {problem}")
    if not problems and not questions:
        problems.append("data: the file holds no questions")
    return problems


def _answer_problem(answer: object, context: str | None) -> str | None:
    if not isinstance(answer, dict):
        return f"an answer must be an object, got {_kind(answer)}"
    text, start = answer.get("text"), answer.get("answer_start")
    if text is None:
        return "missing 'text'"
    if not isinstance(text, str):
        return f"'text' must be a string, got {_kind(text)}"
    if not text.strip():
        return "'text' is empty"
    if start is None:
        return "missing 'answer_start'"
    if type(start) is not int:
        return f"'answer_start' must be an integer, got {_kind(start)}"
    if context is None:
        return None
    if start < 0:
        return f"answer_start {start} is negative"
    if start + len(text) > len(context):
        return (
            f"answer_start {start} is out of range: the text ({len(text)} characters) would end at {start + len(text)}, "
            f"past the end of the context ({len(context)} characters)"
        )
    if context[start:start + len(text)] != text:
        elsewhere = context.find(text)
        return (
            f"text {_clip_repr(text)} is not at answer_start {start} (the context has {_clip_repr(context[start:start + len(text)])} there"
            + (f"; the text is at {elsewhere})" if elsewhere >= 0 else "; the text is nowhere in the context)")
        )
    return None


def _kind(value: object) -> str:
    """A JSON value's kind as a message names it."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    return {dict: "an object", list: "a list", str: "a string"}.get(type(value), type(value).__name__)


def _clip_repr(text: str, limit: int = 40) -> str:
    """The text quoted on one line (newlines escaped), clipped."""
    return repr(text if len(text) <= limit else text[:limit] + "…")
