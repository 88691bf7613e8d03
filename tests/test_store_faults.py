"""A damaged index is refused with one line naming the file and `policyqa index`, never served.

Every case damages a private copy of a real index built with the real model: truncated, bit-flipped,
emptied and deleted files, CURRENT pointing at garbage, files that agree with their checksums but not
with each other, vectors that no longer answer their canary queries.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import faiss
import pytest

from app import store
from app.engine import Engine
from app.errors import PolicyQAError
from conftest import POLICYQA

FILES = sorted({*store.DATA_FILES, "bm25/data.csc.index.npy", "bm25/indptr.csc.index.npy", "bm25/vocab.index.json",
                store.MANIFEST})


@pytest.fixture
def index_copy(seed_index, tmp_path) -> Path:
    shutil.copytree(seed_index[1], tmp_path / "index")
    return tmp_path / "index"


def generation(index_dir: Path) -> Path:
    return store.current_generation(index_dir)


def refused(index_dir: Path, model, **kwargs) -> str:
    """The one-line message store.load gives; any other exception type fails the test."""
    with pytest.raises(PolicyQAError) as caught:
        store.load(index_dir, embedder=model, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and "policyqa index" in message
    return message


def flip_bit(path: Path, where: float) -> None:
    data = bytearray(path.read_bytes())
    at = min(int(len(data) * where), len(data) - 1)
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def reseal(gen: Path, **changes) -> None:
    """Rewrite the manifest so its checksums match the files again: damage only a deeper check can see."""
    manifest = json.loads((gen / store.MANIFEST).read_text(encoding="utf-8"))
    manifest.update(changes)
    manifest["files"] = {name: store._file_sha(gen / name) for name in manifest["files"]}
    (gen / store.MANIFEST).write_text(json.dumps(store.seal(manifest)), encoding="utf-8")


# ---------------------------------------------------------------- damaged files


DAMAGE = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
    "flipped-start": lambda p: flip_bit(p, 0.0),
    "flipped-middle": lambda p: flip_bit(p, 0.5),
    "flipped-end": lambda p: flip_bit(p, 1.0),
    "emptied": lambda p: p.write_bytes(b""),
    "deleted": lambda p: p.unlink(),
}


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("name", FILES)
def test_a_damaged_file_is_refused_by_name(index_copy, model, name, damage):
    file = generation(index_copy) / name
    DAMAGE[damage](file)
    assert str(file) in refused(index_copy, model)


def test_the_undamaged_copy_loads(index_copy, model):
    index = store.load(index_copy, embedder=model)
    assert len(index.clauses) == index.vectors.ntotal == index.manifest["clauses"]
    assert len(index.manifest["canaries"]) == store.CANARIES


def test_a_deleted_generation_folder_is_refused(index_copy, model):
    shutil.rmtree(generation(index_copy))
    assert str(index_copy / store.CURRENT) in refused(index_copy, model)


def test_a_missing_index_is_refused(tmp_path, model):
    assert str(tmp_path / "nothing") in refused(tmp_path / "nothing", model)


# ---------------------------------------------------------------- CURRENT pointing at garbage


def point_current(index_dir: Path, content: bytes) -> None:
    (index_dir / store.CURRENT).write_bytes(content)


GARBAGE = {
    "empty": b"",
    "binary": bytes(range(256)),
    "nul": b"gen-\x00\n",
    "not-utf8": b"gen-\xff\xfe",
    "missing-generation": b"gen-20000101T000000-abcdef\n",
    "path-escape": b"../../etc\n",
    "absolute": b"/etc\n",
    "two-lines": b"gen-a\ngen-b\n",
}


@pytest.mark.parametrize("content", GARBAGE.values(), ids=GARBAGE.keys())
def test_current_pointing_at_garbage_is_refused(index_copy, model, content):
    point_current(index_copy, content)
    assert str(index_copy / store.CURRENT) in refused(index_copy, model)


def test_current_as_a_folder_is_refused(index_copy, model):
    (index_copy / store.CURRENT).unlink()
    (index_copy / store.CURRENT).mkdir()
    assert str(index_copy / store.CURRENT) in refused(index_copy, model)


def test_a_temp_folder_is_never_loaded_even_when_complete(index_copy, model):
    complete = index_copy / ".tmp-gen-20000101T000000-abcdef"
    shutil.copytree(generation(index_copy), complete)
    point_current(index_copy, complete.name.encode())
    refused(index_copy, model)
    point_current(index_copy, b"gen-20000101T000000-abcdef")  # the same name without the prefix is not there
    refused(index_copy, model)


# ---------------------------------------------------------------- checksums match, contents do not


def test_a_manifest_that_is_not_an_object_is_refused(index_copy, model):
    manifest = generation(index_copy) / store.MANIFEST
    manifest.write_text("[1, 2, 3]", encoding="utf-8")
    assert str(manifest) in refused(index_copy, model)


def test_a_manifest_of_another_format_is_refused(index_copy, model):
    gen = generation(index_copy)
    reseal(gen, format=store.FORMAT - 1)
    message = refused(index_copy, model)
    assert str(gen / store.MANIFEST) in message and "format" in message


def test_a_manifest_without_canaries_is_refused(index_copy, model):
    gen = generation(index_copy)
    manifest = json.loads((gen / store.MANIFEST).read_text(encoding="utf-8"))
    del manifest["canaries"]
    (gen / store.MANIFEST).write_text(json.dumps(store.seal(manifest)), encoding="utf-8")
    assert str(gen / store.MANIFEST) in refused(index_copy, model)


def test_an_edited_manifest_is_caught_by_its_own_checksum(index_copy, model):
    manifest_file = generation(index_copy) / store.MANIFEST
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    manifest["clauses"] += 1
    manifest_file.write_text(json.dumps(manifest), encoding="utf-8")
    assert f"{manifest_file} is damaged" in refused(index_copy, model)


def test_fewer_clauses_than_vectors_is_refused(index_copy, model):
    gen = generation(index_copy)
    lines = (gen / "clauses.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (gen / "clauses.jsonl").write_text("".join(lines[:-1]), encoding="utf-8")
    reseal(gen, clauses=len(lines) - 1)
    message = refused(index_copy, model)
    assert str(gen / "vectors.faiss") in message and f"for {len(lines) - 1} clauses" in message


def test_dimensions_other_than_the_models_are_refused(index_copy, model):
    message = refused(index_copy, model, expect_dims=model.dims * 2)
    assert str(generation(index_copy) / "vectors.faiss") in message and "dimensions" in message


def test_vectors_that_fail_their_canaries_are_refused(index_copy, model):
    """Checksums and shapes agree, but row i no longer holds clause i's vector (as with another model)."""
    gen = generation(index_copy)
    vectors = faiss.read_index(str(gen / "vectors.faiss"))
    matrix = vectors.reconstruct_n(0, vectors.ntotal)[::-1].copy()
    shuffled = faiss.IndexFlatIP(matrix.shape[1])
    shuffled.add(matrix)
    faiss.write_index(shuffled, str(gen / "vectors.faiss"))
    reseal(gen)
    store.load(index_copy)  # without an embedder the damage is invisible...
    message = refused(index_copy, model)  # ...the canaries see it
    assert str(gen / "vectors.faiss") in message and "canary" in message


