"""Questions in, ranked passages out: dense, lexical or hybrid search over a store, wire copies grouped."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from itertools import islice
from pathlib import Path

import numpy as np

from qa.config import (
    DEFAULT_INDEX_DIR,
    MAX_QUESTION_CHARS,
    MAX_TOP_K,
    MODES,
    Settings,
    check_choice,
)
from qa.embed import Embedder
from qa.errors import IndexMismatchError, QueryError
from qa.fusion import Candidates, corpus_script, fuse, lexical_weight
from qa.manifest import Manifest
from qa.normalize import normalize
from qa.records import Article, Carrier, Filters, Hit
from qa.stores import build_args, locate, open_store
from qa.stores.base import Ranking, Store, StoreClosedError, StoredPassage
from qa.stores.filters import date_bounds, published_timestamp, timestamp
from qa.text.dates import published_day

__all__ = [
    "MAX_QUESTION_CHARS", "MAX_TOP_K", "MODES", "Retriever", "check_k", "check_question", "day_filters", "near_best",
    "newest_first", "within_days",
]

# Each ranker contributes this many candidates (or 4 k) to the fusion.
CANDIDATES = 50
# Passages of different articles are one wire story when this share of the shorter
# one's words is in the other (a site often adds or drops a line of the agency text).
WIRE_OVERLAP = 0.8
WIRE_SIMILARITY_GAP = 0.1

# Passages read to tell the corpus's script: a few hundred settle it for any real archive.
SCRIPT_SAMPLE = 200


class Retriever:
    """Searches one published index through its store. Load it with `Retriever.load(path)`.

    The retriever checks questions, encodes them, asks the store for dense and
    lexical candidates, fuses them and groups wire copies; the store holds
    everything else. Close it (or use it in a `with` block) to release the store.
    """

    def __init__(self, store: Store, embedder: Embedder, *, settings: Settings | None = None) -> None:
        self._store = store
        self._embedder = embedder
        self._settings = settings if settings is not None else Settings()
        self._closed = False
        self._script: str | None = None
        self._span: tuple[dt.date | None, dt.date | None] | None = None

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
        store: str | None = None,
        uri: str | None = None,
        token: str | None = None,
        collection: str | None = None,
    ) -> Retriever:
        """Open the index at `path`, checking its files against the manifest and the model against the index.

        Args:
            path: where the index lives: for the "faiss" store, the folder `qa build` wrote.
            model: the model the caller expects; by default, the one that built the index.
            chunk_tokens: the passage size the caller expects; by default, the index's.
            embedder: an already loaded embedder to share (it must be the index's model).
            verify: check the sha256 of every file (sizes are always checked).
            settings: search defaults (`top_k`, `mode`, `store`); by default `Settings()`.
            store: the backend, one of qa.config.STORES; by default the settings' store.
            uri, token, collection: for the "milvus" store, the server (or Milvus Lite `.db` file), its token
                and the alias to open (`path` is not used).

        Raises:
            IndexMissingError, IndexCorruptError, IndexMismatchError, SettingsError, StoreUnavailableError.
        """
        settings = settings if settings is not None else Settings()
        kind = store if store is not None else settings.store
        opened = open_store(kind, locate(kind, path, uri), verify=verify, token=token, collection=collection)
        try:
            embedder = _check_model(opened, opened.location, build_args(opened), model, chunk_tokens, embedder)
        except BaseException:
            opened.close()
            raise
        return cls(opened, embedder, settings=settings)

    @property
    def store(self) -> Store:
        """The store searched (its public methods give raw rankings, passages and vectors)."""
        return self._store

    @property
    def manifest(self) -> Manifest:
        """What the build recorded: model, chunking, counts, index."""
        return self._store.manifest

    @property
    def folder(self) -> Path:
        """The published version being searched (for the "faiss" store, its generation folder)."""
        return Path(self._store.location) / self._store.version

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    @property
    def settings(self) -> Settings:
        """The search defaults (`top_k`, `mode`) a call that gives none uses."""
        return self._settings

    @property
    def size(self) -> int:
        """Number of passages in the index."""
        return self._store.size

    @property
    def newest(self) -> dt.date | None:
        """The newest publication day of the indexed articles (None: none is dated).

        It is the day a question's time words count from ("yesterday", "last week") unless the caller
        gives one (`qa.ask(..., now=...)`). Read with `oldest` once per retriever: a retriever serves
        one published version, and a newly published one, loaded as a new retriever, is read again.
        An unreadable `published` is skipped.
        """
        return self._dates()[1]

    @property
    def oldest(self) -> dt.date | None:
        """The oldest publication day of the indexed articles (None: none is dated); see `newest`."""
        return self._dates()[0]

    def _dates(self) -> tuple[dt.date | None, dt.date | None]:
        if self._span is None:
            self._check_open()
            days = [day for day in map(published_day, self._store.published_values()) if day is not None]
            self._span = (min(days, default=None), max(days, default=None))
        return self._span

    def close(self) -> None:
        """Release the store (connections, memory maps); later calls raise StoreClosedError. Idempotent."""
        if not self._closed:
            self._closed = True
            self._store.close()

    def __enter__(self) -> Retriever:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def sites(self) -> list[str]:
        """The distinct site names of the indexed articles, sorted."""
        self._check_open()
        return self._store.sites()

    def categories(self) -> list[str]:
        """The distinct categories of the indexed articles, sorted."""
        self._check_open()
        return self._store.categories()

    def search(
        self, question: str, k: int | None = None, *, mode: str | None = None, filters: Filters | None = None
    ) -> list[Hit]:
        """The `k` passages that best answer `question`, best first.

        Args:
            question: in Arabic, English or French.
            k: number of hits (wire copies of one story count once); None means the settings' `top_k`.
            mode: "hybrid" (dense and BM25 scores, each scaled to [0, 1], averaged), "dense" or "lexical";
                None means the settings' `mode`.
            filters: metadata filters, applied before the top k is cut.
        """
        return self.search_many([question], k, mode=mode, filters=filters)[0]

    def search_many(
        self, questions: Sequence[str], k: int | None = None, *, mode: str | None = None, filters: Filters | None = None
    ) -> list[list[Hit]]:
        """Search a batch of questions at once; one list of hits per question."""
        self._check_open()
        if isinstance(questions, str):
            raise QueryError("search_many takes a list of questions; use search() for one question")
        questions = [check_question(q) for q in questions]
        k = check_k(self._settings.top_k if k is None else k)
        mode = check_choice("mode", self._settings.mode if mode is None else mode, MODES, QueryError)
        if filters is not None:
            date_bounds(filters)  # a bad date is refused before any encoding
        if not questions:
            return []
        depth = max(CANDIDATES, 4 * k)
        vectors = self._embedder.encode_queries(questions)
        dense = self._store.dense_search(vectors, depth, filters) if mode != "lexical" else None
        lexical = self._store.lexical_search(questions, depth, filters) if mode != "dense" else None
        results = []
        for i, vector in enumerate(vectors):
            if dense is None:
                ranking = lexical[i]
            elif lexical is None:
                ranking = dense[i]
            else:
                ranking = fuse(dense[i], lexical[i], lexical_weight=lexical_weight(questions[i], self.script))
            results.append(self._hits(ranking.best(3 * k), vector)[:k])
        return results

    @property
    def script(self) -> str:
        """The script the passages are written in (read from the first ones), which the hybrid
        fusion weighs a question's lexical matches by (`qa.fusion.lexical_weight`)."""
        if self._script is None:
            self._check_open()
            self._script = corpus_script(p.passage.text for p in islice(self._store.iter_passages(), SCRIPT_SAMPLE))
        return self._script

    def candidates(self, questions: Sequence[str], depth: int, *, filters: Filters | None = None) -> list[Candidates]:
        """Each question's raw dense and lexical candidates (`depth` of each), before fusion and grouping.

        For measuring fusion methods (benchmarks/fusion.py); `search_many` is the way to search.
        """
        self._check_open()
        questions = [check_question(q) for q in questions]
        vectors = self._embedder.encode_queries(questions)
        dense = self._store.dense_search(vectors, depth, filters)
        lexical = self._store.lexical_search(questions, depth, filters)
        return [Candidates(dense=d, lexical=l) for d, l in zip(dense, lexical)]

    def article(self, article_id: str) -> Article:
        """The whole article, as ingested."""
        self._check_open()
        article = self._store.article(article_id)
        if article is None:
            raise QueryError(f"no article with id {article_id!r} in {self.folder}")
        return article

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"the index at {self.folder} was closed; load it again with Retriever.load")

    def _hits(self, ranking: Ranking, vector: np.ndarray) -> list[Hit]:
        scores = dict(zip(ranking.rows.tolist(), ranking.scores.tolist()))
        stored = self._store.passages(list(scores))
        similarity = self._store.vectors([p.row for p in stored]) @ vector if stored else np.zeros(0)
        candidates = [(p, scores[p.row], float(sim)) for p, sim in zip(stored, similarity)]
        return _group_wire_copies(candidates)


