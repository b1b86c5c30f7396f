"""The server store, read side: a Milvus collection of passages (vectors, BM25 terms, metadata) and its companion
collection of articles and the manifest, published under an alias that a build moves in one step.

Over 500 lines: one reader whose dense, lexical and filter queries share the collection's schema and expressions.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from qa.chunk import embed_text
from qa.errors import (
    IndexMissingError,
    QAError,
    SettingsError,
    StoreClosedError,
    StoreUnavailableError,
)
from qa.lexical import DEFAULT_ANALYZER, Analyzer
from qa.manifest import Manifest
from qa.records import Article, Filters, Passage
from qa.stores.generations import StoredPassage
from qa.stores.base import Ranking
from qa.stores.filters import date_bounds, folded

if TYPE_CHECKING:
    from pymilvus import MilvusClient

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

_T = TypeVar("_T")

DEFAULT_COLLECTION = "qa_news"
# A version is the collection `<alias>__v<stamp>_<hex>`; its articles and manifest live in `<version>__docs`.
VERSION_MARK = "__v"
DOCS_SUFFIX = "__docs"
# Milvus caps limit (top k) and a query's result window at 16,384 entities.
MAX_LIMIT = 16_384
# Milvus limits a VARCHAR to 65,535 bytes: longer article and manifest JSON is stored in parts.
PART_BYTES = 60_000
FETCH_ROWS = 1_000
CONNECT_SECONDS = 10.0
CONNECT_ATTEMPTS = 3
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,150}")
_PASSAGE_FIELDS = ["row", "passage_id", "article_id", "ordinal", "start", "end"]
_ARTICLE_CACHE = 512
# BM25 parameters of the Milvus index: the Lucene defaults our own BM25 (qa.lexical) uses.
BM25_K1 = 1.5
BM25_B = 0.75


def rebuild_hint(uri: str, collection: str) -> str:
    """How to rebuild the index of `collection` at `uri` (never with the token)."""
    return f"rebuild it with `qa build SOURCES --store milvus --uri {safe_uri(uri)} --collection {collection}`"


def safe_uri(uri: str) -> str:
    """`uri` without any user:password it carries, for messages and health pages."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class MilvusTarget:
    """Where a Milvus index lives: the URI pymilvus takes (a Milvus Lite `.db` file or `http://host:19530`),
    the alias readers open (`collection`), and the token (kept out of repr and messages)."""

    uri: str
    collection: str = DEFAULT_COLLECTION
    token: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if not self.uri or not self.uri.strip():
            raise SettingsError("the Milvus URI is empty; give a Milvus Lite file (./news.db) or a server (http://host:19530)")
        if not _NAME.fullmatch(self.collection) or VERSION_MARK in self.collection or DOCS_SUFFIX in self.collection:
            raise SettingsError(
                f"collection must be letters, digits and underscores (starting with a letter or _, at most 151, "
                f"without {VERSION_MARK!r}), got {self.collection!r}"
            )

    @property
    def where(self) -> str:
        return f"{safe_uri(self.uri)} (collection {self.collection})"

    @property
    def hint(self) -> str:
        return rebuild_hint(self.uri, self.collection)


def connect(target: MilvusTarget) -> MilvusClient:
    """A client of the server at `target.uri`.

    Raises:
        StoreUnavailableError: the server does not answer or refuses the token.
    """
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise SettingsError("the Milvus store needs pymilvus and milvus-lite: pip install 'qa-news[milvus]'") from None
    _quiet_pymilvus()
    # pymilvus shares one channel per server within a process; after the server dropped it (a restart,
    # a client killed mid-build) the first attempt only resets it, the next one connects.
    for attempt in range(CONNECT_ATTEMPTS):
        try:
            return guarded(target, "connect", lambda: MilvusClient(uri=target.uri, token=target.token, timeout=CONNECT_SECONDS))
        except StoreUnavailableError:
            if attempt == CONNECT_ATTEMPTS - 1 or "refused the credentials" in str(sys.exc_info()[1]):
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def guarded(target: MilvusTarget, action: str, call: Callable[[], _T]) -> _T:
    """Run one client call, turning the client's and the network's errors into a StoreUnavailableError."""
    try:
        return call()
    except QAError:
        raise
    except Exception as exc:  # pymilvus raises MilvusException, grpc errors and plain ConnectionErrors alike
        raise unavailable(target, action, exc) from None


