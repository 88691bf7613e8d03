"""Atomic builds, one writer at a time, roll-back and hot swap, on real indexes and real processes.

Builds are killed with SIGKILL at named stages (store.PAUSE_ENV makes a real `policyqa index`
process stop there); the previous generation must keep serving and the next build must clean up.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from app import store
from app.engine import Engine
from app.errors import PolicyQAError
from conftest import POLICYQA

NEW_TEXT = ("\n\n## Zebra Invoices\n\nWe keep zebra-striped paper invoices in a vault in Reykjavik for seventeen years "
            "after your last purchase, and we shred them afterwards.\n")
OLD_QUESTION = "What do you ask for when I create an account?"
NEW_QUESTION = "How long do you keep zebra-striped paper invoices?"


def add_policy_text(corpus: Path) -> None:
    with open(corpus / "laneige.md", "a", encoding="utf-8") as out:
        out.write(NEW_TEXT)


def has_new_text(index: store.Index) -> bool:
    return any("zebra-striped" in c.text for c in index.clauses)


def run_cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([POLICYQA, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


# ---------------------------------------------------------------- builds killed at every stage

KEEPS_OLD = ("embedding", "writing", "publishing", "committing")  # killed before CURRENT was replaced


def start_paused(corpus: Path, index: Path, stage: str) -> subprocess.Popen:
    return subprocess.Popen([POLICYQA, "index", "--corpus", str(corpus), "--index", str(index)],
                            env={**os.environ, store.PAUSE_ENV: stage, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_paused(proc: subprocess.Popen, stage: str, timeout: float = 300) -> None:
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    try:
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if f"paused at {stage}" in line:
                return
        raise AssertionError(f"the build exited ({proc.wait()}) before pausing at {stage}: {''.join(seen)[-500:]}")
    finally:
        watchdog.cancel()


@pytest.fixture(scope="module")
def killed_builds(tmp_path_factory, seed_index, model):
    """For each stage: a corpus copy with a changed policy whose `policyqa index` was SIGKILLed at that stage.
    While the 'embedding' build holds the lock, this process tries a second build of the same index."""
    corpus0, index0 = seed_index
    runs = {}
    for stage in store.STAGES:
        base = tmp_path_factory.mktemp(f"killed-{stage}")
        shutil.copytree(corpus0, base / "corpus")
        shutil.copytree(index0, base / "index")
        add_policy_text(base / "corpus")
        runs[stage] = {"corpus": base / "corpus", "index": base / "index",
                       "old": store.current_generation(base / "index").name}
    procs = {stage: start_paused(run["corpus"], run["index"], stage) for stage, run in runs.items()}
    try:
        for stage, proc in procs.items():
            wait_paused(proc, stage)
        held = runs["embedding"]
        try:
            store.build(held["corpus"], held["index"], model)
            second = None
        except PolicyQAError as exc:
            second = str(exc)
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stderr.close()
    for stage, proc in procs.items():
        assert proc.returncode == -signal.SIGKILL, stage
    runs["second"] = second
    return runs


@pytest.mark.parametrize("stage", KEEPS_OLD)
def test_killed_build_leaves_the_previous_index_serving(killed_builds, model, stage):
    run = killed_builds[stage]
    index = store.load(run["index"], embedder=model)
    assert index.generation == run["old"]
    assert not has_new_text(index)
    engine = Engine(run["corpus"], run["index"], model)
    engine.load()
    answer = engine.ask(OLD_QUESTION)
    assert answer.answered and answer.citations
    assert engine.health()["generation"] == run["old"]


def test_build_killed_after_the_commit_serves_the_new_index(killed_builds, model):
    run = killed_builds["pruning"]
    index = store.load(run["index"], embedder=model)
    assert index.generation != run["old"] and has_new_text(index)
    assert (run["index"] / store.PREVIOUS).read_text().strip() == run["old"]


def test_what_a_killed_build_leaves_behind_is_never_loaded(killed_builds):
    unfinished = {stage: sorted(p.name for p in killed_builds[stage]["index"].glob(".tmp-*")) for stage in KEEPS_OLD}
    assert unfinished["embedding"] == []
    assert unfinished["writing"] and unfinished["publishing"]  # a generation written aside, not yet renamed
    assert not (killed_builds["writing"]["index"] / unfinished["writing"][0] / store.MANIFEST).exists()
    assert (killed_builds["publishing"]["index"] / unfinished["publishing"][0] / store.MANIFEST).exists()
    committing = killed_builds["committing"]["index"]
    assert any(name.startswith(".tmp-CURRENT") for name in unfinished["committing"])
    orphans = [p.name for p in committing.glob("gen-*") if p.name != killed_builds["committing"]["old"]]
    assert len(orphans) == 1  # renamed into place, but CURRENT never named it


@pytest.mark.parametrize("stage", store.STAGES)
def test_the_next_build_cleans_up_and_commits(killed_builds, model, stage):
    run = killed_builds[stage]
    report = store.build(run["corpus"], run["index"], model)
    assert list(run["index"].glob(".tmp-*")) == []
    generations = {p.name for p in run["index"].glob("gen-*")}
    assert report.generation in generations and len(generations) == 2
    index = store.load(run["index"], embedder=model)
    assert index.generation == report.generation and has_new_text(index)
    if stage in KEEPS_OLD:
        assert report.changed == [index.policies["laneige"].key] and 0 < report.embedded < report.clauses


def test_a_second_build_at_once_gets_one_clear_line(killed_builds):
    """Refused by the lock the paused build process held, with a message naming the index folder."""
    second = killed_builds["second"]
    assert second is not None and "\n" not in second
    assert second.startswith(f"Another build is already writing {killed_builds['embedding']['index']};")


def test_a_second_build_in_the_same_process_is_refused(seed_copy, model):
    corpus, index_dir = seed_copy
    with store._exclusive(index_dir):
        with pytest.raises(PolicyQAError, match="Another build is already writing"):
            store.build(corpus, index_dir, model)


# ---------------------------------------------------------------- builds that fail leave the old index alone


def test_a_corpus_with_nothing_readable_is_refused_and_the_old_index_kept(seed_copy, model):
    corpus, index_dir = seed_copy
    old = store.current_generation(index_dir).name
    for path in corpus.iterdir():
        path.write_bytes(b"")
    with pytest.raises(PolicyQAError, match="No readable policy files.*empty"):
        store.build(corpus, index_dir, model)
    assert store.load(index_dir, embedder=model).generation == old


def test_a_generation_that_fails_its_check_is_never_committed(seed_copy, model):
    """The check build() runs between renaming a generation into place and committing it."""
    corpus, index_dir = seed_copy
    old = store.current_generation(index_dir)
    broken = index_dir / "gen-20000101T000000-broken"
    shutil.copytree(old, broken)
    (broken / "vectors.faiss").write_bytes(b"not faiss")
    with pytest.raises(PolicyQAError, match="failed its check.*vectors.faiss"):
        store._verify(index_dir, broken.name, model)
    assert not broken.exists()
    assert store.current_generation(index_dir) == old


# ---------------------------------------------------------------- roll-back


def test_rollback_swaps_back_and_forth(seed_copy, model):
    corpus, index_dir = seed_copy
    first = store.current_generation(index_dir).name
    add_policy_text(corpus)
    second = store.build(corpus, index_dir, model).generation
    assert store.rollback(index_dir) == first
    index = store.load(index_dir, embedder=model)
    assert index.generation == first and not has_new_text(index)
    assert store.rollback(index_dir) == second
    assert has_new_text(store.load(index_dir, embedder=model))


def test_rollback_refuses_a_damaged_previous_generation(seed_copy, model):
    corpus, index_dir = seed_copy
    first = store.current_generation(index_dir).name
    add_policy_text(corpus)
    second = store.build(corpus, index_dir, model).generation
    (index_dir / first / "clauses.jsonl").write_text("{}\n", encoding="utf-8")
    with pytest.raises(PolicyQAError, match=r"clauses\.jsonl.*policyqa index"):
        store.rollback(index_dir)
    assert store.current_generation(index_dir).name == second


def test_rollback_through_the_cli(seed_copy, model):
    corpus, index_dir = seed_copy
    refused = run_cli("index", "--rollback", "--index", str(index_dir))
    assert refused.returncode == 1 and refused.stderr.startswith("Error: ") and "no earlier generation" in refused.stderr
    first = store.current_generation(index_dir).name
    add_policy_text(corpus)
    store.build(corpus, index_dir, model)
    done = run_cli("index", "--rollback", "--index", str(index_dir))
    assert done.returncode == 0, done.stderr
    assert first in done.stdout
    assert store.load(index_dir, embedder=model).generation == first


# ---------------------------------------------------------------- hot swap


def test_requests_during_a_rebuild_are_answered_from_one_generation(seed_copy, model):
    corpus, index_dir = seed_copy
    engine = Engine(corpus, index_dir, model)
    engine.load()
    old = engine.index
    add_policy_text(corpus)
    start, done = threading.Barrier(21), threading.Event()
    results, errors = [], []

    def client(n: int) -> None:
        start.wait()
        while True:
            finished = done.is_set()  # one more request after the swap
            try:
                if n % 2:
                    results.append(("search", engine.search(NEW_QUESTION, k=5)))
                else:
                    results.append(("ask", engine.ask(OLD_QUESTION)))
            except Exception as exc:  # any failure is the test's failure
                errors.append(exc)
            if finished:
                return

    threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    start.wait()
    report = engine.refresh()
    done.set()
    for thread in threads:
        thread.join(timeout=120)
    new = engine.index
    assert errors == [] and report is not None and new is not old and has_new_text(new)
    clauses_of = {id(old): {id(c) for c in old.clauses}, id(new): {id(c) for c in new.clauses}}
    seen = set()
    for kind, result in results:
        if kind == "search":
            owners = {g for g, ids in clauses_of.items() if all(id(h.clause) in ids for h in result)}
            assert len(owners) == 1  # every hit of one request from the same generation
            seen |= owners
        else:
            assert result.citations and all(c.quote for c in result.citations)
            assert all(_cited_in(old, c) or _cited_in(new, c) for c in result.citations)
    assert seen == {id(old), id(new)}
    assert len(results) >= 40


def _cited_in(index: store.Index, citation) -> bool:
    lo, hi = index.ranges[citation.policy]
    clause = index.clauses[lo + citation.clause]
    return all(line in clause.text for line in citation.quote.split("\n"))
