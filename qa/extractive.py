"""The extractive answerer: the sentences of the retrieved passages that answer a question, copied as written, each cited.

Over 500 lines: one answerer, its candidates, scores and composition read one another's state; split, each half would need the other.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from qa.answer_base import ABSTENTION, Encoder, cite, is_wordless, wordless_answer
from qa.chunk import answer_sentences
from qa.embed import token_alignment
from qa.errors import SettingsError
from qa.figures import Reading, disagree, read_figure, site_readings
from qa.reader import (
    Reader,
    best_span,
    char_span,
    load_reader,
    load_scorer,
    sentence_features,
    span_probability,
)
from qa.records import Answer, Citation, Figure, Hit, Short, Turn
from qa.short import short_phrase
from qa.text import (
    MATCH_STOPWORDS,
    Word,
    content_words,
    is_arabic,
    question_type,
    script_of,
    split_words,
)
from qa.text.answer_date import answer_date
from qa.text.dates import LANGUAGES as DATE_LANGUAGES
from qa.text.dates import published_day
from qa.text.lexicon import (
    CARDINALS,
    DAYS,
    MONTHS,
    PERSON_TITLES,
    PLACE_NOUNS,
    TIME_WORDS,
    words,
)

__all__ = ["FIGURES_LEAD", "SHORT_SEPARATOR", "ExtractiveAnswerer", "shipped_reader"]


# A date word wherever it stands (short answers count a month only beside a number, so they
# may list "may" and "آب", which are also an English verb and an Arabic word here); the expected-type
# feature also takes a weekday without its article and words that hint at a number or a person.
_MONTHS = MONTHS - words("may آب")
_DAYS = DAYS | words("أحد اثنين ثلاثاء أربعاء خميس جمعة سبت")
_NUMBER_WORDS = CARDINALS | words("واحد واحدة ضعف أضعاف بالمئة بالمائة one half percent moitié pourcent")
_PERSON_WORDS = PERSON_TITLES | words("العالم بن ابن أبو m")
_YEAR_OR_DECADE = re.compile(r"^(?:1[0-9]{3}|20[0-9]{2}|[0-9]{2,4}s|\w+ينيات|\w+ينات)$")


def _is_kind(word: Word, kind: str, *, sentence_start: bool) -> bool:
    if kind == "time":
        return bool(_YEAR_OR_DECADE.match(word.plain)) or bool(word.keys & (_MONTHS | _DAYS | TIME_WORDS))
    if kind == "number":
        return any(ch.isdigit() for ch in word.plain) or bool(word.keys & _NUMBER_WORDS)
    if kind == "person":
        return bool(word.keys & _PERSON_WORDS) or (word.raw[:1].isupper() and not sentence_start)
    if kind == "place":
        return bool(word.keys & PLACE_NOUNS) or (word.raw[:1].isupper() and not sentence_start)
    return False


# The hand-set scores. OVERLAP_WEIGHT and EXPECTED_WEIGHT are set by hand: chosen from sweeps
# on the calibration half of XQuAD-ar (paragraphs split by a hash of their id) for
# multilingual-e5-small, whose cosines between related texts lie around 0.75-0.95, and checked
# on the other half; no script refits them (the trained reader, `qa.reader`, is what learns
# weights). MIN_SUPPORT is fitted by code: `qa.evaluate.calibrate_abstention`'s threshold, refitted for the int8 engine (the default on
# CPUs without AMX) with 5 sentences embedded per answer: 2.4% of answerable calibration
# questions fall under it (held-out: 4.7%), and 60% of those whose paragraph is not in the
# index (held-out: 64%). Rerun it for another model or other data.
OVERLAP_WEIGHT = 0.2
EXPECTED_WEIGHT = 0.03
MIN_SUPPORT = 0.867
# A question in another script than the sentence (English or French over Arabic) shares no
# word with it but numbers (the overlap counts those), and across scripts a sentence's cosine
# is weaker evidence than its passage's: the two are averaged, the passage weighing
# PASSAGE_WEIGHT_CROSS_SCRIPT. Such scores have their own threshold, MIN_SUPPORT_CROSS_SCRIPT,
# fitted as MIN_SUPPORT was but on the English questions of xquad.en-questions.dev.json
# (calibration half, Arabic paragraphs; `calibrate_abstention(..., cross_script=True)`):
# 2.3% of answerable calibration questions fall under it (held-out: 3.9%), and 43% of those
# whose paragraph is not in the index (held-out: 33%; int8, as MIN_SUPPORT, with
# SENTENCES_CROSS_SCRIPT sentences embedded and the alignment below). A cross-script
# score is moved by the gap between the answerer's two thresholds (`min_support` minus
# `min_support_cross_script`), so every sentence is ranked, and held to `min_support`, on one scale.
PASSAGE_WEIGHT_CROSS_SCRIPT = 1.0  # set by hand: the two cosines weigh alike
# Across scripts no question word can be found in a sentence, but the model's token vectors
# align a word with its translation: a cross-script sentence adds ALIGNMENT_WEIGHT times the
# mean, over the question's tokens, of each one's best cosine with the sentence's tokens (late
# interaction, as ColBERT scores; the token vectors come from the pass that embeds the
# sentence). Weighed as the cosine is (1.0). English dev questions, each weight with its own
# fitted threshold: answer-hit 0.756 without it, 0.779 at 0.5, 0.763 at 1.0, 0.736 at 2.0;
# the best sentence first 0.574, 0.635, 0.641, 0.647; median words 65, 58.5, 48, 38. Set by hand from that sweep.
ALIGNMENT_WEIGHT = 1.0
MIN_SUPPORT_CROSS_SCRIPT = 1.488
# Sentences embedded per answer: those of the top passages ranked by their passage's cosine,
# their overlap and expected type. Embedding them is most of an answer's time (int8, 2 cores,
# whole ANT index: `qa.ask` p50 196 ms embedding every sentence, 145 ms with 12). XQuAD-ar
# calibration half, answer-hit: every sentence 0.827, 12: 0.827, 6: 0.825, 5: 0.825, 4: 0.824
# (held-out: 0.808, 0.808, 0.806, 0.805, 0.803; all questions with 3: 0.808 against 0.818).
SENTENCES = 5
# Across scripts the prefilter has little to go on: no question word can be found in the
# sentences (numbers aside), so the sentences of one passage tie on their passage's cosine and
# the first few of the top passage would be the only ones embedded. Such questions embed more.
# English dev questions (xquad.en-questions.dev.json, all 632), answer-hit at the earlier
# threshold (0.760): 5 sentences 0.741, 8: 0.756, 10: 0.753, 15: 0.758, 20: 0.761, every
# sentence 0.760; with 20 and MIN_SUPPORT_CROSS_SCRIPT refitted: 0.756 (calibration 0.755,
# held-out 0.758). 20 is about four passages' sentences, where the gain levels off.
SENTENCES_CROSS_SCRIPT = 20
# Sentences whose token vectors an answerer keeps (~30 kB each).
TOKEN_CACHE = 1024
# With the reader (`qa.reader`, the default), a sentence's score is the probability that it holds the
# answer, from its reader logit and its retrieval evidence (`qa.reader.Scorer`); the weights and
# READER_MIN_SUPPORT, READER_MARGIN and READER_SHORT_MIN are fitted by `benchmarks/reader_dev.py --fit
# --write` on the calibration halves of the dev sets and read from qa/reader/scorer.json (docs/reader.md).
SCORER = load_scorer()
READER_MIN_SUPPORT = SCORER.min_support
READER_MARGIN = SCORER.margin
READER_SHORT_MIN = SCORER.short_min
_SHORT_KINDS = {"time": "date", "number": "number", "person": "person", "place": "place"}
# The hand-set scores' margin (see `ExtractiveAnswerer`); set by hand.
HAND_MARGIN = 0.04
# A sentence shorter than this cannot answer (debris such as a lone quote or a source line); set by hand.
MIN_WORDS = 3
# A further sentence must bring this share of content words the answer does not have yet; set by hand.
NOVEL_SHARE = 0.3
# Another outlet's sentence is read for its figure when it scores within this of the best sentence; set by hand.
FIGURE_MARGIN = 0.08
# What opens the figures of outlets that disagree, by the question's language.
FIGURES_LEAD = {
    "ar": "تختلف الأرقام بين المصادر:",
    "en": "The sources give different figures:",
    "fr": "Les sources donnent des chiffres différents :",
}


@dataclass(frozen=True)
class _Candidate:
    """A sentence of a retrieved passage, located in its article, with what scores it."""

    hit: Hit
    start: int
    end: int
    text: str
    words: tuple[Word, ...]
    similarity: float
    overlap: float
    expected: bool
    cross_script: bool = False
    alignment: float = 0.0
    # The reader's logit that this sentence answers, and its answer phrase (a span of `text`) with
    # P(start) * P(end); None where no reader scored it.
    reader: float | None = None
    phrase: tuple[int, int] | None = None
    phrase_probability: float = 0.0
    # Added to a cross-script hand-set score to put it on the same-script scale: the answerer's
    # `min_support` minus its `min_support_cross_script`.
    shift: float = 0.0

    @property
    def features(self) -> tuple[float, ...]:
        """What the fitted scorer weighs, as `qa.reader.SCORER_FEATURES` names them."""
        return (self.reader or 0.0, self.similarity, self.overlap, float(self.expected), self.hit.similarity,
                float(self.cross_script), self.alignment)

    @property
    def score(self) -> float:
        if self.reader is not None:
            return SCORER.score(self.features)
        if not self.cross_script:
            return self.similarity + OVERLAP_WEIGHT * self.overlap + EXPECTED_WEIGHT * self.expected
        similarity = (self.similarity + PASSAGE_WEIGHT_CROSS_SCRIPT * self.hit.similarity) / (1 + PASSAGE_WEIGHT_CROSS_SCRIPT)
        support = similarity + OVERLAP_WEIGHT * self.overlap + EXPECTED_WEIGHT * self.expected + ALIGNMENT_WEIGHT * self.alignment
        return support + self.shift


class ExtractiveAnswerer:
    """Answers with sentences copied from the passages, so it cannot state what they do not say.

    The sentences of the top `passages` hits are ranked by their passage's cosine, the
    share of the question's words they contain and the expected type (a prefilter: only
    the first `sentences` of them, `sentences_cross_script` for a question in another script
    than theirs, are embedded). Each is scored by the cosine of question and sentence,
    plus `OVERLAP_WEIGHT` times the share of the question's content words it contains
    (each weighted by how few candidates have it), plus `EXPECTED_WEIGHT` if it holds what
    the question type asks for (a date for `متى`, a number for `كم`, ...), with short answers
    from `qa.short`'s rules. With `reader="shipped"` the trained reader (`qa.reader`, over the
    token vectors of the pass that embeds each sentence) scores them instead, through the
    fitted `qa.reader.Scorer`, and its best span is the short answer when it is sure of it.
    The best sentence opens the answer; the next best follow while they score
    within `margin` of it, bring new content words and keep the answer within
    `max_words`, up to `max_sentences`. When the best scores under
    `min_support`, the answerer abstains.

    Args:
        embedder: the retriever's embedder (`retriever.embedder`); loaded on first use.
        passages: how many of the top hits to read.
        max_sentences: the most sentences an answer holds.
        max_words: no sentence is added past this many words (the first always is).
        margin: how far under the best sentence's score another may be and still be added
            (None: `READER_MARGIN` with the reader, `HAND_MARGIN` without).
        min_support: the best sentence's score under which the answer abstains
            (None: `READER_MIN_SUPPORT` with the reader, `MIN_SUPPORT` without).
        min_support_cross_script: the same for the hand-set score of a sentence in another script
            than the question, on its own scale (None: `MIN_SUPPORT_CROSS_SCRIPT`, moved as far as
            `min_support` is from `MIN_SUPPORT`); such scores are shifted by the gap between the two.
        cache_size: sentence vectors kept, so passages asked about again are not re-embedded.
        sentences: how many sentences are embedded and scored, the most promising first
            (their passage's cosine, overlap and expected type); None scores every sentence.
        sentences_cross_script: the same for a question written in another script than the
            passages (English or French over Arabic), whose sentences the prefilter can hardly tell apart.
        reader: None (the default: the hand-set scores), "shipped" (the reader in the package, used
            when the embedder is the model it was trained over) or a `qa.reader.Reader`. The shipped
            reader is not the default: on XQuAD-ar it puts the answer in the first sentence for 0.683
            of the questions against the hand-set scores' 0.743, and shows a short answer for 9% of
            factoid questions against the rules' 61% (docs/reader.md).

    Raises:
        SettingsError: a setting is out of range.
    """

    def __init__(
        self,
        embedder: Encoder,
        *,
        passages: int = 5,
        max_sentences: int = 3,
        max_words: int = 80,
        margin: float | None = None,
        min_support: float | None = None,
        min_support_cross_script: float | None = None,
        cache_size: int = 8192,
        sentences: int | None = SENTENCES,
        sentences_cross_script: int | None = SENTENCES_CROSS_SCRIPT,
        reader: Reader | None | str = None,
    ) -> None:
        for name, value, floor in (("passages", passages, 1), ("max_sentences", max_sentences, 1),
                                   ("max_words", max_words, 1), ("margin", 0 if margin is None else margin, 0), ("cache_size", cache_size, 0),
                                   ("sentences", 1 if sentences is None else sentences, 1),
                                   ("sentences_cross_script", 1 if sentences_cross_script is None else sentences_cross_script, 1)):
            if value < floor:
                raise SettingsError(f"{name} must be at least {floor}, got {value}")
        self.embedder = embedder
        self.passages = passages
        self.max_sentences = max_sentences
        self.max_words = max_words
        if isinstance(reader, str) and reader != "shipped":
            raise SettingsError(f"reader must be a Reader, None or \"shipped\", got {reader!r}")
        self._reader = reader
        self._margin = margin
        self._min_support = min_support
        self._min_support_cross_script = min_support_cross_script
        self.sentences = sentences
        self.sentences_cross_script = sentences_cross_script
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        # Token vectors weigh ~40 times a sentence vector: fewer are kept (float16).
        self._tokens: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._tokens_size = min(cache_size, TOKEN_CACHE)
        # One answerer serves every request of an app; its cache must survive concurrent calls.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"ExtractiveAnswerer(passages={self.passages}, max_sentences={self.max_sentences}, "
            f"max_words={self.max_words}, margin={self.margin}, min_support={self.min_support}, sentences={self.sentences}, "
            f"sentences_cross_script={self.sentences_cross_script})"
        )

    def answer(self, question: str, hits: Sequence[Hit], *, language: str, history: Sequence[Turn] = ()) -> Answer:
        """Compose the answer to `question` from `hits` (best first), or abstain.

        Args:
            question: what the sentences are scored against (for a follow-up, the resolved query).
            hits: the retrieved passages, best first.
            language: "ar", "en" or "fr": the language an abstention is worded in.
            history: unused: `question` is already resolved against it.
        """
        if is_wordless(question):
            return wordless_answer(question, language)
        candidates = self._candidates(question, hits)
        if not candidates or candidates[0].score < self.min_support:
            return Answer(
                question=question, text=ABSTENTION.get(language, ABSTENTION["en"]), citations=(), hits=tuple(hits),
                abstained=True, language=language, search_query=question, reader=self.reader_name,
            )
        chosen = self._compose(candidates)
        figures = self._figures(question, candidates)
        chosen += [candidate for candidate, _ in figures if all(candidate is not c for c in chosen)]
        return replace(_cited(question, chosen, hits, language, figures), reader=self.reader_name)

    def rank_sentences(self, question: str, hits: Sequence[Hit]) -> list[_Candidate]:
        """The sentences of the top `passages` hits, scored as an answer's are (`score`), best first.

        For other compositions of the same evidence (`qa.timeline` keeps each article's best one).
        """
        return self._candidates(question, hits)

    def _figures(self, question: str, candidates: list[_Candidate]) -> list[tuple[_Candidate, Reading]]:
        """For a how-many question, each outlet's best sentence and its figure, when the outlets disagree; else none."""
        floor = max(self.min_support, candidates[0].score - FIGURE_MARGIN)
        near = [c for c in candidates if c.score >= floor]
        found = [(near[i], read_figure(question, near[i].text)) for i in site_readings(question, [(c.hit.site, c.text) for c in near])]
        readings = [(candidate, reading) for candidate, reading in found if reading is not None]
        return readings if disagree([reading for _, reading in readings]) else []

    def _candidates(self, question: str, hits: Sequence[Hit]) -> list[_Candidate]:
        """The `sentences` most promising sentences of the top hits, once per article span, scored, best first."""
        content = content_words(split_words(question))
        wanted = [w.keys for w in content]
        scripts = [script_of(w.raw) for w in content]
        question_keys = frozenset().union(*wanted)
        kind = question_type(question)
        seen: set[tuple[str, int, int]] = set()
        found: list[tuple[Hit, int, int, str, list[Word]]] = []
        for hit in hits[: self.passages]:
            for span in answer_sentences(hit.text):
                # Passages overlap by a sentence: cite it from the better-ranked one.
                place = (hit.article_id, hit.start + span.start, hit.start + span.end)
                if place in seen:
                    continue
                seen.add(place)
                text = hit.text[span.start:span.end]
                words = split_words(text)
                if len(words) >= MIN_WORDS:
                    found.append((hit, place[1], place[2], text, words))
        if not found:
            return []
        present = [frozenset().union(*(w.keys for w in words)) for *_, words in found]
        # Like IDF over the candidates themselves: a question word that every sentence
        # repeats (the topic) tells less about which one answers than a rare one.
        weights = [math.log((len(present) + 1) / (sum(1 for p in present if keys & p) + 0.5)) for keys in wanted]
        features = []
        for (_hit, _start, _end, text, words), keys in zip(found, present):
            # Only the question's words written in the sentence's script (and numbers) can be found in it.
            script = "arabic" if is_arabic(text) else "latin"
            usable = [i for i, s in enumerate(scripts) if s in (script, "neutral")]
            total = sum(weights[i] for i in usable)
            overlap = sum(weights[i] for i in usable if wanted[i] & keys) / total if total > 0 else 0.0
            cross_script = script not in scripts and any(s != "neutral" for s in scripts)
            expected = kind != "other" and any(
                not (w.keys & question_keys) and _is_kind(w, kind, sentence_start=i == 0) for i, w in enumerate(words)
            )
            features.append((overlap, expected, cross_script))
        # Embedding a sentence is the cost of an answer: only the most promising are embedded,
        # ranked by the same-script score with their passage's cosine standing in for theirs
        # (a passage's cosine is on the scale of its main script, whatever a sentence's own).
        order = sorted(range(len(found)), key=lambda i: -(found[i][0].similarity + OVERLAP_WEIGHT * features[i][0]
                                                          + EXPECTED_WEIGHT * features[i][1]))
        # A Latin line in Arabic articles (a quote, a source) does not make an Arabic question cross-script.
        across = 2 * sum(cross_script for *_, cross_script in features) > len(features)
        budget = self.sentences_cross_script if across else self.sentences
        kept = sorted(order[:budget]) if budget else list(range(len(found)))
        reader = self.reader
        sentences = [found[i][3] for i in kept]
        similarities, alignments, encoded = self._similarities(question, sentences, tokens=across or reader is not None,
                                                               aligned=across)
        readings = self._read(reader, question, sentences, similarities, encoded) if reader is not None else [None] * len(kept)
        shift = self.min_support - self.min_support_cross_script
        candidates = []
        for i, similarity, alignment, reading in zip(kept, similarities, alignments, readings):
            hit, start, end, text, words = found[i]
            extra: dict[str, Any] = {}
            if reading is not None:
                extra = {"reader": reading[0], "phrase": reading[1], "phrase_probability": reading[2]}
            candidates.append(
                _Candidate(hit, start, end, text, tuple(words), float(similarity), *features[i],
                           alignment=float(alignment) if across else 0.0, shift=shift, **extra)
            )
        candidates.sort(key=lambda c: -c.score)
        return candidates

    @property
    def reader(self) -> Reader | None:
        """The reader that scores sentences, or None for the hand-set scores.

        The shipped reader (loaded on first use) reads the token vectors of the model it was trained
        over only: with another embedding model (`--model PATH`) the hand-set scores answer.
        """
        if self._reader == "shipped":
            reader = shipped_reader()
            self._reader = reader if getattr(self.embedder, "fingerprint", None) == reader.encoder else None
        return self._reader  # type: ignore[return-value]

    @property
    def margin(self) -> float:
        """How far under the best sentence's score another may be and still be added (None: the scorer's default)."""
        if self._margin is not None:
            return self._margin
        return READER_MARGIN if self.reader is not None else HAND_MARGIN

    @margin.setter
    def margin(self, value: float | None) -> None:
        self._margin = value

    @property
    def min_support(self) -> float:
        """The best sentence's score under which the answer abstains (None: the scorer's default)."""
        if self._min_support is not None:
            return self._min_support
        return READER_MIN_SUPPORT if self.reader is not None else MIN_SUPPORT

    @min_support.setter
    def min_support(self, value: float | None) -> None:
        self._min_support = value

    @property
    def min_support_cross_script(self) -> float:
        """What a cross-script sentence's hand-set score must reach (its own scale): `MIN_SUPPORT_CROSS_SCRIPT`,
        moved as far as the caller moved `min_support` from `MIN_SUPPORT`, unless given."""
        if self._min_support_cross_script is not None:
            return self._min_support_cross_script
        return MIN_SUPPORT_CROSS_SCRIPT + self.min_support - MIN_SUPPORT

    @property
    def reader_name(self) -> str:
        """What scored the sentences: the reader's file and sha256 prefix, or "hand-set scores"."""
        reader = self.reader
        return reader.name if reader is not None else "hand-set scores"

    def _read(self, reader: Reader, question: str, sentences: list[str], similarities: np.ndarray,
              encoded: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[float, tuple[int, int] | None, float]]:
        """Each sentence's reader logit and its best answer phrase (a span of the sentence) with that phrase's probability."""
        asked = self._question_tokens(question)
        readings = reader.read(asked, [tokens.astype(np.float32) for tokens, _ in encoded], sentence_features(similarities))
        found = []
        for sentence, (_, offsets), reading in zip(sentences, encoded, readings):
            span = best_span(reading.start, reading.end)
            phrase = char_span(sentence, offsets, span) if span is not None else None
            probability = span_probability(reading.start, reading.end, span) if span is not None else 0.0
            found.append((reading.answer, phrase if phrase and phrase[1] > phrase[0] else None, probability))
        return found

    def _question_tokens(self, question: str) -> np.ndarray:
        return self.embedder.encode_tokens([question], query=True).tokens[0]

    def _similarities(self, question: str, sentences: list[str], *, tokens: bool = False, aligned: bool = False
                      ) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """Each sentence's cosine with the question, its token alignment when `aligned` (else zeros),
        and its token vectors with their offsets when `tokens` or `aligned` (else none).

        Vectors and token vectors come from one pass of the model; both are cached.
        """
        tokens = tokens or aligned
        with self._lock:
            vectors = {s: self._cache[s] for s in sentences if s in self._cache}
            known = {s: self._tokens[s] for s in sentences if s in self._tokens} if tokens else {}
        missing = [s for s in dict.fromkeys(sentences) if s not in vectors or tokens and s not in known]
        if missing and tokens:
            embedded = self.embedder.encode_tokens(missing, query=False)
            vectors.update(zip(missing, embedded.vectors))
            # An encoder that locates no token (`Embedded.offsets` left empty) gives the reader no phrase to point at.
            offsets = embedded.offsets or [np.zeros((len(t), 2), dtype=np.int32) for t in embedded.tokens]
            known.update((s, (t.astype(np.float16), o)) for s, t, o in zip(missing, embedded.tokens, offsets))
        elif missing:
            vectors.update(zip(missing, self.embedder.encode_passages(missing)))
        with self._lock:
            _remember(self._cache, vectors, self._cache_size)
            _remember(self._tokens, known, self._tokens_size)
        similarities = np.stack([vectors[s] for s in sentences]) @ self.embedder.encode_queries([question])[0]
        found = [known[s] for s in sentences] if tokens else []
        if not aligned:
            return similarities, np.zeros(len(sentences)), found
        asked = self._question_tokens(question)
        alignments = [token_alignment(asked, t.astype(np.float32)) for t, _ in found]
        return similarities, np.array(alignments), found

    def _compose(self, candidates: list[_Candidate]) -> list[_Candidate]:
        best = candidates[0]
        chosen = [best]
        length = len(best.words)
        covered = set().union(*(w.keys for w in best.words))
        for candidate in candidates[1:]:
            if len(chosen) == self.max_sentences or candidate.score < best.score - self.margin:
                break
            content = [w for w in candidate.words if w.plain not in MATCH_STOPWORDS]
            novel = [w for w in content if not (w.keys & covered)]
            if length + len(candidate.words) > self.max_words or len(novel) < NOVEL_SHARE * len(content):
                continue
            chosen.append(candidate)
            length += len(candidate.words)
            covered.update(*(w.keys for w in candidate.words))
        return chosen


def _remember(cache: OrderedDict[str, Any], found: dict[str, Any], size: int) -> None:
    """Put `found` in `cache` as the most recent entries, then drop the oldest past `size`."""
    for key, value in found.items():
        cache[key] = value
        cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)


def _cited(
    question: str, chosen: Sequence[_Candidate], hits: Sequence[Hit], language: str,
    figures: Sequence[tuple[_Candidate, Reading]] = (),
) -> Answer:
    numbers: dict[str, int] = {}
    parts = []
    citations = []
    for candidate in chosen:
        hit = candidate.hit
        number = numbers.setdefault(hit.passage_id, len(numbers) + 1)
        parts.append(f"{candidate.text} [{number}]")
        citations.append(cite(number, hit, candidate.start - hit.start, candidate.end - hit.start, candidate.score))
    sentences = " ".join(parts)
    if figures:
        # Outlets disagree: each one's figure is shown, none picked as the answer.
        found = tuple(_figure(candidate, reading, numbers[candidate.hit.passage_id]) for candidate, reading in figures)
        return Answer(
            question=question, text=f"{_figures_line(found, language)}\n{sentences}", citations=tuple(citations),
            hits=tuple(hits), abstained=False, language=language, search_query=question, figures=found,
        )
    short = _short(question, chosen[0], citations[0], language)
    # The phrase that answers leads, so a reader sees it before the sentences that support it (a
    # when-answer's date as the reader writes it, its words highlighted in the article).
    text = sentences if short is None else f"{short.display or short.text} {SHORT_SEPARATOR} {sentences}"
    return Answer(
        question=question, text=text, citations=tuple(citations), hits=tuple(hits),
        abstained=False, language=language, search_query=question, short=short,
    )


def _figure(candidate: _Candidate, reading: Reading, citation: int) -> Figure:
    hit = candidate.hit
    return Figure(
        value=reading.value, number=reading.number, unit=reading.unit, site=hit.site, published=hit.published,
        citation=citation, sentence=candidate.text, start=candidate.start + reading.start, end=candidate.start + reading.end,
        article_id=hit.article_id,
    )


def _figures_line(figures: Sequence[Figure], language: str) -> str:
    """`The sources give different figures: 12 (BBC, 2018-05-02) [1]; 11 (france24, 2018-05-02) [2]`."""
    comma, semicolon = ("، ", "؛ ") if language == "ar" else (", ", "; ")
    shown = []
    for figure in figures:
        source = comma.join(part for part in (figure.site, (figure.published or "")[:10]) if part)
        shown.append(f"{figure.value} ({source}) [{figure.citation}]")
    return f"{FIGURES_LEAD.get(language, FIGURES_LEAD['en'])} {semicolon.join(shown)}"


# Between the short answer and the cited sentences in `Answer.text`.
SHORT_SEPARATOR = "—"


def _short(question: str, best: _Candidate, citation: Citation, language: str) -> Short | None:
    short = _read_short(question, best, citation) if best.reader is not None else _rule_short(question, best, citation)
    if question_type(question) == "time":
        return _dated_short(question, best, citation, language, short)
    return short


def _dated_short(question: str, best: _Candidate, citation: Citation, language: str, phrase: Short | None) -> Short | None:
    """A when-question's short answer: the sentence's time expression, resolved against its article's publication date.

    Of several, the one the short-answer rule (or the reader) picked, else the one nearest the question's
    words (`qa.text.answer_date`). Its words stay `text`, so the article highlights them; `date` and
    `display` carry the day they denote. Across scripts too: a date is read without the question's words.
    An undated article (or one whose date does not parse) keeps its words, unresolved; a sentence with
    no time expression keeps the rule's phrase.
    """
    anchor = published_day(best.hit.published)
    prefer = (phrase.start - best.start, phrase.end - best.start) if phrase is not None else None
    found = answer_date(question, best.text, anchor, language=language if language in DATE_LANGUAGES else "en", prefer=prefer)
    if found is None:
        return phrase
    if phrase is not None and prefer is not None and found.start < prefer[1] and prefer[0] < found.end:
        # The rule's phrase names this time: its words stay the answer (scored as before), now dated.
        return replace(phrase, kind="date", date=found.date, display=found.display)
    return Short(text=found.text, start=best.start + found.start, end=best.start + found.end, article_id=best.hit.article_id,
                 citation=citation.number, kind="date", date=found.date, display=found.display)


def _read_short(question: str, best: _Candidate, citation: Citation) -> Short | None:
    """The reader's answer phrase in the best sentence, for a factoid question, when the reader is sure enough of it."""
    kind = question_type(question)
    if best.phrase is None or kind == "other" or best.score * best.phrase_probability < READER_SHORT_MIN:
        return None
    start, end = best.phrase
    return Short(text=best.text[start:end], start=best.start + start, end=best.start + end,
                 article_id=best.hit.article_id, citation=citation.number, kind=_SHORT_KINDS.get(kind, "other"))


def _rule_short(question: str, best: _Candidate, citation: Citation) -> Short | None:
    """The short answer to a factoid question, read from the best sentence, located in its article.

    None across scripts (an English or French question over an Arabic sentence): a phrase is
    found beside the question's words in the sentence, and there they cannot be found. On the
    English dev questions (calibration half) the phrases read anyway were right for 53% of
    those shown (numbers 42%), against 76% for Arabic questions.
    """
    if best.cross_script:
        return None
    phrase = short_phrase(question, best.text)
    if phrase is None:
        return None
    return Short(
        text=best.text[phrase.start:phrase.end], start=best.start + phrase.start, end=best.start + phrase.end,
        article_id=best.hit.article_id, citation=citation.number, kind=phrase.kind,
    )


_shipped: list[Reader] = []
_shipped_lock = threading.Lock()


def shipped_reader() -> Reader:
    """The reader in the package, loaded once per process after its sha256 is checked."""
    with _shipped_lock:
        if not _shipped:
            _shipped.append(load_reader())
        return _shipped[0]


def build_answerer(embedder: Encoder) -> ExtractiveAnswerer:
    """The "extractive" answerer of `qa.config.ANSWERERS`, with its default settings (`qa.answer.answerer_factory`)."""
    return ExtractiveAnswerer(embedder)
