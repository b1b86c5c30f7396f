"""`qa eval`: retrieval quality and latency on SQuAD-format data, through the public API only."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from qa.build import BuildProgress, build_index
from qa.config import MODES, Settings
from qa.embed import Embedder
from qa.errors import SettingsError
from qa.evaluate.squad import Question, load_squad
from qa.ingest import iter_articles
from qa.records import Article, Hit
from qa.retrieve import Retriever

# Questions searched per batch.
BATCH = 64
# Passages of one article can fill several slots; ask for enough hits to rank 10 articles.
_DEPTH = 30


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
    # Questions whose paragraph ranked in the top 10 only as a copy another article's hit carries
    # (a file holding one paragraph twice): counted as found.
    found_as_copy: int = 0


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
        stream.writelines(
            json.dumps({"id": a.id, "title": a.title, "text": a.text}, ensure_ascii=False) + "\n" for a in articles
        )
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
    copies = 0
    for start in range(0, len(questions), BATCH):
        batch = questions[start:start + BATCH]
        for question, hits in zip(batch, retriever.search_many([q.text for q in batch], k=_DEPTH, mode=mode)):
            rank, as_copy = rank_of(question.article_id, hits)
            ranks.append(rank)
            copies += as_copy and rank is not None and rank <= 10
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
        found_as_copy=copies,
    )


def rank_of(article_id: str, hits: Sequence[Hit]) -> tuple[int | None, bool]:
    """Where `article_id` ranks among the articles `hits` bring (1 first), and whether only as a copy; (None, False) if absent.

    Hits of an article already ranked add no rank. A hit stands for every article
    carrying its passage (wire copies grouped, `Hit.carriers`): the gold article
    found among a hit's carriers but not as its own article is found as a copy.
    """
    ranked: set[str] = set()
    for hit in hits:
        if hit.article_id in ranked:
            continue
        ranked.add(hit.article_id)
        if hit.article_id == article_id:
            return len(ranked), False
        if any(c.article_id == article_id for c in hit.carriers):
            return len(ranked), True
    return None, False


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
    options = {"distractors": distractors, "limit": limit, "settings": settings, "workdir": workdir, "keep": keep,
               "progress": progress, "store_options": store_options}
    with _indexed(articles, **options) as retriever:
        return [evaluate(retriever, questions, mode=mode) for mode in modes]
