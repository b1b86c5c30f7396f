"""The server store, write side: a build fills a new collection (and its companion), then moves the alias to it.

The new version is invisible until `publish()` moves the alias in one call, so
readers see the old version or the new one. Unchanged articles are copied from
the published version with their vectors (read back from Milvus, never embedded
again); a killed build leaves its unpublished collection, whose vectors the next
build reuses before it drops it.

Over 500 lines: one writer whose steps (copy unchanged, insert, index, move the alias) share the new collection's state.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.config import INDEX_FORMAT, Settings
from qa.embed import Embedder
from qa.errors import IndexMismatchError, IndexStoreError, StoreUnavailableError
from qa.index import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, choose_type
from qa.lexical import DEFAULT_ANALYZER
from qa.manifest import Chunking, IndexInfo, LexicalInfo, Manifest, Recall
from qa.records import Article
from qa.stores.base import IndexedArticle
from qa.stores.filters import published_timestamp
from qa.stores.milvus import (
    BM25_B,
    BM25_K1,
    DOCS_SUFFIX,
    FETCH_ROWS,
    MAX_LIMIT,
    VERSION_MARK,
    MilvusStore,
    MilvusTarget,
    article_json,
    connect,
    ensure_loaded,
    guarded,
    join_parts,
    published_version,
    quote,
    quote_list,
    read_docs,
    split_parts,
)

if TYPE_CHECKING:
    from pymilvus import MilvusClient

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

OnPhase = Callable[[str, int, int | None], None]
_KEEP_BATCH = 64
_RECALL_QUERIES = 200
_RECALL_MAX_PASSAGES = 200_000
# Index-type names in Milvus of ours ("flat", "hnsw").
MILVUS_INDEX = {"flat": "FLAT", "hnsw": "HNSW"}


class MilvusWriter:
    """One build writing the next version of a Milvus index (see `qa.stores.base.StoreWriter`).

    Open it with `MilvusWriter.open(target, ...)`, a context manager that closes
    the client and, on failure, leaves the published version as it was.
    """

    name = "milvus"

    def __init__(self, client: MilvusClient, target: MilvusTarget, embedder: Embedder, settings: Settings,
                 base: _Previous | None, on_phase: OnPhase | None) -> None:
        self._client = client
        self._target = target
        self._embedder = embedder
        self._settings = settings
        self._base = base
        self._on_phase = on_phase
        self._new: str | None = None
        self._leftovers: list[str] = []
        self._next_row = 0
        self._kept: list[tuple[str, str]] = []
        self._articles: dict[str, str] = {}
        self._sites: set[str] = set()
        self._categories: set[str] = set()
        self.manifest: Manifest | None = None
        """The manifest published, once `publish()` returned."""
        self.path: Path | None = Path(base.version) if base is not None else None
        """The version (collection name): the published one, or the one this build started from."""

    @classmethod
    @contextmanager
    def open(cls, target: MilvusTarget, *, embedder: Embedder, settings: Settings, force: bool = False,
             on_phase: OnPhase | None = None) -> Iterator[MilvusWriter]:
        """Connect and start a build from the published version (from nothing with `force`).

        Raises:
            StoreUnavailableError: the server does not answer or refuses the token.
        """
        client = connect(target)
        try:
            base = None if force else _Previous.open(client, target, embedder, settings)
            yield cls(client, target, embedder, settings, base, on_phase)
        finally:
            try:
                client.close()
            except Exception:  # a server that went away cannot be said goodbye to
                logger.debug("closing the Milvus client failed", exc_info=True)

    @property
    def base(self) -> Manifest | None:
        return self._base.manifest if self._base is not None else None

    @property
    def dimension(self) -> int:
        if self._base is not None and self._base.manifest.model.dimension is not None:
            return self._base.manifest.model.dimension
        return self._embedder.dimension

    def existing(self) -> Mapping[str, str]:
        return dict(self._base.articles) if self._base is not None else {}

    def keep(self, article: Article) -> int:
        """`article` is unchanged: its passages and vectors are copied from the published version."""
        assert self._base is not None
        self._begin()
        self._kept.append((article.id, article.origin))
        if len(self._kept) >= _KEEP_BATCH:
            self._copy_kept()
        return self._base.passage_counts[article.id]

    def kept_vectors(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        if self._base is None:
            return {}
        return _vectors_by_hash(self._client, self._target, self._base.version, hashes)

    def recovered_vectors(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors that killed builds of the same model inserted, for these embedded-text hashes."""
        self._begin()
        recovered: dict[str, np.ndarray] = {}
        for leftover in self._leftovers:
            todo = [h for h in hashes if h not in recovered]
            if todo:
                recovered.update(_vectors_by_hash(self._client, self._target, leftover, todo))
        return recovered

    def add(self, articles: Sequence[IndexedArticle]) -> None:
        new = self._begin()
        self._copy_kept()
        passages, docs = [], []
        for indexed in articles:
            article = indexed.article
            for passage, sha, vector in zip(indexed.passages, indexed.hashes, indexed.vectors):
                passages.append({
                    "passage_id": passage.id, "ordinal": passage.ordinal, "start": passage.start,
                    "end": passage.end, "sha256": sha, "vector": np.asarray(vector, dtype=np.float32).tolist(),
                    "terms": " ".join(DEFAULT_ANALYZER.tokens(passage.embed_text)),
                    **_article_fields(article),
                })
            docs.extend(_article_docs(article, article_json(article), len(indexed.passages)))
            self._note(article.id, _sha(article), article.site, article.category)
        self._insert(new, passages, docs)

    def remove(self, article_ids: Sequence[str]) -> None:
        """Nothing to do: a new version holds only what the build kept or added."""

    def publish(self, manifest: Manifest) -> str:
        """Index the new collection, record `manifest` with it, move the alias to it; return its name."""
        new = self._begin()
        self._copy_kept()
        client, target = self._client, self._target
        total = self._next_row
        guarded(target, "flush", lambda: client.flush(new))
        kind = choose_type(self._settings.index_type, total)
        self._phase("index", 0, total)
        if kind != "flat":
            guarded(target, "index", lambda: _reindex(client, new, kind))
        recall = self._recall(new, total) if kind == "hnsw" else None
        index = IndexInfo(size=total, type=kind, dimension=self.dimension,
                          ef_search=HNSW_EF_SEARCH if kind == "hnsw" else None, built="new", recall=recall,
                          extra={"milvus_index": MILVUS_INDEX[kind], "metric": "IP",
                                 **({"m": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION} if kind == "hnsw" else {})})
        digest = hashlib.sha256()
        for article_id in sorted(self._articles):
            digest.update(f"{article_id}\t{self._articles[article_id]}\n".encode())
        written = replace(
            manifest, format=INDEX_FORMAT, index=index, corpus_sha256=digest.hexdigest(), files={},
            lexical=LexicalInfo(files=(), size=total, analyzer={
                **DEFAULT_ANALYZER.config(), "milvus": "BM25 function over the analyzed terms, standard tokenizer"}),
            versions={**(manifest.versions or {}), **_client_versions()},
            extra={**manifest.extra, "catalog": {"sites": sorted(self._sites), "categories": sorted(self._categories)},
                   "milvus": {"collection": target.collection, "version": new}},
        )
        self._phase("checksums", 0, None)
        body = json.dumps(written.to_json(), ensure_ascii=False)
        docs = [_doc("manifest", f"manifest_{i}", "", i, body=part) for i, part in enumerate(split_parts(body))]
        guarded(target, "write the manifest", lambda: client.insert(new + DOCS_SUFFIX, docs))
        guarded(target, "flush", lambda: client.flush(new + DOCS_SUFFIX))
        for name in (new, new + DOCS_SUFFIX):
            guarded(target, "load the new version", lambda name=name: client.load_collection(name))
        previous = published_version(client, target)
        if previous is None:
            guarded(target, "publish", lambda: client.create_alias(new, target.collection))
        else:
            guarded(target, "publish", lambda: client.alter_alias(new, target.collection))
        self.manifest, self.path, self._new = written, Path(new), None
        # The replaced version stays for the readers still on it; older ones and killed builds go.
        self._drop(keep={new, previous})
        return new

    def abort(self) -> None:
        """Drop what this build wrote but its vectors (kept for the next build to reuse); a build that wrote
        nothing (its sources were already indexed) drops what killed builds left instead."""
        if self._new is None:
            self._drop(keep={published_version(self._client, self._target)})

    def _begin(self) -> str:
        """The new, unpublished collection, made on first use (finding what killed builds left)."""
        if self._new is None:
            client, target = self._client, self._target
            meta = _build_meta(self._embedder, self.dimension)
            published = published_version(client, target)
            self._leftovers = [name for name in _versions(client, target)
                               if name != published and _is_leftover(client, target, name, meta)]
            name = f"{target.collection}{VERSION_MARK}{time.strftime('%Y%m%dT%H%M%S')}_{uuid.uuid4().hex[:8]}"
            guarded(target, "create a collection", lambda: _create(client, name, self.dimension))
            guarded(target, "write", lambda: client.insert(
                name + DOCS_SUFFIX, [_doc("build", "build", "", 0, body=json.dumps(meta))]))
            self._new = name
        return self._new

    def _copy_kept(self) -> None:
        """Copy the kept articles' passages (vectors and terms included) and articles into the new version."""
        if not self._kept or self._base is None:
            return
        kept, self._kept = self._kept, []
        client, target, base = self._client, self._target, self._base.version
        ids = [article_id for article_id, _ in kept]
        fields = ["passage_id", "article_id", "ordinal", "start", "end", "sha256", "vector", "terms",
                  "site_key", "category_key", "published"]
        found = guarded(target, "read kept passages", lambda: client.query(
            base, filter=f"article_id in {quote_list(ids)}", output_fields=fields))
        order = {article_id: i for i, article_id in enumerate(ids)}
        passages = sorted(found, key=lambda e: (order[e["article_id"]], int(e["ordinal"])))
        rows = read_docs(client, target, base, "article", ids)
        parts: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            parts.setdefault(row["article_id"], []).append(row)
        docs = []
        for article_id, origin in kept:
            stored = json.loads(join_parts(parts[article_id]))
            stored["origin"] = origin  # an unchanged article may have moved to another file
            article = Article(**stored)
            docs.extend(_article_docs(article, article_json(article), self._base.passage_counts[article_id]))
            self._note(article_id, parts[article_id][0]["sha256"], article.site, article.category)
        self._insert(self._begin(), [{key: e[key] for key in fields} for e in passages], docs)

    def _insert(self, collection: str, passages: list[dict[str, Any]], docs: list[dict[str, Any]]) -> None:
        client, target = self._client, self._target
        for entity in passages:
            entity["row"] = self._next_row
            self._next_row += 1
        # Passages first, then their articles: a kill in between leaves passages whose vectors are reused.
        for start in range(0, len(passages), FETCH_ROWS):
            batch = passages[start:start + FETCH_ROWS]
            guarded(target, "write passages", lambda: client.insert(collection, batch))
        for start in range(0, len(docs), 100):
            batch = docs[start:start + 100]
            guarded(target, "write articles", lambda: client.insert(collection + DOCS_SUFFIX, batch))

    def _note(self, article_id: str, sha: str, site: str | None, category: str | None) -> None:
        self._articles[article_id] = sha
        if site:
            self._sites.add(site)
        if category:
            self._categories.add(category)

    def _recall(self, collection: str, total: int) -> Recall | None:
        """Recall@10 of the HNSW index against exact search, with sampled passages as queries (up to a size)."""
        if total > _RECALL_MAX_PASSAGES or total < 20:
            return None
        self._phase("recall", 0, _RECALL_QUERIES)
        client, target = self._client, self._target
        guarded(target, "load", lambda: client.load_collection(collection))
        vectors = np.zeros((total, self.dimension), dtype=np.float32)
        for start in range(0, total, MAX_LIMIT // 2):
            end = min(total, start + MAX_LIMIT // 2)
            for entity in guarded(target, "read vectors", lambda: client.query(
                    collection, filter=f"row >= {start} and row < {end}", output_fields=["row", "vector"])):
                vectors[int(entity["row"])] = entity["vector"]
        rng = np.random.default_rng(0)
        queries = vectors[rng.choice(total, size=min(_RECALL_QUERIES, total), replace=False)]
        exact = np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :10]
        found = guarded(target, "search", lambda: client.search(
            collection, data=queries.tolist(), anns_field="vector", limit=10, output_fields=["row"],
            search_params={"metric_type": "IP", "params": {"ef": HNSW_EF_SEARCH}}))
        hits = sum(len(set(e.tolist()) & {int(h["row"]) for h in f}) for e, f in zip(exact, found))
        measured = hits / exact.size
        return Recall(queries=len(queries), k=10, recall=measured, recall_raw=measured, depth=10,
                      extra={"ef": HNSW_EF_SEARCH})

    def _drop(self, keep: set[str | None]) -> None:
        for name in _versions(self._client, self._target):
            if name not in keep:
                for collection in (name, name + DOCS_SUFFIX):
                    guarded(self._target, "drop an old version", lambda c=collection: self._client.drop_collection(c))
                logger.info("dropped %s", name)

    def _phase(self, name: str, done: int, total: int | None) -> None:
        if self._on_phase is not None:
            self._on_phase(name, done, total)


class _Previous:
    """What the published version offers a new build of the same model: its articles and their passage counts."""

    def __init__(self, version: str, manifest: Manifest, articles: dict[str, str], passage_counts: dict[str, int]) -> None:
        self.version = version
        self.manifest = manifest
        self.articles = articles
        self.passage_counts = passage_counts

    @classmethod
    def open(cls, client: MilvusClient, target: MilvusTarget, embedder: Embedder, settings: Settings) -> _Previous | None:
        version = published_version(client, target)
        if version is None:
            logger.info("nothing is published at %s yet: building a new index", target.where)
            return None
        try:
            ensure_loaded(client, target, version)
            store = MilvusStore(client, target, version, _read_manifest(client, target, version))
        except StoreUnavailableError:
            raise
        except IndexStoreError as exc:  # a damaged or foreign version is replaced, not reused
            logger.info("not reusing anything from %s, building it anew: %s", target.where, exc)
            return None
        model = store.manifest.model
        if not model.made_by(embedder):
            return None
        chunking = Chunking(chunk_tokens=settings.chunk_tokens, overlap_sentences=settings.overlap_sentences)
        articles: dict[str, str] = {}
        counts: dict[str, int] = {}
        if store.manifest.chunking == chunking and (store.manifest.lexical is None or {
                k: v for k, v in store.manifest.lexical.analyzer.items() if k != "milvus"} == DEFAULT_ANALYZER.config()):
            for row in _iter_docs(client, target, version):
                articles[row["article_id"]] = row["sha256"]
                counts[row["article_id"]] = int(row["passages"])
        return cls(version, store.manifest, articles, counts)


def _read_manifest(client: MilvusClient, target: MilvusTarget, version: str) -> Manifest:
    rows = read_docs(client, target, version, "manifest")
    if not rows:
        raise IndexMismatchError(f"{version} has no manifest")
    return Manifest.from_json(json.loads(join_parts(rows)), where=f"{target.where} {version}", rebuild=target.hint)


def _iter_docs(client: MilvusClient, target: MilvusTarget, version: str) -> Iterator[dict[str, Any]]:
    """The first part of every article row of `version`'s companion (id, sha256, passage count)."""
    last = ""
    while True:
        expression = f'kind == "article" and part == 0 and article_id > {quote(last)}'
        rows = guarded(target, "read articles", lambda: client.query(
            version + DOCS_SUFFIX, filter=expression, output_fields=["article_id", "sha256", "passages"], limit=MAX_LIMIT // 2))
        if not rows:
            return
        rows.sort(key=lambda row: row["article_id"])
        yield from rows
        if len(rows) < MAX_LIMIT // 2:
            return
        last = rows[-1]["article_id"]


def _vectors_by_hash(client: MilvusClient, target: MilvusTarget, collection: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    wanted = list(dict.fromkeys(hashes))
    for start in range(0, len(wanted), FETCH_ROWS):
        batch = wanted[start:start + FETCH_ROWS]
        for entity in guarded(target, "read vectors", lambda: client.query(
                collection, filter=f"sha256 in {quote_list(batch)}", output_fields=["sha256", "vector"])):
            found.setdefault(entity["sha256"], np.asarray(entity["vector"], dtype=np.float32))
    return found


def _versions(client: MilvusClient, target: MilvusTarget) -> list[str]:
    """Every version collection of this alias, published or not."""
    names = guarded(target, "list collections", lambda: client.list_collections())
    prefix = target.collection + VERSION_MARK
    return sorted(n for n in names if n.startswith(prefix) and not n.endswith(DOCS_SUFFIX))


def _is_leftover(client: MilvusClient, target: MilvusTarget, name: str, meta: dict[str, Any]) -> bool:
    """Whether `name` is a killed build's collection (no manifest) whose vectors this build can reuse."""
    if not guarded(target, "list collections", lambda: client.has_collection(name + DOCS_SUFFIX)):
        return False
    guarded(target, "load", lambda: client.load_collection(name + DOCS_SUFFIX))
    if read_docs(client, target, name, "manifest"):
        return False
    builds = read_docs(client, target, name, "build")
    if not builds or json.loads(builds[0]["body"]) != meta:
        return False
    guarded(target, "load", lambda: client.load_collection(name))
    return True


def _build_meta(embedder: Embedder, dimension: int) -> dict[str, Any]:
    return {"fingerprint": embedder.fingerprint, "precision": embedder.precision, "engine": embedder.engine,
            "prompts": [embedder.query_prompt, embedder.passage_prompt], "dimension": dimension}


def _create(client: MilvusClient, name: str, dimension: int) -> None:
    """The passages collection (FLAT index until publish picks the type by size) and its companion."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("passage_id", DataType.VARCHAR, max_length=1024)
    schema.add_field("article_id", DataType.VARCHAR, max_length=1024)
    schema.add_field("ordinal", DataType.INT64)
    schema.add_field("start", DataType.INT64)
    schema.add_field("end", DataType.INT64)
    schema.add_field("sha256", DataType.VARCHAR, max_length=64)
    schema.add_field("site_key", DataType.VARCHAR, max_length=1024)
    schema.add_field("category_key", DataType.VARCHAR, max_length=1024)
    schema.add_field("published", DataType.DOUBLE, nullable=True)
    # Our analyzer's terms (normalised, stemmed), joined by spaces: Milvus only splits them again.
    schema.add_field("terms", DataType.VARCHAR, max_length=65_535, enable_analyzer=True,
                     analyzer_params={"tokenizer": "standard"})
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"],
                                 output_field_names=["sparse"]))
    index = client.prepare_index_params()
    index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
    index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                    params={"bm25_k1": BM25_K1, "bm25_b": BM25_B})
    client.create_collection(name, schema=schema, index_params=index)

    docs = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    docs.add_field("key", DataType.VARCHAR, is_primary=True, max_length=128)
    docs.add_field("kind", DataType.VARCHAR, max_length=16)
    docs.add_field("article_id", DataType.VARCHAR, max_length=1024)
    docs.add_field("part", DataType.INT64)
    docs.add_field("sha256", DataType.VARCHAR, max_length=64)
    docs.add_field("passages", DataType.INT64)
    docs.add_field("body", DataType.VARCHAR, max_length=65_535)
    # Milvus wants a vector field in every collection; this one holds nothing.
    docs.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
    docs_index = client.prepare_index_params()
    docs_index.add_index(field_name="unused", index_type="FLAT", metric_type="L2")
    client.create_collection(name + DOCS_SUFFIX, schema=docs, index_params=docs_index)


def _reindex(client: MilvusClient, name: str, kind: str) -> None:
    client.release_collection(name)
    client.drop_index(name, "vector")
    index = client.prepare_index_params()
    index.add_index(field_name="vector", index_type=MILVUS_INDEX[kind], metric_type="IP",
                    params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION})
    client.create_index(name, index)


def _article_fields(article: Article) -> dict[str, Any]:
    """What filters compare, stored with every passage: names case-folded, the date as a timestamp (None: undated)."""
    return {"article_id": article.id, "site_key": (article.site or "").casefold(),
            "category_key": (article.category or "").casefold(), "published": published_timestamp(article.published)}


def _article_docs(article: Article, body: str, passages: int) -> list[dict[str, Any]]:
    sha = _sha(article)
    key = hashlib.sha256(article.id.encode()).hexdigest()[:40]
    return [_doc("article", f"a{key}_{i}", article.id, i, sha=sha, passages=passages, body=part)
            for i, part in enumerate(split_parts(body))]


def _doc(kind: str, key: str, article_id: str, part: int, *, sha: str = "", passages: int = 0, body: str = "") -> dict[str, Any]:
    return {"key": key, "kind": kind, "article_id": article_id, "part": part, "sha256": sha, "passages": passages,
            "body": body, "unused": [0.0, 0.0]}


def _client_versions() -> dict[str, str]:
    from importlib import metadata

    found = {}
    for package in ("pymilvus", "milvus-lite"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def _sha(article: Article) -> str:
    from qa.stores.generations import article_sha256

    return article_sha256(article)