def unavailable(target: MilvusTarget, action: str, exc: BaseException) -> StoreUnavailableError:
    reason = str(getattr(exc, "message", "") or exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = reason.lower()
    if any(word in lowered for word in ("auth", "credential", "token", "password", "permission", "denied")):
        return StoreUnavailableError(
            f"the Milvus server at {safe_uri(target.uri)} refused the credentials ({reason}); check --token or QA_MILVUS_TOKEN"
        )
    return StoreUnavailableError(
        f"the Milvus server at {safe_uri(target.uri)} failed to {action} ({reason[:300]}); "
        "check that it runs and that --uri is right"
    )


def _quiet_pymilvus() -> None:
    # pymilvus logs every failed call with a traceback at ERROR; each failure reaches the caller as a
    # StoreUnavailableError with its message, so its own log would only print the same fault twice.
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)


def published_version(client: MilvusClient, target: MilvusTarget) -> str | None:
    """The collection the alias `target.collection` names, or None when nothing is published there."""
    aliases = guarded(target, "list aliases", lambda: client.list_aliases())
    names = aliases.get("aliases", []) if isinstance(aliases, dict) else list(aliases)
    if target.collection not in names:
        return None
    described = guarded(target, "describe the alias", lambda: client.describe_alias(alias=target.collection))
    return str(described["collection_name"])


class AliasWatch:
    """Which version the alias of `target` names, asked with one client kept between calls (for `qa.live`)."""

    def __init__(self, target: MilvusTarget) -> None:
        self.target = target
        self._client: MilvusClient | None = None

    def __call__(self) -> str | None:
        """The published version's name (None: nothing published).

        Raises:
            StoreUnavailableError: the server does not answer (the client is made anew next time).
        """
        try:
            if self._client is None:
                self._client = connect(self.target)
            return published_version(self._client, self.target)
        except StoreUnavailableError:
            self._client = None
            raise


def ensure_loaded(client: MilvusClient, target: MilvusTarget, version: str) -> None:
    """Load a version's collections (a no-op when loaded; Milvus Lite forgets what was loaded when it restarts)."""
    for name in (version, version + DOCS_SUFFIX):
        guarded(target, "load the index", lambda name=name: client.load_collection(name))


