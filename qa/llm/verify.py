"""Checks each sentence of a generated answer against the passages it cites: embedding support plus numbers and names."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from qa.embed import token_alignment
from qa.normalize import fold_digits
from qa.records import Hit
from qa.text import content_words, is_arabic, split_words
from qa.text.lexicon import NUMBER

if TYPE_CHECKING:
    from qa.answer_base import Encoder
    from qa.llm.prompt import Claim

# Fitted for multilingual-e5-small (int8) by `python -m benchmarks.bench_llm calibrate` on the calibration
# half of XQuAD-ar (Arabic and English claims; at most 5% of claims checked against another paragraph may
# survive), the three together: on the held-out half 2.2% of correct claims are removed and 3.7% of
# unsupported ones survive; English claims over Arabic passages, 4.3% and 8.9% (without the alignment
# floor: 10.3% and 24.6%, support 0.80 and coverage 0.55 fitted alone). The support threshold is the
# grid's lowest (0.70): coverage and alignment now separate the claims, the cosine barely adds.
SUPPORT_THRESHOLD = 0.70
MIN_COVERAGE = 0.5
# A claim in another script than its passages (English over Arabic) has no word to find in them:
# instead its tokens must align with a cited sentence's (each claim token's best cosine among the
# sentence's token vectors, averaged: `qa.embed.token_alignment`; the best sentence or pair of the
# cited passages).
MIN_ALIGNMENT = 0.77
# A claim's support is its best cosine with one sentence, or two adjacent ones (a claim may join them).
WINDOW_SENTENCES = 2

_LATIN_NAME = re.compile(r"\b[A-Z][\w'’-]*[a-z][\w'’-]*")
_NOT_NAMES = frozenset(
    "The A An And But In On At Of For To From By With He She It They We You I His Her Its Their This That These Those "
    "There Here When Where Who What Why How Yes No Le La Les Un Une Des Du Et Il Elle Ils Elles Ce Cette Ces Au Aux "
    "Mr Mrs Dr According However Also After Before During Then Thus Some Many".split()
)


@dataclass(frozen=True)
class Evidence:
    """The span of a cited passage that supports a claim best: `passage.text[start:end]`, passage `number` of the prompt."""

    number: int
    start: int
    end: int
    similarity: float


@dataclass(frozen=True)
class Verdict:
    """What the verifier found for one claim; `reason` says why it failed ("" when verified)."""

    text: str
    cited: tuple[int, ...]
    verified: bool
    support: float
    coverage: float | None
    reason: str
    evidence: tuple[Evidence, ...]
    alignment: float | None = None


@dataclass(frozen=True)
class _Unit:
    number: int
    start: int
    end: int
    text: str


class Verifier:
    """Decides, sentence by sentence, whether the cited passages support a generated answer.

    A claim is verified when it cites at least one passage it was given, and
    - its support, the best cosine between the claim (as a query) and a sentence or two
      adjacent sentences of its cited passages (as passages), is at least `threshold`:
      the multilingual model compares an English claim with Arabic passages as well;
    - every number it states appears in its cited passages (digits of any script);
    - every capitalized Latin name it states appears in them, when they are in Latin script;
    - when claim and passages share a script, at least `min_coverage` of its content words
      (stems) appear in them; when they do not, its tokens align with a sentence (or two) of
      the cited passages at least `min_alignment` (`qa.embed.token_alignment`).
    Sentences of a passage that address an AI model ("ignore your instructions") support nothing.

    Args:
        encoder: the retriever's embedder.
        threshold: the least support (default `SUPPORT_THRESHOLD`).
        min_coverage: the least same-script word coverage (default `MIN_COVERAGE`).
        min_alignment: the least cross-script token alignment (default `MIN_ALIGNMENT`).
    """

    def __init__(self, encoder: Encoder, *, threshold: float = SUPPORT_THRESHOLD, min_coverage: float = MIN_COVERAGE,
                 min_alignment: float = MIN_ALIGNMENT) -> None:
        self.encoder = encoder
        self.threshold = threshold
        self.min_coverage = min_coverage
        self.min_alignment = min_alignment

    def __repr__(self) -> str:
        return f"Verifier(threshold={self.threshold}, min_coverage={self.min_coverage}, min_alignment={self.min_alignment})"

    def verify(self, claims: Sequence[Claim], passages: Sequence[Hit]) -> list[Verdict]:
        """A verdict for each claim, in order; `passages[n - 1]` is the passage a claim's `[n]` cites."""
        from qa.chunk import answer_sentences
        from qa.llm.prompt import looks_like_instruction

        units: dict[int, list[_Unit]] = {}
        for number in sorted({n for c in claims for n in c.cited if 1 <= n <= len(passages)}):
            text = passages[number - 1].text
            spans = [s for s in answer_sentences(text) if not looks_like_instruction(text[s.start:s.end])]
            found = []
            for i in range(len(spans)):
                for j in range(i, min(i + WINDOW_SENTENCES, len(spans))):
                    # Two sentences only when adjacent in the text (no instruction removed between them).
                    found.append(_Unit(number, spans[i].start, spans[j].end, text[spans[i].start:spans[j].end]))
            units[number] = found
        flat = [u for number in units for u in units[number]]
        checked = [c for c in claims if any(n in units and units[n] for n in c.cited)]
        similarity = np.zeros((len(checked), len(flat)), dtype=np.float32)
        alignments: dict[int, np.ndarray] = {}
        if checked and flat:
            texts = list(dict.fromkeys(u.text for u in flat))
            row = {text: i for i, text in enumerate(texts)}
            # Claims in another script than the passages they cite are checked by token alignment too.
            across = [c for c in checked
                      if any(is_arabic(c.text) != is_arabic(passages[n - 1].text) for n in c.cited if n in units)]
            if across:
                embedded = self.encoder.encode_tokens(texts, query=False)
                unit_vectors, unit_tokens = embedded.vectors, embedded.tokens
                asked = self.encoder.encode_tokens([c.text for c in across], query=True).tokens
                for claim, tokens in zip(across, asked):
                    alignments[id(claim)] = np.array([token_alignment(tokens, unit_tokens[row[u.text]]) for u in flat])
            else:
                unit_vectors = self.encoder.encode_passages(texts)
            claim_vectors = self.encoder.encode_queries([c.text for c in checked])
            similarity = claim_vectors @ unit_vectors[[row[u.text] for u in flat]].T
        scores = {id(c): similarity[i] for i, c in enumerate(checked)}
        return [self._judge(claim, passages, units, flat, scores.get(id(claim)), alignments.get(id(claim)))
                for claim in claims]

    def _judge(self, claim: Claim, passages: Sequence[Hit], units: dict[int, list[_Unit]], flat: list[_Unit],
               scores: np.ndarray | None, alignments: np.ndarray | None = None) -> Verdict:
        cited = tuple(n for n in claim.cited if n in units)
        if not claim.cited:
            return Verdict(claim.text, claim.cited, False, 0.0, None, "cites no passage", ())
        if not cited or scores is None:
            return Verdict(claim.text, claim.cited, False, 0.0, None, "cites no passage it was given", ())
        evidence = []
        for number in cited:
            best = max((i for i, u in enumerate(flat) if u.number == number), key=lambda i: scores[i])
            unit = flat[best]
            evidence.append(Evidence(number, unit.start, unit.end, float(scores[best])))
        support = max(e.similarity for e in evidence)
        source = "\n".join(passages[n - 1].text for n in cited)
        coverage = word_coverage(claim.text, source)
        reason = ""
        missing_numbers = numbers_missing(claim.text, source)
        missing_names = names_missing(claim.text, source)
        if support < self.threshold:
            reason = f"support {support:.3f} is under {self.threshold:.3f}"
        elif missing_numbers:
            reason = f"the cited passages do not state {', '.join(missing_numbers)}"
        elif missing_names:
            reason = f"the cited passages do not name {', '.join(missing_names)}"
        elif coverage is not None and coverage < self.min_coverage:
            reason = f"only {coverage:.0%} of its words are in the cited passages"
        alignment = None
        if alignments is not None:
            alignment = float(max(alignments[i] for i, u in enumerate(flat) if u.number in cited))
            if not reason and alignment < self.min_alignment:
                reason = f"its words align with the cited passages at {alignment:.3f}, under {self.min_alignment:.3f}"
        return Verdict(claim.text, claim.cited, not reason, support, coverage, reason, tuple(evidence), alignment)


