"""`qa eval --answers`: answer quality (hits, first sentence, length, abstention, short answers) and the abstention threshold's calibration."""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import qa.extractive
from qa.answer import Answerer, AnswererFactory, ExtractiveAnswerer, ask, make_answerer
from qa.build import BuildProgress
from qa.config import Settings
from qa.embed import Embedder
from qa.evaluate.grading import (
    RIGHT_F1,
    SPLITS,
    answer_contains,
    exact_match,
    split_of,
    token_f1,
)
from qa.evaluate.retrieval import BATCH, _indexed, build_eval_index
from qa.evaluate.squad import Question, load_squad
from qa.records import Answer
from qa.retrieve import Retriever
from qa.text import detect_language, question_type


@dataclass(frozen=True)
class AnswerEvalResult:
    """Answer figures for one retrieval mode on one split of the questions.

    `split` is "all", "calibration" (the half the answerer's weights and
    abstention threshold were fitted on) or "held-out" (the other half); the
    halves are fixed by a hash of the paragraph id, so they transfer to any
    SQuAD-format file. Lengths are over the answers given (abstentions left out).
    """

    mode: str
    split: str
    questions: int
    passages: int
    answer_hit: float
    first_sentence_hit: float
    words_median: float
    words_p90: float
    abstention_rate: float
    spans_exact: float
    latency_p50_ms: float
    latency_p95_ms: float
    # Which answerer; for a generating one, the share of its sentences that verification kept
    # (None when it wrote none) and the share of answers that fell back to extraction.
    answerer: str = "extractive"
    verified_share: float | None = None
    fallback_rate: float = 0.0
    # Short answers (`Answer.short`), scored as reading-comprehension papers do: on the factoid
    # questions (`question_type` is not "other"), the share with one shown, then over those shown
    # the mean exact match and token F1 against the best gold answer, and the share right (F1 >= 0.5);
    # None where none was shown. `short_shown_other`: the share of the other questions given one.
    factoid_questions: int = 0
    short_shown: float = 0.0
    short_exact: float | None = None
    short_f1: float | None = None
    short_right: float | None = None
    short_shown_other: float = 0.0
    # The same exact match and F1 over every factoid question, a question given no short answer scoring 0.
    short_exact_all: float = 0.0
    short_f1_all: float = 0.0


@dataclass(frozen=True)
class AbstentionCalibration:
    """A support threshold, and how often it abstains with and without the answer in the index."""

    threshold: float
    answerable_abstention: float
    unanswerable_abstention: float
    held_out_answerable_abstention: float
    held_out_unanswerable_abstention: float


@dataclass(frozen=True)
class _Graded:
    split: str
    hit: bool
    first_hit: bool
    words: int
    abstained: bool
    spans_exact: bool
    kept: int = 0
    removed: int = 0
    fell_back: bool = False
    factoid: bool = False
    short: bool = False
    short_exact: bool = False
    short_f1: float = 0.0


def evaluate_answers(
    retriever: Retriever,
    questions: Sequence[Question],
    *,
    mode: str = Settings.mode,
    k: int = 5,
    answerer: str | Answerer | None = None,
    latency_sample: int = 100,
) -> list[AnswerEvalResult]:
    """Answer every question and grade the answers, on all questions and on each half.

    Hits come from batched searches; latency is timed first, on the first
    `latency_sample` questions asked with `ask` one at a time, as a user asks them.
    """
    answerer = make_answerer(answerer, retriever.embedder)
    name = "llm" if hasattr(answerer, "stream") else "extractive"
    articles: dict[str, str] = {}
    graded: list[_Graded] = []
    # Timed first, while the answerer has not yet seen (and cached) every passage.
    latencies = []
    # A generating answerer takes seconds a question: each is asked once, timed and graded.
    timed = questions if name == "llm" else questions[:latency_sample]
    for question in timed:
        started = time.perf_counter()
        answer = ask(question.text, retriever, k=k, answerer=answerer, mode=mode)
        latencies.append((time.perf_counter() - started) * 1000)
        if name == "llm":
            graded.append(_grade(retriever, question, answer, articles))
    latencies.sort()
    for start in range(0, len(questions) if name != "llm" else 0, BATCH):
        batch = questions[start:start + BATCH]
        for question, hits in zip(batch, retriever.search_many([q.text for q in batch], k=k, mode=mode)):
            answer = answerer.answer(question.text, hits, language=detect_language(question.text))
            graded.append(_grade(retriever, question, answer, articles))
    results = []
    for split in SPLITS:
        chosen = [g for g in graded if split in ("all", g.split)]
        if not chosen:
            continue
        n = len(chosen)
        lengths = sorted(g.words for g in chosen if not g.abstained) or [0]
        written = sum(g.kept + g.removed for g in chosen)
        results.append(
            AnswerEvalResult(
                mode=mode,
                split=split,
                questions=n,
                passages=retriever.size,
                answer_hit=sum(g.hit for g in chosen) / n,
                first_sentence_hit=sum(g.first_hit for g in chosen) / n,
                words_median=statistics.median(lengths),
                words_p90=lengths[min(len(lengths) - 1, int(0.9 * len(lengths)))],
                abstention_rate=sum(g.abstained for g in chosen) / n,
                spans_exact=sum(g.spans_exact for g in chosen) / n,
                latency_p50_ms=statistics.median(latencies) if latencies else 0.0,
                latency_p95_ms=latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else 0.0,
                answerer=name,
                verified_share=sum(g.kept for g in chosen) / written if written else None,
                fallback_rate=sum(g.fell_back for g in chosen) / n,
                **_short_figures(chosen),
            )
        )
    return results