def read_docs(client: MilvusClient, target: MilvusTarget, version: str, kind: str, article_ids: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The companion rows of `kind` ("article", "manifest", "build"), of these articles when given."""
    expression = f"kind == {quote(kind)}"
    if article_ids:
        expression += f" and article_id in {quote_list(article_ids)}"
    fields = ["article_id", "part", "sha256", "passages", "body"]
    return guarded(target, "read the index", lambda: client.query(version + DOCS_SUFFIX, filter=expression, output_fields=fields))


def join_parts(rows: Sequence[dict[str, Any]]) -> str:
    return "".join(row["body"] for row in sorted(rows, key=lambda row: int(row["part"])))


def split_parts(text: str) -> list[str]:
    """`text` in parts of at most PART_BYTES bytes of UTF-8 each, cut between characters."""
    parts, start = [], 0
    while start < len(text) or not parts:
        end = min(len(text), start + PART_BYTES // 4)
        while end < len(text) and len(text[start:end + 1024].encode("utf-8")) <= PART_BYTES:
            end = min(len(text), end + 1024)
        while len(text[start:end].encode("utf-8")) > PART_BYTES:
            end -= 1
        parts.append(text[start:end])
        start = end
    return parts


def article_json(article: Article) -> str:
    return json.dumps({name: getattr(article, name) for name in Article.__dataclass_fields__}, ensure_ascii=False)


def quote(value: str) -> str:
    """A Milvus string literal (JSON escaping is the expression language's)."""
    return json.dumps(value, ensure_ascii=False)


def quote_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(quote(v) for v in values) + "]"


def filter_expression(filters: Filters | None) -> str:
    """The Milvus boolean expression of `filters` ("" keeps everything), as `qa.stores.filters.matches` defines them:
    names compared case-folded (the folded names are stored), undated passages kept or dropped with a date range."""
    if filters is None or not filters.active:
        return ""
    terms = []
    if filters.sources:
        terms.append(f"site_key in {quote_list(folded(filters.sources))}")
    if filters.categories:
        terms.append(f"category_key in {quote_list(folded(filters.categories))}")
    since, until = date_bounds(filters)
    if since is not None or until is not None:
        bounds = [f"published >= {since!r}"] if since is not None else []
        bounds += [f"published <= {until!r}"] if until is not None else []
        dated = f"(published is not null and {' and '.join(bounds)})"
        terms.append(f"({dated} or published is null)" if filters.keep_undated else dated)
    return " and ".join(terms)


class MilvusStore:
    """One published version of a Milvus index, opened for reading (see `qa.stores.base.Store`).

    The alias is resolved once, at open: this store keeps reading the version it
    opened even after a build moves the alias (the build keeps the version it
    replaced until the next one), so a request never sees a mix.
    """

    name = "milvus"

    def __init__(self, client: MilvusClient, target: MilvusTarget, version: str, manifest: Manifest) -> None:
        self._client: MilvusClient | None = client
        self.target = target
        self._version = version
        self._manifest = manifest
        lexical = manifest.lexical.analyzer if manifest.lexical is not None else {}
        self._analyzer = Analyzer.from_config(lexical) if lexical else DEFAULT_ANALYZER
        catalog = manifest.extra.get("catalog", {})
        self._sites = list(catalog.get("sites", []))
        self._categories = list(catalog.get("categories", []))
        self._articles: OrderedDict[str, Article] = OrderedDict()

    @classmethod
    def open(cls, location: str | MilvusTarget, *, verify: bool = True, token: str | None = None,
             collection: str | None = None) -> MilvusStore:
        """Open the version the alias names at a Milvus URI.

        Args:
            location: the URI (a `.db` file or `http://host:port`), or a MilvusTarget.
            verify: check that the collection holds as many passages as its manifest says.
            token, collection: with a URI, the token and the alias (default DEFAULT_COLLECTION).

        Raises:
            IndexMissingError: nothing is published under the alias.
            IndexCorruptError, IndexMismatchError: the manifest is damaged or of another format.
            StoreUnavailableError: the server does not answer or refuses the token.
        """
        target = location if isinstance(location, MilvusTarget) else MilvusTarget(
            str(location), collection or DEFAULT_COLLECTION, token or "")
        client = connect(target)
        try:
            version = published_version(client, target)
            if version is None:
                raise IndexMissingError(
                    f"no index is published at {target.where} yet; build one with "
                    f"`qa build SOURCES --store milvus --uri {safe_uri(target.uri)} --collection {target.collection}`"
                )
            ensure_loaded(client, target, version)
            rows = read_docs(client, target, version, "manifest")
            if not rows:
                raise IndexMissingError(f"{target.where}: {version} has no manifest; {target.hint}")
            manifest = Manifest.from_json(json.loads(join_parts(rows)), where=f"{target.where} {version}", rebuild=target.hint)
            store = cls(client, target, version, manifest)
            if verify:
                store._check_count()
        except BaseException:
            client.close()
            raise
        return store

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    @property
    def location(self) -> str:
        return self.target.where

    @property
    def version(self) -> str:
        return self._version

    @property
    def size(self) -> int:
        self._open()
        return self._manifest.counts.passages

    @property
    def dimension(self) -> int:
        return int(self._manifest.index.dimension or self._manifest.model.dimension or 0)

    def dense_search(self, vectors: np.ndarray, k: int, filters: Filters | None = None) -> list[Ranking]:
        client = self._open()
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(vectors) == 0:
            return []
        limit = min(k, MAX_LIMIT)
        expression = filter_expression(filters)
        params: dict[str, Any] = {"metric_type": "IP"}
        if self._manifest.index.type == "hnsw":
            params["params"] = {"ef": max(limit, self._manifest.index.ef_search or limit)}
        found = self._call("search", lambda: client.search(
            self._version, data=vectors.tolist(), anns_field="vector", limit=limit, filter=expression,
            output_fields=["row"], search_params=params))
        return [_ranking([(int(hit["row"]), float(hit["distance"])) for hit in hits]) for hits in found]

    def lexical_search(self, questions: Sequence[str], k: int, filters: Filters | None = None) -> list[Ranking]:
        client = self._open()
        expression = filter_expression(filters)
        texts = [" ".join(self._analyzer.tokens(question)) for question in questions]
        rankings = []
        for text in texts:
            if not text:
                rankings.append(_ranking([]))
                continue
            # Ties at the cut go to the lower row, as in the embedded store: ask for a few more than k,
            # and for more again until the tie at the k-th score is whole.
            limit = min(k + 16, MAX_LIMIT)
            while True:
                [hits] = self._call("search", lambda: client.search(
                    self._version, data=[text], anns_field="sparse", limit=limit, filter=expression,
                    output_fields=["row"], search_params={"metric_type": "BM25"}))
                # Milvus Lite returns BM25 scores as negative distances, Milvus itself as positive scores; both
                # weigh tf by (k1 + 1), which our BM25 (bm25s, Lucene's variant) leaves out: same ranking, our scale.
                pairs = sorted(((int(hit["row"]), abs(float(hit["distance"])) / (BM25_K1 + 1)) for hit in hits),
                               key=lambda p: -p[1])
                if len(pairs) < limit or limit >= MAX_LIMIT or pairs[-1][1] < pairs[k - 1][1]:
                    break
                limit = min(limit * 2, MAX_LIMIT)
            ranking = _ranking([pair for pair in pairs if pair[1] > 0])
            rankings.append(Ranking(ranking.rows[:k], ranking.scores[:k]))
        return rankings

    def passages(self, rows: Sequence[int]) -> list[StoredPassage]:
        client = self._open()
        rows = [int(row) for row in rows]
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(rows), FETCH_ROWS):
            batch = rows[start:start + FETCH_ROWS]
            for entity in self._call("read passages", lambda: client.query(
                    self._version, filter=f"row in {batch}", output_fields=_PASSAGE_FIELDS)):
                found[int(entity["row"])] = entity
        articles = self._fetch_articles({entity["article_id"] for entity in found.values()})
        stored = []
        for row in rows:
            entity = found.get(row)
            article = articles.get(entity["article_id"]) if entity is not None else None
            if entity is None or article is None:
                continue
            start, end = int(entity["start"]), int(entity["end"])
            body = article.text[start:end]
            passage = Passage(id=entity["passage_id"], article_id=article.id, ordinal=int(entity["ordinal"]), start=start,
                              end=end, text=body, embed_text=embed_text(article.title, body))
            stored.append(StoredPassage(row=row, passage=passage, article=article))
        return stored

    def iter_passages(self) -> Iterator[StoredPassage]:
        for start in range(0, self.size, FETCH_ROWS):
            yield from self.passages(range(start, min(self.size, start + FETCH_ROWS)))

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        client = self._open()
        rows = [int(row) for row in rows]
        found: dict[int, list[float]] = {}
        for start in range(0, len(rows), FETCH_ROWS):
            batch = rows[start:start + FETCH_ROWS]
            for entity in self._call("read vectors", lambda: client.query(
                    self._version, filter=f"row in {batch}", output_fields=["row", "vector"])):
                found[int(entity["row"])] = entity["vector"]
        if not rows:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray([found[row] for row in rows], dtype=np.float32)

    def article(self, article_id: str) -> Article | None:
        return self._fetch_articles({article_id}).get(article_id)

    def published_values(self) -> set[str]:
        # Milvus keeps no article table to ask: every passage is read once (a retriever asks once).
        return {p.article.published for p in self.iter_passages() if p.article.published}

    def sites(self) -> list[str]:
        self._open()
        return list(self._sites)

    def categories(self) -> list[str]:
        self._open()
        return list(self._categories)

    def describe(self) -> dict[str, Any]:
        self._open()
        return {"store": self.name, "location": self.location, "uri": safe_uri(self.target.uri),
                "collection": self.target.collection, "version": self.version,
                "articles": self._manifest.counts.articles, "passages": self.size, "index": self._manifest.index.to_json()}

    def ping(self) -> None:
        """Check that the server answers and still holds this version.

        Raises:
            StoreUnavailableError: it does not.
        """
        client = self._open()
        if not self._call("answer", lambda: client.has_collection(self._version)):
            raise StoreUnavailableError(f"{self._version} is no longer at {self.target.where}; reload the index")

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception:  # a server that went away cannot be said goodbye to
                logger.debug("closing the Milvus client failed", exc_info=True)
        self._client = None

    def __enter__(self) -> MilvusStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, action: str, call: Callable[[], _T]) -> _T:
        """One client call; a version the server released (Milvus Lite forgets what was loaded when it
        restarts) is loaded again and the call retried once."""
        try:
            return guarded(self.target, action, call)
        except StoreUnavailableError as exc:
            if "released" not in str(exc) and "not loaded" not in str(exc):
                raise
        client = self._open()
        for name in (self._version, self._version + DOCS_SUFFIX):
            guarded(self.target, "load the index", lambda name=name: client.load_collection(name))
        return guarded(self.target, action, call)

    def _open(self) -> MilvusClient:
        if self._client is None:
            raise StoreClosedError(f"the index at {self.target.where} ({self._version}) was closed; open it again to search it")
        return self._client

    def _check_count(self) -> None:
        client = self._open()
        counted = self._call("count passages", lambda: client.query(self._version, filter="", output_fields=["count(*)"]))
        count = int(counted[0]["count(*)"]) if counted else 0
        if count != self.size:
            from qa.errors import IndexCorruptError

            raise IndexCorruptError(
                f"{self.target.where} {self._version} holds {count} passages, its manifest says {self.size}; {self.target.hint}")

    def _fetch_articles(self, article_ids: set[str]) -> dict[str, Article]:
        client = self._open()
        found = {i: self._articles[i] for i in article_ids if i in self._articles}
        missing = sorted(article_ids - set(found))
        for start in range(0, len(missing), 100):
            batch = missing[start:start + 100]
            rows = self._call("read articles", lambda: read_docs(client, self.target, self._version, "article", batch))
            by_article: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                by_article.setdefault(row["article_id"], []).append(row)
            for article_id, parts in by_article.items():
                found[article_id] = Article(**json.loads(join_parts(parts)))
        for article_id, article in found.items():
            self._articles[article_id] = article
            self._articles.move_to_end(article_id)
        while len(self._articles) > _ARTICLE_CACHE:
            self._articles.popitem(last=False)
        return found


def _ranking(pairs: Sequence[tuple[int, float]]) -> Ranking:
    """Rows and scores, best first, ties by the lower row (as the embedded store orders them)."""
    ordered = sorted(pairs, key=lambda pair: (-pair[1], pair[0]))
    return Ranking(np.asarray([row for row, _ in ordered], dtype=np.int64),
                   np.asarray([score for _, score in ordered], dtype=np.float32))

