"""`qa eval`: retrieval quality and latency on SQuAD-format data, through the public API only."""

from __future__ import annotations

import hashlib
import json
import math
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from qa.answer import Answerer, AnswererFactory, ExtractiveAnswerer, ask, make_answerer
from qa.build import BuildProgress, build_index
from qa.config import MODES, Settings
from qa.embed import Embedder
from qa.errors import InputError, SettingsError
from qa.ingest import iter_articles
from qa.normalize import normalize
from qa.records import Answer, Article
from qa.retrieve import Retriever
from qa.text import detect_language

_BATCH = 64
# Passages of one article can fill several slots; ask for enough hits to rank 10 articles.
_DEPTH = 30


@dataclass(frozen=True)
class Question:
    text: str
    article_id: str
    answers: tuple[str, ...]


@dataclass(frozen=True)
class EvalResult:
    """Retrieval figures for one mode: recall at 1, 5, 10, MRR@10, query latency."""

    mode: str
    questions: int
    passages: int
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    mrr_at_10: float
    latency_p50_ms: float
    latency_p95_ms: float


def load_squad(path: str | Path) -> tuple[list[Article], list[Question]]:
    """Each paragraph of a SQuAD v1.1 file becomes an article; each question names its paragraph."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"{path} is not a SQuAD-format JSON file with a 'data' list ({exc})") from None
    articles: list[Article] = []
    questions: list[Question] = []
    for doc in data:
        for number, paragraph in enumerate(doc["paragraphs"]):
            article_id = f"squad:{doc['title']}:{number}"
            articles.append(Article(id=article_id, title=doc["title"], text=paragraph["context"], origin=f"{path}#{article_id}"))
            for qa_item in paragraph["qas"]:
                answers = tuple(a["text"] for a in qa_item.get("answers", []))
                questions.append(Question(text=qa_item["question"], article_id=article_id, answers=answers))
    if not questions:
        raise InputError(f"{path} has no questions")
    return articles, questions


def build_eval_index(
    articles: Sequence[Article],
    out: Path,
    *,
    distractors: str | Path | None = None,
    limit: int = 5000,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    progress: Callable[[BuildProgress], None] | None = None,
    store_options: Mapping[str, str | None] | None = None,
) -> Path:
    """Write the articles (and the first `limit` distractor articles) as JSON Lines, then build them.

    `store_options` (store, uri, token, collection) build them into another store than the embedded one.
    """
    out.mkdir(parents=True, exist_ok=True)
    corpus = out / "corpus.jsonl"
    with open(corpus, "w", encoding="utf-8") as stream:
        for article in articles:
            stream.write(json.dumps({"id": article.id, "title": article.title, "text": article.text}, ensure_ascii=False) + "\n")
        if distractors is not None:
            for article in islice(iter_articles([distractors]), limit):
                record = {"id": f"distractor:{article.id}", "title": article.title, "text": article.text,
                          "source": article.site, "published": article.published}
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    index = out / "vectors"
    build_index([corpus], index, settings=settings, embedder=embedder, progress=progress, **(store_options or {}))
    return index


def evaluate(
    retriever: Retriever, questions: Sequence[Question], *, mode: str = Settings.mode, latency_sample: int = 200
) -> EvalResult:
    """Score where each question's paragraph ranks, and time single-question searches.

    Ranks come from batched searches (the same results as one at a time, faster);
    latency is measured on the first `latency_sample` questions asked one at a
    time, as a user asks them, query encoding included.
    """
    ranks: list[int | None] = []
    for start in range(0, len(questions), _BATCH):
        batch = questions[start:start + _BATCH]
        for question, hits in zip(batch, retriever.search_many([q.text for q in batch], k=_DEPTH, mode=mode)):
            article_ids = list(dict.fromkeys(h.article_id for h in hits))
            ranks.append(article_ids.index(question.article_id) + 1 if question.article_id in article_ids else None)
    latencies = []
    for question in questions[:latency_sample]:
        started = time.perf_counter()
        retriever.search(question.text, k=5, mode=mode)
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    n = len(questions)
    return EvalResult(
        mode=mode,
        questions=n,
        passages=retriever.size,
        recall_at_1=sum(1 for r in ranks if r is not None and r <= 1) / n,
        recall_at_5=sum(1 for r in ranks if r is not None and r <= 5) / n,
        recall_at_10=sum(1 for r in ranks if r is not None and r <= 10) / n,
        mrr_at_10=sum(1 / r for r in ranks if r is not None and r <= 10) / n,
        latency_p50_ms=statistics.median(latencies),
        latency_p95_ms=latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
    )


@contextmanager
def _workspace(workdir: str | Path | None, keep: bool) -> Iterator[Path]:
    """A temporary folder, or with `keep` the folder `workdir` itself, kept so a rerun reuses its embeddings."""
    if keep:
        if workdir is None:
            raise SettingsError("keep needs a workdir to keep the index in")
        yield Path(workdir)
        return
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        yield Path(tmp)


@contextmanager
def _indexed(
    articles: Sequence[Article],
    *,
    distractors: str | Path | None,
    limit: int,
    settings: Settings | None,
    workdir: str | Path | None,
    keep: bool,
    progress: Callable[[BuildProgress], None] | None,
    store_options: Mapping[str, str | None] | None = None,
) -> Iterator[Retriever]:
    """A retriever over the articles (and distractors), in a workspace that lives as long as the block."""
    embedder = Embedder.from_settings(settings or Settings())
    with _workspace(workdir, keep) as folder:
        index = build_eval_index(articles, folder, distractors=distractors, limit=limit, settings=settings, embedder=embedder, progress=progress,
                                 store_options=store_options)
        with Retriever.load(index, embedder=embedder, **(store_options or {})) as retriever:
            yield retriever


def run_eval(
    data: str | Path,
    *,
    modes: Sequence[str] = MODES,
    distractors: str | Path | None = None,
    limit: int = 5000,
    settings: Settings | None = None,
    workdir: str | Path | None = None,
    keep: bool = False,
    progress: Callable[[BuildProgress], None] | None = None,
    store_options: Mapping[str, str | None] | None = None,
) -> list[EvalResult]:
    """Index the paragraphs of `data` (with distractors), then evaluate each mode.

    `store_options` (store, uri, token, collection) evaluate another store than the embedded one.
    """
    articles, questions = load_squad(data)
    options = dict(distractors=distractors, limit=limit, settings=settings, workdir=workdir, keep=keep, progress=progress,
                   store_options=store_options)
    with _indexed(articles, **options) as retriever:
        return [evaluate(retriever, questions, mode=mode) for mode in modes]


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
    for start in range(0, len(questions) if name != "llm" else 0, _BATCH):
        batch = questions[start:start + _BATCH]
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
            )
        )
    return results


def _grade(retriever: Retriever, question: Question, answer: Answer, articles: dict[str, str]) -> _Graded:
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
    options = dict(distractors=distractors, limit=limit, settings=settings, workdir=workdir, keep=keep, progress=progress)
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
) -> AbstentionCalibration:
    """Fit the answerer's `min_support` on the calibration half of SQuAD-format data.

    Answerable: each question asked of an index of every paragraph. Unanswerable:
    each question asked of an index of the other half's paragraphs only, so its
    own paragraph is absent. The threshold is the support (the best sentence's
    score) under which `answerable_abstention` of the answerable calibration
    questions fall; both rates are then reported on the held-out half too.
    This is how `qa.answer.MIN_SUPPORT` was set; rerun it for another model.
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
                for start in range(0, len(asked), _BATCH):
                    batch = asked[start:start + _BATCH]
                    for question, hits in zip(batch, retriever.search_many([q.text for q in batch], k=k, mode=mode)):
                        answer = answerer.answer(question.text, hits, language=detect_language(question.text))
                        score = answer.citations[0].score if answer.citations else -math.inf
                        support.setdefault((split_of(question.article_id), name == "all"), []).append(score)
    answerable = sorted(support[("calibration", True)])
    threshold = answerable[int(answerable_abstention * len(answerable))]

    def below(scores: list[float]) -> float:
        return sum(s < threshold for s in scores) / len(scores) if scores else 0.0

    return AbstentionCalibration(
        threshold=threshold,
        answerable_abstention=below(support[("calibration", True)]),
        unanswerable_abstention=below(support.get(("calibration", False), [])),
        held_out_answerable_abstention=below(support.get(("held-out", True), [])),
        held_out_unanswerable_abstention=below(support.get(("held-out", False), [])),
    )
