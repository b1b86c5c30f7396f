"""From the reader's token logits to an answer phrase: the best span, its characters, and how it is graded."""

from __future__ import annotations

import numpy as np

from qa.normalize import normalize

__all__ = ["MAX_SPAN_TOKENS", "best_span", "char_span", "f1"]

# The longest short answer, in tokens (AAQAD's answers: 95% within 12 tokens).
MAX_SPAN_TOKENS = 16


def best_span(start: np.ndarray, end: np.ndarray, limit: int = MAX_SPAN_TOKENS) -> tuple[int, int] | None:
    """The (first, last) token maximizing start[i] + end[j] with i <= j < i + limit; None for no token."""
    n = len(start)
    if n == 0:
        return None
    scores = start[:, None] + end[None, :]
    i, j = np.indices((n, n))
    scores = np.where((j >= i) & (j < i + limit), scores, -np.inf)
    flat = int(np.argmax(scores))
    return flat // n, flat % n


def span_probability(start: np.ndarray, end: np.ndarray, span: tuple[int, int]) -> float:
    """P(start) * P(end) of `span` under the softmax of each logit row."""
    ps = np.exp(start - start.max())
    pe = np.exp(end - end.max())
    return float(ps[span[0]] / ps.sum() * pe[span[1]] / pe.sum())


def char_span(text: str, offsets: np.ndarray, span: tuple[int, int]) -> tuple[int, int]:
    """The characters of a token span in `text`, its last word completed (a token may end mid-word)."""
    start, end = int(offsets[span[0]][0]), int(offsets[span[1]][1])
    while end < len(text) and text[end].isalnum():
        end += 1
    while start < end and not text[start].isalnum():
        start += 1
    return start, end


def f1(prediction: str, gold: str) -> float:
    """Token F1 of two phrases after normalization (as SQuAD grades, on our Arabic normalization)."""
    a, b = normalize(prediction).split(), normalize(gold).split()
    if not a or not b:
        return float(a == b)
    common = 0
    rest = list(b)
    for token in a:
        if token in rest:
            rest.remove(token)
            common += 1
    if common == 0:
        return 0.0
    precision, recall = common / len(a), common / len(b)
    return 2 * precision * recall / (precision + recall)
