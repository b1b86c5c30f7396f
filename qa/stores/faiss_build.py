"""The embedded store, write side: a build fills a temporary generation folder, then publishes it atomically.

The writer starts from the current generation (when its vectors were made by the
same model): unchanged articles keep their passages, vectors and lexical terms
by reference. Fresh articles are committed to the temporary folder batch by
batch (`fresh.*`), so a build that is killed leaves them there for the next
build to resume from. The live index is only ever replaced by a finished one.

Over 500 lines: one writer whose steps (reuse, embed, index, publish) share the generation folder's state.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from qa.config import INDEX_FORMAT, Settings
from qa.embed import Embedder
from qa.errors import IndexMissingError, IndexStoreError, InputError, QAError
from qa.index import INDEX_FILE, VECTORS_FILE, VectorIndex, choose_type, load_vectors, measure_recall
from qa.lexical import ANALYZER_VERSION, DEFAULT_ANALYZER, LexicalIndex, Terms
from qa.manifest import Chunking, IndexInfo, LexicalInfo, Manifest, Recall
from qa.records import Article
from qa.stores.generations import (
    STORE,
    PassageStore,
    assemble_store,
    new_generation,
    open_generation,
    publish_generation,
    remove_stale_builds,
    stale_builds,
    write_manifest,
)
from qa.stores.base import IndexedArticle

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

# What a build in progress commits batch by batch, kept if it is killed.
_FRESH_STORE = "fresh.sqlite"
_FRESH_VECTORS = "fresh.f32"
_FRESH_META = "fresh.json"
_FRESH_FILES = (_FRESH_STORE, _FRESH_STORE + "-wal", _FRESH_STORE + "-shm", _FRESH_VECTORS, _FRESH_META)
_COPY_ROWS = 16_384
_RECALL_QUERIES = 500

OnPhase = Callable[[str, int, int | None], None]


def check_out(out: Path) -> None:
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


class FaissWriter:
    """One build writing the next generation of the index folder `out` (see `qa.stores.base.StoreWriter`).

    Open it with `FaissWriter.open(out, ...)`, a context manager that holds the
    folder's build lock, turns a full disk into an IndexStoreError, and on any
    failure keeps only the committed embeddings for the next build to resume.
    """

    name = "faiss"

    def __init__(self, out: Path, embedder: Embedder, settings: Settings, base: _Previous | None,
                 on_phase: OnPhase | None) -> None:
        self._out = out
        self._embedder = embedder
        self._settings = settings
        self._base = base
        self._on_phase = on_phase
        self._tmp: Path | None = None
        self._resume: list[_Resumed] = []
        self._stale: list[Path] = []
        self._fresh: PassageStore | None = None
        self._fresh_vectors: BinaryIO | None = None
        self._dropped: set[str] = set()
        self._moved: list[tuple[str, int]] = []
        # Kept once known: the model may be released before publish() needs it.
        self._dimension: int | None = None
        self.manifest: Manifest | None = None
        """The manifest published, once `publish()` returned."""
        self.path: Path | None = base.folder if base is not None else None
        """The generation folder: the published one, or the one this build started from."""

    @classmethod
    @contextmanager
    def open(cls, out: Path, *, embedder: Embedder, settings: Settings, force: bool = False,
             on_phase: OnPhase | None = None) -> Iterator[FaissWriter]:
        """Lock `out` and start a build from its current generation (from nothing with `force`).

        Raises:
            IndexStoreError: another build is writing to `out`, or the disk is full
                (the current index is left as it was).
        """
        try:
            with _build_lock(out):
                writer = cls(out, embedder, settings, None if force else _Previous.open(out, embedder, settings), on_phase)
                try:
                    yield writer
                except BaseException as exc:
                    writer._abandon(discard=_disk_full(exc))
                    raise
                finally:
                    writer._close()
        except (OSError, sqlite3.OperationalError) as exc:
            if _disk_full(exc):
                raise IndexStoreError(
                    f"the disk holding {out} is full ({getattr(exc, 'strerror', None) or exc}); the current index "
                    "is unchanged. Free some space and run the build again"
                ) from None
            raise

    @property
    def base(self) -> Manifest | None:
        """The manifest of the generation this build starts from, or None."""
        return self._base.manifest if self._base is not None else None

    @property
    def dimension(self) -> int:
        # Asking the embedder loads the model; a build with nothing to embed takes the current index's word.
        if self._dimension is None:
            if self._base is not None and self._base.manifest.model.dimension is not None:
                self._dimension = self._base.manifest.model.dimension
            else:
                self._dimension = self._embedder.dimension
        return self._dimension

    def existing(self) -> Mapping[str, str]:
        return {article_id: sha for article_id, (_, sha, _) in self._base.articles.items()} if self._base else {}

    def keep(self, article: Article) -> int:
        """`article` is unchanged and stays: take its new origin (when it moved) and return its passage count."""
        assert self._base is not None
        row, _, passages = self._base.articles[article.id]
        if self._base.origins.get(row) != article.origin:
            self._moved.append((article.origin, row))
        return passages

    def kept_vectors(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        if self._base is None:
            return {}
        found = {h: self._base.by_hash[h] for h in hashes if h in self._base.by_hash}
        vectors = self._base.vectors(np.array(list(found.values()), dtype=np.int64)) if found else []
        return dict(zip(found, vectors))

    def recovered_vectors(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors that killed builds committed for passages with these embedded-text hashes."""
        self._begin()
        recovered: dict[str, np.ndarray] = {}
        for resumed in self._resume:
            found = {h: resumed.by_hash[h] for h in hashes if h in resumed.by_hash and h not in recovered}
            if found:
                recovered.update(zip(found, resumed.vectors(list(found.values()))))
        return recovered

    def add(self, articles: Sequence[IndexedArticle]) -> None:
        self._begin()
        assert self._fresh is not None and self._fresh_vectors is not None
        # Vectors first, then the rows that point at them: a kill in between leaves unreferenced vectors only.
        for indexed in articles:
            self._fresh_vectors.write(np.ascontiguousarray(indexed.vectors, dtype=np.float32).tobytes())
        self._fresh_vectors.flush()
        for indexed in articles:
            self._fresh.add(indexed.article, list(indexed.passages), list(indexed.hashes))
            self._dropped.add(indexed.article.id)
        self._fresh.commit()

    def remove(self, article_ids: Sequence[str]) -> None:
        self._dropped.update(article_ids)

    def publish(self, manifest: Manifest) -> str:
        """Assemble the generation (store, vectors, lexical and vector indexes), write `manifest` completed with
        the index, lexical, corpus and file entries, and make it current; return the generation's name."""
        tmp = self._begin()
        self._close_fresh()
        for resumed in self._resume:
            resumed.close()
        self._resume = []
        written = _finish(tmp, self._base, self._kept_rows(), self._moved, self.dimension, self._settings,
                          manifest, self._phase)
        if self._base is not None:
            self._base.close()
        self.path = publish_generation(self._out, tmp)
        self._tmp = None
        self.manifest = written
        for folder in self._stale:
            shutil.rmtree(folder, ignore_errors=True)
        return self.path.name

    def abort(self) -> None:
        """Drop this build's work but its committed embeddings, which the next build resumes from.

        A build that wrote nothing (its sources were already indexed) removes what
        killed builds left instead: the index they were building is current.
        """
        if self._tmp is None:
            remove_stale_builds(self._out)
        else:
            self._abandon(discard=False)

    def _begin(self) -> Path:
        """The temporary generation folder with its empty fresh.* files, made on first use (opening what killed builds left)."""
        if self._tmp is None:
            self._stale = stale_builds(self._out)
            self._resume = [r for r in (_Resumed.open(folder, self._embedder) for folder in self._stale) if r]
            self._tmp = new_generation(self._out)
            meta = _fresh_meta(self._embedder, self.dimension)
            (self._tmp / _FRESH_META).write_text(json.dumps(meta), encoding="utf-8")
            self._fresh = PassageStore.create(self._tmp / _FRESH_STORE, durable=True)
            self._fresh_vectors = open(self._tmp / _FRESH_VECTORS, "wb")
        return self._tmp

    def _kept_rows(self) -> list[int]:
        """The current generation's article rows this build keeps."""
        if self._base is None:
            return []
        return [row for article_id, (row, _, _) in self._base.articles.items() if article_id not in self._dropped]

    def _phase(self, name: str, done: int, total: int | None) -> None:
        if self._on_phase is not None:
            self._on_phase(name, done, total)

    def _close_fresh(self) -> None:
        if self._fresh_vectors is not None:
            self._fresh_vectors.close()
            self._fresh_vectors = None
        if self._fresh is not None:
            self._fresh.close()
            self._fresh = None

    def _abandon(self, *, discard: bool) -> None:
        self._close()
        if self._tmp is not None:
            _keep_fresh_only(self._tmp, discard=discard)
            self._tmp = None

    def _close(self) -> None:
        self._close_fresh()
        for resumed in self._resume:
            resumed.close()
        self._resume = []
        if self._base is not None:
            self._base.close()


