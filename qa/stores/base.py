"""The store seam: what searching (`Store`), building (`StoreWriter`) and the package (`Backend`) need from a backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from qa.errors import StoreClosedError
from qa.manifest import Manifest
from qa.records import Article, Filters, Passage
from qa.stores.generations import StoredPassage

if TYPE_CHECKING:
    from qa.config import Settings
    from qa.embed import Embedder

__all__ = [
    "Backend", "IndexedArticle", "OnPhase", "Ranking", "Store", "StoreClosedError", "StoreWriter", "StoredPassage", "Watch",
]

# A writer's progress: the phase ("vectors", "lexical", "index", "recall", "checksums"), done, total (None: unknown).
OnPhase = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class Ranking:
    """Candidates of one query from one ranker, best first: passage rows (int64) and their scores.

    A row is the store's key of a passage; scores are comparable within one
    ranking only (cosine for dense, BM25 for lexical, a fused score after `fuse`).
    """

    rows: np.ndarray
    scores: np.ndarray

    @classmethod
    def empty(cls) -> Ranking:
        return cls(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32))

    def __len__(self) -> int:
        return len(self.rows)

    def best(self, n: int) -> Ranking:
        """The `n` best candidates, highest score first; equal scores keep their order in this ranking."""
        order = np.argsort(-self.scores, kind="stable")[:n]
        return Ranking(self.rows[order], self.scores[order])


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

    def published_values(self) -> set[str]:
        """The distinct `published` strings of the articles that have passages (undated ones left out)."""

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

    manifest: Manifest | None
    """The manifest published, once `publish()` returned."""

    path: Path | None
    """The version published (a generation folder, a collection name), or the one this build started from."""

    @property
    def base(self) -> Manifest | None:
        """The manifest of the version this build starts from (None: it starts from nothing)."""

    def existing(self) -> Mapping[str, str]:
        """Article id to article sha256 (`qa.stores.generations.article_sha256`) of the version this build starts from."""

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


@dataclass(frozen=True)
class Watch:
    """How a server's index tells a served app that another version was published (see `qa.live.LiveIndex`).

    Attributes:
        published: the name of the version published now (None: nothing is published).
        info: what the health page says about the store (never a secret).
    """

    published: Callable[[], str | None]
    info: Mapping[str, str]


class Backend(Protocol):
    """A backend module, `qa.stores.<name>_backend` for each name of qa.config.STORES, as the package `qa.stores` uses it.

    Its index lives at a `location`: a folder, or a URI. Options are the backend's own (`token`, `collection`);
    the package passes only those named in `OPTIONS`, and only those that are set.
    """

    OPTIONS: tuple[str, ...]

    def locate(self, path: Path, uri: str | None) -> str | Path:
        """Where the index lives, of the index folder and the URI a caller gives (SettingsError: the one it needs is missing)."""

    def open_store(self, location: str | Path, *, verify: bool = True, **options: str) -> Store:
        """The published version at `location`, opened for reading."""

    def check_destination(self, location: str | Path, **options: str) -> None:
        """Refuse a place a build cannot write to, before anything is read or embedded."""

    def open_writer(self, location: str | Path, *, embedder: Embedder, settings: Settings, force: bool = False,
                    on_phase: OnPhase | None = None, **options: str) -> AbstractContextManager[StoreWriter]:
        """A build of the next version at `location` (from nothing with `force`), as a context manager."""

    def build_args(self, store: Store) -> str:
        """The `qa build` options that write `store`'s index again (never with a secret)."""

    def watch(self, location: str | Path, **options: str) -> Watch | None:
        """How a server's published version is watched; None where `qa.live` reads the index folder's pointer."""
