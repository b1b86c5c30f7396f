"""Reader examples from SQuAD-form files: each question with its paragraph's sentences, the gold one and the answer's tokens."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.chunk import answer_sentences
from qa.text import split_words

__all__ = ["Encoded", "Item", "Source", "encode_source", "load_items", "split_of", "token_span"]

# A sentence shorter than this is no candidate (as `qa.extractive.MIN_WORDS`).
MIN_WORDS = 3


@dataclass(frozen=True)
class Item:
    """One question over one paragraph: its candidate sentences (text spans) and, if answerable, the gold one."""

    question: str
    paragraph: int
    sentences: tuple[tuple[int, int], ...]
    gold: int | None
    answer: tuple[int, int] | None  # the answer's character span in the gold sentence
    answer_text: str
    split: str


@dataclass(frozen=True)
class Source:
    """A SQuAD-form file read into paragraphs and items."""

    name: str
    paragraphs: list[str]
    items: list[Item]


@dataclass(frozen=True)
class Encoded:
    """Token vectors of a source's sentences and questions (float16, concatenated), with where each starts."""

    sentence_tokens: np.ndarray
    sentence_index: np.ndarray  # (n + 1,) row where each sentence's tokens start
    sentence_offsets: np.ndarray  # (rows, 2) character spans inside each sentence
    sentence_vectors: np.ndarray
    question_tokens: np.ndarray
    question_index: np.ndarray
    question_vectors: np.ndarray

    def sentence(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.sentence_index[i], self.sentence_index[i + 1]
        return self.sentence_tokens[a:b], self.sentence_offsets[a:b]

    def question(self, i: int) -> np.ndarray:
        return self.question_tokens[self.question_index[i]: self.question_index[i + 1]]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, value in self.__dict__.items():
            np.save(folder / f"{name}.npy", value, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> Encoded:
        return cls(**{name: np.load(folder / f"{name}.npy", allow_pickle=False) for name in cls.__dataclass_fields__})


def split_of(key: str, held_out: float = 0.1) -> str:
    """"train" or "held-out" for a paragraph, by a hash of its text: stable across runs and machines."""
    value = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "held-out" if value < held_out else "train"


def load_items(path: Path, name: str) -> Source:
    """Every question of a SQuAD 1.1/2.0 file; an answer that does not lie inside one sentence is dropped (its question kept unanswered only if the file says it is impossible)."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    paragraphs: list[str] = []
    sentence_spans: list[tuple[tuple[int, int], ...]] = []
    items: list[Item] = []
    for article in document["data"]:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            spans = tuple((s.start, s.end) for s in answer_sentences(context)
                          if len(split_words(context[s.start:s.end])) >= MIN_WORDS)
            if not spans:
                continue
            index = len(paragraphs)
            paragraphs.append(context)
            sentence_spans.append(spans)
            split = split_of(context)
            for qa_ in paragraph["qas"]:
                if qa_.get("is_impossible"):
                    items.append(Item(qa_["question"], index, spans, None, None, "", split))
                    continue
                answer = qa_["answers"][0]
                start = int(answer["answer_start"])
                end = start + len(answer["text"])
                if context[start:end] != answer["text"]:
                    found = context.find(answer["text"])
                    if found < 0:
                        continue
                    start, end = found, found + len(answer["text"])
                gold = next((i for i, (a, b) in enumerate(spans) if a <= start and end <= b), None)
                if gold is None:
                    continue
                a = spans[gold][0]
                items.append(Item(qa_["question"], index, spans, gold, (start - a, end - a), answer["text"], split))
    return Source(name, paragraphs, items)


def sentence_texts(source: Source) -> tuple[list[str], dict[tuple[int, int], int]]:
    """Each distinct sentence of the source once, and where (paragraph, sentence) finds it."""
    texts: list[str] = []
    where: dict[tuple[int, int], int] = {}
    done: set[int] = set()
    for item in source.items:
        if item.paragraph in done:
            continue
        done.add(item.paragraph)
        context = source.paragraphs[item.paragraph]
        for k, (a, b) in enumerate(item.sentences):
            where[(item.paragraph, k)] = len(texts)
            texts.append(context[a:b])
    return texts, where


def encode_source(source: Source, embedder: object, *, log: object = print) -> Encoded:
    """Run the frozen encoder once over a source's sentences (passage prompt) and questions (query prompt)."""
    texts, _ = sentence_texts(source)
    questions = [item.question for item in source.items]
    sentence = _encode(embedder, texts, query=False, log=log, what=f"{source.name} sentences")
    question = _encode(embedder, questions, query=True, log=log, what=f"{source.name} questions")
    return Encoded(sentence[0], sentence[1], sentence[2], sentence[3], question[0], question[1], question[3])


def _encode(embedder: object, texts: list[str], *, query: bool, log: object, what: str) -> tuple[np.ndarray, ...]:
    tokens, offsets, vectors, index = [], [], [], [0]
    step = 256
    for begin in range(0, len(texts), step):
        embedded = embedder.encode_tokens(texts[begin: begin + step], query=query)  # type: ignore[attr-defined]
        for t, o in zip(embedded.tokens, embedded.offsets):
            tokens.append(t.astype(np.float16))
            offsets.append(o.astype(np.int32))
            index.append(index[-1] + len(t))
        vectors.append(embedded.vectors.astype(np.float16))
        if begin // step % 10 == 0:
            log(f"encoded {what}: {min(begin + step, len(texts))}/{len(texts)}")  # type: ignore[operator]
    return (np.concatenate(tokens), np.asarray(index, dtype=np.int64), np.concatenate(offsets), np.concatenate(vectors))


def token_span(offsets: np.ndarray, start: int, end: int) -> tuple[int, int] | None:
    """The first and last token of a character span (tokens as `offsets` locate them), or None when none overlaps."""
    inside = np.nonzero((offsets[:, 1] > start) & (offsets[:, 0] < end))[0]
    if not len(inside):
        return None
    return int(inside[0]), int(inside[-1])
