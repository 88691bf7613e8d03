"""The index on disk: FAISS vectors + BM25 + clauses + policies, in generations committed atomically.

    index/
      CURRENT               name of the serving generation; replacing it is the commit point
      gen-<time>-<id>/      one complete build: manifest.json (written last), vectors.faiss,
                            clauses.jsonl, policies.json, bm25/
      .build.lock           held while a build runs

A build writes a new generation aside, fsyncs it, then swaps CURRENT with an atomic rename.
The previous generation is kept for roll-back; older ones are removed. A killed build leaves
only a folder that CURRENT never named, which the next build deletes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Callable

import bm25s
import faiss
import numpy as np
from filelock import FileLock, Timeout

from . import __version__, clauses as clause_split, documents
from .embedder import Embedder
from .errors import PolicyQAError
from .records import Clause, Policy
from .tokens import search_text, tokenize

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its own logger to DEBUG on import

FORMAT = 1  # bump when the files' layout or the clause splitter changes meaning
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class Index:
    """A loaded, validated generation."""

    path: Path
    manifest: dict
    policies: dict[str, Policy]
    clauses: list[Clause]
    vectors: faiss.Index
    lexical: bm25s.BM25
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)  # policy -> clause rows [a, b)

    @property
    def generation(self) -> str:
        return self.path.name


@dataclass
class BuildReport:
    generation: str
    policies: int
    clauses: int
    embedded: int  # clauses whose vectors were computed (the rest came from the previous generation)
    added: list[str]
    changed: list[str]
    removed: list[str]
    skipped: dict[str, str]  # file -> reason
    seconds: float


def clause_text_for_search(clause: Clause) -> str:
    """What the embedder and BM25 read: the section as context, then the clause."""
    return search_text(f"{clause.section}. {clause.text}" if clause.section else clause.text)


# ---------------------------------------------------------------- building


def build(corpus: Path, index_dir: Path, embedder: Embedder, progress: Progress | None = None) -> BuildReport:
    """Index `corpus` into a new generation under `index_dir`, re-embedding only what changed."""
    began = time.monotonic()
    index_dir.mkdir(parents=True, exist_ok=True)
    try:
        lock = FileLock(str(index_dir / ".build.lock"), timeout=0)
        lock.acquire()
    except Timeout:
        raise PolicyQAError(f"Another build is already writing {index_dir}; wait for it to finish and try again.") from None
    try:
        _remove_unfinished(index_dir)
        previous = _previous(index_dir, embedder)
        loaded, skipped = _load_corpus(corpus, progress)
        if not loaded:
            raise PolicyQAError(f"No readable policy files in {corpus}; add .md, .txt or .html files.")
        old_policies = previous.policies if previous else {}
        added = sorted(set(loaded) - set(old_policies))
        removed = sorted(set(old_policies) - set(loaded))
        changed = sorted(p for p in loaded if p in old_policies and old_policies[p].checksum != loaded[p][0].checksum)

        cache = _vector_cache(previous)
        policies, clause_rows, texts = {}, [], []
        for pid in sorted(loaded):
            policy, blocks = loaded[pid]
            policies[pid] = policy
            for clause in clause_split.split(policy, blocks):
                clause_rows.append(clause)
                texts.append(clause_text_for_search(clause))
        vectors, embedded = _embed(texts, cache, embedder, progress)
        generation = _write(index_dir, policies, clause_rows, texts, vectors, embedder)
        _commit(index_dir, generation)
        _prune(index_dir, keep={generation, previous.generation if previous else ""})
    finally:
        lock.release()
    report = BuildReport(generation, len(policies), len(clause_rows), embedded, added, changed, removed, skipped,
                         time.monotonic() - began)
    log.info("built %s: %d policies, %d clauses, %d embedded", generation, report.policies, report.clauses, embedded)
    return report


def _load_corpus(corpus: Path, progress: Progress | None) -> tuple[dict, dict[str, str]]:
    files = documents.corpus_files(corpus)
    loaded, skipped, seen = {}, {}, {}
    for done, path in enumerate(files, 1):
        if progress:
            progress("reading", done, len(files))
        pid = documents.policy_id(path)
        if pid in loaded:
            skipped[path.name] = f"same policy id as {seen[pid]}"
            continue
        try:
            loaded[pid] = documents.load(path)
            seen[pid] = path.name
        except PolicyQAError as exc:
            skipped[path.name] = str(exc)
            log.warning("skipped %s", exc)
    return loaded, skipped


def _text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _vector_cache(previous: Index | None) -> dict[str, np.ndarray]:
    """Vectors of the previous generation by clause text: unchanged clauses are never embedded twice."""
    if previous is None:
        return {}
    keys = previous.manifest.get("text_keys", [])
    if len(keys) != previous.vectors.ntotal:
        return {}
    matrix = previous.vectors.reconstruct_n(0, previous.vectors.ntotal)
    return {key: matrix[i] for i, key in enumerate(keys)}


def _embed(texts: list[str], cache: dict[str, np.ndarray], embedder: Embedder,
           progress: Progress | None) -> tuple[np.ndarray, int]:
    keys = [_text_key(t) for t in texts]
    todo = sorted({i for i, k in enumerate(keys) if k not in cache}, key=lambda i: len(texts[i]))
    fresh: dict[str, np.ndarray] = {}
    batch = 64
    for start in range(0, len(todo), batch):
        rows = todo[start:start + batch]
        for i, vector in zip(rows, embedder.encode([texts[i] for i in rows])):
            fresh[keys[i]] = vector
        if progress:
            progress("embedding", min(start + batch, len(todo)), len(todo))
    vectors = np.zeros((len(texts), embedder.dims), dtype=np.float32)
    for i, key in enumerate(keys):
        vectors[i] = fresh[key] if key in fresh else cache[key]
    return vectors, len(fresh)


def _write(index_dir: Path, policies: dict[str, Policy], clauses: list[Clause], texts: list[str],
           vectors: np.ndarray, embedder: Embedder) -> str:
    name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=index_dir))
    vector_index = faiss.IndexFlatIP(embedder.dims)
    vector_index.add(vectors)
    faiss.write_index(vector_index, str(tmp / "vectors.faiss"))
    with open(tmp / "clauses.jsonl", "w", encoding="utf-8") as out:
        for clause in clauses:
            out.write(json.dumps(clause.to_json(), ensure_ascii=False) + "\n")
    policy_data = {pid: {**p.meta(), "text": p.text} for pid, p in policies.items()}
    (tmp / "policies.json").write_text(json.dumps(policy_data, ensure_ascii=False), encoding="utf-8")
    lexical = bm25s.BM25()
    lexical.index([tokenize(t) or [""] for t in texts], show_progress=False)
    lexical.save(str(tmp / "bm25"), show_progress=False)
    files = sorted(p for p in tmp.rglob("*") if p.is_file())
    manifest = {
        "format": FORMAT,
        "app_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": embedder.name,
        "dims": embedder.dims,
        "libraries": {lib: version(lib) for lib in ("faiss-cpu", "bm25s", "sentence-transformers", "torch")},
        "policies": {pid: p.checksum for pid, p in policies.items()},
        "clauses": len(clauses),
        "text_keys": [_text_key(t) for t in texts],
        "files": {str(p.relative_to(tmp)): _file_sha(p) for p in files},
    }
    _write_durably(tmp / MANIFEST, json.dumps(manifest, indent=1))
    for path in files:
        _fsync(path)
    _fsync(tmp)
    os.rename(tmp, index_dir / name)
    _fsync(index_dir)
    return name


def _commit(index_dir: Path, generation: str) -> None:
    _write_durably(index_dir / CURRENT, generation + "\n")


def _write_durably(path: Path, text: str) -> None:
    """Write to a temp file beside `path`, fsync, rename over it, fsync the folder."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    _fsync(path.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _remove_unfinished(index_dir: Path) -> None:
    for path in index_dir.glob(".tmp-*"):
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def _prune(index_dir: Path, keep: set[str]) -> None:
    for path in index_dir.glob("gen-*"):
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)


