"""Build an index from article sources: ingest, chunk, embed (reusing what is unchanged), publish atomically.

A build is incremental: articles unchanged since the current index keep their
passages, vectors and lexical terms without being chunked or embedded again;
new and changed articles are chunked, and only passages whose embedded text is
new are embedded. Sources unchanged byte for byte make the build a no-op.

A build is resumable: fresh embeddings are committed to the build's temporary
folder batch by batch, and a build that was killed leaves them there for the
next build to reuse. The live index is only ever replaced by a finished one.
"""

from __future__ import annotations

import errno
import fcntl
import gzip
import json
import logging
import os
import platform
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
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
from qa.errors import IndexStoreError, InputError, QAError
from qa.index import (
    INDEX_FILE,
    VECTORS_FILE,
    VectorIndex,
    choose_type,
    load_vectors,
    measure_recall,
)
from qa.ingest import iter_articles
from qa.lexical import ANALYZER_VERSION, DEFAULT_ANALYZER, LexicalIndex, Terms
from qa.manifest import (
    Chunking,
    Counts,
    IndexInfo,
    InputFile,
    LexicalInfo,
    Manifest,
    ModelInfo,
    Prompts,
    Recall,
)
from qa.records import Article, Skipped
from qa.store import (
    STORE,
    PassageStore,
    article_sha256,
    assemble_store,
    new_generation,
    open_generation,
    publish_generation,
    remove_stale_builds,
    stale_builds,
    write_manifest,
)

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

_ARTICLES_PER_BATCH = 64
# What a build in progress commits batch by batch, kept if it is killed.
_FRESH_STORE = "fresh.sqlite"
_FRESH_VECTORS = "fresh.f32"
_COPY_ROWS = 65_536
_RECALL_QUERIES = 500
_SKIPPED_KEPT = 1000


