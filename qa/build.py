"""Build an index from article sources: read, compare with the current index, chunk, embed what is new, publish.

A build is incremental: articles unchanged since the current index (same content
hash) are kept by the store without being chunked or embedded again; new and
changed articles are chunked, and only passages whose embedded text the store
does not already hold a vector for are embedded. Sources unchanged byte for byte
make the build a no-op. Where the passages and vectors go, how a killed build is
resumed and how the new version is published atomically is the store writer's
business (`qa.stores.faiss_build` for the embedded index).
"""

from __future__ import annotations

import ctypes
import gc
import gzip
import platform
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from importlib import metadata
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from qa.chunk import Chunker
from qa.config import INDEX_FORMAT, Settings
from qa.digest import file_sha256, text_sha256
from qa.embed import Embedder
from qa.errors import InputError
from qa.index import choose_type
from qa.ingest import JSONL_SUFFIXES, TEXT_SUFFIXES, iter_articles, iter_source_files
from qa.lexical import DEFAULT_ANALYZER
from qa.manifest import Chunking, Counts, IndexInfo, InputFile, Manifest, ModelInfo
from qa.records import Article, Skipped
from qa.stores.generations import article_sha256
from qa.stores import check_destination, locate, open_writer
from qa.stores.base import IndexedArticle, StoreWriter

_ARTICLES_PER_BATCH = 64
_SKIPPED_KEPT = 1000


@dataclass
class BuildProgress:
    """Where a build stands, passed to the progress callback as it goes.

    `phase` is "articles" (reading, chunking, embedding; `done` counts the input records read,
    skipped ones included, and `total` is the number of input records, or None when unknown), then
    "vectors", "lexical", "index" and "checksums" (`done`/`total` in passages or bytes).
    """

    phase: str = "articles"
    done: int = 0
    total: int | None = None
    articles: int = 0
    passages: int = 0
    embedded: int = 0
    reused: int = 0
    resumed: int = 0
    kept_articles: int = 0
    changed_articles: int = 0
    tokens: int = 0
    skipped: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class BuildReport:
    """What a build did.

    Attributes:
        path: the published version (for the embedded store, its generation folder).
        articles, passages: in the index now.
        embedded: passages whose vectors were computed by this build.
        reused: passages whose vectors came from the previous index or a killed build.
        manifest: what the index now says about itself.
        resumed: of the reused, the ones a killed build had computed.
        kept_articles: articles unchanged since the previous index (not chunked again).
        changed_articles: articles whose id was indexed with another content.
        removed_articles: articles of the previous index absent from the sources.
        unchanged: the sources and settings were those of the current index; nothing was written.
    """

    path: Path
    articles: int
    passages: int
    embedded: int
    reused: int
    tokens: int
    seconds: float
    manifest: Manifest
    skipped: list[Skipped] = field(default_factory=list)
    resumed: int = 0
    kept_articles: int = 0
    changed_articles: int = 0
    removed_articles: int = 0
    unchanged: bool = False


def build_index(
    sources: Sequence[str | Path],
    out: str | Path = "vectors",
    *,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    strict: bool = False,
    force: bool = False,
    progress: Callable[[BuildProgress], None] | None = None,
    store: str | None = None,
    uri: str | None = None,
    token: str | None = None,
    collection: str | None = None,
) -> BuildReport:
    """Build or update the index of `sources` in `out`.

    Only what changed since the current index is redone (see the module
    docstring); with `force`, every passage is chunked and embedded again.

    Args:
        store: the backend, one of qa.config.STORES; by default the settings' store ("faiss": `out` is a folder).
        uri, token, collection: for the "milvus" store, the server (or Milvus Lite `.db` file), its token
            and the alias readers open (`out` is not used).

    Raises:
        InputError: a source is missing, no article could be read, or (with
            `strict`) an input is bad.
        DuplicateArticleError: two articles share one id.
        IndexStoreError: another build is writing to `out`, or the disk is full
            (the current index is left as it was); StoreUnavailableError: the Milvus server does not answer.
    """
    settings = settings or Settings()
    if store is not None:
        settings = replace(settings, store=store)
    out = Path(out)
    if not sources:
        raise InputError("no sources given; name .txt/.md files, folders or .jsonl(.gz) files to index")
    location = locate(settings.store, out, uri)
    check_destination(settings.store, location, token=token, collection=collection)
    missing = [str(source) for source in sources if not Path(source).exists()]
    if missing:
        raise InputError("; ".join(f"{path}: no such file or folder" for path in missing))
    choose_type(settings.index_type, 0)
    # An embedder made here is released before the final index phase; a caller's is left loaded.
    owned = embedder is None
    embedder = embedder or Embedder.from_settings(settings)
    stats = BuildProgress()
    started = time.perf_counter()

    def report(phase: str, done: int, total: int | None) -> None:
        stats.phase, stats.done, stats.total = phase, done, total
        stats.seconds = time.perf_counter() - started
        if progress is not None:
            progress(stats)

    with open_writer(settings.store, location, embedder=embedder, settings=settings, force=force, on_phase=report,
                     token=token, collection=collection) as writer:
        return _build(writer, sources, settings, embedder, strict, stats, report, started, owned)


