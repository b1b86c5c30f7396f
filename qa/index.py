"""The FAISS vector index: inner product over L2-normalized vectors, exact or approximate (HNSW)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from qa.config import FLAT_MAX_PASSAGES, INDEX_TYPES, check_choice
from qa.errors import IndexCorruptError, SettingsError

INDEX_FILE = "index.faiss"
VECTORS_FILE = "vectors.npy"
# HNSW over 8-bit scalar-quantized vectors: 384 bytes of codes plus 2 x M neighbour
# links of 4 bytes per passage at the base layer (~530 bytes per passage with M = 16).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 80
# Recall@10 against exact search, 100 XQuAD-ar questions (M = 16): real 16k ANT passages
# 0.972 / 0.992 / 1.000 and synthetic 100k 0.858 / 0.940 / 0.979 at efSearch 128 / 256 / 512,
# for ~1 / 2 / 4 ms a query on a busy 2-core machine.
HNSW_EF_SEARCH = 512
# A filter that keeps at most this many passages is searched exactly over those rows.
EXACT_FILTER_MAX = 50_000
_TRAIN_SAMPLE = 100_000


@dataclass(frozen=True)
class VectorMatches:
    """Search results for a batch of queries: row ids (-1 where fewer) and scores, shape (queries, k)."""

    rows: np.ndarray
    scores: np.ndarray


def choose_type(requested: str, passages: int) -> str:
    """The index type for `passages` vectors: "flat" or "hnsw" ("auto" decides by FLAT_MAX_PASSAGES)."""
    check_choice("index type", requested, INDEX_TYPES)
    if requested == "auto":
        return "flat" if passages <= FLAT_MAX_PASSAGES else "hnsw"
    return requested


class VectorIndex:
    """A FAISS index whose row i is passage row i of the store.

    When the exact float32 vectors are at hand (`vectors.npy`, memory-mapped),
    approximate candidates are re-scored exactly and `vectors()` reads them
    instead of the index's quantized codes.
    """

    def __init__(self, index: faiss.Index, vectors: np.ndarray | None = None, ef_search: int = HNSW_EF_SEARCH) -> None:
        self._index = index
        self._vectors = vectors
        self._ef_search = ef_search

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str = "flat", *, m: int = HNSW_M) -> VectorIndex:
        """Index (n, dim) float32 vectors: "flat" searches exactly, "hnsw" approximately."""
        if vectors.ndim != 2 or vectors.shape[1] < 1:
            raise SettingsError(f"vectors must be a 2-D array (n, dim), got shape {vectors.shape}")
        dimension = vectors.shape[1]
        if kind == "flat":
            index = faiss.IndexFlatIP(dimension)
        elif kind == "hnsw":
            index = faiss.IndexHNSWSQ(dimension, faiss.ScalarQuantizer.QT_8bit, m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            sample = np.random.default_rng(0).choice(len(vectors), min(len(vectors), _TRAIN_SAMPLE), replace=False)
            _train_sq8(index, vectors, np.sort(sample))
        else:
            raise SettingsError(f"index kind must be 'flat' or 'hnsw', got {kind!r}")
        built = cls(index, vectors)
        built.add(vectors)
        return built

    @classmethod
    def load(cls, path: Path, vectors_path: Path | None = None, *, ef_search: int = HNSW_EF_SEARCH) -> VectorIndex:
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexCorruptError(f"{path} is not a readable FAISS index ({str(exc).splitlines()[0]})") from None
        vectors = None
        if vectors_path is not None and vectors_path.is_file():
            vectors = load_vectors(vectors_path)
            if vectors.shape != (index.ntotal, index.d):
                raise IndexCorruptError(
                    f"{vectors_path} holds {vectors.shape} vectors, the index {index.ntotal} of dimension {index.d}"
                )
        return cls(index, vectors, ef_search)

    def add(self, vectors: np.ndarray, *, batch: int = 65_536) -> None:
        """Append vectors (rows continue from the current size), a slice at a time."""
        for start in range(0, len(vectors), batch):
            self._index.add(np.ascontiguousarray(vectors[start:start + batch], dtype=np.float32))

    def attach(self, vectors: np.ndarray) -> None:
        """Use these exact vectors (one per row) for re-scoring and `vectors()`."""
        self._vectors = vectors

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    def close(self) -> None:
        """Drop the FAISS index and the memory-mapped vectors (the map closes with its last reference)."""
        self._index = faiss.IndexFlatIP(self.dimension)
        self._vectors = None

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    @property
    def kind(self) -> str:
        """"flat" (exact) or "hnsw" (approximate)."""
        return "hnsw" if isinstance(self._index, faiss.IndexHNSW) else "flat"

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "type": self.kind, "faiss": type(self._index).__name__, "metric": "inner_product",
            "dimension": self.dimension, "size": self.size,
        }
        if self.kind == "hnsw":
            described.update(m=int(self._index.hnsw.nb_neighbors(1)),
                             ef_construction=int(self._index.hnsw.efConstruction), ef_search=self._ef_search,
                             quantizer="sq8", rescored=True)
        return described

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> VectorMatches:
        """The `k` nearest rows of each query, best first.

        `allowed`, a boolean mask over rows, restricts the search before the
        top `k` is cut, so filtered-out rows never take a slot.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dimension:
            raise SettingsError(f"queries must have shape (n, {self.dimension}), got {queries.shape}")
        k = max(1, min(k, self.size))
        if self.size == 0:
            empty = np.full((len(queries), 0), -1)
            return VectorMatches(rows=empty, scores=empty.astype(np.float32))
        approximate = self.kind == "hnsw"
        if allowed is not None and approximate and self._vectors is not None:
            rows = np.flatnonzero(allowed)
            if len(rows) <= EXACT_FILTER_MAX:
                return _exact_among(self._vectors, rows, queries, k)
        params: faiss.SearchParameters
        params = faiss.SearchParametersHNSW(efSearch=max(self._ef_search, k)) if approximate else faiss.SearchParameters()
        if allowed is not None:
            bitmap = np.packbits(np.asarray(allowed, dtype=bool), bitorder="little")
            params.sel = faiss.IDSelectorBitmap(self.size, faiss.swig_ptr(bitmap))
            scores, rows = self._index.search(queries, k, params=params)
        else:
            scores, rows = self._index.search(queries, k, params=params)
        if approximate and self._vectors is not None:
            scores, rows = _rescore(self._vectors, queries, rows)
        return VectorMatches(rows=rows, scores=scores)

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of `rows` (exact when the float32 vectors are attached)."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._vectors is not None:
            return np.asarray(self._vectors[rows], dtype=np.float32)
        return self._index.reconstruct_batch(rows)


