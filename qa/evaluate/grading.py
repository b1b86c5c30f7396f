"""Grading an answer against gold answers: the halves of a dev set, containment, SQuAD exact match and token F1."""

from __future__ import annotations

import hashlib
import re
from collections import Counter

from qa.normalize import normalize

SPLITS = ("all", "calibration", "held-out")
_PUNCTUATION = re.compile(r"[^\w\s]")


def split_of(article_id: str) -> str:
    """The half a paragraph's questions belong to: "calibration" or "held-out", by a hash of its id."""
    return "calibration" if hashlib.sha1(article_id.encode("utf-8")).digest()[-1] % 2 == 0 else "held-out"


def answer_contains(answer: str, gold: str) -> bool:
    """Whether `gold` appears in `answer` once both are normalized, punctuation and spacing aside."""
    wanted = _match_form(gold)
    return bool(wanted) and wanted in _match_form(answer)


def _match_form(text: str) -> str:
    return " ".join(_PUNCTUATION.sub(" ", normalize(text)).split())


# Articles, as SQuAD's scorer drops "a", "an", "the": English, French, and Arabic's prefix "ال".
_ARTICLES = frozenset({"a", "an", "the", "le", "la", "les", "l", "un", "une", "des"})
_ARABIC_ARTICLE = "\u0627\u0644"
RIGHT_F1 = 0.5


def answer_tokens(text: str) -> list[str]:
    """The tokens exact match and F1 compare: normalized (`qa.normalize`), punctuation and articles dropped."""
    tokens = []
    for token in _PUNCTUATION.sub(" ", normalize(text)).split():
        if token in _ARTICLES:
            continue
        # Only where a stem remains: "الى" is a word, not an article and "ى".
        tokens.append(token[2:] if token.startswith(_ARABIC_ARTICLE) and len(token) > 3 else token)
    return tokens


def exact_match(prediction: str, gold: str) -> bool:
    """Whether the two answers are the same tokens (`answer_tokens`), as SQuAD's exact match after Arabic normalization."""
    return answer_tokens(prediction) == answer_tokens(gold)


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD's token F1 of a predicted answer against a gold one, over `answer_tokens`; 1.0 when both are empty."""
    predicted, wanted = answer_tokens(prediction), answer_tokens(gold)
    if not predicted or not wanted:
        return float(predicted == wanted)
    same = sum((Counter(predicted) & Counter(wanted)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(wanted)
    return 2 * precision * recall / (precision + recall)
