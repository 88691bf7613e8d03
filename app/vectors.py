"""Dense vector indexes: exact below EXACT_BELOW rows, an inverted file (IVF) of float16 vectors above.

Vectors are unit-length float32, so inner product is cosine. `search` scopes to rows [lo, hi) (a policy's
rows are contiguous) and returns {row: cosine}, best first. Figures behind the constants: `policyqa bench`.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator

import faiss
import numpy as np

EXACT_BELOW = 100_000  # flat search of 100k x 384 rows: p95 8 ms on one core; beyond, it grows linearly (1M: 66 ms)
SCAN_BELOW = 20_000  # a scoped range this small is scanned exactly: cheaper than probing, and never short
LISTS_PER_ROOT = 4  # inverted lists = 4 x sqrt(rows): 1,264 at 100k, 4,000 at 1M
TRAIN_PER_LIST = 50  # k-means sample per list (faiss needs at least 39)
NPROBE = 64  # lists searched per query: on the bench's 1M rows (4,000 lists) recall@10 0.972 at 32, 0.989 at 64, 1.7 ms p50


def kind(index: faiss.Index) -> str:
    """A short name for the index type, as the bench reports it."""
    return "ivf-fp16" if isinstance(faiss.downcast_index(index), faiss.IndexIVF) else "flat"


def choose(rows: int, exact_below: int = EXACT_BELOW) -> str:
    """The index type `build` makes for `rows` vectors."""
    return "flat" if rows < exact_below else "ivf-fp16"


def build(matrix: np.ndarray, exact_below: int = EXACT_BELOW) -> faiss.Index:
    """An index over the rows of `matrix`: exact when small, else IVF over float16 copies of the vectors."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    if choose(len(matrix), exact_below) == "flat":
        index = faiss.IndexFlatIP(matrix.shape[1])  # works for zero rows too (a corpus of one-sentence clauses)
        index.add(matrix)
        return index
    return _ivf(matrix)


def _ivf(matrix: np.ndarray) -> faiss.Index:
    rows, dims = matrix.shape
    floor = faiss.ClusteringParameters().min_points_per_centroid
    lists = max(1, min(int(LISTS_PER_ROOT * math.sqrt(rows)), rows // floor))
    index = faiss.index_factory(dims, f"IVF{lists},SQfp16", faiss.METRIC_INNER_PRODUCT)
    # whole vectors, not residuals: decoding and re-encoding is then lossless, so a rebuild that reuses
    # stored vectors (store's vector cache) stores exactly the same codes
    index.by_residual = False
    sample = np.random.default_rng(0).choice(rows, min(rows, TRAIN_PER_LIST * lists), replace=False)
    index.train(matrix[np.sort(sample)])
    index.add(matrix)  # one call: each list holds its rows in increasing order, which range scoping relies on
    index.make_direct_map()  # reconstruct(row): search and incremental builds read stored vectors back
    index.nprobe = NPROBE  # for callers that search the index directly (store's canary check)
    return index


def search(index: faiss.Index, vector: np.ndarray, lo: int, hi: int, k: int) -> dict[int, float]:
    """The k rows in [lo, hi) nearest to `vector` (one query, shape (1, d)) with their scores, best first."""
    k = min(k, hi - lo)
    if k <= 0:
        return {}
    index = faiss.downcast_index(index)
    with _one_thread():
        if not isinstance(index, faiss.IndexIVF):
            return _rows(*index.search(vector, k, params=faiss.SearchParameters(**_scope(index, lo, hi))))
        if hi - lo < SCAN_BELOW:
            return _probe(index, vector, lo, hi, k, index.nlist)
        found = _probe(index, vector, lo, hi, k, NPROBE)
        # a narrow range can leave the probed lists short of k rows inside it
        return found if len(found) == k else _probe(index, vector, lo, hi, k, index.nlist)


def search_spans(index: faiss.Index, vector: np.ndarray, spans: list[tuple[int, int]], k: int) -> dict[int, float]:
    """`search` over several ranges of rows [lo, hi): the k nearest rows within any of them, best first."""
    if len(spans) == 1:
        return search(index, vector, *spans[0], k)
    found: dict[int, float] = {}
    for lo, hi in spans:
        found.update(search(index, vector, lo, hi, k))
    return dict(sorted(found.items(), key=lambda item: -item[1])[:k])


def _probe(index: faiss.IndexIVF, vector: np.ndarray, lo: int, hi: int, k: int, lists: int) -> dict[int, float]:
    """Search `lists` inverted lists; all of them is exact search (over float16 vectors)."""
    params = faiss.SearchParametersIVF(nprobe=min(lists, index.nlist), **_scope(index, lo, hi))
    return _rows(*index.search(vector, k, params=params))


def _scope(index: faiss.Index, lo: int, hi: int) -> dict:
    """Search parameters' keyword for rows [lo, hi); none for the whole index (a selector costs a check per row).
    Rows are sorted within each inverted list, so IVF finds a range's bounds by bisection instead of checking each."""
    return {} if (lo, hi) == (0, index.ntotal) else {"sel": faiss.IDSelectorRange(lo, hi, True)}


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
