"""The dense index: which type build() picks, scoped search, and recall of the approximate types."""

from __future__ import annotations

import numpy as np
import pytest

from app import vectors

DIMS = 64


def unit(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def clustered(n: int, seed: int = 0, centers: int = 200) -> np.ndarray:
    """Random unit vectors around the same 200 random centres, like embeddings of related clauses."""
    middle = unit(np.random.default_rng(12345).standard_normal((centers, DIMS)))
    rng = np.random.default_rng(seed)
    return unit(middle[rng.integers(0, centers, n)] + 0.15 * rng.standard_normal((n, DIMS)))


@pytest.fixture(scope="module")
def matrix() -> np.ndarray:
    return clustered(20_000)


@pytest.fixture(scope="module")
def queries() -> np.ndarray:
    return clustered(100, seed=1)


@pytest.fixture(scope="module")
def hnsw(matrix) -> vectors.faiss.Index:
    return vectors.build(matrix, exact_below=1000)


def exact_top(matrix: np.ndarray, query: np.ndarray, lo: int, hi: int, k: int) -> list[int]:
    scores = matrix[lo:hi] @ query[0]
    return (lo + np.argsort(-scores, kind="stable")[:k]).tolist()


def test_small_matrices_get_an_exact_index_and_large_ones_hnsw(matrix):
    assert vectors.kind(vectors.build(matrix[:999], exact_below=1000)) == "flat"
    assert vectors.kind(vectors.build(matrix[:1000], exact_below=1000)) == "hnsw"
    assert vectors.kind(vectors.build(matrix[:1000], exact_below=1000, memory_budget=1000)) == "hnsw-sq8"


def test_an_empty_matrix_builds_an_empty_exact_index():
    index = vectors.build(np.zeros((0, DIMS), dtype=np.float32))
    assert vectors.kind(index) == "flat" and index.ntotal == 0
    assert vectors.search(index, np.ones((1, DIMS), dtype=np.float32), 0, 0, 5) == {}


@pytest.mark.parametrize("exact_below", [10**9, 1000])
def test_scoped_search_returns_the_exact_best_rows_of_its_range(matrix, queries, exact_below, hnsw):
    index = hnsw if exact_below == 1000 else vectors.build(matrix, exact_below=exact_below)
    for query in queries[:20]:
        found = vectors.search(index, query[None], 5000, 5300, 10)
        assert list(found) == exact_top(matrix, query[None], 5000, 5300, 10)
        assert all(5000 <= row < 5300 for row in found)
        assert list(found.values()) == sorted(found.values(), reverse=True)
        expected = matrix[list(found)] @ query
        assert np.allclose(list(found.values()), expected, atol=1e-5)  # scores are cosines, not distances


def test_a_range_smaller_than_k_returns_all_its_rows(hnsw, queries):
    assert sorted(vectors.search(hnsw, queries[:1], 42, 45, 10)) == [42, 43, 44]


def test_scoped_graph_search_reaches_k_rows_in_range(hnsw, queries, monkeypatch):
    monkeypatch.setattr(vectors, "SCAN_BELOW", 0)  # force the graph walk with a selector, even on a narrow range
    for lo, hi in ((0, 20_000), (1000, 15_000), (7000, 7050)):
        found = vectors.search(hnsw, queries[:1], lo, hi, 20)
        assert len(found) == 20 and all(lo <= row < hi for row in found)


@pytest.mark.parametrize("memory_budget", [vectors.MEMORY_BUDGET, 0])
def test_recall_at_10_against_exact_search_is_at_least_095(matrix, queries, hnsw, memory_budget):
    index = hnsw if memory_budget else vectors.build(matrix, exact_below=1000, memory_budget=memory_budget)
    recalls = [len(set(vectors.search(index, q[None], 0, len(matrix), 10)) & set(exact_top(matrix, q[None], 0, len(matrix), 10))) / 10
               for q in queries]
    assert np.mean(recalls) >= 0.95, (vectors.kind(index), np.mean(recalls))