def _previous(index_dir: Path, embedder: Embedder) -> Index | None:
    """The serving generation, when it can seed an incremental build."""
    try:
        index = load(index_dir)
    except PolicyQAError:
        return None
    same = index.manifest.get("format") == FORMAT and index.manifest.get("model") == embedder.name
    return index if same else None


# ---------------------------------------------------------------- loading


def current_generation(index_dir: Path) -> Path:
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        raise PolicyQAError(f"No index in {index_dir}; build it with `policyqa index --index {index_dir}`.")
    name = pointer.read_text(encoding="utf-8").strip()
    path = index_dir / name
    if not name.startswith("gen-") or "/" in name or not path.is_dir():
        raise PolicyQAError(f"{pointer} names a missing generation {name!r}; rebuild with `policyqa index --index {index_dir}`.")
    return path


def load(index_dir: Path, expect_model: str | None = None, expect_dims: int | None = None) -> Index:
    """Load and validate the serving generation; any fault is a one-line PolicyQAError."""
    path = current_generation(index_dir)
    fix = f"rebuild with `policyqa index --index {index_dir}`"
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise PolicyQAError(f"{path / MANIFEST} is missing or unreadable; {fix}.") from None
    if manifest.get("format") != FORMAT:
        raise PolicyQAError(f"{path} was built by another version of PolicyQA; {fix}.")
    for name, digest in manifest.get("files", {}).items():
        file = path / name
        if not file.is_file() or _file_sha(file) != digest:
            raise PolicyQAError(f"{file} is damaged (checksum mismatch); {fix}.")
    if expect_model and manifest["model"] != expect_model:
        raise PolicyQAError(f"{path} was built with model {manifest['model']}, not {expect_model}; {fix}.")
    try:
        vectors = faiss.read_index(str(path / "vectors.faiss"))
        lexical = bm25s.BM25.load(str(path / "bm25"))
        with open(path / "clauses.jsonl", encoding="utf-8") as f:
            clauses = [Clause.from_json(json.loads(line)) for line in f]
        policy_data = json.loads((path / "policies.json").read_text(encoding="utf-8"))
    except Exception as exc:  # FAISS and numpy raise many types on a broken file
        raise PolicyQAError(f"{path} cannot be read ({exc.__class__.__name__}); {fix}.") from None
    if vectors.d != manifest["dims"] or (expect_dims and vectors.d != expect_dims):
        raise PolicyQAError(f"{path / 'vectors.faiss'} has {vectors.d} dimensions, the model {expect_dims or manifest['dims']}; {fix}.")
    if vectors.ntotal != len(clauses) or len(clauses) != manifest["clauses"] or not clauses:
        raise PolicyQAError(f"{path} holds {vectors.ntotal} vectors for {len(clauses)} clauses; {fix}.")
    policies = {pid: Policy(**{k: v for k, v in data.items()}) for pid, data in policy_data.items()}
    ranges: dict[str, tuple[int, int]] = {}
    for row, clause in enumerate(clauses):
        a, _ = ranges.get(clause.policy, (row, row))
        ranges[clause.policy] = (a, row + 1)
    return Index(path, manifest, policies, clauses, vectors, lexical, ranges)


def staleness(corpus: Path, index_dir: Path) -> dict[str, list[str]]:
    """What differs between the corpus and the serving index: added, changed, removed policy ids."""
    try:
        manifest = json.loads((current_generation(index_dir) / MANIFEST).read_text(encoding="utf-8"))
    except (PolicyQAError, OSError, ValueError):
        return {"added": ["*"], "changed": [], "removed": []}
    indexed = manifest.get("policies", {})
    on_disk = {}
    for path in documents.corpus_files(corpus):
        try:
            on_disk[documents.policy_id(path)] = hashlib.sha256(documents.read_source(path).encode("utf-8")).hexdigest()
        except PolicyQAError:
            continue
    return {
        "added": sorted(set(on_disk) - set(indexed)),
        "changed": sorted(p for p in on_disk if p in indexed and indexed[p] != on_disk[p]),
        "removed": sorted(set(indexed) - set(on_disk)),
    }
