"""The index manifest as typed records, read and checked in one place (`Manifest.from_json`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from qa.config import INDEX_FORMAT
from qa.errors import IndexCorruptError, IndexMismatchError
from qa.records import Skipped

__all__ = [
    "Chunking",
    "Counts",
    "FileEntry",
    "IndexInfo",
    "InputFile",
    "LexicalInfo",
    "Manifest",
    "ModelInfo",
    "Prompts",
    "Recall",
]

# Each record keeps the keys it does not know in `extra`, so a manifest written by a
# newer build (or a descriptive key nobody reads) survives a round trip unchanged.
# An optional field is None when its key is absent; a key present with a value of the
# wrong type (null included) is refused, so to_json(from_json(x)) == x for every valid x.

_KINDS: dict[type, str] = {
    str: "a string", int: "a whole number", float: "a number", bool: "true or false", dict: "an object", list: "a list",
}
_DEFAULT_REBUILD = "rebuild the index with `qa build SOURCES --out FOLDER`"
T = TypeVar("T")


def _is(value: object, kind: type) -> bool:
    # JSON has one number type; bool is an int subclass in Python but never a count.
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class _Reader:
    """Reads one manifest, raising an IndexCorruptError that names the field and how to rebuild."""

    where: str
    rebuild: str

    def fail(self, problem: str) -> IndexCorruptError:
        return IndexCorruptError(f"{self.where} {problem} (edited or damaged?); {self.rebuild}")

    def get(self, obj: dict[str, Any], section: str, key: str, kind: type, *, required: bool = True) -> Any:
        name = f"{section}.{key}" if section else key
        if key not in obj:
            if required:
                raise self.fail(f"has no {name}" if section else f"has no {name!r} section")
            return None
        value = obj[key]
        if not _is(value, kind):
            raise self.fail(f"has {name} {_show(value)}, not {_KINDS[kind]}")
        return value

    def section(self, obj: dict[str, Any], key: str, read: Callable[[dict[str, Any], _Reader], T]) -> T:
        return read(self.get(obj, "", key, dict), self)

    def optional(self, obj: dict[str, Any], key: str, read: Callable[[dict[str, Any], _Reader], T]) -> T | None:
        value = self.get(obj, "", key, dict, required=False)
        return None if value is None else read(value, self)

    def strings(self, values: list[Any], name: str) -> tuple[str, ...]:
        for value in values:
            if not isinstance(value, str):
                raise self.fail(f"has {_show(value)} in {name}, not a string")
        return tuple(values)


def _rest(obj: dict[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    return {key: value for key, value in obj.items() if key not in known}


def _json(pairs: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """The JSON object of a record: its fields that are set (None means absent), then the keys it kept unread."""
    return {**{key: value for key, value in pairs.items() if value is not None}, **extra}


@dataclass(frozen=True)
class Prompts:
    """The prompts the model's texts were embedded with (`query: ` / `passage: ` for e5)."""

    query: str
    passage: str

    @classmethod
    def read(cls, obj: dict[str, Any], reader: _Reader) -> Prompts:
        return cls(reader.get(obj, "model.prompts", "query", str), reader.get(obj, "model.prompts", "passage", str))

    def to_json(self) -> dict[str, Any]:
        return {"query": self.query, "passage": self.passage}


