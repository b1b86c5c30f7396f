"""The answer layer's base: what an answerer is, the messages an answer may say instead, and the one `Citation` builder.

Every answerer (`qa.extractive`, `qa.llm`) imports from here; `qa.answer` (the registry and `ask`) sits above them all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from qa.records import Answer, Citation, Hit, Turn

if TYPE_CHECKING:
    from qa.embed import Embedded

__all__ = ["ABSTENTION", "NO_WORDS", "Answerer", "AnswererFactory", "Encoder", "cite", "is_wordless", "wordless_answer"]

ABSTENTION = {
    "ar": "لا تذكر المقالات المتاحة إجابة عن هذا السؤال. هذه أقرب المقاطع إليه:",
    "en": "The articles available do not answer this question. These are the nearest passages:",
    "fr": "Les articles disponibles ne répondent pas à cette question. Voici les passages les plus proches :",
}
# The abstention for a question with no word to look for (markup, punctuation or symbols only).
NO_WORDS = {
    "ar": "لا يحمل السؤال كلمة يُبحث عنها، فلا إجابة له في المقالات.",
    "en": "The question holds no word to look for, so the articles cannot answer it.",
    "fr": "La question ne contient aucun mot à chercher : les articles ne peuvent pas y répondre.",
}
# Markup: a script or style element with its content, then any tag or comment.
_MARKUP = re.compile(r"<(script|style)\b.*?(?:</\1\s*>|$)|<!--.*?(?:-->|$)|</?[A-Za-z][^>]*>", re.IGNORECASE | re.DOTALL)
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")


def is_wordless(question: str) -> bool:
    """Whether `question` holds no letter or digit once markup is set aside (`<script>alert(1)</script>`, `؟؟؟`, `<b></b>`)."""
    return not _LETTER_OR_DIGIT.search(_MARKUP.sub(" ", question))



def wordless_answer(question: str, language: str) -> Answer:
    return Answer(
        question=question, text=NO_WORDS.get(language, NO_WORDS["en"]), citations=(), hits=(), abstained=True,
        language=language, search_query=question,
    )



@runtime_checkable
class Answerer(Protocol):
    """Composes a cited answer to a question from passages already retrieved.

    An implementation reads only `hits` (never the index), so a generative
    answerer can replace the extractive one without touching retrieval or the UI.
    `history` holds the earlier turns (the question is already resolved against them,
    for retrieval); an answerer that writes its own words may read them. An answerer
    may also offer `stream(question, hits, *, language, history)`, yielding its text
    piece by piece and then the `Answer` (see `ask_stream`).
    See `qa.answer.answerer_factory` for how a new one is registered.
    """

    def answer(self, question: str, hits: Sequence[Hit], *, language: str, history: Sequence[Turn] = ()) -> Answer: ...


class Encoder(Protocol):
    """What the extractive answerer needs of an `Embedder`: unit-length query and passage vectors,
    and with them their words' token vectors (`Embedder.encode_tokens`)."""

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_tokens(self, texts: Sequence[str], *, query: bool) -> Embedded: ...


AnswererFactory = Callable[[Encoder], Answerer]


def cite(number: int, hit: Hit, start: int, end: int, score: float) -> Citation:
    """The citation `[number]` of `hit.text[start:end]` (offsets within the passage), located in its article."""
    return Citation(
        number=number, sentence=hit.text[start:end], start=hit.start + start, end=hit.start + end,
        passage_id=hit.passage_id, passage_text=hit.text, passage_start=hit.start, passage_end=hit.end,
        article_id=hit.article_id, title=hit.title, origin=hit.origin, score=score,
        site=hit.site, agency=hit.agency, published=hit.published, url=hit.url,
    )
