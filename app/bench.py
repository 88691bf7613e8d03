"""`policyqa bench`: what each index type costs and finds, on real vectors and on synthetic scale-ups.

Every index is compared with exact flat search over the same vectors in the same run. Queries are real
questions (the gold set's, then PrivacyQA's when ../shared/bench holds them), never rows of the index.
The real vectors are the clause and sentence vectors of the bundled corpus and, when ../shared/bench holds
it, of PolicyQA dev's 20 policies, indexed by the app itself. Embedding a million texts on a CPU would take
hours, so scale-ups are made from those vectors: each synthetic row is a random mix of three of them plus
noise (see `synthetic`). They measure the index, not the embedder.
"""

from __future__ import annotations

import csv
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path
from typing import Callable, Iterator

import faiss
import numpy as np

from . import evaluation, settings, store, vectors
from .embedder import BACKENDS, Embedder, model_path
from .errors import PolicyQAError
from .search import DENSE_CANDIDATES, aimed, query_vector
from .tokens import search_text

MIX = 3  # real vectors mixed into one synthetic row
CONCENTRATION = 0.3  # Dirichlet weights of the mix: usually one vector dominates and the others pull it aside
NOISE = 0.015  # per-dimension Gaussian noise added to the mix before re-normalising
RECALL_K = 10
CLIENTS = 8  # throughput: clients asking at once, each on a new connection per question
ROUND_S = 20.0  # throughput: seconds per round
ROUNDS = 3
E2E_QUESTIONS = 100  # questions embedded per index for end-to-end latency (embedding dominates it)
PROGRESS_EVERY = 30.0  # seconds between progress lines of a long build
SYNTHETIC_NOTE = (f"each synthetic row mixes {MIX} random real vectors with Dirichlet({CONCENTRATION}) weights, "
                  f"adds Gaussian noise ({NOISE} per dimension) and re-normalises; at the real vectors' own size "
                  "such rows have a median nearest-neighbour cosine of 0.80 (real: 0.83) and an IVF finds fewer true "
                  "neighbours in them than in the real vectors, so recall errs low. Embedding 1M texts on this CPU "
                  "would take hours")
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
        index_dir: Path | None = None, workers: list[int] | None = None, only_throughput: bool = False) -> dict:
    """All measurements, as one JSON-ready dict; `questions` limits the questions asked of each index.

    Without `index_dir` the bundled corpus is built into a fresh index first (timed); with it, that index is used.
    `workers` lists the worker counts whose serving throughput is measured; `only_throughput` skips the rest."""
    asked = _questions()[:questions]
    with tempfile.TemporaryDirectory(prefix="policyqa-bench-") as tmp:
        work = Path(tmp)
        real_build = None
        if index_dir is None:
            say("building the bundled corpus into a fresh index...")
            index_dir, began = work / "index", time.perf_counter()
            store.build(settings.path("corpus"), index_dir, embedder)
            real_build = round(time.perf_counter() - began, 2)
        result = {} if only_throughput else _indexes(embedder, sizes, incremental_files, say, asked, index_dir, work)
        result["bundled_build_s"] = real_build
        result["throughput"] = throughput(index_dir, workers or [], asked, work, say)
    return result


def _indexes(embedder: Embedder, sizes: list[int], incremental_files: int, say: Say, asked: list[str],
             index_dir: Path, work: Path) -> dict:
    queries = embedder.encode([search_text(q) for q in asked])  # what query_vector does, in one batch
    policyqa = _policyqa_dev(embedder, say)
    real = np.vstack([_stored(store.load(d)) for d in [index_dir] + ([policyqa / "index"] if policyqa else [])])
    rows = compare("real", real, queries, embedder, asked)
    for n in sizes:
        say(f"{n} rows...")
        rows += compare("synthetic", synthetic(real, n), queries, embedder, asked)
    incremental = None
    if incremental_files:
        incremental = incremental_build(work / "incremental", embedder, _sources(policyqa), incremental_files, say)
    return {"note": SYNTHETIC_NOTE, "threads": faiss.omp_get_max_threads(), "questions": len(asked),
            "backend": embedder.backend,
            "real": f"bundled corpus{' + PolicyQA dev' if policyqa else ''}: clause and sentence vectors",
            "rows": [asdict(r) for r in rows], "incremental": incremental}


