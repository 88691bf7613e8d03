"""The index on disk: FAISS vectors + BM25 + clauses + policies, in generations committed atomically.

    index/
      CURRENT               name of the serving generation; replacing it is the commit point
      PREVIOUS              name of the generation it replaced, kept for `policyqa index --rollback`
      gen-<time>-<id>/      one complete build: vectors.faiss (a row per clause), sentences.faiss and
                            sentences.npy (a row per sentence of a multi-sentence clause -> [clause row,
                            sentence number]), clauses.jsonl, policies.json, bm25/,
                            (each policy version a document of its own, keyed 'leje@2021-06-01'; the latest
                            version of every policy first, so searching them all is one range of rows)
                            manifest.json (written last: checksums of the rest, canary queries, its own checksum)
      .tmp-*                a build or pointer not finished; never loaded, deleted by the next build
      .build.lock           held while a build or roll-back runs

A build writes a new generation aside, fsyncs it, renames it into place, loads it back to check it,
then swaps CURRENT with an atomic rename. The previous generation is kept; older ones are removed.
A build killed at any moment leaves CURRENT naming the generation it named before.

Fault tests: with POLICYQA_TEST_PAUSE_AT=<stage> set, build() stops at that stage (see STAGES)
and waits to be killed; unset (always, outside tests) it costs one dictionary lookup per stage.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import re
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from pathlib import Path
from typing import Callable, ContextManager

import bm25s
import faiss
import numpy as np

from . import __version__, clauses as clause_split, crosslingual, documents, files, topics, vectors as vector_index
from .embedder import Embedder
from .errors import PolicyQAError
from .records import Clause, Policy
from .tokens import search_text, tokenize

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its own logger to DEBUG on import

FORMAT = 5  # bump when the files' layout or the clause splitter changes meaning
CURRENT = "CURRENT"
PREVIOUS = "PREVIOUS"
MANIFEST = "manifest.json"
DATA_FILES = ("vectors.faiss", "sentences.faiss", "sentences.npy", "clauses.jsonl", "policies.json",
              "bm25/params.index.json")
CANARIES = 3  # queries stored at build time that must find their clause in the top CANARY_RANK at load time
CANARY_RANK = 3
EMBED_BATCH = 64
PAUSE_ENV = "POLICYQA_TEST_PAUSE_AT"
STAGES = ("embedding", "writing", "publishing", "committing", "pruning")
_MANIFEST_KEYS = {"model": str, "dims": int, "clauses": int, "files": dict, "policies": dict, "canaries": list}
_GENERATION = re.compile(r"gen-[0-9A-Za-z-]{1,64}")
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class Index:
    """A loaded, validated generation."""

    path: Path
    manifest: dict
    documents: dict[str, Policy]  # every policy version by its key ('leje@2021-06-01', or 'leje' when undated)
    clauses: list[Clause]
    vectors: faiss.Index
    lexical: bm25s.BM25
    sentence_vectors: faiss.Index
    sentence_rows: np.ndarray  # sentence row -> (clause row, sentence number)
    # clause rows [a, b) of each document, and of each policy id: its latest version's
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)
    sentence_ranges: dict[str, tuple[int, int]] = field(default_factory=dict)  # the same, of sentence rows
    first_sentence: dict[int, int] = field(default_factory=dict)  # clause row -> its first sentence row
    policies: dict[str, Policy] = field(default_factory=dict)  # policy id -> its latest version
    versions: dict[str, list[Policy]] = field(default_factory=dict)  # policy id -> its versions, oldest first

    @property
    def generation(self) -> str:
        return self.path.name


@dataclass
class BuildReport:
    generation: str
    policies: int
    clauses: int
    embedded: int  # distinct texts (clauses and their sentences) embedded
    reused: int  # texts whose vector came from the previous generation
    added: list[str]
    changed: list[str]
    removed: list[str]
    skipped: dict[str, str]  # file -> reason
    seconds: float
    versions: int = 0  # policy versions indexed (as many as policies when none has two)


def clause_text_for_search(clause: Clause, lang: str = "en") -> str:
    """What the embedder and BM25 read: the section as context, then the clause; a table row's cells each after
    its column's name ("Purpose: ...; Legal basis: ..."). `lang`: the language of its policy."""
    text = "; ".join(_labelled(label, cell) for label, cell in zip(clause.labels, clause.text.split("\n"))) \
        if clause.labels else clause.text
    return search_text(f"{clause.section}. {text}" if clause.section else text, lang)


