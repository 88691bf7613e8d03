"""Bad corpus files are skipped with a reason, everything else is indexed; builds are incremental.

A real corpus folder holds a PNG, NUL bytes, empty files, a folder and a broken link named like policies,
Latin-1 and EUC-KR policies, a duplicate id and (separately) a 5 MB policy; a real index is built over it.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from app import documents, store
from app.engine import Engine
from conftest import POLICYQA, ROOT, missing_word

FRENCH = """# Politique de confidentialité

Nous respectons votre vie privée. Les données personnelles que vous nous confiez sont traitées avec le plus grand
soin, conformément à la réglementation européenne sur la protection des données.

## Données collectées

Nous collectons votre nom, votre adresse électronique et l'historique de vos achats afin de traiter vos commandes
et d'améliorer nos services. Vous pouvez à tout moment demander l'accès, la rectification ou l'effacement de vos données.
"""
KOREAN = """# 개인정보처리방침

회사는 이용자의 개인정보를 중요시하며, 정보통신망 이용촉진 및 정보보호 등에 관한 법률을 준수하고 있습니다.

## 수집하는 개인정보 항목

회사는 회원가입, 상담, 서비스 신청 등을 위해 아래와 같은 개인정보를 수집하고 있습니다. 수집항목: 이름, 생년월일, 성별, 로그인ID, 비밀번호, 휴대전화번호, 이메일.

## 개인정보의 보유 및 이용기간

원칙적으로 개인정보 수집 및 이용목적이 달성된 후에는 해당 정보를 지체 없이 파기합니다.
"""
RUNNING_AS_ROOT = os.geteuid() == 0


def png() -> bytes:
    """A real 1x1 PNG image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b"")


def add_bad_files(corpus: Path) -> dict[str, str]:
    """Write the bad files; returns file name -> a word its skip reason must contain."""
    (corpus / "picture.md").write_bytes(png())
    (corpus / "nul-bytes.txt").write_bytes(b"Privacy policy\x00\x00\x00 We collect your name.")
    (corpus / "empty.md").write_bytes(b"")
    (corpus / "blank.txt").write_bytes(b"  \r\n\n\t \n")
    (corpus / "folder.md").mkdir()
    (corpus / "dangling.md").symlink_to(corpus / "no-such-target.md")
    (corpus / "laneige.txt").write_text("A second laneige policy with the same id as laneige.md.", encoding="utf-8")
    (corpus / "latin1.txt").write_bytes(FRENCH.encode("latin-1"))
    (corpus / "euckr.md").write_bytes(KOREAN.encode("euc-kr"))
    reasons = {"picture.md": "binary", "nul-bytes.txt": "binary", "empty.md": "empty", "blank.txt": "empty",
               "folder.md": "Is a directory", "dangling.md": "No such file", "laneige.txt": "same policy id as laneige.md"}
    if not RUNNING_AS_ROOT:  # root reads a mode-000 file anyway
        (corpus / "locked.md").write_text("We collect nothing.", encoding="utf-8")
        (corpus / "locked.md").chmod(0)
        reasons["locked.md"] = "Permission denied"
    return reasons


@pytest.fixture(scope="module")
def bad_build(tmp_path_factory, seed_index, model):
    base = tmp_path_factory.mktemp("bad-corpus")
    shutil.copytree(seed_index[0], base / "corpus")
    shutil.copytree(seed_index[1], base / "index")
    reasons = add_bad_files(base / "corpus")
    report = store.build(base / "corpus", base / "index", model)
    return {"corpus": base / "corpus", "index": base / "index", "report": report, "reasons": reasons}


def test_bad_files_are_skipped_and_named_with_the_reason(bad_build):
    skipped = bad_build["report"].skipped
    assert set(skipped) == set(bad_build["reasons"])
    for name, word in bad_build["reasons"].items():
        assert word in skipped[name] and "\n" not in skipped[name], (name, skipped[name])
        assert name in skipped[name] or name == "laneige.txt"  # the CLI prints the name before the reason