@dataclass(frozen=True)
class ModelInfo:
    """The model that made the vectors; a load refuses another fingerprint. `extra`: path, source, pooling..."""

    name: str
    fingerprint: str
    precision: str
    dimension: int | None = None
    prompts: Prompts | None = None
    max_tokens: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KEYS = ("name", "fingerprint", "precision", "dimension", "prompts", "max_tokens")

    @classmethod
    def read(cls, obj: dict[str, Any], reader: _Reader) -> ModelInfo:
        return cls(
            name=reader.get(obj, "model", "name", str),
            fingerprint=reader.get(obj, "model", "fingerprint", str),
            precision=reader.get(obj, "model", "precision", str),
            dimension=reader.get(obj, "model", "dimension", int, required=False),
            prompts=reader.optional(obj, "prompts", Prompts.read),
            max_tokens=reader.get(obj, "model", "max_tokens", int, required=False),
            extra=_rest(obj, cls._KEYS),
        )

    def made_by(self, embedder: Any) -> bool:
        """Whether `embedder` (a `qa.embed.Embedder`) makes these vectors: same weights, precision, engine, prompts.

        An index that records no engine (built before engines were recorded) is taken as made by any.
        """
        return (
            self.fingerprint == embedder.fingerprint and self.precision == embedder.precision
            and self.extra.get("engine", embedder.engine) == embedder.engine
            and self.prompts == Prompts(query=embedder.query_prompt, passage=embedder.passage_prompt)
        )

    @classmethod
    def from_description(cls, described: dict[str, Any]) -> ModelInfo:
        """The record of `Embedder.describe()`."""
        return cls.read(described, _Reader("the embedder's description", "this is a bug in qa"))

    def to_json(self) -> dict[str, Any]:
        return _json({
            "name": self.name, "fingerprint": self.fingerprint, "precision": self.precision, "dimension": self.dimension,
            "prompts": self.prompts.to_json() if self.prompts is not None else None, "max_tokens": self.max_tokens,
        }, self.extra)


@dataclass(frozen=True)
class Chunking:
    """How articles were cut into passages; another chunking means every passage is cut again."""

    chunk_tokens: int
    overlap_sentences: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, obj: dict[str, Any], reader: _Reader) -> Chunking:
        return cls(
            chunk_tokens=reader.get(obj, "chunking", "chunk_tokens", int),
            overlap_sentences=reader.get(obj, "chunking", "overlap_sentences", int, required=False),
            extra=_rest(obj, ("chunk_tokens", "overlap_sentences")),
        )

    def to_json(self) -> dict[str, Any]:
        return _json({"chunk_tokens": self.chunk_tokens, "overlap_sentences": self.overlap_sentences}, self.extra)


_COUNTS = ("embedded", "reused", "resumed", "kept_articles", "changed_articles", "removed_articles", "skipped_inputs")


@dataclass(frozen=True)
class Counts:
    """What the index holds (`articles`, `passages`) and what the build that wrote it did (the rest)."""

    articles: int
    passages: int
    embedded: int | None = None
    reused: int | None = None
    resumed: int | None = None
    kept_articles: int | None = None
    changed_articles: int | None = None
    removed_articles: int | None = None
    skipped_inputs: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, obj: dict[str, Any], reader: _Reader) -> Counts:
        optional = {key: reader.get(obj, "counts", key, int, required=False) for key in _COUNTS}
        return cls(
            articles=reader.get(obj, "counts", "articles", int), passages=reader.get(obj, "counts", "passages", int),
            **optional, extra=_rest(obj, ("articles", "passages", *_COUNTS)),
        )

    def to_json(self) -> dict[str, Any]:
        pairs = {"articles": self.articles, "passages": self.passages, **{key: getattr(self, key) for key in _COUNTS}}
        return _json(pairs, self.extra)


@dataclass(frozen=True)
class Recall:
    """Recall@k of an approximate (HNSW) index against exact search, measured when it was built."""

    queries: int
    k: int
    recall: float
    recall_raw: float
    depth: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, obj: dict[str, Any], reader: _Reader) -> Recall:
        return cls(
            queries=reader.get(obj, "index.recall", "queries", int), k=reader.get(obj, "index.recall", "k", int),
            recall=reader.get(obj, "index.recall", "recall", float),
            recall_raw=reader.get(obj, "index.recall", "recall_raw", float),
            depth=reader.get(obj, "index.recall", "depth", int, required=False),
            extra=_rest(obj, ("queries", "k", "depth", "recall", "recall_raw")),
        )

    @classmethod
    def from_measure(cls, measured: dict[str, Any]) -> Recall:
        """The record of `qa.index.measure_recall`."""
        return cls.read(measured, _Reader("the measured recall", "this is a bug in qa"))

    def to_json(self) -> dict[str, Any]:
        return _json({"queries": self.queries, "k": self.k, "depth": self.depth, "recall": self.recall,
                      "recall_raw": self.recall_raw}, self.extra)


