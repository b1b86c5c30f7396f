"""A build's memory-saving paths (block-wise vectors, BM25, quantizer training) write what one-shot computations write."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import faiss
import numpy as np
import pytest

import qa
from qa import lexical
from qa.config import Settings
from qa.embed import Embedder
from qa.lexical import LexicalIndex
from qa.stores.generations import STORE, PassageStore
from qa.stores import faiss_build


@pytest.mark.parametrize("index_type", ["flat", "hnsw"])
def test_block_wise_build_writes_the_one_shot_arrays(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch, index_type: str
) -> None:
    monkeypatch.setattr(faiss_build, "_COPY_ROWS", 3)
    monkeypatch.setattr(lexical, "_bm25_matrix", functools.partial(lexical._bm25_matrix, block_docs=4))
    topics = ["الاقتصاد", "الرياضة", "السياسة", "الطقس", "التعليم"]
    lines = [
        json.dumps({"id": f"n{i}", "title": f"خبر {topics[i % 5]}",
                    "text": f"نص الخبر رقم {i} عن {topics[i % 5]}. " * (1 + i % 3)}, ensure_ascii=False)
        for i in range(30)
    ]
    (tmp_path / "news.jsonl").write_text("\n".join(lines), encoding="utf-8")
    report = qa.build_index([tmp_path / "news.jsonl"], tmp_path / "vectors", embedder=embedder,
                            settings=Settings(index_type=index_type))
    generation = report.path
    vectors = np.load(generation / "vectors.npy")
    assert vectors.shape == (report.passages, embedder.dimension)

    index = faiss.read_index(str(generation / "index.faiss"))
    if index_type == "flat":
        assert np.array_equal(index.reconstruct_n(0, index.ntotal), vectors)
    else:
        reference = faiss.IndexHNSWSQ(vectors.shape[1], faiss.ScalarQuantizer.QT_8bit, 16, faiss.METRIC_INNER_PRODUCT)
        reference.train(vectors)
        storage = faiss.downcast_index(faiss.downcast_index(index).storage)
        assert np.array_equal(faiss.vector_to_array(storage.codes),
                              faiss.downcast_index(reference.storage).sa_encode(vectors).ravel())

    store = PassageStore.open(generation / STORE)
    try:
        texts = [s.passage.embed_text for s in store.iter_passages()]
    finally:
        store.close()
    monkeypatch.undo()
    one_shot = LexicalIndex.build(texts)
    one_shot.save(tmp_path / "one-shot")
    for name in ("lexical.data.npy", "lexical.indices.npy", "lexical.indptr.npy", "lexical.terms.npy",
                 "lexical.offsets.npy", "lexical.vocab.json"):
        assert (generation / name).read_bytes() == (tmp_path / "one-shot" / name).read_bytes(), name


def test_vectors_written_by_blocks_are_the_array_numpy_saves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.stores import faiss_build

    monkeypatch.setattr(faiss_build, "_COPY_ROWS", 3)
    fresh = np.random.default_rng(3).standard_normal((10, 4)).astype(np.float32)
    (tmp_path / "fresh.f32").write_bytes(fresh.tobytes())
    kept = np.random.default_rng(4).standard_normal((8, 4)).astype(np.float32)

    class Previous:
        def vectors(self, rows: np.ndarray) -> np.ndarray:
            return kept[rows]

    rows = np.array([7, 0, 3, 4, 5, 1, 2], dtype=np.int64)
    phases: list[tuple[str, int, int | None]] = []
    faiss_build._write_vectors(tmp_path / "vectors.npy", Previous(), rows, tmp_path / "fresh.f32", 10, 4,  # type: ignore[arg-type]
                               lambda *phase: phases.append(phase))
    np.save(tmp_path / "expected.npy", np.concatenate([kept[rows], fresh]))
    assert (tmp_path / "vectors.npy").read_bytes() == (tmp_path / "expected.npy").read_bytes()
    assert phases[-1] == ("vectors", 17, 17)