def test_everything_else_is_indexed(bad_build, model):
    report = bad_build["report"]
    assert report.policies == 4 and sorted(report.added) == ["euckr", "latin1"]
    index = store.load(bad_build["index"], embedder=model)
    assert sorted(index.policies) == ["euckr", "herve-leger", "laneige", "latin1"]
    assert report.clauses == len(index.clauses)
    laneige = (bad_build["corpus"] / "laneige.md").read_text(encoding="utf-8")
    assert index.manifest["policies"][index.policies["laneige"].key] == store._text_sum(laneige)  # the .md won


@pytest.mark.parametrize(("pid", "words"), [("latin1", ["confidentialité", "données", "réglementation européenne"]),
                                             ("euckr", ["개인정보처리방침", "휴대전화번호", "파기합니다"])])
def test_legacy_encodings_are_decoded(bad_build, model, pid, words):
    index = store.load(bad_build["index"], embedder=model)
    for word in words:
        assert word in index.policies[pid].text
    source = documents.read_source(next(bad_build["corpus"].glob(f"{pid}.*")))
    lo, hi = index.ranges[pid]
    for clause in index.clauses[lo:hi]:
        assert missing_word(clause.text, source[clause.start:clause.end]) is None


def test_an_encoded_policy_answers_in_its_own_words(bad_build, model):
    engine = Engine(bad_build["corpus"], bad_build["index"], model)
    engine.load()
    hits = engine.search("개인정보 보유 및 이용기간 파기", policy="euckr", k=3)
    assert any("파기합니다" in h.clause.text for h in hits)


def test_skipped_files_do_not_make_the_index_look_stale(bad_build, model):
    assert store.staleness(bad_build["corpus"], bad_build["index"]) == {"added": [], "changed": [], "removed": []}
    engine = Engine(bad_build["corpus"], bad_build["index"], model)
    assert engine.refresh() is None  # nothing to rebuild: the bad files would be skipped again


