"""The build's memory-saving paths give exactly what the one-shot computations give."""

from __future__ import annotations

import numpy as np
import pytest

from qa.lexical import Terms, _bm25_matrix


def _random_terms(docs: int, vocab: int, seed: int = 0) -> Terms:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 40, docs)
    # Skewed term ids, so some terms occur in many passages and many times in one.
    ids = np.minimum(rng.zipf(1.3, int(lengths.sum())) - 1, vocab - 1).astype(np.int32)
    offsets = np.zeros(docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return Terms(ids, offsets)


@pytest.mark.parametrize("block_docs", [1, 7, 64, 1000])
def test_bm25_matrix_by_blocks_equals_one_block(block_docs: int) -> None:
    terms = _random_terms(docs=300, vocab=500)
    whole = _bm25_matrix(terms, 500, block_docs=len(terms))
    blocks = _bm25_matrix(terms, 500, block_docs=block_docs)
    assert whole["num_docs"] == blocks["num_docs"] == 300
    for name in ("data", "indices", "indptr"):
        assert blocks[name].dtype == whole[name].dtype
        np.testing.assert_array_equal(blocks[name], whole[name])


@pytest.mark.parametrize("count", [1, 50, 3000])
def test_hnsw_trained_by_blocks_quantizes_as_faiss_trains(count: int) -> None:
    import faiss

    from qa.index import HNSW_M, VectorIndex

    vectors = np.random.default_rng(count).standard_normal((count, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    reference = faiss.IndexHNSWSQ(16, faiss.ScalarQuantizer.QT_8bit, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    reference.train(vectors)
    built = VectorIndex.build(vectors, "hnsw")._index
    trained = faiss.vector_to_array(faiss.downcast_index(built.storage).sq.trained)
    assert np.array_equal(trained, faiss.vector_to_array(faiss.downcast_index(reference.storage).sq.trained))
    # The graph's links depend on thread timing; the stored codes do not.
    codes = faiss.vector_to_array(faiss.downcast_index(built.storage).codes)
    assert np.array_equal(codes, faiss.downcast_index(reference.storage).sa_encode(vectors).ravel())


def test_flat_index_added_in_slices_is_the_index_added_at_once() -> None:
    import faiss

    from qa.index import VectorIndex

    vectors = np.random.default_rng(1).standard_normal((1000, 16)).astype(np.float32)
    sliced = VectorIndex(faiss.IndexFlatIP(16))
    sliced.add(vectors, batch=7)
    whole = faiss.IndexFlatIP(16)
    whole.add(vectors)
    assert np.array_equal(faiss.serialize_index(sliced._index), faiss.serialize_index(whole))


@pytest.mark.parametrize("block", [1, 5, 4096])
def test_exact_neighbours_by_blocks_equal_one_block_ties_included(block: int) -> None:
    from qa.index import exact_neighbours

    rng = np.random.default_rng(2)
    # Few distinct values, so many scores tie and the lower row must win in every block size.
    vectors = rng.integers(-2, 3, (500, 8)).astype(np.float32)
    queries = rng.integers(-2, 3, (20, 8)).astype(np.float32)
    expected = exact_neighbours(vectors, queries, 11, block=len(vectors))
    assert np.array_equal(exact_neighbours(vectors, queries, 11, block=block), expected)

