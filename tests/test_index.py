"""The FAISS vector index on random unit vectors: exact and HNSW search against brute force, masks, files, close."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.errors import IndexCorruptError, SettingsError
from qa.index import VectorIndex, load_vectors


def _unit(rows: int, seed: int, dimension: int = 16) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _brute_force(vectors: np.ndarray, queries: np.ndarray, k: int, rows: np.ndarray) -> np.ndarray:
    scores = queries @ vectors[rows].T
    return rows[np.argsort(-scores, axis=1, kind="stable")[:, :k]]


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_search_is_brute_force_with_and_without_a_mask(kind: str) -> None:
    vectors, queries = _unit(2000, 1), _unit(6, 2)
    index = VectorIndex.build(vectors, kind)
    everything = np.arange(len(vectors))
    found = index.search(queries, 10)
    if kind == "flat":
        assert np.array_equal(found.rows, _brute_force(vectors, queries, 10, everything))
    else:  # approximate: most of the true top 10, re-scored exactly and sorted
        overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found.rows, _brute_force(vectors, queries, 10, everything))])
        assert overlap >= 0.9
    np.testing.assert_allclose(found.scores, np.einsum("qd,qkd->qk", queries, vectors[found.rows]), atol=1e-5)
    allowed = np.zeros(len(vectors), dtype=bool)
    allowed[3::11] = True
    masked = index.search(queries, 5, allowed)
    assert np.array_equal(masked.rows, _brute_force(vectors, queries, 5, np.flatnonzero(allowed)))


def test_a_mask_that_keeps_fewer_rows_than_k_pads_with_minus_one() -> None:
    vectors = _unit(300, 3)
    allowed = np.zeros(len(vectors), dtype=bool)
    allowed[[5, 50]] = True
    for kind in ("flat", "hnsw"):
        found = VectorIndex.build(vectors, kind).search(_unit(2, 4), 4, allowed)
        assert found.rows.shape == (2, 4)
        assert all(sorted(row[:2]) == [5, 50] and list(row[2:]) == [-1, -1] for row in found.rows.tolist())
        nothing = VectorIndex.build(vectors, kind).search(_unit(1, 4), 3, np.zeros(len(vectors), dtype=bool))
        assert (nothing.rows == -1).all()


def test_k_beyond_the_size_returns_every_row() -> None:
    vectors = _unit(7, 5)
    found = VectorIndex.build(vectors, "flat").search(_unit(1, 6), 50)
    assert sorted(found.rows[0].tolist()) == list(range(7))


def test_queries_of_another_dimension_are_refused() -> None:
    with pytest.raises(SettingsError, match=r"\(n, 16\)"):
        VectorIndex.build(_unit(10, 7), "flat").search(_unit(1, 8, dimension=8), 3)
    with pytest.raises(SettingsError, match="'flat' or 'hnsw'"):
        VectorIndex.build(_unit(10, 7), "ivf")


def test_saved_index_loads_with_its_vectors_and_describes_itself(tmp_path: Path) -> None:
    vectors = _unit(500, 8)
    np.save(tmp_path / "vectors.npy", vectors)
    VectorIndex.build(vectors, "hnsw").save(tmp_path / "index.faiss")
    index = VectorIndex.load(tmp_path / "index.faiss", tmp_path / "vectors.npy", ef_search=64)
    assert (index.size, index.dimension, index.kind) == (500, 16, "hnsw")
    described = index.describe()
    assert described["type"] == "hnsw" and described["ef_search"] == 64 and described["size"] == 500
    # With the float32 vectors attached, vectors() is exact, not the quantized codes.
    np.testing.assert_array_equal(index.vectors(np.array([3, 1])), vectors[[3, 1]])


def test_damaged_files_are_reported_as_corrupt(tmp_path: Path) -> None:
    (tmp_path / "index.faiss").write_bytes(b"not an index")
    with pytest.raises(IndexCorruptError, match="not a readable FAISS index"):
        VectorIndex.load(tmp_path / "index.faiss")
    VectorIndex.build(_unit(20, 9), "flat").save(tmp_path / "index.faiss")
    np.save(tmp_path / "vectors.npy", _unit(19, 9))
    with pytest.raises(IndexCorruptError, match="holds"):
        VectorIndex.load(tmp_path / "index.faiss", tmp_path / "vectors.npy")
    np.save(tmp_path / "ints.npy", np.zeros((20, 16), dtype=np.int32))
    with pytest.raises(IndexCorruptError, match="float32"):
        load_vectors(tmp_path / "ints.npy")


def test_close_drops_the_index_and_the_memory_map(tmp_path: Path) -> None:
    vectors = _unit(50, 10)
    np.save(tmp_path / "vectors.npy", vectors)
    VectorIndex.build(vectors, "flat").save(tmp_path / "index.faiss")
    index = VectorIndex.load(tmp_path / "index.faiss", tmp_path / "vectors.npy")
    index.close()
    assert index.size == 0 and index.dimension == 16