def sentence_texts_for_search(clause: Clause, lang: str = "en") -> list[str]:
    """One text per sentence of a multi-sentence clause, with the section (and a row's column name) as context."""
    if len(clause.sentences) < 2:
        return []
    texts = [_labelled(_column(clause, s.clean_start), t) for s, t in zip(clause.sentences, clause.sentence_texts())]
    return [search_text(f"{clause.section}. {t}" if clause.section else t, lang) for t in texts]


def _labelled(label: str, text: str) -> str:
    return f"{label}: {text}" if label else text


def _column(clause: Clause, at: int) -> str:
    """The name of the column that clean offset `at` of a table row stands in ("" outside a table)."""
    cell = clause.text.count("\n", 0, at - clause.clean_start)
    return clause.labels[cell] if cell < len(clause.labels) else ""


def _fix(index_dir: Path) -> str:
    return f"rebuild it with `policyqa index --index {index_dir}`"


def _checkpoint(stage: str) -> None:
    """Fault-test hook: announce `stage` on stderr and wait to be killed, when PAUSE_ENV names it."""
    if os.environ.get(PAUSE_ENV) == stage:
        print(f"paused at {stage}", file=sys.stderr, flush=True)
        time.sleep(3600)


# ---------------------------------------------------------------- building


def build(corpus: Path, index_dir: Path, embedder: Embedder, progress: Progress | None = None) -> BuildReport:
    """Index `corpus` into a new generation under `index_dir`, re-embedding only what changed."""
    began = time.monotonic()
    index_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(index_dir):
        _remove_unfinished(index_dir)
        serving = _pointer(index_dir / CURRENT)
        previous = _previous(index_dir, embedder)
        loaded, skipped = _load_corpus(corpus, progress)
        policies, clause_rows = _split(loaded, skipped)
        if not clause_rows:
            why = f" ({len(skipped)} skipped, e.g. {next(iter(skipped.values()))})" if skipped else ""
            raise PolicyQAError(f"No readable policy files in {corpus}{why}; add .md, .txt, .html or .pdf files.")
        old = previous.documents if previous else {}
        added = sorted(set(policies) - set(old))
        removed = sorted(set(old) - set(policies))
        changed = sorted(p for p in policies if p in old and old[p].checksum != policies[p].checksum)

        langs = [policies[c.document].lang for c in clause_rows]
        texts = [clause_text_for_search(c, lang) for c, lang in zip(clause_rows, langs)]
        per_clause = [sentence_texts_for_search(c, lang) for c, lang in zip(clause_rows, langs)]
        sentence_rows = [(row, n) for row, texts in enumerate(per_clause) for n in range(len(texts))]
        sentence_texts = [t for texts in per_clause for t in texts]
        sentence_langs = [langs[row] for row, _ in sentence_rows]
        keys = [_embedding_key(t, lang, embedder) for t, lang in zip(texts + sentence_texts, langs + sentence_langs)]
        cache = _vector_cache(previous)
        all_vectors, embedded = _embed(texts + sentence_texts, langs + sentence_langs, keys, cache, embedder, progress)
        vectors, sentence_vectors = all_vectors[:len(texts)], all_vectors[len(texts):]
        clause_rows = [replace(c, topic=t) for c, t in zip(clause_rows, topics.model().labels(vectors))]
        canaries = _pick_canaries(clause_rows, vectors, embedder)
        extra = {"canaries": canaries, "skipped": _skipped_sums(corpus, skipped), "skipped_reasons": skipped,
                 "text_keys": keys[:len(texts)], "sentence_keys": keys[len(texts):],
                 "topic_coverage": _topic_coverage(policies, clause_rows, vectors, sentence_rows, sentence_vectors)}
        generation = _write(index_dir, policies, clause_rows, [tokenize(t, lang) for t, lang in zip(texts, langs)],
                            vectors, embedder, extra, (sentence_rows, sentence_vectors))
        _verify(index_dir, generation, embedder)
        _commit(index_dir, generation, serving)
        _checkpoint("pruning")
        _prune(index_dir, keep={generation, serving or ""})
    reused = sum(key in cache for key in keys)
    report = BuildReport(generation, len({p.id for p in policies.values()}), len(clause_rows), embedded, reused, added,
                         changed, removed, skipped, time.monotonic() - began, len(policies))
    log.info("built %s: %d policies, %d clauses, %d embedded", generation, report.policies, report.clauses, embedded)
    return report