# ---------------------------------------------------------------- what users see


def test_the_engine_reports_a_broken_index_as_unhealthy(index_copy, model, tmp_path):
    flip_bit(generation(index_copy) / "vectors.faiss", 0.5)
    engine = Engine(tmp_path / "no-corpus", index_copy, model)
    with pytest.raises(PolicyQAError):
        engine.load()
    health = engine.health()
    assert health["ok"] is False and "vectors.faiss" in health["error"] and "policyqa index" in health["error"]
    with pytest.raises(PolicyQAError, match="policyqa index"):
        engine.ask("Do you sell my data?")


def test_the_engine_rebuilds_a_broken_index_when_it_has_the_corpus(seed_index, index_copy, model):
    flip_bit(generation(index_copy) / "clauses.jsonl", 0.5)
    engine = Engine(seed_index[0], index_copy, model)
    assert engine.refresh() is not None
    assert engine.health()["ok"] is True
    store.load(index_copy, embedder=model)


def test_the_cli_refuses_a_broken_index_with_one_line(seed_index, tmp_path):
    cases = {}
    for case in ("flipped", "garbage-current"):
        shutil.copytree(seed_index[1], tmp_path / case)
        cases[case] = tmp_path / case
    flip_bit(generation(cases["flipped"]) / "vectors.faiss", 0.5)
    point_current(cases["garbage-current"], b"\x89PNG\r\n\x1a\n")
    procs = {case: subprocess.Popen([POLICYQA, "ask", "--index", str(path), "Do you sell my data?"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env={**os.environ, "OMP_NUM_THREADS": "1"})
             for case, path in cases.items()}
    errors = {}
    for case, proc in procs.items():
        out, errors[case] = proc.communicate(timeout=300)
        assert proc.returncode != 0, case
        assert out == "" and "Traceback" not in errors[case]
        assert len(errors[case].strip().splitlines()) == 1 and errors[case].startswith("Error: "), errors[case]
        assert "policyqa index" in errors[case]
    assert str(generation(seed_index[1]).name) + "/vectors.faiss" in errors["flipped"]
    assert str(cases["garbage-current"] / store.CURRENT) in errors["garbage-current"]
