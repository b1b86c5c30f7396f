"""`qa eval`: retrieval quality and latency on SQuAD-format data, through the public API only."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from qa.build import BuildProgress, build_index
from qa.config import Settings
from qa.embed import Embedder
from qa.errors import InputError
from qa.ingest import iter_articles
from qa.records import Article, Hit
from qa.retrieve import Retriever


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
) -> Path:
    """Write the articles (and the first `limit` distractor articles) as JSON Lines, then build them."""
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
    build_index([corpus], index, settings=settings, embedder=embedder, progress=progress)
    return index


def evaluate(retriever: Retriever, questions: Sequence[Question], *, mode: str = "dense") -> EvalResult:
    """Ask every question one at a time (as users do) and score where its paragraph ranks."""
    ranks: list[int | None] = []
    latencies: list[float] = []
    for question in questions:
        started = time.perf_counter()
        hits = _search(retriever, question.text, mode)
        latencies.append((time.perf_counter() - started) * 1000)
        article_ids = list(dict.fromkeys(h.article_id for h in hits))
        ranks.append(article_ids.index(question.article_id) + 1 if question.article_id in article_ids else None)
    n = len(questions)
    latencies.sort()
    return EvalResult(
        mode=mode,
        questions=n,
        passages=retriever.size,
        recall_at_1=sum(1 for r in ranks if r is not None and r <= 1) / n,
        recall_at_5=sum(1 for r in ranks if r is not None and r <= 5) / n,
        recall_at_10=sum(1 for r in ranks if r is not None and r <= 10) / n,
        mrr_at_10=sum(1 / r for r in ranks if r is not None and r <= 10) / n,
        latency_p50_ms=statistics.median(latencies),
        latency_p95_ms=latencies[min(n - 1, int(0.95 * n))],
    )


def _search(retriever: Retriever, question: str, mode: str) -> list[Hit]:
    # Passages of one article can fill several slots; ask for enough to rank 10 articles.
    return retriever.search(question, k=30, mode=mode)


def run_eval(
    data: str | Path,
    *,
    modes: Sequence[str] = ("hybrid", "dense", "lexical"),
    distractors: str | Path | None = None,
    limit: int = 5000,
    settings: Settings | None = None,
    workdir: str | Path | None = None,
    progress: Callable[[BuildProgress], None] | None = None,
) -> list[EvalResult]:
    """Index the paragraphs of `data` (with distractors), then evaluate each mode."""
    articles, questions = load_squad(data)
    settings = settings or Settings()
    embedder = Embedder(settings.model, precision=settings.precision, batch_size=settings.batch_size)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        index = build_eval_index(articles, Path(tmp), distractors=distractors, limit=limit, settings=settings, embedder=embedder, progress=progress)
        retriever = Retriever.load(index, embedder=embedder)
        return [evaluate(retriever, questions, mode=mode) for mode in modes]