def _short_figures(graded: Sequence[_Graded]) -> dict[str, Any]:
    factoid = [g for g in graded if g.factoid]
    others = [g for g in graded if not g.factoid]
    shown = [g for g in factoid if g.short]
    return {
        "factoid_questions": len(factoid),
        "short_shown": len(shown) / len(factoid) if factoid else 0.0,
        "short_exact": sum(g.short_exact for g in shown) / len(shown) if shown else None,
        "short_f1": sum(g.short_f1 for g in shown) / len(shown) if shown else None,
        "short_right": sum(g.short_f1 >= RIGHT_F1 for g in shown) / len(shown) if shown else None,
        "short_shown_other": sum(g.short for g in others) / len(others) if others else 0.0,
        "short_exact_all": sum(g.short_exact for g in shown) / len(factoid) if factoid else 0.0,
        "short_f1_all": sum(g.short_f1 for g in shown) / len(factoid) if factoid else 0.0,
    }


def _grade(retriever: Retriever, question: Question, answer: Answer, articles: dict[str, str]) -> _Graded:
    return replace(_grade_text(retriever, question, answer, articles), **_grade_short(question, answer))


def _grade_short(question: Question, answer: Answer) -> dict[str, Any]:
    # `Answer.short` is None when no phrase was confident enough to show (or the answerer makes none).
    short = getattr(answer, "short", None)
    graded: dict[str, Any] = {"factoid": question_type(question.text) != "other", "short": short is not None}
    if short is not None:
        graded["short_exact"] = any(exact_match(short.text, gold) for gold in question.answers)
        graded["short_f1"] = max((token_f1(short.text, gold) for gold in question.answers), default=0.0)
    return graded


def _grade_text(retriever: Retriever, question: Question, answer: Answer, articles: dict[str, str]) -> _Graded:
    if answer.answerer == "llm":
        # A generated answer is graded on what it says, not on the passage spans it cites.
        from qa.llm.prompt import parse_claims

        kept = [c.text for c in parse_claims(answer.text)] if not answer.abstained else []
        return _Graded(
            split=split_of(question.article_id),
            hit=any(answer_contains(" ".join(kept), gold) for gold in question.answers),
            first_hit=bool(kept) and any(answer_contains(kept[0], gold) for gold in question.answers),
            words=sum(len(s.split()) for s in kept), abstained=answer.abstained, spans_exact=True,
            kept=len(kept), removed=len(answer.removed),
        )
    sentences = [c.sentence for c in answer.citations]
    exact = True
    for citation in answer.citations:
        if citation.article_id not in articles:
            articles[citation.article_id] = retriever.article(citation.article_id).text
        exact = exact and articles[citation.article_id][citation.start:citation.end] == citation.sentence
    return _Graded(
        split=split_of(question.article_id),
        hit=any(answer_contains(" ".join(sentences), gold) for gold in question.answers),
        first_hit=bool(sentences) and any(answer_contains(sentences[0], gold) for gold in question.answers),
        words=sum(len(s.split()) for s in sentences),
        abstained=answer.abstained,
        spans_exact=exact,
        removed=len(answer.removed),
        fell_back=answer.note.startswith("extractive answer"),
    )