@dataclass
class BuildProgress:
    """Where a build stands, passed to the progress callback as it goes.

    `phase` is "articles" (reading, chunking, embedding; `done` counts articles
    and `total` is the number of input records, or None when unknown), then
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
        articles, passages: in the index now.
        embedded: passages whose vectors were computed by this build.
        reused: passages whose vectors came from the previous index or a killed build.
        resumed: of those, the ones a killed build had computed.
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
) -> BuildReport:
    """Build or update the index of `sources` in `out`.

    Only what changed since the current index is redone (see the module
    docstring); with `force`, every passage is chunked and embedded again.

    Raises:
        InputError: a source is missing, no article could be read, or (with
            `strict`) an input is bad.
        DuplicateArticleError: two articles share one id.
        IndexStoreError: another build is writing to `out`, or the disk is full
            (the current index is left as it was).
    """
    settings = settings or Settings()
    out = Path(out)
    if not sources:
        raise InputError("no sources given; name .txt/.md files, folders or .jsonl(.gz) files to index")
    _check_out(out)
    missing = [str(source) for source in sources if not Path(source).exists()]
    if missing:
        raise InputError("; ".join(f"{path}: no such file or folder" for path in missing))
    choose_type(settings.index_type, 0)
    embedder = embedder or Embedder(settings.model, precision=settings.precision, batch_size=settings.batch_size)
    started = time.perf_counter()
    try:
        with _build_lock(out):
            return _build_locked(sources, out, settings, embedder, strict, force, progress, started)
    except (OSError, sqlite3.OperationalError) as exc:
        if _disk_full(exc):
            raise IndexStoreError(
                f"the disk holding {out} is full ({getattr(exc, 'strerror', None) or exc}); the current index is unchanged. "
                "Free some space and run the build again"
            ) from None
        raise


def _build_locked(
    sources: Sequence[str | Path],
    out: Path,
    settings: Settings,
    embedder: Embedder,
    strict: bool,
    force: bool,
    progress: Callable[[BuildProgress], None] | None,
    started: float,
) -> BuildReport:
    inputs = _fingerprint_inputs(sources)
    key = _build_key(settings, embedder)
    previous = None if force else _Previous.open(out, embedder, settings)
    if previous is not None and previous.manifest.inputs == inputs and previous.manifest.build == key:
        remove_stale_builds(out)
        return _unchanged_report(previous, started)
    if settings.chunk_tokens > embedder.max_tokens - 64:
        raise InputError(
            f"chunk_tokens {settings.chunk_tokens} leaves no room for the title within the model's "
            f"{embedder.max_tokens} tokens; use at most {embedder.max_tokens - 64}"
        )
    stale = stale_builds(out)
    resume = [r for r in (_Resumed.open(folder, embedder) for folder in stale) if r is not None]
    chunker = Chunker(embedder.count_tokens, settings.chunk_tokens, settings.overlap_sentences)
    skipped: list[Skipped] = []
    tmp = new_generation(out)
    try:
        stats, kept, moved = _fill(tmp, sources, chunker, embedder, previous, resume, strict, skipped, progress, started)
        if stats.articles == 0:
            raise InputError(
                f"no article could be read from {', '.join(map(str, sources))}"
                + (f" ({len(skipped)} input(s) skipped)" if skipped else "")
            )
        for resumed in resume:
            resumed.close()
        manifest, removed = _finish(tmp, sources, settings, embedder, previous, stats, kept, moved, skipped, inputs, key,
                                    progress, started)
        if previous is not None:
            previous.close()
        final = publish_generation(out, tmp)
    except BaseException as exc:
        for resumed in resume:
            resumed.close()
        _keep_fresh_only(tmp, discard=_disk_full(exc))
        raise
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return BuildReport(
        path=final, articles=stats.articles, passages=stats.passages, embedded=stats.embedded,
        reused=stats.reused, tokens=stats.tokens, seconds=time.perf_counter() - started,
        skipped=skipped, manifest=manifest, resumed=stats.resumed, kept_articles=stats.kept_articles,
        changed_articles=stats.changed_articles, removed_articles=removed,
    )


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    # SQLite reports a full disk as its own error, not as an OSError.
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)


def _check_out(out: Path) -> None:
    """Refuse an index folder that cannot be one, before anything is written."""
    if str(out).strip() in ("", "."):
        raise InputError("--out names no folder; give a folder for the index, e.g. --out vectors")
    if out.is_symlink() and not out.exists():
        raise InputError(f"--out {out} is a broken symbolic link; remove it or give another folder")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder for the index")
    for parent in out.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"--out {out}: {parent} is a file, not a folder; give a folder for the index")
            break


def _unchanged_report(previous: _Previous, started: float) -> BuildReport:
    manifest = previous.manifest
    counts = manifest.counts
    report = BuildReport(
        path=previous.folder, articles=counts.articles, passages=counts.passages, embedded=0,
        reused=counts.passages, tokens=0, seconds=time.perf_counter() - started, skipped=list(manifest.skipped or ()),
        manifest=manifest, kept_articles=counts.articles, unchanged=True,
    )
    previous.close()
    return report


class _Previous:
    """What the current index offers a new build: its articles, vectors and lexical terms."""

    def __init__(self, folder: Path, manifest: Manifest, same_chunking: bool) -> None:
        self.folder = folder
        self.manifest = manifest
        self.store = PassageStore.open(folder / STORE)
        self.articles = self.store.articles_by_id() if same_chunking else {}
        self.origins = self.store.origins() if same_chunking else {}
        self._by_hash: dict[str, int] | None = None
        self._vectors: np.ndarray | None = None
        self._index: VectorIndex | None = None
        self.terms: Terms | None = None
        self.vocab: dict[str, int] = {}

    @classmethod
    def open(cls, out: Path, embedder: Embedder, settings: Settings) -> _Previous | None:
        """The current index, when its vectors were made by this very model (same weights, precision, prompts)."""
        try:
            folder, manifest = open_generation(out, formats=(1, INDEX_FORMAT))
        except QAError as exc:
            logger.info("not reusing anything from %s: %s", out, exc)
            return None
        model = manifest.model
        if (
            model.fingerprint != embedder.fingerprint
            or model.precision != embedder.precision
            or model.prompts != Prompts(query=embedder.query_prompt, passage=embedder.passage_prompt)
        ):
            return None
        chunking = Chunking(chunk_tokens=settings.chunk_tokens, overlap_sentences=settings.overlap_sentences)
        previous = cls(folder, manifest, same_chunking=manifest.chunking == chunking)
        analyzer = manifest.lexical.analyzer if manifest.lexical is not None else {}
        if analyzer.get("version") == ANALYZER_VERSION and analyzer.get("stemmer") == DEFAULT_ANALYZER.config()["stemmer"]:
            index = LexicalIndex.load(folder)
            if index.terms is not None and index.analyzer.config() == DEFAULT_ANALYZER.config():
                previous.terms, previous.vocab = index.terms, dict(index.vocab)
        return previous

    @property
    def size(self) -> int:
        return self.manifest.counts.passages

    @property
    def by_hash(self) -> dict[str, int]:
        if self._by_hash is None:
            self._by_hash = self.store.rows_by_hash()
        return self._by_hash

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        if self._vectors is None and (self.folder / VECTORS_FILE).is_file():
            self._vectors = load_vectors(self.folder / VECTORS_FILE)
        if self._vectors is not None:
            return np.asarray(self._vectors[np.asarray(rows, dtype=np.int64)], dtype=np.float32)
        if self._index is None:
            self._index = VectorIndex.load(self.folder / INDEX_FILE)
        return self._index.vectors(np.asarray(rows, dtype=np.int64))

    def append_only(self, kept_rows: list[int]) -> bool:
        """Whether the new index starts with every previous passage, in order (so an HNSW index can be extended)."""
        return len(kept_rows) == self.size and (not kept_rows or kept_rows[-1] == self.size - 1)

    def close(self) -> None:
        self.store.close()


class _Resumed:
    """Embeddings a killed build committed in its temporary folder."""

    def __init__(self, store: PassageStore, vectors: np.ndarray, by_hash: dict[str, int]) -> None:
        self._store = store
        self._vectors = vectors
        self.by_hash = by_hash

    @classmethod
    def open(cls, folder: Path, embedder: Embedder) -> _Resumed | None:
        meta_path = folder / "fresh.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta != _fresh_meta(embedder, int(meta.get("dimension", 0))):
                return None
            store = PassageStore.recover(folder / _FRESH_STORE)
            by_hash = store.rows_by_hash()
            dimension = int(meta["dimension"])
            raw = np.memmap(folder / _FRESH_VECTORS, dtype=np.float32, mode="r")
        except (OSError, ValueError, KeyError, TypeError, sqlite3.Error) as exc:
            logger.info("cannot resume from %s: %s", folder, exc)
            return None
        vectors = raw[: len(raw) // dimension * dimension].reshape(-1, dimension)
        by_hash = {h: row for h, row in by_hash.items() if row < len(vectors)}
        return cls(store, vectors, by_hash)

    def vectors(self, rows: list[int]) -> np.ndarray:
        return np.asarray(self._vectors[rows], dtype=np.float32)

    def close(self) -> None:
        self._store.close()


def _dimension(embedder: Embedder, previous: _Previous | None) -> int:
    # Asking the embedder loads the model; a build with nothing to embed takes the previous index's word.
    if previous is not None and previous.manifest.model.dimension is not None:
        return previous.manifest.model.dimension
    return embedder.dimension


def _fresh_meta(embedder: Embedder, dimension: int) -> dict[str, Any]:
    return {
        "fingerprint": embedder.fingerprint, "precision": embedder.precision,
        "prompts": [embedder.query_prompt, embedder.passage_prompt], "dimension": dimension,
    }


def _fill(
    tmp: Path,
    sources: Sequence[str | Path],
    chunker: Chunker,
    embedder: Embedder,
    previous: _Previous | None,
    resume: list[_Resumed],
    strict: bool,
    skipped: list[Skipped],
    progress: Callable[[BuildProgress], None] | None,
    started: float,
) -> tuple[BuildProgress, list[int], list[tuple[str, int]]]:
    """Stream the articles: keep the unchanged ones by reference, chunk and embed the others into fresh.*.

    Returns the counts, the previous index's rows of the articles kept unchanged,
    and (new origin, row) for those of them now read from another file.
    """
    stats = BuildProgress(total=_count_records(sources))
    kept: list[int] = []
    moved: list[tuple[str, int]] = []

    def on_skip(record: Skipped) -> None:
        skipped.append(record)
        stats.skipped += 1

    (tmp / "fresh.json").write_text(json.dumps(_fresh_meta(embedder, _dimension(embedder, previous))), encoding="utf-8")
    fresh = PassageStore.create(tmp / _FRESH_STORE, durable=True)
    try:
        with open(tmp / _FRESH_VECTORS, "wb") as vector_file:
            for batch in _batches(iter_articles(sources, strict=strict, on_skip=on_skip), _ARTICLES_PER_BATCH):
                todo: list[Article] = []
                for article in batch:
                    known = previous.articles.get(article.id) if previous is not None else None
                    if known is not None and known[1] == article_sha256(article):
                        kept.append(known[0])
                        if previous.origins.get(known[0]) != article.origin:
                            moved.append((article.origin, known[0]))
                        stats.kept_articles += 1
                        stats.passages += known[2]
                        stats.reused += known[2]
                    else:
                        stats.changed_articles += known is not None
                        todo.append(article)
                if todo:
                    _embed_batch(todo, chunker, embedder, previous, resume, fresh, vector_file, stats)
                stats.articles += len(batch)
                stats.done = stats.articles
                stats.seconds = time.perf_counter() - started
                if progress is not None:
                    progress(stats)
    finally:
        fresh.close()
    return stats, kept, moved


def _embed_batch(
    articles: list[Article],
    chunker: Chunker,
    embedder: Embedder,
    previous: _Previous | None,
    resume: list[_Resumed],
    fresh: PassageStore,
    vector_file: Any,
    stats: BuildProgress,
) -> None:
    per_article = chunker.chunk_many(articles)
    passages = [p for ps in per_article for p in ps]
    hashes = [text_sha256(p.embed_text) for p in passages]
    vectors = np.zeros((len(passages), _dimension(embedder, previous)), dtype=np.float32)
    todo = list(range(len(passages)))
    if previous is not None and todo:
        found = [(i, previous.by_hash[hashes[i]]) for i in todo if hashes[i] in previous.by_hash]
        if found:
            vectors[[i for i, _ in found]] = previous.vectors(np.array([row for _, row in found]))
            done = {i for i, _ in found}
            todo = [i for i in todo if i not in done]
    for resumed in resume:
        found = [(i, resumed.by_hash[hashes[i]]) for i in todo if hashes[i] in resumed.by_hash]
        if found:
            vectors[[i for i, _ in found]] = resumed.vectors([row for _, row in found])
            stats.resumed += len(found)
            done = {i for i, _ in found}
            todo = [i for i in todo if i not in done]
    if todo:
        texts = [passages[i].embed_text for i in todo]
        vectors[todo] = embedder.encode_passages(texts)
        stats.tokens += sum(embedder.count_tokens(texts))
    # Vectors first, then the rows that point at them: a kill in between leaves unreferenced vectors only.
    vector_file.write(vectors.tobytes())
    vector_file.flush()
    offset = 0
    for article, article_passages in zip(articles, per_article):
        fresh.add(article, article_passages, hashes[offset:offset + len(article_passages)])
        offset += len(article_passages)
    fresh.commit()
    stats.passages += len(passages)
    stats.embedded += len(todo)
    stats.reused += len(passages) - len(todo)


def _finish(
    tmp: Path,
    sources: Sequence[str | Path],
    settings: Settings,
    embedder: Embedder,
    previous: _Previous | None,
    stats: BuildProgress,
    kept_articles: list[int],
    moved: list[tuple[str, int]],
    skipped: list[Skipped],
    inputs: tuple[InputFile, ...],
    key: dict[str, Any],
    progress: Callable[[BuildProgress], None] | None,
    started: float,
) -> tuple[Manifest, int]:
    """Assemble the new generation: store, vectors, lexical index, vector index, manifest."""

    def phase(name: str, done: int, total: int | None) -> None:
        stats.phase, stats.done, stats.total = name, done, total
        stats.seconds = time.perf_counter() - started
        if progress is not None:
            progress(stats)

    kept_rows, fresh_count = assemble_store(
        tmp / STORE, previous.folder / STORE if previous is not None and kept_articles else None,
        kept_articles, tmp / _FRESH_STORE, moved,
    )
    removed = len(previous.articles) - stats.kept_articles - stats.changed_articles if previous is not None else 0
    total = len(kept_rows) + fresh_count
    dimension = _dimension(embedder, previous)
    fresh_vectors = (
        np.memmap(tmp / _FRESH_VECTORS, dtype=np.float32, mode="r")[: fresh_count * dimension].reshape(fresh_count, dimension)
        if fresh_count else np.zeros((0, dimension), dtype=np.float32)
    )
    vectors = np.lib.format.open_memmap(tmp / VECTORS_FILE, mode="w+", dtype=np.float32, shape=(total, dimension))
    kept_array = np.asarray(kept_rows, dtype=np.int64)
    for start in range(0, len(kept_array), _COPY_ROWS):
        rows = kept_array[start:start + _COPY_ROWS]
        vectors[start:start + len(rows)] = previous.vectors(rows)
        phase("vectors", start + len(rows), total)
    for start in range(0, fresh_count, _COPY_ROWS):
        block = fresh_vectors[start:start + _COPY_ROWS]
        vectors[len(kept_array) + start:len(kept_array) + start + len(block)] = block
        phase("vectors", len(kept_array) + start + len(block), total)
    vectors.flush()
    del fresh_vectors

    phase("lexical", 0, total)
    lexical = _lexical(tmp, previous, kept_array, len(kept_rows))
    lexical_files = lexical.save(tmp)

    kind = choose_type(settings.index_type, total)
    phase("index", 0, total)
    index, extended = _vector_index(previous, kept_rows, vectors, kind, len(kept_rows))
    index.save(tmp / INDEX_FILE)
    recall = None
    if index.kind == "hnsw":
        phase("recall", 0, _RECALL_QUERIES)
        recall = measure_recall(index, vectors, queries=_RECALL_QUERIES)
    del vectors, index
    for name in (_FRESH_STORE, _FRESH_STORE + "-wal", _FRESH_STORE + "-shm", _FRESH_VECTORS, "fresh.json"):
        (tmp / name).unlink(missing_ok=True)

    phase("checksums", 0, None)
    described = VectorIndex.load(tmp / INDEX_FILE, tmp / VECTORS_FILE).describe()
    index_info = replace(IndexInfo.from_description(described), built="extended" if extended else "new",
                         recall=Recall.from_measure(recall) if recall is not None else None)
    manifest = Manifest(
        format=INDEX_FORMAT,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        model=ModelInfo.from_description(embedder.describe()) if embedder.loaded or previous is None
        else previous.manifest.model,
        chunking=Chunking(chunk_tokens=settings.chunk_tokens, overlap_sentences=settings.overlap_sentences),
        counts=Counts(
            articles=stats.articles, passages=total, embedded=stats.embedded, reused=stats.reused,
            resumed=stats.resumed, kept_articles=stats.kept_articles, changed_articles=stats.changed_articles,
            removed_articles=removed, skipped_inputs=len(skipped),
        ),
        corpus_sha256=_corpus_sha256(tmp / STORE),
        sources=tuple(str(s) for s in sources),
        inputs=tuple(inputs),
        build=key,
        skipped=tuple(skipped[:_SKIPPED_KEPT]),
        index=index_info,
        versions=_versions(),
        lexical=LexicalInfo(files=tuple(lexical_files), size=lexical.size, analyzer=lexical.analyzer.config()),
    )
    written = write_manifest(tmp, manifest, [INDEX_FILE, VECTORS_FILE, STORE, *lexical_files])
    return written, removed


def _lexical(tmp: Path, previous: _Previous | None, kept_rows: np.ndarray, kept_count: int) -> LexicalIndex:
    """BM25 over all passages, analyzing only those whose terms the previous index did not store."""
    vocab: dict[str, int] = {}
    terms = Terms.empty()
    store = PassageStore.open(tmp / STORE)
    try:
        if previous is not None and previous.terms is not None and kept_count:
            vocab = dict(previous.vocab)
            terms = previous.terms.take(kept_rows)
            texts = (s.passage.embed_text for s in store.iter_passages(start=kept_count))
        else:
            texts = (s.passage.embed_text for s in store.iter_passages())
        terms = terms.extend(DEFAULT_ANALYZER, texts, vocab)
    finally:
        store.close()
    return LexicalIndex.from_terms(terms, vocab)


def _vector_index(previous: _Previous | None, kept_rows: list[int], vectors: np.ndarray, kind: str,
                  kept_count: int) -> tuple[VectorIndex, bool]:
    """Extend the previous HNSW index when the new rows only append to it (True); build afresh otherwise."""
    if (
        kind == "hnsw" and previous is not None and kept_count
        and previous.manifest.index.type == "hnsw" and previous.append_only(kept_rows)
    ):
        index = VectorIndex.load(previous.folder / INDEX_FILE)
        index.add(vectors[kept_count:])
        index.attach(vectors)
        return index, True
    return VectorIndex.build(vectors, kind), False


def _corpus_sha256(path: Path) -> str:
    store = PassageStore.open(path)
    try:
        return store.corpus_sha256()
    finally:
        store.close()


def _build_key(settings: Settings, embedder: Embedder) -> dict[str, Any]:
    """Everything besides the sources that decides what a build writes."""
    return {
        "format": INDEX_FORMAT, "fingerprint": embedder.fingerprint, "precision": embedder.precision,
        "prompts": [embedder.query_prompt, embedder.passage_prompt], "chunk_tokens": settings.chunk_tokens,
        "overlap_sentences": settings.overlap_sentences, "analyzer": DEFAULT_ANALYZER.config(),
        "index_type": settings.index_type,
    }


def _fingerprint_inputs(sources: Sequence[str | Path]) -> tuple[InputFile, ...]:
    """Path, size and sha256 of every file under the sources, to tell an unchanged corpus in one read."""
    inputs = []
    for source in sources:
        path = Path(source)
        files = [path] if path.is_file() else sorted(
            f for f in path.rglob("*") if f.is_file() and not any(part.startswith(".") for part in f.relative_to(path).parts)
        )
        for file in files:
            inputs.append(InputFile(path=str(file.resolve()), bytes=file.stat().st_size, sha256=file_sha256(file)))
    return tuple(inputs)


def _count_records(sources: Sequence[str | Path]) -> int | None:
    """How many articles the sources hold at most (lines of JSON Lines, text files), for the progress ETA."""
    total = 0
    try:
        for source in sources:
            path = Path(source)
            files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
            for file in files:
                name = file.name.lower()
                if name.endswith((".jsonl", ".jsonl.gz")):
                    opener = gzip.open if name.endswith(".gz") else open
                    with opener(file, "rb") as stream:
                        total += sum(block.count(b"\n") for block in iter(lambda: stream.read(1 << 22), b""))
                elif name.endswith((".txt", ".md")):
                    total += 1
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    return total or None


def _keep_fresh_only(tmp: Path, *, discard: bool) -> None:
    """After a failed build, keep only its committed embeddings, for the next build to resume from."""
    if discard or not (tmp / _FRESH_STORE).is_file():
        shutil.rmtree(tmp, ignore_errors=True)
        return
    keep = {_FRESH_STORE, _FRESH_STORE + "-wal", _FRESH_STORE + "-shm", _FRESH_VECTORS, "fresh.json"}
    for entry in tmp.iterdir():
        if entry.name not in keep:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


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
    try:
        # O_NOFOLLOW: a link planted as .lock must not make the build open (and lock) a file elsewhere.
        fd = os.open(out / ".lock", os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise IndexStoreError(f"{out / '.lock'} is a symbolic link; remove it and build again") from None
        raise
    with os.fdopen(fd, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexStoreError(f"another build is writing to {out}; wait for it to finish") from None
        yield