def load_vectors(path: Path) -> np.ndarray:
    """The (n, dim) float32 vectors of a `vectors.npy`, memory-mapped (read on demand, not loaded)."""
    try:
        vectors = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"{path} is not a readable vector file ({exc})") from None
    if vectors.ndim != 2 or vectors.dtype != np.float32:
        raise IndexCorruptError(f"{path} holds {vectors.dtype} of shape {vectors.shape}, not (n, dim) float32")
    return vectors


def exact_neighbours(vectors: np.ndarray, queries: np.ndarray, k: int, *, block: int = 4096) -> np.ndarray:
    """The rows of the `k` best inner products of each query, by brute force a block at a time.

    Ties go to the lower row, so the result does not depend on `block`; a block's
    temporaries take about 24 x `block` bytes per query.
    """
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(vectors), block):
        scores = queries @ np.asarray(vectors[start:start + block], dtype=np.float32).T
        rows = np.broadcast_to(np.arange(start, start + scores.shape[1]), scores.shape)
        scores = np.concatenate([best_scores, scores], axis=1)
        rows = np.concatenate([best_rows, rows], axis=1)
        keep = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(scores, keep, axis=1)
        best_rows = np.take_along_axis(rows, keep, axis=1)
    return best_rows


def measure_recall(index: VectorIndex, vectors: np.ndarray, *, queries: int = 500, k: int = 10, depth: int = 50,
                   seed: int = 0) -> dict[str, Any]:
    """Recall@k of `index` against exact search, with sampled passages as queries.

    Each query's own row is left out of both lists (it would be found trivially).
    `recall` is what a search returns (the `depth` approximate candidates
    re-scored exactly, as the retriever does); `recall_raw` the index's own top k.
    """
    n = len(vectors)
    if n <= k + 1:
        return {"queries": 0, "k": k, "recall": 1.0, "recall_raw": 1.0}
    rows = np.sort(np.random.default_rng(seed).choice(n, min(queries, n), replace=False))
    sample = np.asarray(vectors[rows], dtype=np.float32)
    truth = exact_neighbours(vectors, sample, k + 1)
    found = index.search(sample, depth)
    raw = index._index.search(sample, k + 1, params=faiss.SearchParametersHNSW(efSearch=index._ef_search)
                              if index.kind == "hnsw" else None)[1]
    hits = raw_hits = 0
    for i, row in enumerate(rows):
        expected = [r for r in truth[i] if r != row][:k]
        hits += len(set(expected) & set([r for r in found.rows[i] if r != row][:k]))
        raw_hits += len(set(expected) & set([r for r in raw[i] if r != row][:k]))
    total = k * len(rows)
    return {"queries": len(rows), "k": k, "depth": depth, "recall": round(hits / total, 4),
            "recall_raw": round(raw_hits / total, 4)}


