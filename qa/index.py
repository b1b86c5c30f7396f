"""The FAISS vector index: inner product over L2-normalized vectors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from qa.errors import IndexCorruptError, SettingsError

INDEX_FILE = "index.faiss"


@dataclass(frozen=True)
class VectorMatches:
    """Search results for a batch of queries: row ids (-1 where fewer) and scores, shape (queries, k)."""

    rows: np.ndarray
    scores: np.ndarray


class VectorIndex:
    """A FAISS index whose row i is passage row i of the store."""

    def __init__(self, index: faiss.Index) -> None:
        self._index = index

    @classmethod
    def build(cls, vectors: np.ndarray) -> VectorIndex:
        """Index (n, dim) float32 vectors with exact inner-product search."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] < 1:
            raise SettingsError(f"vectors must be a 2-D array (n, dim), got shape {vectors.shape}")
        index = faiss.IndexFlatIP(vectors.shape[1])
        if len(vectors):
            index.add(vectors)
        return cls(index)

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        try:
            return cls(faiss.read_index(str(path)))
        except RuntimeError as exc:
            raise IndexCorruptError(f"{path} is not a readable FAISS index ({str(exc).splitlines()[0]})") from None

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    @property
    def kind(self) -> str:
        return type(self._index).__name__

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
        if allowed is None:
            scores, rows = self._index.search(queries, k)
        else:
            bitmap = np.packbits(np.asarray(allowed, dtype=bool), bitorder="little")
            selector = faiss.IDSelectorBitmap(self.size, faiss.swig_ptr(bitmap))
            scores, rows = self._index.search(queries, k, params=faiss.SearchParameters(sel=selector))
        return VectorMatches(rows=rows, scores=scores)

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of `rows` (used to reuse embeddings on rebuild)."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._index.reconstruct_batch(rows)