def _build(
    writer: StoreWriter,
    sources: Sequence[str | Path],
    settings: Settings,
    embedder: Embedder,
    strict: bool,
    stats: BuildProgress,
    report: Callable[[str, int, int | None], None],
    started: float,
    owned: bool = False,
) -> BuildReport:
    inputs = _fingerprint_inputs(sources)
    key = _build_key(settings, embedder)
    base = writer.base
    if base is not None and base.inputs == inputs and base.build == key:
        writer.abort()
        return _unchanged_report(writer, base, started)
    if settings.chunk_tokens > embedder.max_tokens - 64:
        raise InputError(
            f"chunk_tokens {settings.chunk_tokens} leaves no room for the title within the model's "
            f"{embedder.max_tokens} tokens; use at most {embedder.max_tokens - 64}"
        )
    chunker = Chunker(embedder.count_tokens, settings.chunk_tokens, settings.overlap_sentences)
    skipped: list[Skipped] = []

    def on_skip(record: Skipped) -> None:
        skipped.append(record)
        stats.skipped += 1

    existing = writer.existing()
    seen: set[str] = set()
    stats.total = _count_records(sources)
    for batch in _batches(iter_articles(sources, strict=strict, on_skip=on_skip), _ARTICLES_PER_BATCH):
        todo: list[Article] = []
        for article in batch:
            seen.add(article.id)
            known = existing.get(article.id)
            if known is not None and known == article_sha256(article):
                passages = writer.keep(article)
                stats.kept_articles += 1
                stats.passages += passages
                stats.reused += passages
            else:
                stats.changed_articles += known is not None
                todo.append(article)
        if todo:
            writer.add(_index_articles(todo, chunker, embedder, writer, stats))
            _return_freed_memory()
        stats.articles += len(batch)
        report("articles", stats.articles + stats.skipped, stats.total)  # records read, skipped ones too
    if stats.articles == 0:
        raise InputError(
            f"no article could be read from {', '.join(map(str, sources))}"
            + (f" ({len(skipped)} input(s) skipped)" if skipped else "")
        )
    removed = [article_id for article_id in existing if article_id not in seen]
    writer.remove(removed)
    manifest = _manifest(sources, settings, embedder, base, stats, len(removed), skipped, inputs, key)
    if owned:
        embedder.release()
    _return_freed_memory()
    writer.publish(manifest)
    assert writer.manifest is not None and writer.path is not None
    return BuildReport(
        path=writer.path, articles=stats.articles, passages=stats.passages, embedded=stats.embedded,
        reused=stats.reused, tokens=stats.tokens, seconds=time.perf_counter() - started, manifest=writer.manifest,
        skipped=skipped, resumed=stats.resumed, kept_articles=stats.kept_articles,
        changed_articles=stats.changed_articles, removed_articles=len(removed),
    )


def _index_articles(
    articles: list[Article], chunker: Chunker, embedder: Embedder, writer: StoreWriter, stats: BuildProgress
) -> list[IndexedArticle]:
    """Chunk `articles` and give each passage a vector: one the store holds, one a killed build made, or a new one."""
    per_article = chunker.chunk_many(articles)
    passages = [p for ps in per_article for p in ps]
    hashes = [text_sha256(p.embed_text) for p in passages]
    known = writer.kept_vectors(hashes)
    recovered = writer.recovered_vectors([h for h in hashes if h not in known])
    vectors: list[np.ndarray | None] = [known.get(h, recovered.get(h)) for h in hashes]
    todo = [i for i, vector in enumerate(vectors) if vector is None]
    if todo:
        texts = [passages[i].embed_text for i in todo]
        for i, vector in zip(todo, embedder.encode_passages(texts)):
            vectors[i] = vector
        stats.tokens += sum(embedder.count_tokens(texts))
    matrix = np.stack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)
    stats.passages += len(passages)
    stats.embedded += len(todo)
    stats.reused += len(passages) - len(todo)
    stats.resumed += sum(1 for h in hashes if h not in known and h in recovered)
    indexed, offset = [], 0
    for article, article_passages in zip(articles, per_article):
        end = offset + len(article_passages)
        indexed.append(IndexedArticle(article=article, passages=tuple(article_passages), hashes=tuple(hashes[offset:end]),
                                      vectors=matrix[offset:end]))
        offset = end
    return indexed


