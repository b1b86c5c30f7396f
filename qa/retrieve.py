"""Questions in, ranked passages out: dense, lexical or hybrid search over a built index."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timezone
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import DEFAULT_INDEX_DIR, Settings
from qa.embed import Embedder
from qa.errors import IndexCorruptError, IndexMismatchError, IndexStoreError, QueryError
from qa.index import HNSW_EF_SEARCH, INDEX_FILE, VECTORS_FILE, VectorIndex
from qa.lexical import LexicalIndex
from qa.normalize import normalize
from qa.records import Article, Carrier, Filters, Hit
from qa.store import REBUILD_HINT, STORE, PassageStore, StoredPassage, open_generation

MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 200
MODES = ("hybrid", "dense", "lexical")
# Hybrid score: each ranker's candidate scores scaled to [0, 1] (min-max), then
# weighted. Measured on XQuAD-ar (benchmarks/fusion.py): MRR@10 0.959 at equal
# weights against 0.945 for reciprocal rank fusion.
LEXICAL_WEIGHT = 0.5
# Each ranker contributes this many candidates (or 4 k) to the fusion.
CANDIDATES = 50
# Passages of different articles are one wire story when this share of the shorter
# one's words is in the other (a site often adds or drops a line of the agency text).
WIRE_OVERLAP = 0.8
WIRE_SIMILARITY_GAP = 0.1


class Retriever:
    """Searches one built index. Load it with `Retriever.load(path)`."""

    def __init__(
        self,
        folder: Path,
        manifest: dict[str, Any],
        store: PassageStore,
        index: VectorIndex,
        lexical: LexicalIndex,
        embedder: Embedder,
        settings: Settings | None = None,
    ) -> None:
        self.folder = folder
        self.manifest = manifest
        self._store = store
        self._index = index
        self._lexical = lexical
        self._embedder = embedder
        self._settings = settings if settings is not None else Settings()
        self._metadata: _Metadata | None = None
        self._closed = False

    @classmethod
    def load(
        cls,
        path: str | Path = DEFAULT_INDEX_DIR,
        *,
        model: str | None = None,
        chunk_tokens: int | None = None,
        embedder: Embedder | None = None,
        verify: bool = True,
        settings: Settings | None = None,
    ) -> Retriever:
        """Open the index at `path`, checking its files against the manifest.

        Args:
            path: the folder `qa build` wrote.
            model: the model the caller expects; by default, the one that built the index.
            chunk_tokens: the passage size the caller expects; by default, the index's.
            embedder: an already loaded embedder to share (it must be the index's model).
            verify: check the sha256 of every file (sizes are always checked).
            settings: search defaults (`top_k`); by default `Settings()`.

        Raises:
            IndexMissingError, IndexCorruptError, IndexMismatchError.
        """
        out = Path(path)
        folder, manifest = open_generation(out, verify=verify)
        hint = REBUILD_HINT.format(out=out)
        built = manifest["model"]
        if model is not None and model != built["name"]:
            raise IndexMismatchError(
                f"{out} was built with the model {built['name']!r}, not {model!r}; "
                f"load it without a model, or rebuild it with `qa build SOURCES --out {out} --model {model}`"
            )
        built_chunk = manifest["chunking"]["chunk_tokens"]
        if chunk_tokens is not None and chunk_tokens != built_chunk:
            raise IndexMismatchError(
                f"{out} was built with passages of {built_chunk} tokens, not {chunk_tokens}; "
                f"rebuild it with `qa build SOURCES --out {out} --chunk-tokens {chunk_tokens}`"
            )
        if embedder is None:
            embedder = Embedder(built["name"], precision=built["precision"])
        if embedder.fingerprint != built["fingerprint"]:
            raise IndexMismatchError(
                f"{out} was built with other weights than those of {embedder.name!r} "
                f"(fingerprint {built['fingerprint'][:12]} vs {embedder.fingerprint[:12]}); {hint}"
            )
        ef_search = manifest.get("index", {}).get("ef_search", HNSW_EF_SEARCH)
        if not isinstance(ef_search, int) or isinstance(ef_search, bool) or ef_search < 1:
            raise IndexCorruptError(f"{out}: the manifest's index.ef_search is {ef_search!r}, not a positive whole number; {hint}")
        index = VectorIndex.load(folder / INDEX_FILE, folder / VECTORS_FILE, ef_search=ef_search)
        if index.dimension != embedder.dimension:
            raise IndexMismatchError(f"{out} holds {index.dimension}-dimensional vectors, the model makes {embedder.dimension}; {hint}")
        lexical = LexicalIndex.load(folder)
        if lexical.size != index.size:
            raise IndexMismatchError(f"{out} has {index.size} vectors but {lexical.size} lexical rows; {hint}")
        return cls(folder, manifest, PassageStore.open(folder / STORE), index, lexical, embedder, settings)

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    @property
    def size(self) -> int:
        """Number of passages in the index."""
        return self._index.size

    def close(self) -> None:
        """Release the passage store's connection and the index's memory; later calls raise IndexStoreError."""
        if self._closed:
            return
        self._closed = True
        self._store.close()
        self._index.close()
        self._metadata = None

    def __enter__(self) -> Retriever:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def sites(self) -> list[str]:
        """The distinct site names of the indexed articles, sorted."""
        return self._distinct(1)

    def categories(self) -> list[str]:
        """The distinct categories of the indexed articles, sorted."""
        return self._distinct(2)

    def search(
        self, question: str, k: int | None = None, *, mode: str = "hybrid", filters: Filters | None = None
    ) -> list[Hit]:
        """The `k` passages that best answer `question`, best first.

        Args:
            question: in Arabic, English or French.
            k: number of hits (wire copies of one story count once); None means the settings' `top_k`.
            mode: "hybrid" (dense and BM25 scores, each scaled to [0, 1], averaged), "dense" or "lexical".
            filters: metadata filters, applied before the top k is cut.
        """
        return self.search_many([question], k, mode=mode, filters=filters)[0]

    def search_many(
        self, questions: Sequence[str], k: int | None = None, *, mode: str = "hybrid", filters: Filters | None = None
    ) -> list[list[Hit]]:
        """Search a batch of questions at once; one list of hits per question."""
        self._check_open()
        if k is None:
            k = self._settings.top_k
        if isinstance(questions, str):
            raise QueryError("search_many takes a list of questions; use search() for one question")
        questions = [check_question(q) for q in questions]
        check_k(k)
        if mode not in MODES:
            raise QueryError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if not questions:
            return []
        allowed = self._allowed(filters) if filters is not None and filters.active else None
        if allowed is not None and not allowed.any():
            return [[] for _ in questions]
        depth = max(CANDIDATES, 4 * k)
        vectors = self._embedder.encode_queries(questions)
        dense = self._index.search(vectors, depth, allowed) if mode != "lexical" else None
        lexical = self._lexical.search(questions, depth, allowed) if mode != "dense" else None
        results = []
        for i, vector in enumerate(vectors):
            ranked: dict[int, float] = {}
            if mode == "dense":
                ranked = {int(r): float(s) for r, s in zip(dense.rows[i], dense.scores[i]) if r >= 0}
            elif mode == "lexical":
                ranked = {int(r): float(s) for r, s in zip(lexical[i].rows, lexical[i].scores)}
            else:
                keep = dense.rows[i] >= 0
                for weight, rows, scores in (
                    (1.0 - LEXICAL_WEIGHT, dense.rows[i][keep], dense.scores[i][keep]),
                    (LEXICAL_WEIGHT, lexical[i].rows, lexical[i].scores),
                ):
                    for row, value in zip(rows.tolist(), _min_max(scores).tolist()):
                        ranked[row] = ranked.get(row, 0.0) + weight * value
            order = sorted(ranked, key=lambda row: -ranked[row])[: 3 * k]
            stored = self._store.get(order)
            similarity = self._index.vectors(np.array(order, dtype=np.int64)) @ vector if order else np.zeros(0)
            candidates = [(p, ranked[p.row], float(sim)) for p, sim in zip(stored, similarity)]
            results.append(_group_wire_copies(candidates)[:k])
        return results

    def article(self, article_id: str) -> Article:
        """The whole article, as ingested."""
        self._check_open()
        article = self._store.article(article_id)
        if article is None:
            raise QueryError(f"no article with id {article_id!r} in {self.folder}")
        return article

    def _check_open(self) -> None:
        if self._closed:
            raise IndexStoreError(f"the index at {self.folder} was closed; load it again with Retriever.load")

    def _distinct(self, column: int) -> list[str]:
        self._check_open()
        return sorted({str(row[column]) for row in self._store.row_metadata() if row[column]})

    def _allowed(self, filters: Filters) -> np.ndarray:
        if self._metadata is None:
            self._metadata = _Metadata.read(self._store, self.size)
        return self._metadata.mask(filters)


def _min_max(scores: np.ndarray) -> np.ndarray:
    if len(scores) == 0:
        return scores
    low, high = float(scores.min()), float(scores.max())
    return (scores - low) / (high - low) if high > low else np.ones_like(scores)


class _Metadata:
    """Per-row site, category and publication time, for filtering."""

    def __init__(self, sites: np.ndarray, categories: np.ndarray, published: np.ndarray) -> None:
        self.sites = sites
        self.categories = categories
        self.published = published

    @classmethod
    def read(cls, store: PassageStore, size: int) -> _Metadata:
        sites = np.empty(size, dtype=object)
        categories = np.empty(size, dtype=object)
        published = np.full(size, np.nan)
        for row, site, category, date in store.row_metadata():
            sites[row] = (site or "").casefold()
            categories[row] = (category or "").casefold()
            if date:
                try:
                    published[row] = _timestamp(date, end_of_day=False)
                except ValueError:
                    pass
        return cls(sites, categories, published)

    def mask(self, filters: Filters) -> np.ndarray:
        allowed = np.ones(len(self.sites), dtype=bool)
        if filters.sources:
            allowed &= np.isin(self.sites, [s.casefold() for s in filters.sources])
        if filters.categories:
            allowed &= np.isin(self.categories, [c.casefold() for c in filters.categories])
        if filters.since or filters.until:
            since = _parse_bound(filters.since, "since", end_of_day=False)
            until = _parse_bound(filters.until, "until", end_of_day=True)
            dated = ~np.isnan(self.published)
            in_range = dated.copy()
            with np.errstate(invalid="ignore"):
                if since is not None:
                    in_range &= self.published >= since
                if until is not None:
                    in_range &= self.published <= until
            allowed &= in_range | (~dated if filters.keep_undated else False)
        return allowed


def _parse_bound(value: str | None, name: str, *, end_of_day: bool) -> float | None:
    if not value:
        return None
    try:
        return _timestamp(value, end_of_day=end_of_day)
    except ValueError:
        raise QueryError(f"{name} must be an ISO date such as 2018-03-01 or 2018-03-01T12:00:00+00:00, got {value!r}") from None


def _timestamp(value: str, *, end_of_day: bool) -> float:
    value = value.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if len(value) == 10:  # a bare date covers its whole day
        parsed = datetime.combine(parsed.date(), time.max if end_of_day else time.min)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def _group_wire_copies(candidates: list[tuple[StoredPassage, float, float]]) -> list[Hit]:
    """Collapse near-identical passages of different articles into one hit, best score first."""
    groups: list[tuple[set[str], float, list[tuple[StoredPassage, float, float]]]] = []
    for candidate in candidates:
        words = set(normalize(candidate[0].passage.text).split())
        for group_words, group_similarity, members in groups:
            # Copies of one text embed alike: only near-equal similarities are worth comparing.
            if abs(candidate[2] - group_similarity) > WIRE_SIMILARITY_GAP:
                continue
            same_article = any(m[0].article.id == candidate[0].article.id for m in members)
            if not same_article and _overlap(words, group_words) >= WIRE_OVERLAP:
                members.append(candidate)
                break
        else:
            groups.append((words, candidate[2], [candidate]))
    return [_hit(members) for _, _, members in groups]


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def _hit(members: list[tuple[StoredPassage, float, float]]) -> Hit:
    stored, score, similarity = members[0]
    passage, article = stored.passage, stored.article
    carriers = sorted(
        (
            Carrier(article_id=m.article.id, passage_id=m.passage.id, title=m.article.title, site=m.article.site,
                    published=m.article.published, url=m.article.url)
            for m, _, _ in members
        ),
        key=lambda c: (_sort_time(c.published), c.article_id),
    )
    return Hit(
        passage_id=passage.id, article_id=article.id, ordinal=passage.ordinal, text=passage.text,
        score=score, start=passage.start, end=passage.end, title=article.title, origin=article.origin,
        site=article.site, agency=article.agency, published=article.published, url=article.url,
        category=article.category, similarity=similarity, carriers=tuple(carriers),
    )


def _sort_time(published: str | None) -> float:
    if not published:
        return float("inf")
    try:
        return _timestamp(published, end_of_day=False)
    except ValueError:
        return float("inf")


def check_question(question: str) -> str:
    """Return the question stripped, or raise QueryError saying what is wrong."""
    if not isinstance(question, str):
        raise QueryError(f"a question must be text, got {type(question).__name__}")
    question = question.strip()
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:
        raise QueryError("the question holds bytes that are not UTF-8 text; type it again or set a UTF-8 locale") from None
    if not question:
        raise QueryError("the question is empty; type a question")
    if len(question) > MAX_QUESTION_CHARS:
        raise QueryError(f"the question has {len(question):,} characters; the limit is {MAX_QUESTION_CHARS:,}")
    return question


def check_k(k: int) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_TOP_K:
        raise QueryError(f"k must be a whole number from 1 to {MAX_TOP_K}, got {k!r}")
    return k
