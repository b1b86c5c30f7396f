"""Cited answers: the answerer registry and `ask`, the top of the answer layer.

The answerers live below it (`qa.extractive`, `qa.llm`), on the base they share (`qa.answer_base`).
The names most callers need are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from importlib import import_module
from typing import TYPE_CHECKING, Any

from qa.answer_base import ABSTENTION, NO_WORDS, Answerer, AnswererFactory, Encoder, is_wordless, wordless_answer
from qa.chunk import answer_sentences
from qa.config import ANSWERERS, Settings, check_choice
from qa.extractive import FIGURES_LEAD, SHORT_SEPARATOR, ExtractiveAnswerer
from qa.records import Answer, Turn
from qa.retrieve import check_question
from qa.text import detect_language, resolve_followup

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


def ask(
    question: str,
    retriever: Retriever,
    *,
    history: Sequence[Turn] = (),
    k: int | None = None,
    answerer: str | Answerer | AnswererFactory | None = None,
    **search_options: Any,
) -> Answer:
    """Answer a question from the index, every sentence cited, or say the articles do not.

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
        **search_options: passed to `retriever.search` (`mode`, `filters`, ...).

    Returns:
        The answer; `search_query` is what was retrieved with, `question` the question as asked.

    Raises:
        QueryError: the question, `k` or a search option is not acceptable.
        SettingsError: `answerer` names no registered answerer.
    """
    for event in ask_stream(question, retriever, history=history, k=k, answerer=answerer, stream=False, **search_options):
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
    stream: bool = True,
    **search_options: Any,
) -> Iterator[str | Answer]:
    """`ask`, with the answer's text piece by piece as an answerer that streams writes it, then the `Answer`.

    The pieces are the generator's raw text, before verification: show them as
    work in progress and replace them with the `Answer`, the only thing checked.
    An answerer without `stream` yields its `Answer` alone. Arguments and errors as `ask`.
    """
    question = check_question(question)
    chosen = make_answerer(answerer, retriever.embedder)
    if is_wordless(question):
        # Nothing to search for: any passage found would be unrelated.
        yield wordless_answer(question, detect_language(question))
        return
    query = resolve_followup(question, history)
    hits = retriever.search(query, k, **search_options)
    language = detect_language(question)
    streaming = getattr(chosen, "stream", None) if stream else None
    events = streaming(query, hits, language=language, history=history) if streaming else [chosen.answer(query, hits, language=language, history=history)]
    for event in events:
        yield replace(event, question=question, search_query=query) if isinstance(event, Answer) else event