@dataclass(frozen=True)
class IndexInfo:
    """The vector index: its type ("flat"/"hnsw"), size, search depth, how it was built. `extra`: faiss class, m..."""

    size: int
    type: str | None = None
    dimension: int | None = None
    ef_search: int | None = None
    built: str | None = None
    recall: Recall | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KEYS = ("type", "size", "dimension", "ef_search", "built", "recall")

    @classmethod
    def read(cls, obj: dict[str, Any], reader: _Reader) -> IndexInfo:
        ef_search = reader.get(obj, "index", "ef_search", int, required=False)
        if ef_search is not None and ef_search < 1:
            raise reader.fail(f"has index.ef_search {ef_search}, not a positive whole number")
        return cls(
            size=reader.get(obj, "index", "size", int), type=reader.get(obj, "index", "type", str, required=False),
            dimension=reader.get(obj, "index", "dimension", int, required=False), ef_search=ef_search,
            built=reader.get(obj, "index", "built", str, required=False),
            recall=reader.optional(obj, "recall", Recall.read), extra=_rest(obj, cls._KEYS),
        )

    @classmethod
    def from_description(cls, described: dict[str, Any]) -> IndexInfo:
        """The record of `VectorIndex.describe()`."""
        return cls.read(described, _Reader("the index's description", "this is a bug in qa"))

    def to_json(self) -> dict[str, Any]:
        return _json({
            "type": self.type, "dimension": self.dimension, "size": self.size, "ef_search": self.ef_search,
            "built": self.built, "recall": self.recall.to_json() if self.recall is not None else None,
        }, self.extra)


@dataclass(frozen=True)
class LexicalInfo:
    """The BM25 side: its files, its size, and the analyzer config (`qa.lexical.Analyzer.config()`) it was built with."""

    files: tuple[str, ...]
    size: int
    analyzer: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, obj: dict[str, Any], reader: _Reader) -> LexicalInfo:
        files = reader.strings(reader.get(obj, "lexical", "files", list, required=False) or [], "lexical.files")
        return cls(files=files, size=reader.get(obj, "lexical", "size", int), analyzer=_rest(obj, ("files", "size")))

    def to_json(self) -> dict[str, Any]:
        return {"files": list(self.files), "size": self.size, **self.analyzer}


@dataclass(frozen=True)
class FileEntry:
    """Size and sha256 of one file of the index, checked at load."""

    bytes: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"bytes": self.bytes, "sha256": self.sha256}


@dataclass(frozen=True)
class InputFile:
    """A source file a build read, to tell an unchanged corpus in one read."""

    path: str
    bytes: int
    sha256: str

    @classmethod
    def read(cls, obj: dict[str, Any], reader: _Reader) -> InputFile:
        return cls(reader.get(obj, "inputs[]", "path", str), reader.get(obj, "inputs[]", "bytes", int),
                   reader.get(obj, "inputs[]", "sha256", str))

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "bytes": self.bytes, "sha256": self.sha256}


def _read_files(obj: dict[str, Any], reader: _Reader) -> dict[str, FileEntry]:
    files = {}
    for name, entry in obj.items():
        # A listed name is opened inside the index folder: never a path that leaves it.
        if name in ("", ".", "..") or "/" in name or "\\" in name or name.startswith("."):
            raise reader.fail(f"lists {name!r}, not a file of the index folder")
        if not isinstance(entry, dict) or not _is(entry.get("bytes"), int) or not isinstance(entry.get("sha256"), str):
            raise reader.fail(f"has no size and checksum for {name}")
        files[name] = FileEntry(entry["bytes"], entry["sha256"])
    return files


def _read_skipped(values: list[Any], reader: _Reader) -> tuple[Skipped, ...]:
    skipped = []
    for value in values:
        if not (isinstance(value, dict) and isinstance(value.get("origin"), str) and isinstance(value.get("reason"), str)
                and (value.get("line") is None or _is(value.get("line"), int))):
            raise reader.fail(f"has {_show(value)} in skipped, not an origin, line and reason")
        skipped.append(Skipped(origin=value["origin"], line=value.get("line"), reason=value["reason"]))
    return tuple(skipped)


_TOP = ("created", "model", "chunking", "counts", "corpus_sha256", "sources", "inputs", "build", "skipped", "index",
        "versions", "lexical", "format", "files")