def _manifest(
    sources: Sequence[str | Path], settings: Settings, embedder: Embedder, base: Manifest | None,
    stats: BuildProgress, removed: int, skipped: list[Skipped], inputs: tuple[InputFile, ...], key: dict[str, Any],
) -> Manifest:
    """What the build records; the store writer completes the index, lexical, corpus and file entries."""
    return Manifest(
        format=INDEX_FORMAT,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        # Describing the model loads it: a build that embedded nothing takes the current index's word.
        model=ModelInfo.from_description(embedder.describe()) if embedder.loaded or base is None else base.model,
        chunking=Chunking(chunk_tokens=settings.chunk_tokens, overlap_sentences=settings.overlap_sentences),
        counts=Counts(
            articles=stats.articles, passages=stats.passages, embedded=stats.embedded, reused=stats.reused,
            resumed=stats.resumed, kept_articles=stats.kept_articles, changed_articles=stats.changed_articles,
            removed_articles=removed, skipped_inputs=len(skipped),
        ),
        sources=tuple(str(s) for s in sources),
        inputs=inputs,
        build=key,
        skipped=tuple(skipped[:_SKIPPED_KEPT]),
        index=IndexInfo(size=stats.passages),
        versions=_versions(),
    )


def _unchanged_report(writer: StoreWriter, base: Manifest, started: float) -> BuildReport:
    assert writer.path is not None
    return BuildReport(
        path=writer.path, articles=base.counts.articles, passages=base.counts.passages, embedded=0,
        reused=base.counts.passages, tokens=0, seconds=time.perf_counter() - started, manifest=base,
        skipped=list(base.skipped or ()), kept_articles=base.counts.articles, unchanged=True,
    )


def _build_key(settings: Settings, embedder: Embedder) -> dict[str, Any]:
    """Everything besides the sources that decides what a build writes."""
    return {
        "format": INDEX_FORMAT, "fingerprint": embedder.fingerprint, "precision": embedder.precision,
        "engine": embedder.engine, "prompts": [embedder.query_prompt, embedder.passage_prompt], "chunk_tokens": settings.chunk_tokens,
        "overlap_sentences": settings.overlap_sentences, "analyzer": DEFAULT_ANALYZER.config(),
        "index_type": settings.index_type,
    }


def _fingerprint_inputs(sources: Sequence[str | Path]) -> tuple[InputFile, ...]:
    """Path, size and sha256 of every file the sources are read from, to tell an unchanged corpus in one read."""
    return tuple(
        InputFile(path=str(file.resolve()), bytes=file.stat().st_size, sha256=file_sha256(file))
        for file in iter_source_files(sources)
    )


def _count_records(sources: Sequence[str | Path]) -> int | None:
    """How many articles the sources hold at most (lines of JSON Lines, text files), for the progress ETA."""
    total = 0
    try:
        for file in iter_source_files(sources):
            name = file.name.lower()
            if name.endswith(JSONL_SUFFIXES):
                opener = gzip.open if name.endswith(".gz") else open
                with opener(file, "rb") as stream:
                    total += sum(block.count(b"\n") for block in iter(lambda: stream.read(1 << 22), b""))
            elif name.endswith(TEXT_SUFFIXES):
                total += 1
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    return total or None


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("qa-news", "faiss-cpu", "numpy", "sentence-transformers", "torch", "transformers"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _return_freed_memory() -> None:
    """Collect cycles and hand the heap's free pages back to the OS (glibc keeps them otherwise).

    Encoding batches of changing shapes leaves freed blocks all over the heap:
    on the torch encoder, trimming after each batch of articles kept ~100 MB
    less resident at 320 passages.
    """
    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass


def _batches(items: Iterable[Article], size: int) -> Iterator[list[Article]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