class _Previous:
    """What the current generation offers a new build: its articles, vectors and lexical terms."""

    def __init__(self, folder: Path, manifest: Manifest, same_chunking: bool) -> None:
        self.folder = folder
        self.manifest = manifest
        self.store = PassageStore.open(folder / STORE)
        self.articles = self.store.articles_by_id() if same_chunking else {}
        self.origins = self.store.origins() if same_chunking else {}
        self._by_hash: dict[str, int] | None = None
        self._index: VectorIndex | None = None
        self.terms: Terms | None = None
        self.vocab: dict[str, int] = {}

    @classmethod
    def open(cls, out: Path, embedder: Embedder, settings: Settings) -> _Previous | None:
        """The current generation, when its vectors were made by this very model (same weights, precision, prompts)."""
        try:
            folder, manifest = open_generation(out, formats=(1, INDEX_FORMAT))
        except IndexMissingError:
            logger.info("no index at %s yet: building a new one", out)
            return None
        except QAError as exc:
            logger.info("not reusing anything from %s, building it anew: %s", out, exc)
            return None
        model = manifest.model
        if not model.made_by(embedder):
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
        if (self.folder / VECTORS_FILE).is_file():
            # Mapped for this call only: the pages read leave the build's resident memory with the map.
            return np.array(load_vectors(self.folder / VECTORS_FILE)[np.asarray(rows, dtype=np.int64)], dtype=np.float32)
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
        try:
            meta = json.loads((folder / _FRESH_META).read_text(encoding="utf-8"))
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