@dataclass(frozen=True)
class Manifest:
    """What an index says about itself (manifest.json): the model, chunking, counts, files and how it was built.

    `build` is the build key, compared whole to tell whether a new build would write
    the same index (settings, model, analyzer): its keys are the build's to choose.
    """

    format: int
    model: ModelInfo
    chunking: Chunking
    counts: Counts
    index: IndexInfo
    files: dict[str, FileEntry] = field(default_factory=dict)
    created: str | None = None
    corpus_sha256: str | None = None
    sources: tuple[str, ...] | None = None
    inputs: tuple[InputFile, ...] | None = None
    build: dict[str, Any] | None = None
    skipped: tuple[Skipped, ...] | None = None
    versions: dict[str, str] | None = None
    lexical: LexicalInfo | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(
        cls, data: object, *, where: str, rebuild: str = _DEFAULT_REBUILD, formats: tuple[int, ...] = (INDEX_FORMAT,)
    ) -> Manifest:
        """Check a manifest read from JSON and return its record.

        Args:
            data: the parsed JSON.
            where: what to name in messages (the manifest's path).
            rebuild: the sentence that says how to rebuild this index.
            formats: the index formats accepted.

        Raises:
            IndexCorruptError: a field loading relies on is missing or of the wrong type (the message names it).
            IndexMismatchError: the index was written in another format.
        """
        reader = _Reader(where, rebuild)
        if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
            raise IndexCorruptError(f"{where} is not an index manifest; {rebuild}")
        if data.get("format") not in formats or isinstance(data.get("format"), bool):
            raise IndexMismatchError(
                f"{where} was written in index format {data.get('format')!r}, this version reads {INDEX_FORMAT}; {rebuild}"
            )
        files = _read_files(data["files"], reader)
        model = reader.section(data, "model", ModelInfo.read)
        chunking = reader.section(data, "chunking", Chunking.read)
        counts = reader.section(data, "counts", Counts.read)
        index = reader.section(data, "index", IndexInfo.read)
        sources = reader.get(data, "", "sources", list, required=False)
        inputs = reader.get(data, "", "inputs", list, required=False)
        versions = reader.get(data, "", "versions", dict, required=False)
        skipped = reader.get(data, "", "skipped", list, required=False)
        if versions is not None:
            reader.strings(list(versions.values()), "versions")
        for item in inputs or []:
            if not isinstance(item, dict):
                raise reader.fail(f"has {_show(item)} in inputs, not an object")
        return cls(
            format=data["format"], model=model, chunking=chunking, counts=counts, index=index, files=files,
            created=reader.get(data, "", "created", str, required=False),
            corpus_sha256=reader.get(data, "", "corpus_sha256", str, required=False),
            sources=reader.strings(sources, "sources") if sources is not None else None,
            inputs=tuple(InputFile.read(item, reader) for item in inputs) if inputs is not None else None,
            build=reader.get(data, "", "build", dict, required=False),
            skipped=_read_skipped(skipped, reader) if skipped is not None else None,
            versions=versions, lexical=reader.optional(data, "lexical", LexicalInfo.read),
            extra=_rest(data, _TOP),
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object written as manifest.json (from_json(to_json()) gives this record back)."""
        pairs: dict[str, Any] = {
            "created": self.created, "model": self.model.to_json(), "chunking": self.chunking.to_json(),
            "counts": self.counts.to_json(), "corpus_sha256": self.corpus_sha256,
            "sources": list(self.sources) if self.sources is not None else None,
            "inputs": [i.to_json() for i in self.inputs] if self.inputs is not None else None, "build": self.build,
            "skipped": [{"origin": s.origin, "line": s.line, "reason": s.reason} for s in self.skipped]
            if self.skipped is not None else None,
            "index": self.index.to_json(), "versions": self.versions,
            "lexical": self.lexical.to_json() if self.lexical is not None else None,
            "format": self.format, "files": {name: entry.to_json() for name, entry in self.files.items()},
        }
        return _json(pairs, self.extra)

    def with_files(self, files: dict[str, FileEntry]) -> Manifest:
        """This manifest listing `files`, in the current format (what a build writes last)."""
        return replace(self, files=files, format=INDEX_FORMAT)