def _train_sq8(index: faiss.IndexHNSWSQ, vectors: np.ndarray, rows: np.ndarray, *, block: int = 16_384) -> None:
    """Train the 8-bit scalar quantizer on `rows` of `vectors` as `index.train` would, a block of rows at a time.

    FAISS trains QT_8bit (range statistic min-max, no margin) to each dimension's
    minimum and range over the sample; reading the sample in blocks saves the
    copy of it that `index.train` needs (154 MB for 100,000 vectors of 384).
    """
    storage = faiss.downcast_index(index.storage)
    quantizer = storage.sq
    if quantizer.rangestat != faiss.ScalarQuantizer.RS_minmax or quantizer.rangestat_arg != 0:
        raise SettingsError("the block-wise training assumes the min-max range of FAISS's default scalar quantizer")
    low = np.full(vectors.shape[1], np.inf, dtype=np.float32)
    high = np.full(vectors.shape[1], -np.inf, dtype=np.float32)
    for start in range(0, len(rows), block):
        part = np.asarray(vectors[rows[start:start + block]], dtype=np.float32)
        np.minimum(low, part.min(axis=0), out=low)
        np.maximum(high, part.max(axis=0), out=high)
    faiss.copy_array_to_vector(np.concatenate([low, high - low]), quantizer.trained)
    storage.is_trained = True
    index.is_trained = True


def _rescore(vectors: np.ndarray, queries: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.full(rows.shape, -np.inf, dtype=np.float32)
    for i, query in enumerate(queries):
        valid = rows[i] >= 0
        scores[i, valid] = np.asarray(vectors[rows[i][valid]], dtype=np.float32) @ query
    order = np.argsort(-scores, axis=1, kind="stable")
    rows = np.take_along_axis(rows, order, axis=1)
    scores = np.take_along_axis(scores, order, axis=1)
    scores[rows < 0] = -np.inf
    return scores, rows


def _exact_among(vectors: np.ndarray, rows: np.ndarray, queries: np.ndarray, k: int) -> VectorMatches:
    if len(rows) == 0:
        empty = np.full((len(queries), k), -1)
        return VectorMatches(rows=empty, scores=np.full((len(queries), k), -np.inf, dtype=np.float32))
    scores = queries @ np.asarray(vectors[rows], dtype=np.float32).T
    top = min(k, len(rows))
    order = np.argsort(-scores, axis=1, kind="stable")[:, :top]
    found_rows = rows[order]
    found_scores = np.take_along_axis(scores, order, axis=1)
    if top < k:
        found_rows = np.pad(found_rows, ((0, 0), (0, k - top)), constant_values=-1)
        found_scores = np.pad(found_scores, ((0, 0), (0, k - top)), constant_values=-np.inf)
    return VectorMatches(rows=found_rows, scores=found_scores.astype(np.float32))