def _exclusive(index_dir: Path) -> ContextManager[None]:
    """One writer at a time per index folder (builds and roll-backs), across processes."""
    return files.exclusive(index_dir / ".build.lock",
                           f"Another build is already writing {index_dir}; wait for it to finish and try again.")


def _corpus_entries(corpus: Path) -> list[Path]:
    """Policy files, plus entries named like one that are no readable file (folders, broken links), to report."""
    files = documents.corpus_files(corpus)
    odd = [p for p in corpus.iterdir() if p.suffix.lower() in documents.SUFFIXES and not p.is_file()]
    return sorted(files + odd)


def _load_corpus(corpus: Path, progress: Progress | None) -> tuple[dict, dict[str, str]]:
    """Document key -> (file name, Policy, blocks); file name -> why it was skipped."""
    entries = _corpus_entries(corpus)
    loaded, skipped = {}, {}
    plain: dict[str, str] = {}  # policy id -> its file without a version date in the name
    for done, path in enumerate(entries, 1):
        if progress:
            progress("reading", done, len(entries))
        pid, named = documents.policy_id(path), "@" in path.stem
        if not named and pid in plain:
            skipped[path.name] = f"same policy id as {plain[pid]}; rename or remove one of them"
            continue
        try:
            policy, blocks = documents.load(path)
        except PolicyQAError as exc:
            skipped[path.name] = str(exc)
            log.warning("skipped %s", exc)
            continue
        if policy.key in loaded:
            skipped[path.name] = (f"same policy version ({policy.version}) as {loaded[policy.key][0]}; "
                                  "rename or remove one of them")
            continue
        loaded[policy.key] = (path.name, policy, blocks)
        if not named:
            plain[pid] = path.name
    for key, (name, policy, _) in list(loaded.items()):
        dated = sorted(n for n, p, _ in loaded.values() if p.id == policy.id and p.version)
        if policy.version is None and dated:
            skipped[name] = (f"{name} states no date, and {policy.id} has dated versions ({', '.join(dated)}); "
                             f"rename it {policy.id}@YYYY-MM-DD{Path(name).suffix} with the date it came into force")
            del loaded[key]
    return loaded, skipped


def _split(loaded: dict, skipped: dict[str, str]) -> tuple[dict[str, Policy], list[Clause]]:
    """Documents and their clauses, the latest version of each policy first (see the module's docstring)."""
    split = {}
    for key in sorted(loaded):
        name, policy, blocks = loaded[key]
        clauses = clause_split.split(policy, blocks)
        if not clauses:  # only headings: nothing to quote, and search could not scope to it
            skipped[name] = f"{name} has headings but no text to quote; check that it is the policy page"
            continue
        split[key] = (policy, [replace(c, version=policy.version) for c in clauses])
    latest = set(_latest({key: policy for key, (policy, _) in split.items()}).values())
    policies, rows = {}, []
    for key in sorted(split, key=lambda key: (key not in latest, key)):
        policies[key], clauses = split[key]
        rows.extend(clauses)
    return policies, rows


def _latest(documents: dict[str, Policy]) -> dict[str, str]:
    """Policy id -> the key of its latest version."""
    latest: dict[str, str] = {}
    for key, policy in sorted(documents.items(), key=lambda item: item[1].version or ""):
        latest[policy.id] = key
    return latest