def _fresh_meta(embedder: Embedder, dimension: int) -> dict[str, Any]:
    return {
        "fingerprint": embedder.fingerprint, "precision": embedder.precision, "engine": embedder.engine,
        "prompts": [embedder.query_prompt, embedder.passage_prompt], "dimension": dimension,
    }


def _finish(tmp: Path, previous: _Previous | None, kept_articles: list[int], moved: list[tuple[str, int]],
            dimension: int, settings: Settings, manifest: Manifest, phase: OnPhase) -> Manifest:
    """Assemble the new generation in `tmp`: store, vectors, lexical index, vector index, manifest."""
    kept_rows, fresh_count = assemble_store(
        tmp / STORE, previous.folder / STORE if previous is not None and kept_articles else None,
        kept_articles, tmp / _FRESH_STORE, moved,
    )
    total = len(kept_rows) + fresh_count
    kept_array = np.asarray(kept_rows, dtype=np.int64)
    _write_vectors(tmp / VECTORS_FILE, previous, kept_array, tmp / _FRESH_VECTORS, fresh_count, dimension, phase)
    vectors = load_vectors(tmp / VECTORS_FILE)

    phase("lexical", 0, total)
    lexical = _lexical(tmp, previous, kept_array, len(kept_rows))
    lexical_info = LexicalInfo(files=tuple(lexical.save(tmp)), size=lexical.size, analyzer=lexical.analyzer.config())
    # Saved: its arrays need not stay in memory while the vector index is built.
    del lexical

    kind = choose_type(settings.index_type, total)
    phase("index", 0, total)
    index, extended = _vector_index(previous, kept_rows, vectors, kind, len(kept_rows))
    index.save(tmp / INDEX_FILE)
    recall = None
    if index.kind == "hnsw":
        phase("recall", 0, _RECALL_QUERIES)
        recall = Recall.from_measure(measure_recall(index, vectors, queries=_RECALL_QUERIES))
    del vectors, index
    for name in _FRESH_FILES:
        (tmp / name).unlink(missing_ok=True)

    phase("checksums", 0, None)
    described = IndexInfo.from_description(VectorIndex.load(tmp / INDEX_FILE, tmp / VECTORS_FILE).describe())
    manifest = replace(
        manifest,
        index=replace(described, built="extended" if extended else "new", recall=recall),
        corpus_sha256=_corpus_sha256(tmp / STORE),
        lexical=lexical_info,
    )
    return write_manifest(tmp, manifest, [INDEX_FILE, VECTORS_FILE, STORE, *lexical_info.files])


def _write_vectors(path: Path, previous: _Previous | None, kept_rows: np.ndarray, fresh: Path, fresh_count: int,
                   dimension: int, phase: OnPhase) -> None:
    """Write the generation's `vectors.npy`: the kept rows of the previous one, then the fresh ones.

    Written and read with plain file calls, a block at a time: pages of a memory
    map would stay in the build's resident memory until the map is closed.
    """
    total = len(kept_rows) + fresh_count
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False,
              "shape": (total, dimension)}
    with open(path, "wb") as out:
        np.lib.format.write_array_header_1_0(out, header)
        for start in range(0, len(kept_rows), _COPY_ROWS):
            assert previous is not None
            rows = kept_rows[start:start + _COPY_ROWS]
            out.write(np.ascontiguousarray(previous.vectors(rows), dtype=np.float32).data)
            phase("vectors", start + len(rows), total)
        with open(fresh, "rb") if fresh_count else nullcontext() as source:
            for start in range(0, fresh_count, _COPY_ROWS):
                count = min(_COPY_ROWS, fresh_count - start)
                block = np.fromfile(source, dtype=np.float32, count=count * dimension)
                if len(block) != count * dimension:
                    raise IndexStoreError(f"{fresh} holds fewer vectors than the {fresh_count} passages of this build")
                out.write(block.data)
                phase("vectors", len(kept_rows) + start + count, total)


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


def _keep_fresh_only(tmp: Path, *, discard: bool) -> None:
    """After a failed build, keep only its committed embeddings, for the next build to resume from."""
    if discard or not (tmp / _FRESH_STORE).is_file():
        shutil.rmtree(tmp, ignore_errors=True)
        return
    for entry in tmp.iterdir():
        if entry.name not in _FRESH_FILES:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    # SQLite reports a full disk as its own error, not as an OSError.
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)


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
