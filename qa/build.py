"""Build an index from article sources: ingest, chunk, embed (reusing what is unchanged), publish atomically."""

from __future__ import annotations

import fcntl
import logging
import platform
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from qa.chunk import Chunker
from qa.config import Settings
from qa.embed import Embedder
from qa.errors import IndexStoreError, InputError, QAError
from qa.index import INDEX_FILE, VectorIndex
from qa.ingest import iter_articles
from qa.lexical import LexicalIndex
from qa.records import Article, Skipped
from qa.store import (
    STORE,
    PassageStore,
    new_generation,
    open_generation,
    publish_generation,
    remove_stale_builds,
    text_sha256,
    write_manifest,
)

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

_ARTICLES_PER_BATCH = 64
_VECTORS_FILE = "vectors.f32"


@dataclass
class BuildProgress:
    """Counts so far, passed to the progress callback after every batch."""

    articles: int = 0
    passages: int = 0
    embedded: int = 0
    reused: int = 0
    tokens: int = 0
    skipped: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class BuildReport:
    """What a build did."""

    path: Path
    articles: int
    passages: int
    embedded: int
    reused: int
    tokens: int
    seconds: float
    skipped: list[Skipped] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)


def build_index(
    sources: Sequence[str | Path],
    out: str | Path = "vectors",
    *,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    strict: bool = False,
    progress: Callable[[BuildProgress], None] | None = None,
) -> BuildReport:
    """Build (or rebuild) the index of `sources` in `out`.

    Articles are streamed in batches; passages whose embedded text is unchanged
    since the current index (same model, same precision) reuse their stored
    vectors. The new index is written beside the current one and swapped in
    atomically, so an interrupted build never damages the index in use.

    Raises:
        InputError: a source is missing, no article could be read, or (with
            `strict`) an input is bad.
        DuplicateArticleError: two articles share one id.
        IndexStoreError: another build is writing to `out`.
    """
    settings = settings or Settings()
    out = Path(out)
    if not sources:
        raise InputError("no sources given; name .txt/.md files, folders or .jsonl(.gz) files to index")
    embedder = embedder or Embedder(settings.model, precision=settings.precision, batch_size=settings.batch_size)
    if settings.chunk_tokens > embedder.max_tokens - 64:
        raise InputError(
            f"chunk_tokens {settings.chunk_tokens} leaves no room for the title within the model's "
            f"{embedder.max_tokens} tokens; use at most {embedder.max_tokens - 64}"
        )
    chunker = Chunker(embedder.count_tokens, settings.chunk_tokens, settings.overlap_sentences)
    started = time.perf_counter()
    skipped: list[Skipped] = []
    with _build_lock(out):
        remove_stale_builds(out)
        previous = _previous_vectors(out, embedder)
        tmp = new_generation(out)
        try:
            stats, corpus_sha256 = _fill(tmp, sources, chunker, embedder, previous, strict, skipped, progress, started)
            if stats.articles == 0:
                raise InputError(
                    f"no article could be read from {', '.join(map(str, sources))}"
                    + (f" ({len(skipped)} input(s) skipped)" if skipped else "")
                )
            manifest = _finish(tmp, sources, settings, embedder, stats, corpus_sha256, len(skipped))
            final = publish_generation(out, tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return BuildReport(
        path=final, articles=stats.articles, passages=stats.passages, embedded=stats.embedded,
        reused=stats.reused, tokens=stats.tokens, seconds=time.perf_counter() - started,
        skipped=skipped, manifest=manifest,
    )


@dataclass
class _Previous:
    rows: dict[str, int]
    index: VectorIndex


def _previous_vectors(out: Path, embedder: Embedder) -> _Previous | None:
    """The current index's vectors by passage hash, when they were made by this very model."""
    try:
        folder, manifest = open_generation(out)
    except QAError as exc:
        logger.info("not reusing embeddings from %s: %s", out, exc)
        return None
    model = manifest.get("model", {})
    if (
        model.get("fingerprint") != embedder.fingerprint
        or model.get("precision") != embedder.precision
        or model.get("prompts") != {"query": embedder.query_prompt, "passage": embedder.passage_prompt}
    ):
        return None
    store = PassageStore.open(folder / STORE)
    try:
        rows = store.rows_by_hash()
    finally:
        store.close()
    return _Previous(rows=rows, index=VectorIndex.load(folder / INDEX_FILE))


def _fill(
    tmp: Path,
    sources: Sequence[str | Path],
    chunker: Chunker,
    embedder: Embedder,
    previous: _Previous | None,
    strict: bool,
    skipped: list[Skipped],
    progress: Callable[[BuildProgress], None] | None,
    started: float,
) -> tuple[BuildProgress, str]:
    stats = BuildProgress()

    def on_skip(record: Skipped) -> None:
        skipped.append(record)
        stats.skipped += 1

    store = PassageStore.create(tmp / STORE)
    articles = iter_articles(sources, strict=strict, on_skip=on_skip)
    with open(tmp / _VECTORS_FILE, "wb") as vector_file:
        for batch in _batches(articles, _ARTICLES_PER_BATCH):
            per_article = chunker.chunk_many(batch)
            passages = [p for ps in per_article for p in ps]
            hashes = [text_sha256(p.embed_text) for p in passages]
            vectors = np.zeros((len(passages), embedder.dimension), dtype=np.float32)
            todo = list(range(len(passages)))
            if previous is not None:
                reuse = [(i, previous.rows[h]) for i, h in enumerate(hashes) if h in previous.rows]
                if reuse:
                    vectors[[i for i, _ in reuse]] = previous.index.vectors(np.array([r for _, r in reuse]))
                    done = {i for i, _ in reuse}
                    todo = [i for i in todo if i not in done]
            if todo:
                texts = [passages[i].embed_text for i in todo]
                vectors[todo] = embedder.encode_passages(texts)
                stats.tokens += sum(embedder.count_tokens(texts))
            vector_file.write(vectors.tobytes())
            for article, article_passages in zip(batch, per_article):
                offset = len(article_passages)
                store.add(article, article_passages, hashes[:offset])
                hashes = hashes[offset:]
            stats.articles += len(batch)
            stats.passages += len(passages)
            stats.embedded += len(todo)
            stats.reused += len(passages) - len(todo)
            stats.seconds = time.perf_counter() - started
            if progress is not None:
                progress(stats)
    store.commit()
    corpus_sha256 = store.corpus_sha256()
    store.close()
    return stats, corpus_sha256


def _finish(
    tmp: Path,
    sources: Sequence[str | Path],
    settings: Settings,
    embedder: Embedder,
    stats: BuildProgress,
    corpus_sha256: str,
    skipped: int,
) -> dict[str, Any]:
    raw = tmp / _VECTORS_FILE
    vectors = np.fromfile(raw, dtype=np.float32).reshape(-1, embedder.dimension)
    index = VectorIndex.build(vectors)
    index.save(tmp / INDEX_FILE)
    del vectors
    raw.unlink()
    store = PassageStore.open(tmp / STORE)
    try:
        lexical = LexicalIndex.build(stored.passage.embed_text for stored in store.iter_passages())
    finally:
        store.close()
    lexical_files = lexical.save(tmp)
    manifest = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": embedder.describe(),
        "chunking": {"chunk_tokens": settings.chunk_tokens, "overlap_sentences": settings.overlap_sentences},
        "counts": {
            "articles": stats.articles, "passages": stats.passages, "embedded": stats.embedded,
            "reused": stats.reused, "skipped_inputs": skipped,
        },
        "corpus_sha256": corpus_sha256,
        "sources": [str(s) for s in sources],
        "index": {"kind": index.kind, "metric": "inner_product", "dimension": index.dimension, "size": index.size},
        "versions": _versions(),
    }
    manifest["lexical"] = {"files": lexical_files, "size": lexical.size, **lexical.analyzer.config()}
    return write_manifest(tmp, manifest, [INDEX_FILE, STORE, *lexical_files])


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("qa-news", "faiss-cpu", "numpy", "sentence-transformers", "torch", "transformers"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _batches(items: Iterable[Article], size: int) -> Iterator[list[Article]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


@contextmanager
def _build_lock(out: Path) -> Iterator[None]:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexStoreError(f"another build is writing to {out}; wait for it to finish") from None
        yield
