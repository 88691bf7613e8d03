"""Dense vector indexes: exact for small corpora, HNSW above EXACT_BELOW rows, 8-bit HNSW above the memory budget.

Vectors are unit-length float32, so inner product is cosine. `search` scopes to rows [lo, hi) (a policy's
rows are contiguous) and returns {row: cosine}, best first. Figures behind the constants: `policyqa bench`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import faiss
import numpy as np

EXACT_BELOW = 100_000  # flat search of 100k x 384 rows: p95 8 ms on one core; beyond, it grows linearly (1M: 66 ms)
MEMORY_BUDGET = 1 << 30  # bytes of float32 vectors above which HNSW stores them as 8-bit codes
SCAN_BELOW = 20_000  # a scoped range this small is scanned exactly: faster than the graph, and never short
HNSW_M = 32
EF_CONSTRUCTION = 80
EF_SEARCH = 2048  # bench's synthetic 100k: recall@10 0.89 at 512 (0.7 ms p50), 0.92 at 1024, 0.95 at 2048 (3.2 ms)


def kind(index: faiss.Index) -> str:
    """A short name for the index type, as the bench reports it."""
    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexHNSWSQ):
        return "hnsw-sq8"
    if isinstance(index, faiss.IndexHNSWFlat):
        return "hnsw"
    return "flat"


def choose(rows: int, nbytes: int, exact_below: int = EXACT_BELOW, memory_budget: int = MEMORY_BUDGET) -> str:
    """The index type `build` makes for `rows` vectors taking `nbytes` as float32."""
    if rows < exact_below:
        return "flat"
    return "hnsw-sq8" if nbytes > memory_budget else "hnsw"


def build(matrix: np.ndarray, exact_below: int = EXACT_BELOW, memory_budget: int = MEMORY_BUDGET) -> faiss.Index:
    """An index over the rows of `matrix`: exact when small, else HNSW, quantized when over the memory budget."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    dims = matrix.shape[1]
    chosen = choose(len(matrix), matrix.nbytes, exact_below, memory_budget)
    if chosen == "flat":
        index = faiss.IndexFlatIP(dims)  # works for zero rows too (a corpus of one-sentence clauses)
    elif chosen == "hnsw-sq8":
        index = faiss.IndexHNSWSQ(dims, faiss.ScalarQuantizer.QT_8bit, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.train(matrix)
    else:
        index = faiss.IndexHNSWFlat(dims, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    if chosen != "flat":
        index.hnsw.efConstruction = EF_CONSTRUCTION
    index.add(matrix)
    return index


def search(index: faiss.Index, vector: np.ndarray, lo: int, hi: int, k: int) -> dict[int, float]:
    """The k rows in [lo, hi) nearest to `vector` (one query, shape (1, d)) with their scores, best first."""
    k = min(k, hi - lo)
    if k <= 0:
        return {}
    index = faiss.downcast_index(index)
    with _one_thread():
        if not isinstance(index, faiss.IndexHNSW):
            return _exact(index, vector, lo, hi, k)
        if hi - lo < SCAN_BELOW:
            return _exact(faiss.downcast_index(index.storage), vector, lo, hi, k)
        found = _graph(index, vector, lo, hi, k)
        # a narrow range can leave the graph walk short of k rows inside it
        return found if len(found) == k else _exact(faiss.downcast_index(index.storage), vector, lo, hi, k)


def _exact(index: faiss.Index, vector: np.ndarray, lo: int, hi: int, k: int) -> dict[int, float]:
    params = faiss.SearchParameters(**_scope(index, lo, hi))
    return _rows(*index.search(vector, k, params=params))


def _graph(index: faiss.IndexHNSW, vector: np.ndarray, lo: int, hi: int, k: int) -> dict[int, float]:
    params = faiss.SearchParametersHNSW(efSearch=max(EF_SEARCH, k), **_scope(index, lo, hi))
    return _rows(*index.search(vector, k, params=params))


def _scope(index: faiss.Index, lo: int, hi: int) -> dict:
    """Search parameters' keyword for rows [lo, hi); none for the whole index (a selector costs a check per row)."""
    return {} if (lo, hi) == (0, index.ntotal) else {"sel": faiss.IDSelectorRange(lo, hi)}


def _rows(scores: np.ndarray, rows: np.ndarray) -> dict[int, float]:
    return {int(r): float(s) for s, r in zip(scores[0], rows[0]) if r >= 0}


@contextmanager
def _one_thread() -> Iterator[None]:
    """One query gains nothing from OpenMP threads; on a busy machine their spin-waits made a flat 100k search
    6x slower (65 ms against 11 ms). The setting is per calling thread, so concurrent requests are unaffected."""
    saved = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(saved)
