"""The LLM answerer: a grounded prompt, the answer streamed, each sentence verified, and extraction as the fallback."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from qa.answer_base import ABSTENTION, Answerer, Encoder, cite
from qa.extractive import ExtractiveAnswerer
from qa.errors import LLMError, SettingsError
from qa.llm.client import ChatClient, LLMConfig
from qa.llm.prompt import build_messages, parse_claims, says_no_answer
from qa.records import Answer, Citation, Hit, Removed, Turn
from qa.llm.verify import Verdict, Verifier

logger = logging.getLogger("qa.llm")

NOT_CONFIGURED = "no LLM server is configured (give --llm URL or set QA_LLM_URL)"


class LLMAnswerer:
    """Answers in the model's own words, in the question's language, keeping only the sentences the passages support.

    The model gets the top `passages` hits, numbered; every sentence it writes must end with
    the `[n]` of the passages that state it. `qa.llm.verify.Verifier` checks each sentence against
    the passages it cites; a sentence that fails is removed (listed in `Answer.removed`, with the
    reason), because a reader takes any sentence shown as an answer for a fact. Each kept
    sentence cites the span of its passage that supports it best. When the server fails, times
    out, returns nothing usable, or no sentence survives, the answer is the extractive one, with
    `Answer.note` saying why: a question never fails because of the model.

    Args:
        embedder: the retriever's embedder (verification and the extractive fallback use it).
        config: the chat server; None answers every question by the fallback, saying so.
        passages: how many of the top hits the model reads.
        max_sentences: the most sentences it is asked to write.
        verifier: default `Verifier(embedder)`.
        fallback: the answerer used when the model's answer cannot be; default the extractive one.
        client: default `ChatClient(config)`.
    """

    def __init__(self, embedder: Encoder, config: LLMConfig | None = None, *, passages: int = 4, max_sentences: int = 3,
                 verifier: Verifier | None = None, fallback: Answerer | None = None, client: ChatClient | None = None) -> None:
        if passages < 1 or max_sentences < 1:
            raise SettingsError(f"passages and max_sentences must be at least 1, got {passages} and {max_sentences}")
        self.config = config
        self.passages = passages
        self.max_sentences = max_sentences
        self.verifier = verifier or Verifier(embedder)
        self.fallback = fallback or ExtractiveAnswerer(embedder)
        self.client = client or (ChatClient(config) if config is not None else None)

    def __repr__(self) -> str:
        where = "unconfigured" if self.config is None else f"url={self.config.url!r}, model={self.config.model!r}"
        return f"LLMAnswerer({where}, passages={self.passages}, {self.verifier!r})"

    def answer(self, question: str, hits: Sequence[Hit], *, language: str, history: Sequence[Turn] = ()) -> Answer:
        """The verified answer (or the fallback); see `stream` for the same with the text as it is generated."""
        for event in self.stream(question, hits, language=language, history=history):
            if isinstance(event, Answer):
                return event
        raise AssertionError("stream() ends with an Answer")

    def stream(self, question: str, hits: Sequence[Hit], *, language: str, history: Sequence[Turn] = ()) -> Iterator[str | Answer]:
        """The model's text piece by piece (unverified, for display as it comes), then the verified `Answer`."""
        if self.client is None:
            yield self._fallback(question, hits, language, NOT_CONFIGURED)
            return
        if not hits:
            yield self._fallback(question, hits, language, "no passages were found to give the language model")
            return
        passages = list(hits[: self.passages])
        messages = build_messages(question, passages, language=language, history=history, max_sentences=self.max_sentences)
        pieces = []
        try:
            for piece in self.client.stream(messages):
                pieces.append(piece)
                yield piece
        except LLMError as exc:
            logger.warning("falling back to the extractive answer: %s", exc)
            yield self._fallback(question, hits, language, f"the language model failed: {exc}")
            return
        yield self.compose(question, "".join(pieces), hits, passages, language)

    def compose(self, question: str, generated: str, hits: Sequence[Hit], passages: Sequence[Hit], language: str) -> Answer:
        """The answer from the model's whole text: its sentences verified, the supported ones cited, or the fallback."""
        if not generated.strip():
            return self._fallback(question, hits, language, "the language model returned an empty answer")
        claims = parse_claims(generated)
        if says_no_answer(generated) and not any(c.cited for c in claims):
            return Answer(question=question, text=ABSTENTION.get(language, ABSTENTION["en"]), citations=(), hits=tuple(hits),
                          abstained=True, language=language, search_query=question, answerer="llm")
        if not claims:
            return self._fallback(question, hits, language, "the language model's answer has no sentence")
        verdicts = self.verifier.verify(claims, passages)
        removed = tuple(Removed(v.text, v.cited, round(v.support, 4), v.reason) for v in verdicts if not v.verified)
        kept = [v for v in verdicts if v.verified]
        if not kept:
            why = f"none of the {len(verdicts)} generated sentence(s) is supported by the passages it cites"
            return replace(self._fallback(question, hits, language, why), removed=removed)
        text, citations = _cite(kept, passages, self.verifier.threshold)
        note = f"{len(removed)} generated sentence(s) removed: the passages they cite do not support them" if removed else ""
        return Answer(question=question, text=text, citations=citations, hits=tuple(hits), abstained=False, language=language,
                      search_query=question, answerer="llm", note=note, removed=removed)

    def _fallback(self, question: str, hits: Sequence[Hit], language: str, why: str) -> Answer:
        return replace(self.fallback.answer(question, hits, language=language), answerer="extractive",
                       note=f"extractive answer: {why}")


def _cite(kept: Sequence[Verdict], passages: Sequence[Hit], threshold: float) -> tuple[str, tuple[Citation, ...]]:
    """The kept sentences with markers renumbered by first use, and a citation per sentence and supporting passage."""
    numbers: dict[int, int] = {}
    parts = []
    citations = []
    for verdict in kept:
        # Every cited passage that supports the sentence on its own; at least the best one.
        best = max(verdict.evidence, key=lambda e: e.similarity)
        evidence = [e for e in verdict.evidence if e.similarity >= threshold] or [best]
        markers = []
        for item in evidence:
            number = numbers.setdefault(item.number, len(numbers) + 1)
            markers.append(f"[{number}]")
            hit = passages[item.number - 1]
            citations.append(cite(number, hit, item.start, item.end, round(item.similarity, 4)))
        parts.append(f"{verdict.text} {''.join(markers)}")
    return " ".join(parts), tuple(citations)


def llm_answerer(config: LLMConfig, **options: object) -> Callable[[Encoder], LLMAnswerer]:
    """A factory for `qa.ask(..., answerer=...)`, `make_answerer` or the app: the LLM answerer over the retriever's embedder."""

    def build(embedder: Encoder) -> LLMAnswerer:
        return LLMAnswerer(embedder, config, **options)  # type: ignore[arg-type]

    return build