def _shared(name: str) -> Path:
    """A file of the shared benchmark data beside the project (where `policyqa eval` finds it too)."""
    return settings.shared_data() / "bench" / name


def _questions() -> list[str]:
    """The gold set's questions, then PrivacyQA's when the shared data is there; each once."""
    gold = files("app") / "data" / "gold.jsonl"
    asked = [json.loads(line)["question"] for line in gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    privacyqa = _shared("privacyqa_questions_train.tsv")
    if privacyqa.is_file():
        with open(privacyqa, encoding="utf-8", newline="") as f:
            asked += [row["Query"] for row in csv.DictReader(f, delimiter="\t")]
    return list(dict.fromkeys(asked))


def _policyqa_dev(embedder: Embedder, say: Say) -> Path | None:
    """A folder with PolicyQA dev's policies (corpus/) and their fresh index (index/), shared with
    `policyqa eval` and built only when stale; None without the shared data."""
    data = _shared("policyqa_dev.json")
    if not data.is_file():
        return None
    work = settings.path("index").parent / ".bench"
    evaluation.bench_corpus(data, work / "corpus")
    if not store.up_to_date(work / "corpus", work / "index", embedder.name, embedder.backend):
        say("indexing PolicyQA dev's policies...")
        store.build(work / "corpus", work / "index", embedder)
    return work


def _sources(policyqa: Path | None) -> list[Path]:
    """Real policy files for the incremental corpus to vary: the bundled ones, then PolicyQA dev's."""
    return sorted(settings.path("corpus").glob("*.md")) + (sorted((policyqa / "corpus").glob("*.txt")) if policyqa else [])


def _stored(index: store.Index) -> np.ndarray:
    return np.vstack([v.reconstruct_n(0, v.ntotal) for v in (index.vectors, index.sentence_vectors)])


def synthetic(real: np.ndarray, n: int, seed: int = 0, chunk: int = 50_000) -> np.ndarray:
    """`n` unit vectors, each a random mix of MIX rows of `real` plus noise, re-normalised.

    Real clauses differ in many directions at once; repeating real vectors with small noise (as this bench
    once did) left top-10 lists decided by noise-sized gaps. Mixing spreads rows between and around the real
    ones; the weights, usually led by one vector, keep them near real text rather than at the average."""
    rng = np.random.default_rng(seed)
    matrix = np.empty((n, real.shape[1]), dtype=np.float32)
    for start in range(0, n, chunk):
        rows = min(chunk, n - start)
        weights = rng.dirichlet([CONCENTRATION] * MIX, rows).astype(np.float32)
        mixed = np.einsum("rm,rmd->rd", weights, real[rng.integers(0, len(real), (rows, MIX))])
        mixed += rng.standard_normal(mixed.shape, dtype=np.float32) * NOISE
        matrix[start:start + rows] = mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
    return matrix


def compare(corpus: str, matrix: np.ndarray, queries: np.ndarray, embedder: Embedder, questions: list[str]) -> list[Row]:
    """Exact flat search, then (from 10k rows, where the trade-off starts to show) the approximate type
    build() would pick above its threshold, each measured the same way against the exact top 10."""
    default = vectors.choose(len(matrix))
    flat, flat_s = _timed_build(matrix, exact_below=len(matrix) + 1)
    exact, exact_top = _measure(corpus, flat, flat_s, default == "flat", queries, embedder, questions)
    del flat  # the approximate index is measured without the flat one beside it in memory
    rows = [exact]
    if len(matrix) >= 10_000 or default != "flat":
        approx, approx_s = _timed_build(matrix, exact_below=0)
        row, _ = _measure(corpus, approx, approx_s, default != "flat", queries, embedder, questions, exact_top)
        row.build_x = round(row.build_s / max(exact.build_s, 1e-9), 2)
        row.search_p50_x = round(row.search_p50_ms / max(exact.search_p50_ms, 1e-9), 3)
        row.bytes_x = round(row.ram_bytes_per_row / exact.ram_bytes_per_row, 2)
        rows.append(row)
    return rows


def _timed_build(matrix: np.ndarray, exact_below: int) -> tuple[faiss.Index, float]:
    began = time.perf_counter()
    index = vectors.build(matrix, exact_below=exact_below)
    return index, time.perf_counter() - began


def _measure(corpus: str, index: faiss.Index, build_s: float, default: bool, queries: np.ndarray, embedder: Embedder,
             questions: list[str], exact: list[set[int]] | None = None) -> tuple[Row, list[set[int]]]:
    """The row of figures for `index` and the top 10 it found per query; recall is against `exact` (None: itself).

    Each query asks for the DENSE_CANDIDATES rows search.py asks for; recall looks at the first 10 of them."""
    n = index.ntotal
    search_ms, found = [], []
    for q in queries:
        began = time.perf_counter()
        rows = vectors.search(index, q[None], 0, n, DENSE_CANDIDATES)
        search_ms.append(1000 * (time.perf_counter() - began))
        found.append(set(list(rows)[:RECALL_K]))
    e2e_ms = []
    for question in questions[:E2E_QUESTIONS]:
        began = time.perf_counter()
        vectors.search(index, aimed(query_vector(embedder, question)), 0, n, DENSE_CANDIDATES)
        e2e_ms.append(1000 * (time.perf_counter() - began))
    recall = float(np.mean([len(f & e) / len(e) for f, e in zip(found, exact or found)]))
    row = Row(corpus, n, vectors.kind(index), default, round(build_s, 3), *_p50_p95(search_ms), *_p50_p95(e2e_ms),
              round(recall, 4), round(len(faiss.serialize_index(index)) / n, 1), round(_disk_bytes(index) / n, 1))
    return row, found


def _p50_p95(ms: list[float]) -> tuple[float, float]:
    return round(float(np.median(ms)), 3), round(float(np.percentile(ms, 95)), 3)


def _disk_bytes(index: faiss.Index) -> int:
    with tempfile.NamedTemporaryFile(suffix=".faiss") as f:
        faiss.write_index(index, f.name)
        return Path(f.name).stat().st_size


def server_cold_start(index_dir: Path, question: str, work: Path, env: dict[str, str]) -> tuple[float, float]:
    """Seconds from starting `policyqa serve` on a fresh index to its first answer from POST /api/ask, and the
    server's peak resident memory in MB by the time it was stopped."""
    url, command = _serve_command(index_dir)
    env = {**env, "POLICYQA_FEEDBACK_DB": str(work / "feedback.db"), "POLICYQA_HOST": "127.0.0.1"}
    began = time.perf_counter()
    server, figures = launch(command, env, work)
    try:
        while time.perf_counter() - began < 300 and server.poll() is None:
            try:
                _ask(url, question, timeout=60)
                seconds = time.perf_counter() - began
                break
            except OSError:  # not listening yet
                time.sleep(0.05)
        else:
            if server.poll() is not None:
                raise PolicyQAError(f"`policyqa serve` exited with status {server.returncode} before answering: "
                                    f"{server.communicate()[0].strip()[-300:]}")
            raise PolicyQAError("`policyqa serve` did not answer within 300 s.")
    finally:
        server.terminate()
        server.communicate(timeout=30)
    return seconds, launched(figures)[1]


def _serve_command(index_dir: Path) -> tuple[str, list[str]]:
    """A free port's URL on 127.0.0.1, and the `policyqa serve` command over `index_dir` that listens there."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}", [str(Path(sys.executable).parent / "policyqa"), "serve", "--corpus",
                                        str(settings.path("corpus")), "--index", str(index_dir), "--port", str(port)]


@contextmanager
def _served(index_dir: Path, work: Path, workers: int = 1) -> Iterator[tuple[str, subprocess.Popen]]:
    """`policyqa serve --workers N` on a free port of 127.0.0.1 over `index_dir`, with no rate limit to speak of."""
    url, command = _serve_command(index_dir)
    env = {**os.environ, "POLICYQA_FEEDBACK_DB": str(work / f"feedback-{workers}.db"), "POLICYQA_HOST": "127.0.0.1",
           "POLICYQA_RATE_LIMIT": "1000000/minute"}
    server = subprocess.Popen(command + ["--workers", str(workers)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        yield url, server
    finally:
        server.terminate()  # with workers, uvicorn's parent stops them
        server.wait(60)


def _ask(url: str, question: str, timeout: float = 120) -> None:
    """POST /api/ask on a new connection (so the kernel hands it to any worker), read to the end."""
    asked = urllib.request.Request(f"{url}/api/ask", data=json.dumps({"question": question}).encode(),
                                   headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(asked, timeout=timeout) as reply:
        reply.read()


# ---------------------------------------------------------------- serving throughput: 1 worker against N


def throughput(index_dir: Path, workers: list[int], questions: list[str], work: Path, say: Say) -> list[dict]:
    """Answers per second of `policyqa serve --workers N` for each N: CLIENTS clients ask at once, each waiting for
    its answer before asking again, for ROUND_S seconds; the median of ROUNDS rounds. 1 worker is the baseline."""
    results = []
    for n in workers:
        say(f"throughput with {n} worker process{'es' if n > 1 else ''}...")
        load = round(os.getloadavg()[0], 1)  # the machine may be busy with other work: say how busy
        with _served(index_dir, work, n) as (url, server):
            _wait_for_workers(url, server, n)
            for question in questions[:CLIENTS * 2]:  # warm up every worker's model and caches
                _ask(url, question)
            rounds = [_round(url, questions) for _ in range(ROUNDS)]
        per_s = sorted(r["answers_per_s"] for r in rounds)[len(rounds) // 2]
        middle = next(r for r in rounds if r["answers_per_s"] == per_s)
        results.append({"workers": n, **middle, "rounds": [r["answers_per_s"] for r in rounds],
                        "questions": len(questions), "load_before": load})
    base = results[0]["answers_per_s"] if results else 0
    for result in results:
        result["x_first"] = round(result["answers_per_s"] / base, 2) if base else None
    return results


def _wait_for_workers(url: str, server: subprocess.Popen, n: int, seconds: float = 300) -> None:
    """Until n different worker processes have answered /healthz (each loads the model on its own)."""
    seen: set[int] = set()
    began = time.perf_counter()
    while len(seen) < n:
        if server.poll() is not None or time.perf_counter() - began > seconds:
            raise PolicyQAError(f"`policyqa serve --workers {n}` did not start {n} workers within {seconds:g} s.")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=30) as reply:
                seen.add(json.loads(reply.read())["worker"])
        except OSError:
            time.sleep(0.2)


def _round(url: str, questions: list[str]) -> dict:
    latencies: list[float] = []
    stop = time.perf_counter() + ROUND_S

    def client(offset: int) -> None:
        n = offset
        while time.perf_counter() < stop:
            began = time.perf_counter()
            _ask(url, questions[n % len(questions)])
            latencies.append((time.perf_counter() - began) * 1000)
            n += CLIENTS

    began = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    p50, p95 = _p50_p95(latencies)
    return {"answers_per_s": round(len(latencies) / (time.perf_counter() - began), 1), "answers": len(latencies),
            "p50_ms": round(p50), "p95_ms": round(p95)}


# ---------------------------------------------------------------- incremental indexing


def incremental_build(work: Path, embedder: Embedder, sources: list[Path], count: int, say: Say) -> dict:
    """Full build of `count` policies generated from `sources`, then re-index after editing one of them."""
    corpus = work / "corpus"
    edited = write_policies(sources, corpus, count)[0]
    say(f"incremental: full build of {count} generated policies...")
    full = store.build(corpus, work / "index", embedder, _every(PROGRESS_EVERY, say))
    edited.write_text(edited.read_text(encoding="utf-8").replace(_brand(0), f"{_brand(0)} (edited)", 1), encoding="utf-8")
    say("incremental: re-index after editing one policy...")
    again = store.build(corpus, work / "index", embedder)
    return {"policies": full.policies, "clauses": full.clauses, "full_s": round(full.seconds, 2),
            "full_embedded": full.embedded, "embedded_per_s": round(full.embedded / full.seconds, 1),
            "edit_one_s": round(again.seconds, 2), "edit_one_embedded": again.embedded,
            "ratio": round(again.seconds / full.seconds, 3)}


def write_policies(sources: list[Path], dest: Path, count: int) -> list[Path]:
    """`count` policies, the i-th a copy of sources[i % len(sources)] with every paragraph made unique by a
    brand name; returns their paths."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(count):
        source = sources[i % len(sources)]
        # the name goes before the first letter of every text line; headings, quotes and tables stay as they are
        varied = re.sub(r"^(?![#>|])([^A-Za-z\n]*)(?=[A-Za-z])", rf"\g<1>{_brand(i)} ",
                        source.read_text(encoding="utf-8"), flags=re.M)
        written.append(dest / f"synthetic-{i:03d}{source.suffix}")
        written[-1].write_text(varied, encoding="utf-8")
    return written


def _brand(i: int) -> str:
    return f"Brand{i:03d}"


def _every(seconds: float, say: Say) -> store.Progress:
    """A build progress callback that says where the build is at most once every `seconds`."""
    last = [time.monotonic()]

    def progress(stage: str, done: int, total: int) -> None:
        if time.monotonic() - last[0] >= seconds:
            last[0] = time.monotonic()
            say(f"  {stage} {done}/{total}")
    return progress


# ---------------------------------------------------------------- start-up and re-indexing (`policyqa bench --startup`)


STARTUP_ROWS = (  # key, what it is, format; one row per figure, one column per backend
    ("export_s", "one-off ONNX export of the model (first index or question), s", "{:.2f}"),
    ("bundled_build_s", "`policyqa index`, bundled corpus, no index yet, s", "{:.2f}"),
    ("noop_index_s", "`policyqa index` again, nothing changed (no-op), s", "{:.2f}"),
    ("ask_s", "`policyqa ask` from process start to its answer, s", "{:.2f}"),
    ("ask_mb", "  its peak memory (resident), MB", "{:.0f}"),
    ("serve_s", "`policyqa serve` from process start to its first POST /api/ask answer, s", "{:.2f}"),
    ("serve_mb", "  its peak memory (resident), MB", "{:.0f}"),
    ("model_start_s", "model start-up: a process importing the backend, loading the model, encoding one question, s",
     "{:.2f}"),
    ("model_mb", "  its peak memory (resident), MB", "{:.0f}"),
    ("question_ms", "one question encoded, warm (median of 50), ms", "{:.1f}"),
    ("texts_per_s", "texts embedded per second (the bundled index's clauses and sentences, batches of 64)", "{:.1f}"),
    ("full_s", "`policyqa index`, {policies} generated policies, no index yet, s", "{:.2f}"),
    ("edit_one_s", "`policyqa index` after editing one of them, s", "{:.2f}"),
    ("edit_ratio", "  edit / full build", "{:.3f}"),
)
BASELINE = "torch"  # what every figure is compared with: the backend PolicyQA ran on before ONNX
# Runs the command given after its first argument as its own child, then writes "seconds peak-KB" to the file named
# by the first argument. Linux carries a parent's peak memory into a child it forks, so the bench's own size would
# count in a child it started itself; this launcher is small. It passes SIGTERM on, to stop servers.
LAUNCHER = """
import os, signal, sys, time
began = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGTERM))
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{time.perf_counter() - began} {usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def startup(say: Say, runs: int = 3, policies: int = 25) -> dict:
    """What a user waits for, per embedding backend in the same run (PyTorch the baseline), every figure from fresh
    processes: a build, `runs` no-op re-indexes, cold asks and servers, model start-ups and encoding speeds of the
    bundled corpus (medians; backends interleaved, so a change in the machine's load weighs on both), and a full
    build of `policies` generated policies against a re-index after one edit."""
    question = _questions()[0]
    result = {"runs": runs, "cpus": os.cpu_count(), "load_before": round(os.getloadavg()[0], 2), "policies": policies,
              "baseline": BASELINE}
    policyqa = str(Path(sys.executable).parent / "policyqa")
    with tempfile.TemporaryDirectory(prefix="policyqa-startup-") as tmp:
        work = Path(tmp)
        say("onnx: the one-off export, into a fresh cache; then into the configured cache if it is not there yet...")
        export = [sys.executable, "-c", "from app.embedder import Embedder, model_path; Embedder(model_path(), 'onnx')"]
        exported = _process(export, {**os.environ, "POLICYQA_MODEL_CACHE": str(work / "export")}, work)[0]
        _process(export, dict(os.environ), work)  # later processes find it there, as a user's do
        envs = {b: {**os.environ, "POLICYQA_EMBED_BACKEND": b} for b in BACKENDS}
        indexing = {b: [policyqa, "index", "--corpus", str(settings.path("corpus")), "--index", str(work / b)]
                    for b in BACKENDS}
        measured: dict[str, dict[str, list[float]]] = {b: {} for b in BACKENDS}
        for b in BACKENDS:
            say(f"{b}: building the bundled corpus...")
            measured[b]["bundled_build_s"] = [_process(indexing[b], envs[b], work)[0]]
        serving = {b: store.current_generation(work / b) for b in BACKENDS}
        for run in range(runs):
            for b in BACKENDS if run % 2 == 0 else BACKENDS[::-1]:
                say(f"{b}, run {run + 1} of {runs}: no-op index, cold ask, cold server, model start-up, encoding...")
                load = (f"from app.embedder import Embedder, model_path; "
                        f"Embedder(model_path(), {b!r}).encode(['do you sell my data?'])")
                speed = f"from app import bench; bench.encoding_speed({b!r}, {str(work / b)!r})"
                for key, seconds, mb in (
                        ("noop_index", *_process(indexing[b], envs[b], work, expect="up to date")),
                        ("ask", *_process([policyqa, "ask", "--index", str(work / b), question], envs[b], work)),
                        ("serve", *server_cold_start(work / b, question, work, envs[b])),
                        ("model", *_process([sys.executable, "-c", load], envs[b], work))):
                    measured[b].setdefault(f"{key}_s" if key != "model" else "model_start_s", []).append(seconds)
                    if key != "noop_index":
                        measured[b].setdefault(f"{key}_mb", []).append(mb)
                printed = subprocess.run([sys.executable, "-c", speed], env=envs[b], capture_output=True, text=True,
                                         check=True).stdout
                for key, value in json.loads(printed.splitlines()[-1]).items():
                    measured[b].setdefault(key, []).append(value)
        for b in BACKENDS:
            if store.current_generation(work / b) != serving[b]:
                raise PolicyQAError(f"A no-op `policyqa index` replaced the serving generation {serving[b].name}.")
            say(f"{b}: full build of {policies} generated policies, then a re-index after editing one...")
            measured[b] |= {key: [value] for key, value in reindex_costs(work / f"generated-{b}", policies, envs[b]).items()}
    result["load_after"] = round(os.getloadavg()[0], 2)
    result["backends"] = {b: {"export_s": round(exported, 2) if b == "onnx" else None,
                              **{key: _median(values) for key, values in figures.items()}}
                          for b, figures in measured.items()}
    baseline = result["backends"][BASELINE]
    result["ratio"] = {backend: {key: round(figures[key] / baseline[key], 3) for key, _, _ in STARTUP_ROWS
                                 if figures[key] is not None and baseline[key]}
                       for backend, figures in result["backends"].items() if backend != BASELINE}
    return result


def reindex_costs(work: Path, policies: int, env: dict[str, str]) -> dict:
    """Seconds for `policyqa index` (whole process) to build `policies` generated policies, then after one edit."""
    edited = write_policies(_sources(None), work / "corpus", policies)[0]
    command = [str(Path(sys.executable).parent / "policyqa"), "index", "--corpus", str(work / "corpus"),
               "--index", str(work / "index")]
    full = _process(command, env, work)[0]
    edited.write_text(edited.read_text(encoding="utf-8").replace(_brand(0), f"{_brand(0)} (edited)", 1), encoding="utf-8")
    edit = _process(command, env, work)[0]
    return {"full_s": full, "edit_one_s": edit, "edit_ratio": round(edit / full, 3)}


def encoding_speed(backend: str, index_dir: str) -> None:
    """Prints, as JSON, one question's encoding latency (warm, median of 50 questions) and texts embedded per second
    (every text the index embedded: clauses and sentences, batches of 64); `policyqa bench --startup` runs it in a
    fresh process per backend."""
    model = Embedder(model_path(), backend)
    index = store.load(Path(index_dir))
    texts = [store.clause_text_for_search(c) for c in index.clauses]
    texts += [t for c in index.clauses for t in store.sentence_texts_for_search(c)]
    model.encode(texts[:64])  # warm-up
    latency = []
    for asked in _questions()[:50]:
        began = time.perf_counter()
        model.encode([search_text(asked)])
        latency.append(1000 * (time.perf_counter() - began))
    began = time.perf_counter()
    model.encode(texts)
    print(json.dumps({"question_ms": float(np.median(latency)), "texts_per_s": len(texts) / (time.perf_counter() - began),
                      "texts": len(texts)}))


def _process(command: list[str], env: dict[str, str], work: Path, expect: str | None = None) -> tuple[float, float]:
    """Seconds a fresh process takes and its peak resident memory in MB; it must succeed (and print `expect`)."""
    child, figures = launch(command, env, work)
    printed, _ = child.communicate()
    if child.returncode or (expect and expect not in printed):
        raise PolicyQAError(f"`{' '.join(Path(c).name for c in command[:2])} …` failed: {printed.strip()[-300:]}")
    return launched(figures)


def launch(command: list[str], env: dict[str, str], work: Path) -> tuple[subprocess.Popen, Path]:
    """`command` started under LAUNCHER (output captured, stderr in stdout), and where its figures will be."""
    figures = work / f"launched-{time.monotonic_ns()}.txt"
    child = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(figures), *command], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return child, figures


def launched(figures: Path) -> tuple[float, float]:
    """The seconds and peak memory (MB) LAUNCHER wrote for a child that has ended."""
    seconds, kb = figures.read_text().split()
    return float(seconds), int(kb) / 1024  # Linux counts ru_maxrss in KB


def _median(values: list[float]) -> float:
    return round(float(np.median(values)), 2)


def render_startup(result: dict) -> str:
    names = list(result["backends"])
    others = [b for b in names if b != result["baseline"]]
    header = ["", *names, *(f"{b}/{result['baseline']}" for b in others)]
    cells = []
    for key, label, fmt in STARTUP_ROWS:
        values = [result["backends"][b][key] for b in names] + [result["ratio"][b].get(key) for b in others]
        formats = [fmt] * len(names) + ["{:.2f}"] * len(others)
        cells.append([label.format(policies=result["policies"]),
                      *("—" if v is None else f.format(v) for v, f in zip(values, formats))])
    width = max(len(row[0]) for row in cells)
    columns = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(header) if i]
    lines = [f"Start-up and re-indexing by embedding backend, {result['baseline']} the baseline, in one run: medians of "
             f"{result['runs']} fresh processes on {result['cpus']} CPUs (1-minute load average {result['load_before']} "
             f"before, {result['load_after']} after)."]
    for row in [header, *cells]:
        lines.append(row[0].ljust(width) + "".join(f"  {text:>{w}}" for text, w in zip(row[1:], columns)))
    return "\n".join(lines)


# ---------------------------------------------------------------- output


COLUMNS = (("corpus", "corpus", "{}"), ("rows", "rows", "{}"), ("kind", "index", "{}"), ("default", "default", "{}"),
           ("build_s", "build s", "{:>8.2f}"), ("build_x", "x flat", "{:>7.2f}"),
           ("search_p50_ms", "p50 ms", "{:>7.2f}"), ("search_p95_ms", "p95 ms", "{:>7.2f}"), ("search_p50_x", "x flat", "{:>7.3f}"),
           ("e2e_p50_ms", "e2e p50", "{:>8.1f}"), ("e2e_p95_ms", "e2e p95", "{:>8.1f}"), ("recall_at_10", "rec@10", "{:>7.3f}"),
           ("ram_bytes_per_row", "RAM B/row", "{:>10.0f}"), ("disk_bytes_per_row", "disk B/row", "{:>11.0f}"), ("bytes_x", "x flat", "{:>7.2f}"))


def render(result: dict) -> str:
    parts = [_render_indexes(result)] if "rows" in result else []
    if result["throughput"]:
        parts.append(render_throughput(result["throughput"]))
    return "\n\n".join(parts)


def render_throughput(results: list[dict]) -> str:
    lines = [f"{'workers':>7} {'answers/s':>9} {'x 1st':>6} {'p50 ms':>7} {'p95 ms':>7} {'load':>5}  rounds"]
    lines += [f"{r['workers']:>7} {r['answers_per_s']:>9} {r['x_first']:>6} {r['p50_ms']:>7} {r['p95_ms']:>7} "
              f"{r['load_before']:>5}  " + ", ".join(str(x) for x in r["rounds"]) for r in results]
    lines += ["", f"Throughput: `policyqa serve --workers N` on 127.0.0.1, {CLIENTS} clients asking at once (each a new "
                  f"connection per question, {results[0]['questions']} questions in turn: the gold set's, then PrivacyQA's "
                  f"when the shared data is there; all policies), for {ROUND_S:g} s; the "
                  f"median of {ROUNDS} rounds after a warm-up. The clients run on the same cores as the server; "
                  f"questions are logged to SQLite. Cores: {os.cpu_count()}; load: the 1-minute load average before "
                  "the server started (other work on the machine)."]
    return "\n".join(lines)


def _render_indexes(result: dict) -> str:
    cells = [[fmt.format(row[key]) for key, _, fmt in COLUMNS] for row in result["rows"]]
    widths = [max(len(title), *(len(line[i]) for line in cells)) for i, (_, title, _) in enumerate(COLUMNS)]
    lines = [" ".join(text.rjust(w) for text, w in zip(line, widths)) for line in [[t for _, t, _ in COLUMNS], *cells]]
    lines += ["", f"Latency: median and 95th percentile over {result['questions']} real questions (gold set, then "
                  f"PrivacyQA), one at a time, top {DENSE_CANDIDATES}; e2e embeds the question and moves it by the "
                  f"query adapter too (first {E2E_QUESTIONS}). Recall@10 against exact flat search over the same vectors. "
                  f"FAISS threads: {result['threads']} (1 per query).",
              f"Real: {result['real']}.",
              f"Synthetic: {result['note']}."]
    if result["bundled_build_s"] is not None:
        lines.append(f"Bundled corpus: fresh build {result['bundled_build_s']} s.")
    inc = result["incremental"]
    if inc:
        lines.append(f"Incremental ({result['backend']} backend): {inc['policies']} policies, {inc['clauses']} clauses: full build {inc['full_s']} s "
                     f"({inc['full_embedded']} texts embedded, {inc['embedded_per_s']}/s); after editing one policy "
                     f"{inc['edit_one_s']} s ({inc['edit_one_embedded']} embedded): ratio {inc['ratio']}.")
    return "\n".join(lines)


def plot(result: dict, path: Path) -> str:
    """Search latency and index memory against rows, one line per index type; matplotlib is an optional extra."""
    try:
        import matplotlib
    except ImportError:
        return (f"matplotlib is not installed, so no plot was written to {path}; "
                "install it with `pip install -e '.[bench]'` (or run `make bench`).")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (latency, memory) = plt.subplots(1, 2, figsize=(11, 4))
    for kind in dict.fromkeys(r["kind"] for r in result["rows"]):
        rows = sorted((r for r in result["rows"] if r["kind"] == kind), key=lambda r: r["rows"])
        sizes = [r["rows"] for r in rows]
        line, = latency.loglog(sizes, [r["search_p50_ms"] for r in rows], marker="o", label=f"{kind} p50")
        latency.loglog(sizes, [r["search_p95_ms"] for r in rows], marker="^", linestyle="--", color=line.get_color(),
                       label=f"{kind} p95")
        memory.loglog(sizes, [r["ram_bytes_per_row"] * r["rows"] / 2**20 for r in rows], marker="o", label=kind)
    memory.axhline(1024, color="grey", linestyle=":", label="1 GB")
    latency.set(xlabel="rows", ylabel="search latency (ms, one query)", title="Search latency")
    memory.set(xlabel="rows", ylabel="index size in RAM (MB)", title="Index memory")
    latency.legend()
    memory.legend()
    figure.savefig(path, dpi=120, bbox_inches="tight")
    return f"Plot written to {path}."


def save(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")