def test_the_cli_names_each_skipped_file_when_it_builds_and_when_nothing_changed(bad_build, tmp_path):
    shutil.copytree(bad_build["corpus"], tmp_path / "corpus", symlinks=True)  # a dangling link is one of the bad files
    shutil.copytree(bad_build["index"], tmp_path / "index")
    command = [POLICYQA, "index", "--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "index")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    nothing_changed = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    (tmp_path / "corpus" / "herve-leger.md").unlink()  # a policy removed: the next run builds
    built = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    for done, expected in ((nothing_changed, "up to date"), (built, "Indexed 3 policies")):
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        for name, word in bad_build["reasons"].items():
            line = next(line for line in done.stderr.splitlines() if line.startswith(f"skipped {name}: "))
            assert word in line
        assert expected in done.stdout and f"skipped {len(bad_build['reasons'])}" in done.stdout, done.stdout


# ---------------------------------------------------------------- incremental builds


def search_texts(index: store.Index, pid: str | None = None) -> list[str]:
    lo, hi = index.ranges[pid] if pid else (0, len(index.clauses))
    return [store.clause_text_for_search(c) for c in index.clauses[lo:hi]]


def new_texts(old: store.Index, new: store.Index) -> set[str]:
    """Keys of the texts (clauses and any finer units the index embeds) the old generation had no vector for."""
    def keys(index: store.Index) -> set[str]:
        return {k for name, v in index.manifest.items() if name.endswith("_keys") for k in v}

    return keys(new) - keys(old)


def test_an_unchanged_corpus_embeds_nothing(seed_copy, model):
    corpus, index_dir = seed_copy
    report = store.build(corpus, index_dir, model)
    assert report.embedded == 0 and report.reused >= report.clauses
    assert report.added == report.changed == report.removed == []


def test_editing_one_policy_embeds_only_its_changed_clauses(seed_copy, model):
    corpus, index_dir = seed_copy
    old = store.load(index_dir)
    policy = corpus / "herve-leger.md"
    text = policy.read_text(encoding="utf-8")
    assert text.count("DHL and UPS") == 1
    policy.write_text(text.replace("DHL and UPS", "DHL, FedEx and UPS"), encoding="utf-8")
    report = store.build(corpus, index_dir, model)
    new = store.load(index_dir)
    fresh = set(search_texts(new)) - set(search_texts(old))
    assert report.changed == [new.policies["herve-leger"].key] and report.added == report.removed == []
    assert len(fresh) == 1 and "FedEx" in fresh.pop()
    assert report.embedded == len(new_texts(old, new)) < report.clauses
    assert search_texts(new, "laneige") == search_texts(old, "laneige")


def test_removing_a_file_drops_its_policy(seed_copy, model):
    corpus, index_dir = seed_copy
    old = store.load(index_dir)
    (corpus / "laneige.md").unlink()
    report = store.build(corpus, index_dir, model)
    index = store.load(index_dir, embedder=model)
    assert report.removed == [old.policies["laneige"].key] and report.embedded == 0
    assert list(index.policies) == ["herve-leger"] and {c.policy for c in index.clauses} == {"herve-leger"}


def test_adding_a_file_embeds_only_the_new_policy(seed_copy, model):
    corpus, index_dir = seed_copy
    old = store.load(index_dir)
    shutil.copyfile(ROOT / "corpus" / "leje.md", corpus / "leje.md")
    report = store.build(corpus, index_dir, model)
    new = store.load(index_dir, embedder=model)
    assert report.added == ["leje"] and report.embedded == len(new_texts(old, new))
    assert search_texts(new, "laneige") == search_texts(old, "laneige")


# ---------------------------------------------------------------- a 5 MB policy


def paragraph_pool() -> list[str]:
    """Clean paragraphs of the bundled policies: real clause text to repeat."""
    pool = []
    for path in sorted((ROOT / "corpus").glob("*.md")):
        _, blocks = documents.load(path)
        pool += [b.text.text for b in blocks
                 if b.kind == "text" and 150 <= len(b.text.text) <= 900 and not b.text.text.endswith(":")]
    return list(dict.fromkeys(pool))


def big_policy(size: int = 5_000_000) -> str:
    """Real paragraphs in an order where no three in a row repeat (repeated runs would be dropped as
    layout debris), each with a markup variation cleaning removes: bold, a link, CRLF line ends."""
    pool, rng = paragraph_pool(), random.Random(6)
    order: list[int] = []
    used: set[tuple[int, int, int]] = set()
    parts, total = ["# Big Store Privacy Policy\n\n"], 0
    while total < size:
        choices = [k for k in range(len(pool)) if len(order) < 2 or (k != order[-1] and (*order[-2:], k) not in used)]
        k = rng.choice(choices)
        if len(order) >= 2:
            used.add((*order[-2:], k))
        order.append(k)
        words = pool[k].split(" ")
        at = rng.randrange(1, len(words))
        if re.fullmatch(r"[A-Za-z]{4,}", words[at]):
            words[at] = rng.choice([f"**{words[at]}**", f"[{words[at]}](https://example.com/p/{len(order)})"])
        end = "\r\n" if len(order) % 3 == 0 else "\n"
        parts.append(" ".join(words) + end + end)
        total += len(parts[-1].encode("utf-8"))
    return "".join(parts)


def test_a_5mb_policy_is_indexed_with_exact_offsets(seed_copy, model):
    corpus, index_dir = seed_copy
    old = store.load(index_dir)
    (corpus / "big-store.md").write_bytes(big_policy().encode("utf-8"))
    assert (corpus / "big-store.md").stat().st_size >= 5_000_000
    report = store.build(corpus, index_dir, model)
    index = store.load(index_dir, embedder=model)
    lo, hi = index.ranges["big-store"]
    assert report.policies == 3 and report.skipped == {} and report.added == [index.policies["big-store"].key]
    assert hi - lo > 5000 and report.clauses == len(index.clauses)
    assert report.embedded == len(new_texts(old, index)) < 1000  # repeated clauses are embedded once
    source = documents.read_source(corpus / "big-store.md")
    for clause in index.clauses[lo:hi:97] + [index.clauses[hi - 1]]:
        assert missing_word(clause.text, source[clause.start:clause.end]) is None, clause.number
        for sentence in clause.sentences:
            clean = index.policies["big-store"].text[sentence.clean_start:sentence.clean_end]
            assert missing_word(clean, source[sentence.start:sentence.end]) is None
    engine = Engine(corpus, index_dir, model)
    engine.load()
    hits = engine.search("Do you sell my personal information?", policy="big-store", k=3)
    assert hits and all(h.clause.policy == "big-store" for h in hits)
