"""The embedded store, read side: one generation folder of FAISS index + vectors.npy + SQLite passages + BM25 arrays."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from qa.errors import IndexMismatchError
from qa.index import HNSW_EF_SEARCH, INDEX_FILE, VECTORS_FILE, VectorIndex
from qa.lexical import LexicalIndex
from qa.manifest import Manifest
from qa.records import Article, Filters
from qa.stores.generations import REBUILD_HINT, STORE, PassageStore, StoredPassage, open_generation
from qa.stores.base import Ranking, StoreClosedError
from qa.stores.filters import date_bounds, folded, published_timestamp

_T = TypeVar("_T")


class FaissStore:
    """A built index folder, opened for reading (see `qa.stores.base.Store`). Open it with `FaissStore.open(out)`."""

    name = "faiss"

    def __init__(self, out: Path, folder: Path, manifest: Manifest, passages: PassageStore, index: VectorIndex,
                 lexical: LexicalIndex) -> None:
        self._out = out
        self.folder = folder
        self._manifest = manifest
        self._passages: PassageStore | None = passages
        self._index: VectorIndex | None = index
        self._lexical: LexicalIndex | None = lexical
        self._metadata: _Metadata | None = None

    @classmethod
    def open(cls, out: str | Path, *, verify: bool = True) -> FaissStore:
        """Open the current generation of the index folder `out`, checking its files against the manifest.

        Args:
            out: the folder `qa build` wrote.
            verify: check the sha256 of every file (sizes are always checked).

        Raises:
            IndexMissingError, IndexCorruptError, IndexMismatchError.
        """
        out = Path(out)
        folder, manifest = open_generation(out, verify=verify)
        hint = REBUILD_HINT.format(out=out)
        index = VectorIndex.load(folder / INDEX_FILE, folder / VECTORS_FILE, ef_search=manifest.index.ef_search or HNSW_EF_SEARCH)
        lexical = LexicalIndex.load(folder)
        if lexical.size != index.size:
            raise IndexMismatchError(f"{out} has {index.size} vectors but {lexical.size} lexical rows; {hint}")
        return cls(out, folder, manifest, PassageStore.open(folder / STORE), index, lexical)

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    @property
    def location(self) -> str:
        return str(self._out)

    @property
    def version(self) -> str:
        return self.folder.name

    @property
    def size(self) -> int:
        return self._open(self._index).size

    @property
    def dimension(self) -> int:
        return self._open(self._index).dimension

    def dense_search(self, vectors: np.ndarray, k: int, filters: Filters | None = None) -> list[Ranking]:
        index = self._open(self._index)
        found = index.search(vectors, k, self._mask(filters))
        rankings = []
        for rows, scores in zip(found.rows, found.scores):
            keep = rows >= 0  # FAISS pads with -1 where fewer than k rows pass
            rankings.append(Ranking(rows[keep].astype(np.int64), scores[keep]))
        return rankings

    def lexical_search(self, questions: Sequence[str], k: int, filters: Filters | None = None) -> list[Ranking]:
        matches = self._open(self._lexical).search(questions, k, self._mask(filters))
        return [Ranking(m.rows, m.scores) for m in matches]

    def passages(self, rows: Sequence[int]) -> list[StoredPassage]:
        return self._open(self._passages).get(rows)

    def iter_passages(self) -> Iterator[StoredPassage]:
        return self._open(self._passages).iter_passages()

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        return self._open(self._index).vectors(np.asarray(rows, dtype=np.int64))

    def article(self, article_id: str) -> Article | None:
        return self._open(self._passages).article(article_id)

    def published_values(self) -> set[str]:
        return self._open(self._passages).published_values()

    def sites(self) -> list[str]:
        return self._metadata_table().site_names

    def categories(self) -> list[str]:
        return self._metadata_table().category_names

    def describe(self) -> dict[str, Any]:
        index = self._open(self._index)
        articles, passages = self._open(self._passages).count()
        return {"store": self.name, "location": self.location, "version": self.version,
                "articles": articles, "passages": passages, "index": index.describe()}

    def close(self) -> None:
        if self._passages is not None:
            self._passages.close()
        if self._index is not None:
            self._index.close()
        self._passages = self._index = self._lexical = self._metadata = None

    def __enter__(self) -> FaissStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _open(self, part: _T | None) -> _T:
        if part is None:
            raise StoreClosedError(f"the index at {self._out} ({self.folder.name}) was closed; open it again to search it")
        return part

    def _metadata_table(self) -> _Metadata:
        if self._metadata is None:
            self._metadata = _Metadata.read(self._open(self._passages), self.size)
        return self._metadata

    def _mask(self, filters: Filters | None) -> np.ndarray | None:
        if filters is None or not filters.active:
            return None
        return self._metadata_table().mask(filters)


class _Metadata:
    """Per-row site, category and publication time, to turn a `Filters` record into a row mask."""

    def __init__(self, sites: list[str | None], categories: list[str | None], published: np.ndarray) -> None:
        self.site_names = _distinct(sites)
        self.category_names = _distinct(categories)
        self.sites = _folded_array(sites)
        self.categories = _folded_array(categories)
        self.published = published

    @classmethod
    def read(cls, passages: PassageStore, size: int) -> _Metadata:
        sites: list[str | None] = [None] * size
        categories: list[str | None] = [None] * size
        published = np.full(size, np.nan)
        for row, site, category, date in passages.row_metadata():
            sites[row], categories[row] = site, category
            moment = published_timestamp(date)
            if moment is not None:
                published[row] = moment
        return cls(sites, categories, published)

    def mask(self, filters: Filters) -> np.ndarray:
        allowed = np.ones(len(self.sites), dtype=bool)
        if filters.sources:
            allowed &= np.isin(self.sites, folded(filters.sources))
        if filters.categories:
            allowed &= np.isin(self.categories, folded(filters.categories))
        since, until = date_bounds(filters)
        if since is not None or until is not None:
            dated = ~np.isnan(self.published)
            in_range = dated.copy()
            with np.errstate(invalid="ignore"):
                if since is not None:
                    in_range &= self.published >= since
                if until is not None:
                    in_range &= self.published <= until
            allowed &= in_range | (~dated if filters.keep_undated else False)
        return allowed


def _distinct(values: list[str | None]) -> list[str]:
    return sorted({value for value in values if value})


def _folded_array(values: list[str | None]) -> np.ndarray:
    folded_values = np.empty(len(values), dtype=object)
    folded_values[:] = [(value or "").casefold() for value in values]
    return folded_values

