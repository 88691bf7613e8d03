"""`policyqa bench`: what each index type costs and finds, on the real corpus and on synthetic scale-ups.

Every index is compared with exact flat search over the same vectors in the same run. Scale-ups reuse the
real clause and sentence vectors, repeated with small random perturbations and re-normalised: embedding a
million texts on a CPU would take hours, so they measure the index, not the embedder.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path
from typing import Callable

import faiss
import numpy as np

from . import settings, store, vectors
from .embedder import Embedder
from .search import DENSE_CANDIDATES, query_vector

NOISE = 0.03  # per-dimension perturbation of a repeated vector: cosine ~0.85 to its original
RECALL_K = 10
E2E_QUESTIONS = 30  # questions embedded per index for end-to-end latency (embedding dominates it)
SYNTHETIC_NOTE = ("synthetic rows repeat the real clause and sentence vectors with small random perturbations, "
                  "re-normalised; embedding 1M texts on this CPU would take hours")
Say = Callable[[str], None]


@dataclass
class Row:
    corpus: str
    rows: int
    kind: str
    default: bool  # the type vectors.build picks at this size
    build_s: float
    search_p50_ms: float
    search_p95_ms: float
    e2e_p50_ms: float
    e2e_p95_ms: float
    recall_at_10: float
    ram_bytes_per_row: float
    disk_bytes_per_row: float
    build_x: float = 1.0  # ratios against exact flat search over the same vectors
    search_p50_x: float = 1.0
    bytes_x: float = 1.0


def run(embedder: Embedder, sizes: list[int], incremental_files: int, say: Say, questions: int | None = None,
        index_dir: Path | None = None) -> dict:
    """All measurements, as one JSON-ready dict; `questions` limits the gold questions asked of each index.

    Without `index_dir` the bundled corpus is built into a fresh index first (timed); with it, that index is used."""
    questions = _questions()[:questions]
    queries = np.vstack([query_vector(embedder, q) for q in questions])
    with tempfile.TemporaryDirectory(prefix="policyqa-bench-") as tmp:
        work = Path(tmp)
        real_build = None
        if index_dir is None:
            say("building the bundled corpus into a fresh index...")
            index_dir, began = work / "index", time.perf_counter()
            store.build(settings.path("corpus"), index_dir, embedder)
            real_build = round(time.perf_counter() - began, 2)
        cold = cold_start(index_dir, questions[0])
        loaded = store.load(index_dir)
        real = _stored(loaded.vectors)
        base = np.vstack([real, _stored(loaded.sentence_vectors)])
        rows = compare("bundled", real, queries, embedder, questions)
        for n in sizes:
            say(f"{n} rows...")
            rows += compare("synthetic", synthetic(base, n), queries, embedder, questions)
        incremental = incremental_build(work / "incremental", embedder, incremental_files, say) if incremental_files else None
    return {"note": SYNTHETIC_NOTE, "threads": faiss.omp_get_max_threads(), "questions": len(questions),
            "bundled_build_s": real_build, "cold_start_s": round(cold, 2),
            "rows": [asdict(r) for r in rows], "incremental": incremental}


def _questions() -> list[str]:
    gold = files("app") / "data" / "gold.jsonl"
    return [json.loads(line)["question"] for line in gold.read_text(encoding="utf-8").splitlines() if line.strip()]


def _stored(index: faiss.Index) -> np.ndarray:
    return index.reconstruct_n(0, index.ntotal)


def synthetic(base: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """`n` unit vectors: the rows of `base` repeated in turn, each perturbed and re-normalised."""
    rng = np.random.default_rng(seed)
    matrix = base[np.arange(n) % len(base)] + rng.standard_normal((n, base.shape[1]), dtype=np.float32) * NOISE
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix


def compare(corpus: str, matrix: np.ndarray, queries: np.ndarray, embedder: Embedder, questions: list[str]) -> list[Row]:
    """Exact flat search, then (from 10k rows, where the trade-off starts to show) the approximate type
    build() would pick above its threshold, each measured the same way against the exact top 10."""
    default = vectors.choose(len(matrix))
    flat, flat_s = _timed_build(matrix, exact_below=len(matrix) + 1)
    exact = _top(flat, queries, RECALL_K)
    rows = [_measure(corpus, flat, flat_s, default == "flat", queries, exact, embedder, questions)]
    if len(matrix) >= 10_000 or default != "flat":
        approx, approx_s = _timed_build(matrix, exact_below=0)
        row = _measure(corpus, approx, approx_s, default != "flat", queries, exact, embedder, questions)
        row.build_x = round(row.build_s / max(rows[0].build_s, 1e-9), 2)
        row.search_p50_x = round(row.search_p50_ms / max(rows[0].search_p50_ms, 1e-9), 3)
        row.bytes_x = round(row.ram_bytes_per_row / rows[0].ram_bytes_per_row, 2)
        rows.append(row)
    return rows


def _timed_build(matrix: np.ndarray, exact_below: int) -> tuple[faiss.Index, float]:
    began = time.perf_counter()
    index = vectors.build(matrix, exact_below=exact_below)
    return index, time.perf_counter() - began


def _top(index: faiss.Index, queries: np.ndarray, k: int) -> list[set[int]]:
    return [set(vectors.search(index, q[None], 0, index.ntotal, k)) for q in queries]


def _measure(corpus: str, index: faiss.Index, build_s: float, default: bool, queries: np.ndarray,
             exact: list[set[int]], embedder: Embedder, questions: list[str]) -> Row:
    n = index.ntotal
    search_ms = []
    for q in queries:
        began = time.perf_counter()
        vectors.search(index, q[None], 0, n, DENSE_CANDIDATES)
        search_ms.append(1000 * (time.perf_counter() - began))
    e2e_ms = []
    for question in questions[:E2E_QUESTIONS]:
        began = time.perf_counter()
        vectors.search(index, query_vector(embedder, question), 0, n, DENSE_CANDIDATES)
        e2e_ms.append(1000 * (time.perf_counter() - began))
    found = _top(index, queries, RECALL_K)
    recall = float(np.mean([len(f & e) / len(e) for f, e in zip(found, exact)]))
    return Row(corpus, n, vectors.kind(index), default, round(build_s, 3),
               *_p50_p95(search_ms), *_p50_p95(e2e_ms), round(recall, 4),
               round(len(faiss.serialize_index(index)) / n, 1), round(_disk_bytes(index) / n, 1))


def _p50_p95(ms: list[float]) -> tuple[float, float]:
    return round(float(np.median(ms)), 3), round(float(np.percentile(ms, 95)), 3)


def _disk_bytes(index: faiss.Index) -> int:
    with tempfile.NamedTemporaryFile(suffix=".faiss") as f:
        faiss.write_index(index, f.name)
        return Path(f.name).stat().st_size


def cold_start(index_dir: Path, question: str) -> float:
    """Seconds from starting `policyqa ask` to its answer, model load and index load included."""
    command = [str(Path(sys.executable).parent / "policyqa"), "ask", "--index", str(index_dir), question]
    began = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    return time.perf_counter() - began


# ---------------------------------------------------------------- incremental indexing


def incremental_build(work: Path, embedder: Embedder, count: int, say: Say) -> dict:
    """Full build of `count` generated policies, then re-index after editing one of them."""
    corpus = work / "corpus"
    write_policies(settings.path("corpus"), corpus, count)
    say(f"incremental: full build of {count} generated policies...")
    full = store.build(corpus, work / "index", embedder)
    edited = corpus / "synthetic-000.md"
    edited.write_text(edited.read_text(encoding="utf-8").replace("Brand000", "Brand000 (edited)", 1), encoding="utf-8")
    say("incremental: re-index after editing one policy...")
    again = store.build(corpus, work / "index", embedder)
    return {"policies": full.policies, "clauses": full.clauses, "full_s": round(full.seconds, 2),
            "full_embedded": full.embedded, "edit_one_s": round(again.seconds, 2), "edit_one_embedded": again.embedded,
            "ratio": round(again.seconds / full.seconds, 3)}


def write_policies(seeds: Path, dest: Path, count: int) -> None:
    """`count` policies, each all the seed policies in one, every paragraph made unique by a brand name."""
    text = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted(seeds.glob("*.md")))
    dest.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        brand = f"Brand{i:03d}"
        # the name goes before the first letter of every text line; headings, quotes and tables stay as they are
        varied = re.sub(r"^(?![#>|])([^A-Za-z\n]*)(?=[A-Za-z])", rf"\g<1>{brand} ", text, flags=re.M)
        (dest / f"synthetic-{i:03d}.md").write_text(varied, encoding="utf-8")


# ---------------------------------------------------------------- output


COLUMNS = (("corpus", "corpus", "{}"), ("rows", "rows", "{}"), ("kind", "index", "{}"), ("default", "default", "{}"),
           ("build_s", "build s", "{:>8.2f}"), ("build_x", "x flat", "{:>7.2f}"),
           ("search_p50_ms", "p50 ms", "{:>7.2f}"), ("search_p95_ms", "p95 ms", "{:>7.2f}"), ("search_p50_x", "x flat", "{:>7.3f}"),
           ("e2e_p50_ms", "e2e p50", "{:>8.1f}"), ("e2e_p95_ms", "e2e p95", "{:>8.1f}"), ("recall_at_10", "rec@10", "{:>7.3f}"),
           ("ram_bytes_per_row", "RAM B/row", "{:>10.0f}"), ("disk_bytes_per_row", "disk B/row", "{:>11.0f}"), ("bytes_x", "x flat", "{:>7.2f}"))


def render(result: dict) -> str:
    fresh = f"fresh build {result['bundled_build_s']} s; " if result["bundled_build_s"] is not None else ""
    cells = [[fmt.format(row[key]) for key, _, fmt in COLUMNS] for row in result["rows"]]
    widths = [max(len(title), *(len(line[i]) for line in cells)) for i, (_, title, _) in enumerate(COLUMNS)]
    lines = [" ".join(text.rjust(w) for text, w in zip(line, widths)) for line in [[t for _, t, _ in COLUMNS], *cells]]
    lines += ["", f"Latency: median and 95th percentile over {result['questions']} gold questions, one at a time, "
                  f"top {DENSE_CANDIDATES}; e2e embeds the question too. FAISS threads: {result['threads']} (1 per query).",
              f"Note: {result['note']}.",
              f"Bundled corpus: {fresh}cold start of `policyqa ask` (process start to first answer) {result['cold_start_s']} s."]
    inc = result["incremental"]
    if inc:
        lines.append(f"Incremental: {inc['policies']} policies, {inc['clauses']} clauses: full build {inc['full_s']} s "
                     f"({inc['full_embedded']} texts embedded); after editing one policy {inc['edit_one_s']} s "
                     f"({inc['edit_one_embedded']} embedded): ratio {inc['ratio']}.")
    return "\n".join(lines)


def plot(result: dict, path: Path) -> str:
    """Search p50 against rows, one line per index type; matplotlib is optional and not a dependency."""
    try:
        import matplotlib
    except ImportError:
        return "matplotlib is not installed; no plot written."
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for kind in dict.fromkeys(r["kind"] for r in result["rows"]):
        points = sorted((r["rows"], r["search_p50_ms"]) for r in result["rows"] if r["kind"] == kind)
        axes.loglog(*zip(*points), marker="o", label=kind)
    axes.set_xlabel("rows")
    axes.set_ylabel("search p50 (ms)")
    axes.legend()
    figure.savefig(path, dpi=120, bbox_inches="tight")
    return f"Plot written to {path}."


def save(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")