def _check_model(store: Store, out: str, args: str, model: str | None, chunk_tokens: int | None,
                 embedder: Embedder | None) -> Embedder:
    """The embedder for the store's index (at `out`, built by `qa build SOURCES args`): `embedder`, or the
    model that built it; refuses a mismatch."""
    hint = f"rebuild it with `qa build SOURCES {args}`"
    built = store.manifest.model
    if model is not None and model != built.name:
        raise IndexMismatchError(
            f"{out} was built with the model {built.name!r}, not {model!r}; "
            f"load it without a model, or rebuild it with `qa build SOURCES {args} --model {model}`"
        )
    built_chunk = store.manifest.chunking.chunk_tokens
    if chunk_tokens is not None and chunk_tokens != built_chunk:
        raise IndexMismatchError(
            f"{out} was built with passages of {built_chunk} tokens, not {chunk_tokens}; "
            f"rebuild it with `qa build SOURCES {args} --chunk-tokens {chunk_tokens}`"
        )
    if embedder is None:
        embedder = Embedder(built.name, precision=built.precision)
    if embedder.fingerprint != built.fingerprint:
        raise IndexMismatchError(
            f"{out} was built with other weights than those of {embedder.name!r} "
            f"(fingerprint {built.fingerprint[:12]} vs {embedder.fingerprint[:12]}); {hint}"
        )
    engine = built.extra.get("engine")
    if engine is not None and embedder.precision == built.precision and engine != embedder.engine:
        # Indexes built before engines were recorded carry none: they are taken as they are.
        raise IndexMismatchError(
            f"{out} was embedded by the engine {engine!r}; this installation runs {embedder.precision} "
            f"through {embedder.engine!r}, whose vectors differ a little; {hint} (its passages are embedded again)"
        )
    if store.dimension != embedder.dimension:
        raise IndexMismatchError(f"{out} holds {store.dimension}-dimensional vectors, the model makes {embedder.dimension}; {hint}")
    return embedder


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
    moment = published_timestamp(published)
    return float("inf") if moment is None else moment


