"""The store seam: what searching (`Store`) and building (`StoreWriter`) need from a vector and passage backend."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from qa.errors import StoreClosedError
from qa.manifest import Manifest
from qa.records import Article, Filters, Passage
from qa.store import StoredPassage

if TYPE_CHECKING:
    import numpy as np

    from qa.fusion import Ranking

__all__ = ["IndexedArticle", "Store", "StoreClosedError", "StoreWriter", "StoredPassage"]


@runtime_checkable
class Store(Protocol):
    """One published version of an index, opened for reading: passages with their article metadata,
    their vectors, a dense and a lexical search, both filtered inside the store.

    Passages are addressed by `row`, an int the store chooses (a vector row for
    FAISS, a primary key for a server); rankings and `passages()` speak in rows.
    Filters arrive as the `Filters` record, and the store applies them before its
    top k is cut, so a filtered-out passage never takes a place (see
    `qa.stores.filters.matches` for their meaning). After `close()` every call
    raises `StoreClosedError`.
    """

    name: str
    """The backend, one of qa.config.STORES."""

    @property
    def manifest(self) -> Manifest:
        """What the build recorded: model, chunking, counts, index type."""

    @property
    def location(self) -> str:
        """Where the index lives, for people: a folder, or a server and collection (never a secret)."""

    @property
    def version(self) -> str:
        """The published version being read: a generation folder's or a collection's name."""

    @property
    def size(self) -> int:
        """Number of passages."""

    @property
    def dimension(self) -> int:
        """Length of the stored vectors."""

    def dense_search(self, vectors: np.ndarray, k: int, filters: Filters | None = None) -> list[Ranking]:
        """For each (dimension,) query vector, the `k` passages of highest inner product that pass `filters`."""

    def lexical_search(self, questions: Sequence[str], k: int, filters: Filters | None = None) -> list[Ranking]:
        """For each question, the `k` passages of highest BM25 score (> 0) that pass `filters`, ties by lower row."""

    def passages(self, rows: Sequence[int]) -> list[StoredPassage]:
        """The passages at `rows` with their articles, in the order asked (unknown rows left out)."""

    def iter_passages(self) -> Iterator[StoredPassage]:
        """Every passage, in row order."""

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        """The stored (len(rows), dimension) float32 vectors of `rows`."""

    def article(self, article_id: str) -> Article | None:
        """The whole article, as ingested, or None when the index does not hold it."""

    def sites(self) -> list[str]:
        """The distinct site names of the articles, sorted."""

    def categories(self) -> list[str]:
        """The distinct categories of the articles, sorted."""

    def describe(self) -> dict[str, Any]:
        """For health pages: store name, location, version, counts and index type (JSON-ready)."""

    def close(self) -> None:
        """Release connections, files and memory maps; closing twice is harmless."""


@dataclass(frozen=True)
class IndexedArticle:
    """An article ready to be written: its passages, the sha256 of each one's embedded text, their vectors."""

    article: Article
    passages: tuple[Passage, ...]
    hashes: tuple[str, ...]
    vectors: np.ndarray


@runtime_checkable
class StoreWriter(Protocol):
    """One build writing the next version of an index, invisible to readers until `publish()`.

    A writer starts from the published version (when there is one and the
    build can reuse it) and changes it article by article: articles neither
    added nor removed stay as they were. FAISS writes a new
    generation folder and swaps the CURRENT pointer; a server writes a new
    collection and moves an alias to it. Either way readers see the old
    version or the new one, never a mix, and a killed build leaves the old one
    published.
    """

    name: str
    """The backend, one of qa.config.STORES."""

    @property
    def base(self) -> Manifest | None:
        """The manifest of the version this build starts from (None: it starts from nothing)."""

    def existing(self) -> Mapping[str, str]:
        """Article id to article sha256 (`qa.store.article_sha256`) of the version this build starts from."""

    def keep(self, article: Article) -> int:
        """`article` is unchanged (same sha256): it stays, under its new origin; return its passage count."""

    def kept_vectors(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors the starting version already holds for passages with these embedded-text hashes."""

    def recovered_vectors(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors a killed build of the same model left behind, for these embedded-text hashes."""

    def add(self, articles: Sequence[IndexedArticle]) -> None:
        """Write these articles, replacing any with the same id."""

    def remove(self, article_ids: Sequence[str]) -> None:
        """Leave these articles (and their passages) out of the new version."""

    def publish(self, manifest: Manifest) -> str:
        """Finish the indexes, record `manifest` with them and make this version the published one
        in one atomic step; return the new version's name."""

    def abort(self) -> None:
        """Drop what this build wrote; the published version stays as it was."""