def run_answer_eval(
    data: str | Path,
    *,
    modes: Sequence[str] = (Settings.mode,),
    k: int = 5,
    distractors: str | Path | None = None,
    limit: int = 5000,
    settings: Settings | None = None,
    workdir: str | Path | None = None,
    keep: bool = False,
    progress: Callable[[BuildProgress], None] | None = None,
    answerers: Sequence[str | Answerer | AnswererFactory] | None = None,
    questions_limit: int | None = None,
) -> list[AnswerEvalResult]:
    """Index the paragraphs of `data` (with distractors), then answer every question in each mode, by each answerer.

    `answerers` default to the settings' one; `questions_limit` keeps that many questions, spread evenly over the file.
    """
    articles, questions = load_squad(data)
    if questions_limit is not None and 0 < questions_limit < len(questions):
        step = len(questions) / questions_limit
        questions = [questions[int(i * step)] for i in range(questions_limit)]
    options = {"distractors": distractors, "limit": limit, "settings": settings, "workdir": workdir, "keep": keep,
               "progress": progress}
    with _indexed(articles, **options) as retriever:
        results = []
        for choice in answerers or [(settings or Settings()).answerer]:
            answerer = make_answerer(choice, retriever.embedder)
            results += [result for mode in modes for result in evaluate_answers(retriever, questions, mode=mode, k=k, answerer=answerer)]
        return results


def calibrate_abstention(
    data: str | Path,
    *,
    answerable_abstention: float = 0.025,
    k: int = 5,
    mode: str = Settings.mode,
    settings: Settings | None = None,
    workdir: str | Path | None = None,
    cross_script: bool = False,
) -> AbstentionCalibration:
    """Fit the answerer's `min_support` on the calibration half of SQuAD-format data.

    Answerable: each question asked of an index of every paragraph. Unanswerable:
    each question asked of an index of the other half's paragraphs only, so its
    own paragraph is absent. The threshold is the support (the best sentence's
    score) under which `answerable_abstention` of the answerable calibration
    questions fall; both rates are then reported on the held-out half too.
    This is how `qa.extractive.MIN_SUPPORT` was set (on XQuAD-ar); rerun it for another model.

    With `cross_script`, for data whose questions are written in another script than
    its paragraphs (xquad.en-questions.dev.json: English over Arabic), the threshold is
    fitted the same way and given as `qa.extractive.MIN_SUPPORT_CROSS_SCRIPT` is written:
    on the cross-script scale, before the answerer moves such scores onto `MIN_SUPPORT`'s.
    """
    articles, questions = load_squad(data)
    settings = settings or Settings()
    embedder = Embedder.from_settings(settings)
    # The threshold fitted is the extractive answerer's own `min_support`; here it must abstain never.
    answerer = ExtractiveAnswerer(embedder, min_support=-math.inf)
    support: dict[tuple[str, bool], list[float]] = {}
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        corpora = {"all": articles, **{half: [a for a in articles if split_of(a.id) != half] for half in SPLITS[1:]}}
        for name, corpus in corpora.items():
            index = build_eval_index(corpus, Path(tmp) / name, settings=settings, embedder=embedder)
            asked = questions if name == "all" else [q for q in questions if split_of(q.article_id) == name]
            with Retriever.load(index, embedder=embedder) as retriever:
                for start in range(0, len(asked), BATCH):
                    batch = asked[start:start + BATCH]
                    for question, hits in zip(batch, retriever.search_many([q.text for q in batch], k=k, mode=mode)):
                        answer = answerer.answer(question.text, hits, language=detect_language(question.text))
                        score = answer.citations[0].score if answer.citations else -math.inf
                        support.setdefault((split_of(question.article_id), name == "all"), []).append(score)
    answerable = sorted(support[("calibration", True)])
    threshold = answerable[int(answerable_abstention * len(answerable))]

    def below(scores: list[float]) -> float:
        return sum(s < threshold for s in scores) / len(scores) if scores else 0.0

    return AbstentionCalibration(
        threshold=threshold - (qa.extractive.MIN_SUPPORT - qa.extractive.MIN_SUPPORT_CROSS_SCRIPT) if cross_script else threshold,
        answerable_abstention=below(support[("calibration", True)]),
        unanswerable_abstention=below(support.get(("calibration", False), [])),
        held_out_answerable_abstention=below(support.get(("held-out", True), [])),
        held_out_unanswerable_abstention=below(support.get(("held-out", False), [])),
    )
