"""What changed between two versions, as a person would list it, on real policies: the five current policies in
../shared/policies against versions of them made here (a few clauses rewritten in place, a section moved, every
link target, list mark and apostrophe changed), and LEJE's two dated versions (tests/data/versions, also in
test_versions.py). Every listed change changes words; a clause rewritten in place is one `changed` entry whose
summary says what moved; what changes no word is hidden unless asked for (`--all`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from app import changes, documents, store
from app.clauses import split
from app.changes import wording
from app.web import ui

from conftest import POLICYQA, SHARED

POLICIES = SHARED / "policies"
pytestmark = pytest.mark.skipif(not POLICIES.is_dir(), reason="../shared/policies is not here")

# policy file -> (text of the published policy, its rewrite, what the change's summary says)
REWRITES: dict[str, list[tuple[str, str, list[str]]]] = {
    "github.md": [
        ("GitHub uses administrative, technical, and physical security controls where appropriate to protect your "
         "Personal Data.",
         "GitHub protects your Personal Data with administrative, technical, and physical controls, including "
         "encryption at rest and in transit.",
         ["Security: rewritten"]),
        ("GitHub may periodically revise this Privacy Statement. If there are material changes to the statement, we "
         "will provide at least 30 days prior notice by updating our website or sending an email to your primary "
         "email address associated with your GitHub account.",
         "We update this Privacy Statement from time to time. When a change is material, you will hear from us by "
         "email at the primary address on your GitHub account, or through a notice on our website, no less than 60 "
         "days before it takes effect.",
         ["Changes to Our Privacy Statement: rewritten", "30 days → 60 days"]),
    ],
    "automattic.md": [
        ("for approximately 30 days.", "for approximately 90 days.", ["for approximately 30 days. → 90 days."]),
        ("If you are a job applicant, we will keep your personal data during the application process, and for a "
         "certain period thereafter. To determine that period, we take into account a number of factors, like our "
         "legal and regulatory obligations (such as equal opportunity obligations) and whether we may need to retain "
         "personal data for internal business purposes like analyzing our applicant pool.",
         "Job applicants: we hold your personal data while we consider your application and for up to two years "
         "after it closes, unless the law requires a longer period or you ask us to delete it sooner.",
         ["How Long We Keep Information: rewritten"]),
    ],
    "basecamp.md": [
        ("We keep your information for the time necessary for the purposes for which it is processed.",
         "We keep your information only as long as we need it for the purposes for which it is processed, and never "
         "longer than five years after your account closes.",
         ["for the time necessary", "→ only as long as we need it", "added “and never longer than five years"]),
    ],
    "automattic-visitors.md": [
        ("We keep that IP address for approximately 30 days to give us time to calculate your monthly Site Stats and "
         "address any issues with those counts.",
         "That IP address is deleted after 14 days, once your monthly Site Stats are calculated and any problem with "
         "the counts has been fixed.",
         ["We keep that IP address for approximately 30 days", "→ That IP address is deleted after 14 days"]),
    ],
    "github-cookies.md": [
        ("This cookie is used to track recognized devices for security purposes. | One year",
         "This cookie is used to track recognized devices for security purposes. | Two years",
         ["One year → Two years"]),
    ],
}


def edited(name: str) -> str:
    """The policy with its clauses in REWRITES rewritten in place, its second top-level section moved to the end,
    and, changing no word, every link target, bullet list mark and apostrophe changed."""
    text = (POLICIES / name).read_text(encoding="utf-8")
    for before, after, _ in REWRITES[name]:
        assert text.count(before) == 1, (name, before)
        text = text.replace(before, after)
    text = re.sub(r"\]\((https?://[^)\s]+)\)", r"](\1?from=policy)", text)
    text = re.sub(r"(?m)^(\s*)\*(\s+)", r"\1-\2", text).replace("’", "'")
    sections = re.split(r"(?m)^(?=## )", text)
    if len(sections) > 3:
        sections.append(sections.pop(2).rstrip("\n") + "\n\n")
    return "".join(sections)


def clauses(folder, name: str, text: str):
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return split(*documents.load(folder / name))


def words_of(text: str) -> str:
    return " ".join(text.replace(" | ", " ").split())


@pytest.fixture(scope="module")
def diffs(tmp_path_factory, model) -> dict[str, list[changes.Change]]:
    base = tmp_path_factory.mktemp("changes")
    return {name: changes.align(clauses(base / "published", name, (POLICIES / name).read_text(encoding="utf-8")),
                                clauses(base / "edited", name, edited(name)), model) for name in REWRITES}


@pytest.mark.parametrize("name", REWRITES)
def test_no_listed_change_leaves_the_words_as_they_were(diffs, name):
    for change in diffs[name]:
        if change.kind == "changed":
            assert change.words_changed == (wording(change.before.text) != wording(change.after.text)), change
    assert all(c.summary.startswith("No word changed") for c in diffs[name] if not c.words_changed)


@pytest.mark.parametrize("name", REWRITES)
def test_a_clause_rewritten_in_place_is_one_change_that_says_what_moved(diffs, name):
    listed = [c for c in diffs[name] if c.words_changed]
    assert [c.kind for c in listed] == ["changed"] * len(REWRITES[name]), [(c.kind, c.summary) for c in listed]
    for (before, after, says), change in zip(REWRITES[name], listed):
        assert words_of(before) in words_of(change.before.text)  # a table row's cells are lines of its clause
        assert words_of(after) in words_of(change.after.text)
        for words in says:
            assert words in change.summary, change.summary
        assert "\n" not in change.summary and len(change.summary) < 250


def test_a_moved_section_is_no_change(diffs):
    moved = re.split(r"(?m)^(?=## )", (POLICIES / "github.md").read_text(encoding="utf-8"))[2]
    title = moved.splitlines()[0].lstrip("# ").strip()
    assert not [c for c in diffs["github.md"] if c.words_changed and c.section.startswith(title)]


def test_a_paragraph_split_in_two_changes_no_word_and_an_edit_inside_it_is_listed(tmp_path, model):
    published = (POLICIES / "automattic.md").read_text(encoding="utf-8")
    sentence = "operating system, for approximately 30 days. "
    assert published.count(sentence) == 1
    split_only = published.replace(sentence, sentence.rstrip() + "\n\n")
    split_and_edited = split_only.replace("approximately 30 days.", "approximately 90 days.")
    before = clauses(tmp_path / "a", "automattic.md", published)
    only = changes.align(before, clauses(tmp_path / "b", "automattic.md", split_only), model)
    assert only and not [c for c in only if c.words_changed]  # the two halves: no word changed
    edited = changes.align(before, clauses(tmp_path / "c", "automattic.md", split_and_edited), model)
    assert [(c.kind, c.summary) for c in edited if c.words_changed] == [
        ("changed", "system, for approximately 30 days. → 90 days.")]


def clause(text: str):
    from app.records import Clause, Sentence

    return Clause("acme", 0, "Retention", text, 0, len(text), 0, len(text), (Sentence(0, len(text), 0, len(text)),))


def test_summaries_name_the_words_that_changed():
    def summary(before: str, after: str) -> str:
        old, new = clause(before), clause(after)
        return changes.summary(changes.Change("changed", old, new))

    assert summary("Retention period: 5 years", "Retention period: 7 years") == "Retention period: 5 years → 7 years"
    assert summary("We keep logs for 30 days.", "We keep logs for 30 days, unless the law requires longer.") == (
        "added “unless the law requires longer.” after “for 30 days,”")  # the words, with a few before them
    assert summary("We never sell or rent your data.", "We never sell your data.") == 'removed “or rent” after “We never sell”'
    assert summary("Kept 5 years and 3 months.", "Kept 7 years and 6 months.") == (
        "Kept 5 years and 3 months. → 7 years and 6 months.")  # edits a word or two apart read as one


def test_in_place_similarity_tells_a_rewrite_from_the_clause_beside_it(tmp_path, model):
    """The thresholds against the shared policies: every rewrite above reaches IN_PLACE; of two different paragraphs
    side by side in one section, fewer than 1 in 20 does (were both replaced in one place, they would be paired),
    none MOVED. (Rows of one table, which differ in a name or two, often reach it: a row replaced in place reads as
    that row changed.)"""
    beside = []
    for path in sorted(POLICIES.glob("*.md")):
        found = split(*documents.load(path)) if path.name != "README.md" else []
        pairs = [(k, k + 1) for k in range(len(found) - 1)
                 if found[k].section == found[k + 1].section and not (found[k].labels or found[k + 1].labels)]
        similar = changes.Similarity(found, found, [([k for k, _ in pairs], [k for _, k in pairs])], model)
        beside += [similar.exact(a, b) for a, b in pairs]
    assert len(beside) > 150 and np.mean(np.array(beside) >= changes.IN_PLACE) < 0.05 and max(beside) < changes.MOVED
    rewritten = [(clause(before), clause(after)) for rewrites in REWRITES.values() for before, after, _ in rewrites]
    similar = changes.Similarity([a for a, _ in rewritten], [b for _, b in rewritten],
                                 [(list(range(len(rewritten))), list(range(len(rewritten))))], model)
    assert all(similar.exact(k, k) >= changes.IN_PLACE for k in range(len(rewritten)))


# ---------------------------------------------------------------- two dated versions, indexed: the CLI and the view


@pytest.fixture(scope="module")
def github_versions(tmp_path_factory, model):
    base = tmp_path_factory.mktemp("github-versions")
    (base / "corpus").mkdir()
    shutil.copyfile(POLICIES / "github.md", base / "corpus" / "github@2024-01-01.md")
    (base / "corpus" / "github@2025-06-01.md").write_text(edited("github.md"), encoding="utf-8")
    store.build(base / "corpus", base / "index", model)
    return base / "index"


def test_cli_lists_the_rewrites_and_with_all_the_rest(github_versions):
    listed = subprocess.run([POLICYQA, "changes", "github", "--index", str(github_versions), "--json"],
                            capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr
    diff = json.loads(listed.stdout)
    assert [c["kind"] for c in diff["changes"]] == ["changed", "changed"] and diff["hidden"] > 0
    assert all(c["words_changed"] for c in diff["changes"])
    assert "30 days → 60 days" in diff["changes"][1]["summary"]
    every = json.loads(subprocess.run([POLICYQA, "changes", "github", "--index", str(github_versions), "--json", "--all"],
                                      capture_output=True, text=True, timeout=300).stdout)
    assert len(every["changes"]) == len(diff["changes"]) + diff["hidden"] and every["hidden"] == 0
    text = subprocess.run([POLICYQA, "changes", "github", "--index", str(github_versions)], capture_output=True,
                          text=True, timeout=300).stdout
    assert text.startswith(f"GitHub Privacy Policy: 2 changes from 2024-01-01 to 2025-06-01 ({diff['hidden']} that "
                           "change no word not shown; --all shows them)")
    assert "\n  Security: rewritten, " in text


def test_the_changes_view_filters_by_section_and_shows_the_hidden_when_asked(github_versions, model):
    diff = changes.between(store.load(github_versions), model, "github")
    sections = ui.section_choices(diff)
    assert [name for name, _ in sections] == ["Security (1)", "Changes to Our Privacy Statement (1)"]
    html = ui.render_changes(diff, "Security")
    assert html.count('class="pq-change ') == 1 and 'data-section="Security"' in html
    assert "Showing the 1 in “Security”" in html and f"{diff.to_json()['hidden']} that change no word" in html
    every = ui.render_changes(diff, everything=True)
    assert every.count('class="pq-change ') == len(diff.changes) and "No word changed" in every