def day_filters(filters: Filters | None, since: dt.date | None, until: dt.date | None, *, asked: str) -> Filters:
    """`filters` narrowed to the publication days `since`..`until` that a question names (None: open).

    An article's day is the one its own `published` writes ("2018-05-08T23:42:47+04:00" is 8 May),
    whatever its time zone, while a store compares UTC instants: the bounds are widened by a day each
    side and `within_days` cuts the days exactly. Undated articles are left out, since nothing shows
    they are of those days.

    Args:
        filters: the caller's filters (None: none); their own dates still bound the search.
        since, until: the first and last day asked about, both included.
        asked: the days as the question's reader sees them («مقالات 8–15 مايو 2018»), for the message.

    Raises:
        QueryError: the caller's dates and the question's have no day in common, or a caller's date is not ISO.
    """
    base = filters if filters is not None else Filters()
    lower, upper = date_bounds(base)
    first = None if since is None else timestamp(since.isoformat())
    last = None if until is None else timestamp(until.isoformat(), end_of_day=True)
    if (lower is not None and last is not None and lower > last) or (upper is not None and first is not None and upper < first):
        raise QueryError(
            f"the question asks for {asked}, but the filters keep {base.since or 'any day'} to {base.until or 'any day'}: "
            f"no day is in both; widen the filters' dates or ask about days inside them"
        )
    wide_since = None if since is None else (since - dt.timedelta(days=1)).isoformat()
    wide_until = None if until is None else (until + dt.timedelta(days=1)).isoformat()
    if lower is not None and (wide_since is None or lower >= timestamp(wide_since)):
        wide_since = base.since
    if upper is not None and (wide_until is None or upper <= timestamp(wide_until, end_of_day=True)):
        wide_until = base.until
    return replace(base, since=wide_since, until=wide_until, keep_undated=False)


def within_days(hits: Sequence[Hit], since: dt.date | None, until: dt.date | None) -> list[Hit]:
    """The hits whose article was published from day `since` to day `until` (None: open), as its own
    `published` writes the day; a hit's wire copies (`carriers`) of other days are dropped too."""
    kept = []
    for hit in hits:
        if not _on_days(hit.published, since, until):
            continue
        carriers = tuple(c for c in hit.carriers if _on_days(c.published, since, until))
        kept.append(hit if len(carriers) == len(hit.carriers) else replace(hit, carriers=carriers))
    return kept


def newest_first(hits: Sequence[Hit], margin: float) -> list[Hit]:
    """The hits whose cosine (`similarity`) is within `margin` of the best one's, newest publication
    first, then the others in their order; undated and equal times keep their order."""
    near = near_best(hits, margin)
    taken = {id(hit) for hit in near}
    near.sort(key=lambda hit: _newest_key(hit.published))
    return near + [hit for hit in hits if id(hit) not in taken]


def near_best(hits: Sequence[Hit], margin: float) -> list[Hit]:
    """The hits whose cosine (`similarity`) is within `margin` of the best one's, in their order."""
    if not hits:
        return []
    floor = max(hit.similarity for hit in hits) - margin
    return [hit for hit in hits if hit.similarity >= floor]


def _newest_key(published: str | None) -> float:
    moment = published_timestamp(published)
    return float("inf") if moment is None else -moment


def _on_days(published: str | None, since: dt.date | None, until: dt.date | None) -> bool:
    day = published_day(published)
    return day is not None and (since is None or day >= since) and (until is None or day <= until)


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
    """Return `k`, or raise QueryError unless it is a whole number from 1 to MAX_TOP_K."""
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_TOP_K:
        raise QueryError(f"k must be a whole number from 1 to {MAX_TOP_K}, got {k!r}")
    return k