def _skipped_sums(corpus: Path, skipped: dict[str, str]) -> dict[str, str | None]:
    """Checksums of skipped files that decode, so staleness() does not ask to rebuild for them again."""
    sums = {}
    for name in skipped:
        try:
            sums[name] = _text_sum(documents.read_source(corpus / name))
        except PolicyQAError:
            sums[name] = None
    return sums


def _text_sum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _vector_cache(previous: Index | None) -> dict[str, np.ndarray]:
    """Vectors of the previous generation by text: unchanged clauses and sentences are never embedded twice."""
    if previous is None:
        return {}
    cache = {}
    for keys, vectors in ((previous.manifest.get("text_keys", []), previous.vectors),
                          (previous.manifest.get("sentence_keys", []), previous.sentence_vectors)):
        if keys and len(keys) == vectors.ntotal:
            cache.update(zip(keys, vectors.reconstruct_n(0, vectors.ntotal)))
    return cache


def _embedding_key(text: str, lang: str, embedder: Embedder) -> str:
    """What a text's vector is cached under: the text, and for another language than English the map that carries
    it into the embedder's space (refitting the map re-embeds them)."""
    route = crosslingual.fingerprint(embedder.dims) if lang != "en" else ""
    return _text_key(f"{lang} {route}\n{text}" if route else text)


def _embed(texts: list[str], langs: list[str], keys: list[str], cache: dict[str, np.ndarray], embedder: Embedder,
           progress: Progress | None) -> tuple[np.ndarray, int]:
    """One vector per text, written in its language of `langs`: each distinct new text (by its key) is embedded once,
    the rest come from `cache`."""
    todo = {k: (t, lang) for k, t, lang in zip(keys, texts, langs) if k not in cache}
    order = sorted(todo, key=lambda k: (todo[k][1], len(todo[k][0])))  # one language a batch, similar lengths
    fresh: dict[str, np.ndarray] = {}
    for start in range(0, len(order), EMBED_BATCH):
        batch = order[start:start + EMBED_BATCH]
        for lang, same in itertools.groupby(batch, key=lambda k: todo[k][1]):
            same = list(same)
            fresh.update(zip(same, crosslingual.embed(embedder, [todo[k][0] for k in same], lang)))
        if progress:
            progress("embedding", min(start + EMBED_BATCH, len(order)), len(order))
        _checkpoint("embedding")
    vectors = np.zeros((len(texts), embedder.dims), dtype=np.float32)
    for i, key in enumerate(keys):
        vectors[i] = fresh[key] if key in fresh else cache[key]
    return vectors, len(fresh)


def _topic_coverage(policies: dict[str, Policy], clauses: list[Clause], vectors: np.ndarray, sentence_rows: list,
                    sentence_vectors: np.ndarray) -> dict:
    """Per document (policy version), per topic: the best topic probability among its clauses and sentences."""
    owner = np.array([c.document for c in clauses] + [clauses[row].document for row, _ in sentence_rows])
    stacked = np.vstack([vectors, sentence_vectors.reshape(-1, vectors.shape[1])])
    covered = {key: topics.coverage(stacked[owner == key]) for key in dict.fromkeys(c.document for c in clauses)}
    for pid, policy in policies.items():
        if policy.contact and pid in covered:  # a policy that names its contact covers "contact"
            covered[pid][topics.NAMES.index("contact")] = 1.0
    return covered


def _flat_index(vectors: np.ndarray) -> faiss.Index:
    index = faiss.IndexFlatIP(vectors.shape[1])  # works for zero rows too (a corpus of one-sentence clauses)
    index.add(vectors)
    return index


def _canary_misses(vectors: faiss.Index, embedder: Embedder, canaries: list[dict], rank: int = CANARY_RANK) -> list[int]:
    """Rows of the canaries whose text does not find their clause in the top `rank`."""
    if not canaries:
        return []
    queries = embedder.encode([search_text(c["text"]) for c in canaries])
    _, found = vectors.search(queries, min(rank, vectors.ntotal))
    return [c["row"] for c, rows in zip(canaries, found) if c["row"] not in set(rows.tolist())]