def _numbers(text: str) -> list[str]:
    return [n.replace(",", "").replace("٬", "").replace("٫", ".") for n in NUMBER.findall(fold_digits(text))]


def numbers_missing(claim: str, source: str) -> list[str]:
    """The numbers `claim` states that `source` does not (thousands separators and digit scripts aside)."""
    present = set(_numbers(source))
    return [n for n in dict.fromkeys(_numbers(claim)) if n not in present]


def names_missing(claim: str, source: str) -> list[str]:
    """Capitalized Latin words of `claim` (past its first word) that a Latin-script `source` lacks."""
    if is_arabic(source):
        return []
    folded = source.casefold()
    words = _LATIN_NAME.findall(claim)[1:] if claim[:1].isupper() else _LATIN_NAME.findall(claim)
    return [w for w in dict.fromkeys(words) if w not in _NOT_NAMES and w.casefold() not in folded]


def word_coverage(claim: str, source: str) -> float | None:
    """The share of `claim`'s content words whose stems `source` has, or None when they are in different scripts."""
    if is_arabic(claim) != is_arabic(source):
        return None
    wanted = content_words(split_words(claim))
    if not wanted:
        return None
    present = frozenset().union(*(w.keys for w in split_words(source)))
    return sum(1 for w in wanted if w.keys & present) / len(wanted)
