"""Policy versions with real dated files: `leje@2019-01-01.md` (the seed) and `leje@2021-06-01.md` (payment
records kept 7 years instead of 5, the complaints record dropped, a clause on storage abroad added), beside
Clozette's single version. Through the library, the `policyqa` command, and the JSON API on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import httpx
import pytest

from app import answer, changes, documents, search, store, versions
from app.clauses import split
from app.errors import PolicyQAError

from conftest import VERSIONS, missing_word

POLICYQA = str(Path(sys.executable).parent / "policyqa")
OLD, NEW = "2019-01-01", "2021-06-01"
PAYMENT = "Records of payment and supply of goods"
COMPLAINTS = "Records of consumer complaints or dispute handling"
ABROAD = "servers located in the Republic of Korea"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([POLICYQA, *args], capture_output=True, text=True, timeout=300, env={**os.environ})


def flat(text: str) -> str:
    return " ".join(text.split())


def source(engine, version: str | None, policy: str = "leje") -> str:
    name = f"{policy}@{version}.md" if policy == "leje" else f"{policy}.md"
    return (engine.corpus / name).read_text(encoding="utf-8")


def quoted(answer_json: dict, text: str) -> list[dict]:
    """The citations whose quote holds `text` (white space aside)."""
    return [c for c in answer_json["citations"] if flat(text) in flat(c["quote"])]


# ---------------------------------------------------------------- file names and dates


def test_a_version_file_name_gives_the_policy_and_the_date():
    assert documents.policy_id(Path("leje@2021-06-01.md")) == "leje"
    assert documents.named_version(Path("leje@2021-06-01.md")) == "2021-06-01"
    assert documents.named_version(Path("leje.md")) is None
    for bad in ("leje@2021-13-01.md", "leje@2021-6-1.md", "leje@yesterday.md"):
        with pytest.raises(PolicyQAError, match=r"is not a date; write it as YYYY-MM-DD"):
            documents.named_version(Path(bad))


def test_a_plain_file_is_dated_by_the_date_it_states():
    assert documents.stated_date("**Effective date:** June 1, 2021\n\nWe collect ...") == "2021-06-01"
    assert documents.stated_date("Last updated: 5 May 2018") == "2018-05-05"
    assert documents.stated_date("Last Updated: December 1st, 2014") == "2014-12-01"  # an ordinal day
    assert documents.stated_date("Last Updated: September 2024") == "2024-09-01"  # a month: from its first day
    assert documents.stated_date("This policy was last revised on 2020.3.5.") == "2020-03-05"
    assert documents.stated_date("<p><strong>Last updated:</strong> <time>March 1, 2024</time></p>") == "2024-03-01"
    assert documents.stated_date((VERSIONS.parent.parent.parent / "corpus" / "dr-esthetique.md").read_text()) == "2011-12-01"
    assert documents.stated_date((VERSIONS.parent.parent.parent / "corpus" / "clozette.md").read_text()) == "2012-10-03"
    assert documents.stated_date("We may update this policy from time to time.") is None


def test_versions_are_indexed_as_documents_the_latest_first(versioned):
    index = versioned.index
    assert sorted(index.documents) == ["clozette@2012-10-03", f"leje@{OLD}", f"leje@{NEW}"]
    assert [v.version for v in index.versions["leje"]] == [OLD, NEW]
    assert index.policies["leje"].version == NEW and index.policies["clozette"].version == "2012-10-03"
    assert index.ranges["leje"] == index.ranges[f"leje@{NEW}"]
    assert all(c.policy == "leje" and c.version == OLD for c in index.clauses[slice(*index.ranges[f"leje@{OLD}"])])
    # the latest versions first: searching every policy is one range of rows, the old version outside it
    assert versions.rows(index, None).clauses == [(0, max(index.ranges["leje"][1], index.ranges["clozette"][1]))]
    assert index.ranges[f"leje@{OLD}"][0] >= versions.rows(index, None).clauses[0][1]
    assert store.staleness(versioned.corpus, versioned.index_dir) == {"added": [], "changed": [], "removed": []}


def test_a_scope_of_several_versions_searches_only_those(versioned, model):
    index = versioned.index
    keys = [f"leje@{OLD}", "clozette@2012-10-03"]
    assert len(versions.rows(index, keys).clauses) == 2  # not adjacent: the old version stands after the latest
    hits = search.retrieve(index, model, "how long do you keep payment records", keys, k=len(index.clauses))
    assert hits and {h.clause.document for h in hits} <= set(keys)
    assert hits[0].clause.document == f"leje@{OLD}" and PAYMENT in hits[0].clause.text


def test_the_version_in_force_on_a_date(versioned):
    index = versioned.index
    assert versions.in_force(index, "leje", "2020-03-01").version == OLD
    assert versions.in_force(index, "leje", NEW).version == NEW
    assert versions.scope(index, None, "2020-03-01") == ["clozette@2012-10-03", f"leje@{OLD}"]
    with pytest.raises(PolicyQAError) as before:
        versions.in_force(index, "leje", "2010-01-01")
    assert str(before.value) == "no version of leje was in force on 2010-01-01; the first is 2019-01-01."
    with pytest.raises(PolicyQAError, match="is not a date"):
        versions.in_force(index, "leje", "2020-02-30")
    with pytest.raises(PolicyQAError, match="Unknown policy 'acme'"):
        versions.in_force(index, "acme", "2020-01-01")
    with pytest.raises(PolicyQAError, match=r"leje has no version 2020-01-01; its versions are: 2019-01-01, 2021-06-01"):
        versions.named(index, "leje", "2020-01-01")


def test_policies_not_yet_in_force_are_left_out_and_none_at_all_is_an_error(versioned):
    index = versioned.index
    assert versions.scope(index, None, "2015-01-01") == ["clozette@2012-10-03"]
    with pytest.raises(PolicyQAError, match="no policy had a version in force on 2000-01-01; the first is from 2012-10-03"):
        versions.scope(index, None, "2000-01-01")


# ---------------------------------------------------------------- building: skipped files, incremental


def build_corpus(tmp_path: Path, files: dict[str, str], model) -> store.BuildReport:
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    for name, text in files.items():
        (corpus / name).write_text(text, encoding="utf-8")
    return store.build(corpus, tmp_path / "index", model)


def test_bad_or_clashing_version_files_are_skipped_with_the_reason(tmp_path, model):
    old = (VERSIONS / f"leje@{OLD}.md").read_text(encoding="utf-8")
    report = build_corpus(tmp_path, {
        f"leje@{OLD}.md": old,
        "leje@2021-13-01.md": old,  # no such month
        "leje.md": old,  # undated, while leje has dated versions
        "clozette.md": (VERSIONS.parent.parent.parent / "corpus" / "clozette.md").read_text(encoding="utf-8"),
        "clozette@2012-10-03.md": "A different text of the same version, dated in its name. " * 5,
    }, model)
    assert "is not a date; write it as YYYY-MM-DD" in report.skipped["leje@2021-13-01.md"]
    assert "leje.md states no date, and leje has dated versions" in report.skipped["leje.md"]
    assert "rename it leje@YYYY-MM-DD.md" in report.skipped["leje.md"]
    assert report.skipped["clozette@2012-10-03.md"].startswith("same policy version (2012-10-03) as clozette.md")
    assert (report.policies, report.versions) == (2, 2)
    assert store.staleness(tmp_path / "corpus", tmp_path / "index") == {"added": [], "changed": [], "removed": []}


def test_a_new_version_embeds_only_its_new_text(tmp_path, model):
    old = (VERSIONS / f"leje@{OLD}.md").read_text(encoding="utf-8")
    new = (VERSIONS / f"leje@{NEW}.md").read_text(encoding="utf-8")
    first = build_corpus(tmp_path, {f"leje@{OLD}.md": old}, model)
    second = build_corpus(tmp_path, {f"leje@{NEW}.md": new}, model)
    assert second.added == [f"leje@{NEW}"] and (second.policies, second.versions) == (1, 2)
    index = store.load(tmp_path / "index")
    texts = {key: set() for key in index.documents}
    for clause in index.clauses:
        texts[clause.document].update([store.clause_text_for_search(clause), *store.sentence_texts_for_search(clause)])
    fresh = texts[f"leje@{NEW}"] - texts[f"leje@{OLD}"]
    assert second.embedded == len(fresh) < first.embedded / 4  # the changed record, the added clause, their sentences


# ---------------------------------------------------------------- answers as of a date


def test_the_latest_version_answers_by_default(versioned, model):
    result = answer.ask(versioned.index, model, "how long do you keep my payment records?", policy="leje").to_json()
    assert result["as_of"] is None
    first = result["citations"][0]
    assert PAYMENT in first["quote"] and "7 years" in first["quote"] and first["version"] == NEW
    assert {c["version"] for c in result["citations"]} == {NEW}
    assert missing_word(first["quote"], source(versioned, NEW)[first["start"]:first["end"]]) is None


def test_as_of_a_date_the_version_then_in_force_answers(versioned, model):
    result = answer.ask(versioned.index, model, "how long do you keep my payment records?", policy="leje",
                        as_of="2020-03-01").to_json()
    assert result["as_of"] == "2020-03-01"
    first = result["citations"][0]
    assert PAYMENT in first["quote"] and "5 years" in first["quote"] and first["version"] == OLD
    assert {c["version"] for c in result["citations"]} == {OLD}
    assert missing_word(first["quote"], source(versioned, OLD)[first["start"]:first["end"]]) is None


def test_searching_every_policy_never_mixes_two_versions_of_one(versioned, model):
    for as_of in (None, "2020-03-01"):
        for question in ("how long do you keep my payment records?", "what do you use cookies for?",
                         "how long do you keep my information?"):
            result = answer.ask(versioned.index, model, question, top_k=10, as_of=as_of)
            leje = {c.version for c in result.citations if c.policy == "leje"}
            assert len(leje) <= 1, (question, as_of, leje)
            assert leje <= {NEW if as_of is None else OLD}


def gold_cases() -> list[dict]:
    text = (VERSIONS / "gold.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("case", gold_cases(), ids=lambda case: case["id"])
def test_gold_version_questions(versioned, model, case):
    """The gold version questions (tests/data/versions/gold.jsonl): each required anchor is quoted from its
    version, at offsets into that version's file; nothing listed under not_quoted is; a plain answer cites only
    the version in force."""
    result = answer.ask(versioned.index, model, case["question"], policy=case["policy"], as_of=case["as_of"]).to_json()
    for quote in case["quotes"]:
        found = [c for c in quoted(result, quote["anchor"]) if c["version"] == quote["version"]]
        assert found, (quote, result["answer"])
        text = source(versioned, found[0]["version"])
        assert missing_word(found[0]["quote"], text[found[0]["start"]:found[0]["end"]]) is None
    for anchor in case["not_quoted"]:
        assert not quoted(result, anchor), (anchor, result["answer"])
    if case["version"]:
        assert {c["version"] for c in result["citations"] if c["policy"] == "leje"} <= {case["version"]}
    if case.get("says"):
        assert case["says"] in result["answer"]


# ---------------------------------------------------------------- what changed


def clauses_of(path: Path):
    return split(*documents.load(path))


def test_changes_are_exactly_the_changed_the_removed_and_the_added_clause(versioned, model):
    diff = changes.between(versioned.index, model, "leje").to_json()
    assert (diff["policy"], diff["from"], diff["to"]) == ("leje", OLD, NEW)
    assert [c["kind"] for c in diff["changes"]] == ["changed", "removed", "added"]
    changed, removed, added = diff["changes"]
    assert PAYMENT in changed["before"] and "5 years" in changed["before"]
    assert PAYMENT in changed["after"] and "7 years" in changed["after"]
    assert COMPLAINTS in removed["before"] and removed["after"] is None
    assert ABROAD in added["after"] and added["before"] is None
    assert added["section"] == "Storage of personal information abroad"
    assert "Reasons for information retention under relevant statutes" in changed["section"]
    assert changed["summary"] == "Retention period: 5 years → 7 years" and diff["hidden"] == 0


def test_an_untouched_or_moved_clause_is_no_change_and_a_reworded_one_is_one(tmp_path, model):
    text = (VERSIONS / f"leje@{OLD}.md").read_text(encoding="utf-8")
    moved_par = "Personal information transferred to a separate DB shall not be used for any purpose other than those held by law."
    assert text.count(moved_par) == 1
    moved = text.replace(moved_par + "\n", "").replace("LEJE will inform you", moved_par + "\n\nLEJE will inform you")
    reworded = text.replace("a technical method that does not allow the recording to be played back",
                            "a technical method that makes sure the recording can never be played back")
    (tmp_path / "moved.md").write_text(moved, encoding="utf-8")
    (tmp_path / "reworded.md").write_text(reworded, encoding="utf-8")
    original = clauses_of(VERSIONS / f"leje@{OLD}.md")
    assert changes.align(original, original, model) == []
    assert changes.align(original, clauses_of(tmp_path / "moved.md"), model) == []
    found = changes.align(original, clauses_of(tmp_path / "reworded.md"), model)
    assert [c.kind for c in found] == ["changed"]
    assert "does not allow" in found[0].before.text and "can never be" in found[0].after.text


def test_word_differences_mark_only_the_words_that_changed():
    runs = changes.word_diff("Retention period: 5 years", "Retention period: 7 years")
    assert [r for r in runs if r[0] != "same"] == [("removed", "5"), ("added", "7")]
    assert "".join(t for k, t in runs if k != "removed") == "Retention period: 7 years"


def test_questions_about_changes_are_told_apart_from_questions_about_the_change_clause():
    for question in ("What changed in your privacy policy?", "did you change how long you keep my data?",
                     "Has LEJE updated its privacy policy recently?", "what's new in the policy",
                     "what is different since the last version?", "were the retention periods changed?"):
        assert changes.asks_what_changed(question), question
    gold = (files("app") / "data" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    for question in [json.loads(line)["question"] for line in gold if line.strip()] + [
            "will you tell me if this privacy policy changes", "how do I change my password?",
            "can I update my address?", "did I change my settings?"]:
        assert not changes.asks_what_changed(question), question
    assert changes.subject("what changed in your privacy policy?") == ""
    assert changes.subject("did you change how long you keep my data?")


def test_changes_between_versions_reject_bad_choices(versioned, model):
    index = versioned.index
    with pytest.raises(PolicyQAError, match=r"clozette has one version only \(2012-10-03\)"):
        changes.between(index, model, "clozette")
    with pytest.raises(PolicyQAError, match="is not earlier than"):
        changes.between(index, model, "leje", NEW, OLD)
    with pytest.raises(PolicyQAError, match="2019-01-01 is the first version of leje"):
        changes.between(index, model, "leje", until=OLD)


# ---------------------------------------------------------------- the command line


def test_cli_ask_latest_and_as_of(versioned):
    index = str(versioned.index_dir)
    latest = run("ask", "--index", index, "--policy", "leje", "--json", "how long do you keep my payment records?")
    assert latest.returncode == 0, latest.stderr
    first = json.loads(latest.stdout)["citations"][0]
    assert "7 years" in first["quote"] and first["version"] == NEW
    then = run("ask", "--index", index, "--policy", "leje", "--as-of", "2020-03-01", "--json",
               "how long do you keep my payment records?")
    first = json.loads(then.stdout)["citations"][0]
    assert "5 years" in first["quote"] and first["version"] == OLD
    dropped = run("ask", "--index", index, "--policy", "leje", "--as-of", "2019-06-01",
                  "how long do you keep records of my complaints?")
    assert COMPLAINTS in dropped.stdout and "3 years" in dropped.stdout and "(version 2019-01-01)" in dropped.stdout


def test_cli_changes_json_lists_the_three_changes(versioned):
    result = run("changes", "leje", "--index", str(versioned.index_dir), "--json")
    assert result.returncode == 0, result.stderr
    diff = json.loads(result.stdout)
    assert set(diff) == {"policy", "from", "to", "changes", "hidden"}
    assert [(c["kind"], set(c)) for c in diff["changes"]] == [
        (kind, {"kind", "section", "summary", "before", "after", "words_changed"})
        for kind in ("changed", "removed", "added")]
    text = run("changes", "leje", "--index", str(versioned.index_dir), "--from", OLD, "--to", NEW)
    assert text.returncode == 0 and "3 changes from 2019-01-01 to 2021-06-01" in text.stdout
    assert "REMOVED" in text.stdout and "7 years" in text.stdout
    assert "  Retention period: 5 years → 7 years\n" in text.stdout


def test_cli_batch_takes_as_of_per_line(versioned, tmp_path):
    batch = tmp_path / "questions.jsonl"
    batch.write_text("\n".join(json.dumps(q) for q in [
        {"id": "now", "question": "how long do you keep my payment records?", "policy": "leje"},
        {"id": "then", "question": "how long do you keep my payment records?", "policy": "leje", "as_of": "2020-03-01"},
        {"id": "early", "question": "how long do you keep my payment records?", "policy": "leje", "as_of": "2010-01-01"},
    ]), encoding="utf-8")
    result = run("ask", "--index", str(versioned.index_dir), "--json", "--batch", str(batch))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["citations"][0]["version"] == NEW and lines[1]["citations"][0]["version"] == OLD
    assert lines[2] == {"id": "early", "error": "no version of leje was in force on 2010-01-01; the first is 2019-01-01."}


@pytest.mark.parametrize("args, says", [
    (["ask", "--policy", "leje", "--as-of", "2010-01-01", "hi"], "no version of leje was in force on 2010-01-01; the first is 2019-01-01."),
    (["ask", "--policy", "leje", "--as-of", "1/3/2020", "hi"], "The as-of date '1/3/2020' is not a date; write it as YYYY-MM-DD"),
    (["changes", "acme"], "Unknown policy 'acme'; choose one of: clozette, leje."),
    (["changes", "leje", "--from", "2020-01-01"], "leje has no version 2020-01-01; its versions are: 2019-01-01, 2021-06-01."),
    (["changes", "leje", "--to", "June"], "The version 'June' is not a date"),
    (["changes", "clozette"], "clozette has one version only (2012-10-03)"),
])
def test_cli_bad_input_is_one_line(versioned, args, says):
    result = run(*args[:1], "--index", str(versioned.index_dir), *args[1:])
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and says in lines[0], result.stderr


# ---------------------------------------------------------------- the JSON API, over a real socket


@pytest.fixture(scope="module")
def http(versioned_server):
    with httpx.Client(base_url=versioned_server, timeout=120) as client:
        yield client


def test_api_ask_as_of(http):
    latest = http.post("/api/ask", json={"question": "how long do you keep my payment records?", "policy": "leje"})
    assert latest.status_code == 200
    assert latest.json()["as_of"] is None and latest.json()["citations"][0]["version"] == NEW
    then = http.post("/api/ask", json={"question": "how long do you keep my payment records?", "policy": "leje",
                                       "as_of": "2020-03-01"}).json()
    assert then["as_of"] == "2020-03-01" and then["citations"][0]["version"] == OLD
    assert "5 years" in then["citations"][0]["quote"]


@pytest.mark.parametrize("body, status, says", [
    ({"as_of": "2010-01-01"}, 400, "no version of leje was in force on 2010-01-01; the first is 2019-01-01."),
    ({"as_of": "2020-02-30"}, 400, "The as-of date '2020-02-30' is not a date"),
    ({"as_of": 20200301}, 422, "as_of"),
])
def test_api_ask_bad_dates_get_one_line(http, body, status, says):
    response = http.post("/api/ask", json={"question": "how long do you keep my payment records?", "policy": "leje", **body})
    assert response.status_code == status
    error = response.json()["error"]
    assert says in error["message"] and "\n" not in error["message"]


def test_api_lists_versions_and_opens_each(http, versioned):
    summary = {p["id"]: p for p in http.get("/api/policies").json()}
    assert summary["leje"]["version"] == NEW and summary["leje"]["versions"] == [OLD, NEW]
    assert summary["clozette"]["versions"] == ["2012-10-03"]
    listed = http.get("/api/policies/leje/versions").json()
    assert [v["version"] for v in listed] == [OLD, NEW] and all(v["clause_count"] > 20 for v in listed)
    old = http.get("/api/policies/leje", params={"version": OLD}).json()
    assert old["version"] == OLD and COMPLAINTS in old["text"]
    assert COMPLAINTS not in http.get("/api/policies/leje").json()["text"]
    for clause in old["clauses"]:  # offsets into the old version's own file
        words = old["text"][clause["clean_start"]:clause["clean_end"]]
        assert missing_word(words, source(versioned, OLD)[clause["start"]:clause["end"]]) is None


def test_api_changes(http):
    diff = http.get("/api/policies/leje/changes").json()
    assert (diff["from"], diff["to"]) == (OLD, NEW) and [c["kind"] for c in diff["changes"]] == ["changed", "removed", "added"]
    same = http.get("/api/policies/leje/changes", params={"from": OLD, "to": NEW}).json()
    assert same == diff and diff["hidden"] == 0
    assert http.get("/api/policies/leje/changes", params={"all": "true"}).json() == diff
    assert diff["changes"][0]["summary"] == "Retention period: 5 years → 7 years"


@pytest.mark.parametrize("path, status, says", [
    ("/api/policies/leje/changes?from=2020-01-01", 404, "leje has no version 2020-01-01"),
    ("/api/policies/leje/changes?to=01-06-2021", 400, "is not a date"),
    ("/api/policies/leje?version=2018-01-01", 404, "leje has no version 2018-01-01"),
    ("/api/policies/acme/versions", 404, "Unknown policy 'acme'"),
    ("/api/policies/clozette/changes", 400, "clozette has one version only"),
])
def test_api_version_errors(http, path, status, says):
    response = http.get(path)
    assert response.status_code == status and says in response.json()["error"]["message"]


def test_the_seed_corpus_keeps_serving_unchanged(engine):
    """The bundled, unversioned corpus: every policy one document; dated ones by the date they state."""
    index = engine.index
    assert set(index.policies) == set(index.versions) and len(index.documents) == len(index.policies)
    assert index.policies["leje"].version is None and index.policies["dr-esthetique"].version == "2011-12-01"


def test_the_changes_view_shows_policy_text_as_text(model):
    from app.records import Clause, Policy, Sentence
    from app.web import ui

    def clause(text: str, version: str) -> Clause:
        return Clause("acme", 0, "<b>Section</b>", text, 0, len(text), 0, len(text), (Sentence(0, len(text), 0, len(text)),),
                      version=version)

    hostile = '<img src=x onerror="alert(1)"> We keep data for 5 years.'
    diff = changes.Diff("acme", Policy("acme", "Acme <i>Policy</i>", "Acme", None, None, None, version="2020-01-01"),
                        Policy("acme", "Acme <i>Policy</i>", "Acme", None, None, None, version="2021-01-01"),
                        changes.align([clause(hostile, "2020-01-01")],
                                      [clause(hostile.replace("5 years", "<script>x</script> 7 years"), "2021-01-01")],
                                      model))
    html = ui.render_changes(diff)
    assert "<img" not in html and "<script>" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert '<del class="pq-removed">5</del>' in html