def _pick_canaries(clauses: list[Clause], vectors: np.ndarray, embedder: Embedder) -> list[dict]:
    """Up to CANARIES (clause row, its first sentence) pairs, spread over the index, that find their clause
    first now: the margin to CANARY_RANK keeps float noise between build and load from failing them."""
    step = max(1, len(clauses) // (CANARIES * 4))
    candidates = [{"row": row, "text": clauses[row].sentence_texts()[0]} for row in range(0, len(clauses), step)]
    candidates = [c for c in candidates if len(c["text"].split()) >= 6][:CANARIES * 4]
    misses = set(_canary_misses(_flat_index(vectors), embedder, candidates, rank=1))
    good = [c for c in candidates if c["row"] not in misses]
    return good[::max(1, len(good) // CANARIES)][:CANARIES]


def _write(index_dir: Path, policies: dict[str, Policy], clauses: list[Clause], tokens: list[list[str]],
           vectors: np.ndarray, embedder: Embedder, extra: dict, sentences: tuple[list, np.ndarray]) -> str:
    """Write a complete generation aside, then rename it into place; returns its name."""
    name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir()  # not mkdtemp: its 0700 would hide the index from a server running as another user
    faiss.write_index(vector_index.build(vectors), str(tmp / "vectors.faiss"))  # IVF when large
    sentence_rows, sentence_vectors = sentences
    faiss.write_index(vector_index.build(sentence_vectors.reshape(-1, vectors.shape[1])), str(tmp / "sentences.faiss"))
    np.save(tmp / "sentences.npy", np.array(sentence_rows, dtype=np.int32).reshape(-1, 2), allow_pickle=False)
    with open(tmp / "clauses.jsonl", "w", encoding="utf-8") as out:
        for clause in clauses:
            out.write(json.dumps(clause.to_json(), ensure_ascii=False) + "\n")
    _checkpoint("writing")
    policy_data = {pid: {**p.meta(), "text": p.text} for pid, p in policies.items()}
    (tmp / "policies.json").write_text(json.dumps(policy_data, ensure_ascii=False), encoding="utf-8")
    lexical = bm25s.BM25()
    lexical.index([t or [""] for t in tokens], show_progress=False)
    lexical.save(str(tmp / "bm25"), show_progress=False)
    manifest = {
        "format": FORMAT,
        "app_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": embedder.name,
        "backend": embedder.backend,
        "dims": embedder.dims,
        "libraries": {lib: version(lib) for lib in ("faiss-cpu", "bm25s", "onnxruntime", "sentence-transformers", "torch")},
        "policies": {pid: p.checksum for pid, p in policies.items()},
        "clauses": len(clauses),
        "files": {str(p.relative_to(tmp)): _file_sha(p) for p in sorted(tmp.rglob("*")) if p.is_file()},
        **extra,
    }
    (tmp / MANIFEST).write_text(json.dumps(seal(manifest), indent=1, ensure_ascii=False), encoding="utf-8")
    _fsync_tree(tmp)
    _checkpoint("publishing")
    os.rename(tmp, index_dir / name)
    files.fsync(index_dir)
    return name


def seal(manifest: dict) -> dict:
    """The manifest with its own checksum, so a damaged manifest is told apart from a damaged data file."""
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    return {**body, "checksum": hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()}


def _verify(index_dir: Path, generation: str, embedder: Embedder) -> None:
    """Load the new generation back before committing it: what CURRENT names always loads."""
    try:
        load_generation(index_dir / generation, index_dir, embedder=embedder)
    except PolicyQAError as exc:
        shutil.rmtree(index_dir / generation, ignore_errors=True)
        raise PolicyQAError(f"The new index failed its check and was discarded; the previous one still serves: {exc}") from None


def _commit(index_dir: Path, generation: str, serving: str | None) -> None:
    """Point CURRENT at `generation` (the commit point), remembering what it replaced in PREVIOUS."""
    if serving and serving != generation:
        _write_durably(index_dir / PREVIOUS, serving + "\n")
    _write_durably(index_dir / CURRENT, generation + "\n", stage="committing")


def _write_durably(path: Path, text: str, stage: str | None = None) -> None:
    files.write_durably(path, text.encode("utf-8"), (lambda: _checkpoint(stage)) if stage else None)


def _fsync_tree(root: Path) -> None:
    """fsync every file, then every folder bottom-up, so a rename cannot publish unwritten data."""
    paths = sorted(root.rglob("*"), key=lambda p: -len(p.parts))
    for path in paths + [root]:
        files.fsync(path)


def _file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _remove_unfinished(index_dir: Path) -> None:
    """Leftovers of killed builds; only called under the build lock, so none is still being written."""
    for path in index_dir.glob(".tmp-*"):
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def _prune(index_dir: Path, keep: set[str]) -> None:
    for path in index_dir.glob("gen-*"):
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)


def _previous(index_dir: Path, embedder: Embedder) -> Index | None:
    """The serving generation, when it can seed an incremental build."""
    try:
        index = load(index_dir, embedder=embedder)
    except PolicyQAError:
        return None
    return index if _made_by(index.manifest, embedder.name, embedder.backend) else None


def _made_by(manifest: dict, model: str, backend: str) -> bool:
    """Whether the generation's vectors come from this model on this backend (never mix vector spaces)."""
    return manifest.get("model") == model and manifest.get("backend") == backend


def rollback(index_dir: Path) -> str:
    """Serve the generation kept in PREVIOUS again; the two swap places, so a second roll-back undoes it."""
    with _exclusive(index_dir):
        target, serving = _pointer(index_dir / PREVIOUS), _pointer(index_dir / CURRENT)
        if not target or target == serving or not (index_dir / target).is_dir():
            raise PolicyQAError(f"{index_dir} keeps no earlier generation to roll back to; {_fix(index_dir)}.")
        load_generation(index_dir / target, index_dir)  # never point CURRENT at a broken generation
        _commit(index_dir, target, serving if serving and (index_dir / serving).is_dir() else None)
    log.info("rolled back %s to %s", index_dir, target)
    return target


# ---------------------------------------------------------------- loading


def _pointer(path: Path) -> str | None:
    """The generation name a pointer file holds, or None when it is missing or not a generation name."""
    try:
        name = path.read_bytes().decode("utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return name if _GENERATION.fullmatch(name) else None


def serving_name(index_dir: Path) -> str | None:
    """The generation index/CURRENT names (None when it names none): a small read, cheap enough per request."""
    return _pointer(index_dir / CURRENT)


def current_generation(index_dir: Path) -> Path:
    pointer = index_dir / CURRENT
    if not pointer.exists():
        raise PolicyQAError(f"No index in {index_dir}; build it with `policyqa index --index {index_dir}`.")
    name = _pointer(pointer)
    if name is None or not (index_dir / name).is_dir():
        raise PolicyQAError(f"{pointer} does not name a generation in {index_dir}; {_fix(index_dir)}.")
    return index_dir / name


def load(index_dir: Path, expect_model: str | None = None, expect_dims: int | None = None,
         embedder: Embedder | None = None) -> Index:
    """Load and validate the serving generation; any fault is a one-line PolicyQAError.

    Given an embedder, also check its dimensions and that the canary queries find their clauses."""
    return load_generation(current_generation(index_dir), index_dir, expect_model, expect_dims, embedder)


def load_generation(path: Path, index_dir: Path, expect_model: str | None = None, expect_dims: int | None = None,
                    embedder: Embedder | None = None) -> Index:
    fix = _fix(index_dir)
    manifest = _read_manifest(path, fix)
    _check_files(path, manifest, fix)
    if expect_model and manifest["model"] != expect_model:
        raise PolicyQAError(f"{path / MANIFEST} says model {manifest['model']}, not {expect_model}; {fix}.")
    vectors = _read(path / "vectors.faiss", fix, _read_vectors)
    sentence_vectors = _read(path / "sentences.faiss", fix, _read_vectors)
    sentence_rows = _read(path / "sentences.npy", fix, lambda p: np.load(p, allow_pickle=False))
    lexical = _read(path / "bm25", fix, lambda p: bm25s.BM25.load(str(p)))
    clauses = _read(path / "clauses.jsonl", fix, _read_clauses)
    policies = _read(path / "policies.json", fix, _read_policies)
    _check_shapes(path, manifest, vectors, lexical, clauses, policies, expect_dims or (embedder and embedder.dims), fix)
    if embedder and (missed := _canary_misses(vectors, embedder, manifest["canaries"])):
        raise PolicyQAError(f"{path / 'vectors.faiss'} does not match the model {embedder.name}: the canary query for "
                            f"clause row {missed[0]} no longer finds it; {fix}.")
    _check_sentences(path, vectors, sentence_vectors, sentence_rows, clauses, fix)
    ranges = _ranges([clause.document for clause in clauses])
    sentence_ranges = _ranges([clauses[row].document for row in sentence_rows[:, 0].tolist()])
    latest = _latest(policies)
    for pid, key in latest.items():  # a policy id names its latest version
        ranges[pid] = ranges[key]
        sentence_ranges[pid] = sentence_ranges.get(key, (0, 0))
    first_sentence: dict[int, int] = {}
    for row, clause_row in enumerate(sentence_rows[:, 0].tolist()):
        first_sentence.setdefault(clause_row, row)
    versions: dict[str, list[Policy]] = {}
    for policy in sorted(policies.values(), key=lambda p: p.version or ""):
        versions.setdefault(policy.id, []).append(policy)
    return Index(path, manifest, policies, clauses, vectors, lexical, sentence_vectors, sentence_rows, ranges,
                 sentence_ranges, first_sentence, {pid: policies[key] for pid, key in sorted(latest.items())}, versions)


def _ranges(owners: list[str]) -> dict[str, tuple[int, int]]:
    """Rows [a, b) of each owner in a list where each owner's rows are contiguous."""
    ranges: dict[str, tuple[int, int]] = {}
    for row, owner in enumerate(owners):
        a, _ = ranges.get(owner, (row, row))
        ranges[owner] = (a, row + 1)
    return ranges


def _check_sentences(path: Path, vectors: faiss.Index, sentence_vectors: faiss.Index, rows: np.ndarray,
                     clauses: list[Clause], fix: str) -> None:
    shape_ok = rows.ndim == 2 and rows.shape[1] == 2 and sentence_vectors.ntotal == len(rows)
    rows_ok = shape_ok and (not len(rows) or (0 <= rows.min() and rows[:, 0].max() < len(clauses)))
    if sentence_vectors.d != vectors.d or not rows_ok:
        raise PolicyQAError(f"{path / 'sentences.faiss'} does not match {path / 'sentences.npy'}; {fix}.")


def _read_manifest(path: Path, fix: str) -> dict:
    file = path / MANIFEST
    try:
        manifest = json.loads(file.read_bytes().decode("utf-8"))
    except (OSError, ValueError):
        raise PolicyQAError(f"{file} is missing or unreadable; {fix}.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise PolicyQAError(f"{file} is not a PolicyQA index manifest of format {FORMAT}; {fix}.")
    if seal(manifest).get("checksum") != manifest.get("checksum"):
        raise PolicyQAError(f"{file} is damaged (checksum mismatch); {fix}.")
    for key, kind in _MANIFEST_KEYS.items():
        if not isinstance(manifest.get(key), kind):
            raise PolicyQAError(f"{file} lacks a valid {key!r}; {fix}.")
    if not all(isinstance(c, dict) and isinstance(c.get("row"), int) and isinstance(c.get("text"), str)
               for c in manifest["canaries"]):
        raise PolicyQAError(f"{file} lists malformed canaries; {fix}.")
    return manifest


def _check_files(path: Path, manifest: dict, fix: str) -> None:
    files = manifest.get("files", {})
    for name in DATA_FILES:
        if name not in files:
            raise PolicyQAError(f"{path / MANIFEST} does not list {name}; {fix}.")
    for name, digest in files.items():
        file = path / name
        if not file.is_file():
            raise PolicyQAError(f"{file} is missing; {fix}.")
        if _file_sha(file) != digest:
            raise PolicyQAError(f"{file} is damaged (checksum mismatch); {fix}.")


def _read(file: Path, fix: str, reader: Callable):
    try:
        return reader(file)
    except Exception as exc:  # FAISS, bm25s, json and numpy raise many types on a broken file
        raise PolicyQAError(f"{file} cannot be read ({exc.__class__.__name__}); {fix}.") from None


def _read_vectors(file: Path) -> faiss.Index:
    """Memory-mapped, not copied: both index types (flat, IVF-fp16) support it, so the worker processes of one
    server share one copy in the page cache. A generation's files are never rewritten, only new ones made."""
    return faiss.read_index(str(file), faiss.IO_FLAG_MMAP_IFC)


def _read_clauses(file: Path) -> list[Clause]:
    with open(file, encoding="utf-8") as f:
        return [Clause.from_json(json.loads(line)) for line in f]


def _read_policies(file: Path) -> dict[str, Policy]:
    return {pid: Policy(**data) for pid, data in json.loads(file.read_text(encoding="utf-8")).items()}


def _check_shapes(path: Path, manifest: dict, vectors: faiss.Index, lexical: bm25s.BM25, clauses: list[Clause],
                  policies: dict[str, Policy], dims: int | None, fix: str) -> None:
    faiss_file = path / "vectors.faiss"
    if vectors.d != manifest["dims"] or (dims and vectors.d != dims):
        raise PolicyQAError(f"{faiss_file} has {vectors.d} dimensions, the model {dims or manifest['dims']}; {fix}.")
    if not clauses or len(clauses) != manifest["clauses"] or vectors.ntotal != len(clauses):
        raise PolicyQAError(f"{faiss_file} holds {vectors.ntotal} vectors for {len(clauses)} clauses; {fix}.")
    if lexical.scores.get("num_docs") != len(clauses):
        raise PolicyQAError(f"{path / 'bm25'} indexes {lexical.scores.get('num_docs')} clauses, not {len(clauses)}; {fix}.")
    if {c.document for c in clauses} != set(policies):
        raise PolicyQAError(f"{path / 'clauses.jsonl'} and {path / 'policies.json'} disagree on the policies; {fix}.")


def up_to_date(corpus: Path, index_dir: Path, model: str, backend: str) -> dict | None:
    """The serving generation's manifest when building now would only reproduce it (same corpus files by checksum,
    same model, backend and format, built by this PolicyQA version: another cleans and splits differently, the
    generation intact), else None. Needs neither the model nor the embedding stack."""
    if any(staleness(corpus, index_dir).values()):
        return None
    try:
        manifest = load(index_dir).manifest
    except PolicyQAError:
        return None
    return manifest if _made_by(manifest, model, backend) and manifest.get("app_version") == __version__ else None


def skipped_files(manifest: dict) -> dict[str, str]:
    """File -> why the build that wrote `manifest` skipped it (older generations kept no reason)."""
    reasons = manifest.get("skipped_reasons", {})
    return {name: reasons.get(name, "skipped when the index was built") for name in manifest.get("skipped", {})}


def staleness(corpus: Path, index_dir: Path) -> dict[str, list[str]]:
    """What differs between the corpus and the serving index: added, changed, removed documents (policy versions)."""
    try:
        manifest = _read_manifest(current_generation(index_dir), "")
    except PolicyQAError:
        return {"added": ["*"], "changed": [], "removed": []}
    indexed, skipped = manifest.get("policies", {}), manifest.get("skipped", {})
    on_disk: dict[str, str] = {}
    for path in documents.corpus_files(corpus):
        try:
            source = documents.read_source(path)
            key = documents.file_key(path, source)
        except PolicyQAError:
            continue
        checksum = _text_sum(source)
        if key in on_disk or skipped.get(path.name) == checksum:
            continue  # a second file of the same version, or the very file the build skipped (e.g. a bad name)
        on_disk[key] = checksum
    return {
        "added": sorted(set(on_disk) - set(indexed)),
        "changed": sorted(p for p in on_disk if p in indexed and indexed[p] != on_disk[p]),
        "removed": sorted(set(indexed) - set(on_disk)),
    }
