"""The dense index: which type build() picks, scoped search, and recall of the approximate type on real-ish vectors."""

from __future__ import annotations

import json
from importlib.resources import files

import faiss
import numpy as np
import pytest

from app import bench, store, vectors
from app.tokens import search_text

ROWS = 20_000
EXACT_BELOW = 1000  # small enough that the tests' matrix gets the approximate type


@pytest.fixture(scope="module")
def matrix(engine) -> np.ndarray:
    """Mixes of the bundled corpus's real clause and sentence vectors, as the bench scales up."""
    index = store.load(engine.index_dir)
    real = np.vstack([v.reconstruct_n(0, v.ntotal) for v in (index.vectors, index.sentence_vectors)])
    return bench.synthetic(real, ROWS)


@pytest.fixture(scope="module")
def queries(model) -> np.ndarray:
    """The gold set's real questions, embedded as search embeds them."""
    with open(files("app") / "data" / "gold.jsonl", encoding="utf-8") as f:
        questions = [json.loads(line)["question"] for line in f if line.strip()]
    return model.encode([search_text(q) for q in questions])


@pytest.fixture(scope="module")
def ivf(matrix) -> faiss.Index:
    return vectors.build(matrix, exact_below=EXACT_BELOW)


def exact_top(matrix: np.ndarray, query: np.ndarray, lo: int, hi: int, k: int) -> list[int]:
    scores = matrix[lo:hi] @ query[0]
    return (lo + np.argsort(-scores, kind="stable")[:k]).tolist()


def test_small_matrices_get_an_exact_index_and_large_ones_ivf(matrix, ivf):
    assert vectors.kind(vectors.build(matrix[:999], exact_below=EXACT_BELOW)) == "flat"
    assert vectors.kind(vectors.build(matrix[:1000], exact_below=EXACT_BELOW)) == "ivf-fp16"
    assert vectors.kind(ivf) == vectors.choose(ROWS, EXACT_BELOW) == "ivf-fp16"
    assert vectors.choose(vectors.EXACT_BELOW - 1) == "flat"


def test_an_empty_matrix_builds_an_empty_exact_index():
    index = vectors.build(np.zeros((0, 384), dtype=np.float32))
    assert vectors.kind(index) == "flat" and index.ntotal == 0
    assert vectors.search(index, np.ones((1, 384), dtype=np.float32), 0, 0, 5) == {}


@pytest.mark.parametrize("approximate", [False, True])
def test_scoped_search_returns_the_exact_best_rows_of_its_range(matrix, queries, approximate, ivf):
    index = ivf if approximate else vectors.build(matrix)
    for query in queries[:20]:
        found = vectors.search(index, query[None], 5000, 5300, 10)
        assert list(found) == exact_top(matrix, query[None], 5000, 5300, 10)
        assert list(found.values()) == sorted(found.values(), reverse=True)
        expected = matrix[list(found)] @ query
        assert np.allclose(list(found.values()), expected, atol=1e-4)  # cosines (of float16 copies), not distances


@pytest.mark.parametrize("approximate", [False, True])
def test_search_over_several_ranges_returns_the_exact_best_rows_of_them_all(matrix, queries, approximate, ivf):
    """What a search of the policy versions in force on a date reads: ranges of rows apart from each other."""
    index = ivf if approximate else vectors.build(matrix)
    spans = [(1000, 1200), (5000, 5300), (19_900, 20_000)]
    rows = np.concatenate([np.arange(lo, hi) for lo, hi in spans])
    for query in queries[:20]:
        found = vectors.search_spans(index, query[None], spans, 10)
        assert list(found) == rows[np.argsort(-(matrix[rows] @ query), kind="stable")[:10]].tolist()
        assert list(found.values()) == sorted(found.values(), reverse=True)
    assert vectors.search_spans(index, queries[:1], [], 10) == {}


def test_a_range_smaller_than_k_returns_all_its_rows(ivf, queries):
    assert sorted(vectors.search(ivf, queries[:1], 42, 45, 10)) == [42, 43, 44]


def test_a_range_the_probed_lists_barely_reach_still_gets_k_rows(ivf, queries, monkeypatch):
    monkeypatch.setattr(vectors, "SCAN_BELOW", 0)  # probe NPROBE lists with a selector, even on a narrow range
    for lo, hi in ((0, ROWS), (1000, 15_000), (7000, 7050)):
        found = vectors.search(ivf, queries[:1], lo, hi, 20)
        assert len(found) == 20 and all(lo <= row < hi for row in found)


def test_recall_at_10_against_exact_search_is_at_least_095(matrix, queries, ivf):
    recalls = [len(set(vectors.search(ivf, q[None], 0, ROWS, 10)) & set(exact_top(matrix, q[None], 0, ROWS, 10))) / 10
               for q in queries]
    assert np.mean(recalls) >= 0.95, np.mean(recalls)


def test_a_saved_ivf_index_reads_back_its_vectors_and_probes_as_built(ivf, matrix):
    loaded = faiss.deserialize_index(faiss.serialize_index(ivf))
    assert faiss.extract_index_ivf(loaded).nprobe == vectors.NPROBE
    assert np.allclose(loaded.reconstruct(1234), matrix[1234], atol=1e-3)


def test_rebuilding_from_stored_vectors_stores_the_same_vectors(ivf):
    """store's vector cache re-feeds vectors read back from the index: that must not drift."""
    stored = ivf.reconstruct_n(0, ivf.ntotal)
    rebuilt = vectors.build(stored, exact_below=EXACT_BELOW)
    assert np.array_equal(rebuilt.reconstruct_n(0, rebuilt.ntotal), stored)
