"""What changed between two versions of a policy, clause by clause, and answers to questions about it.

Clauses are aligned first by identical text, wherever they stand (an untouched or merely moved clause is no
change), then the rest by word similarity (difflib), a shared section counting for it: a pair similar enough
is one `changed` entry with both texts; what is left over was `removed` or `added`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np

from . import answer as answers, excerpts, search, versions
from .embedder import Embedder
from .errors import PolicyQAError
from .records import Answer, Citation, Clause, Policy
from .store import Index

SIMILAR = 0.5  # word-sequence similarity (difflib ratio) from which two clauses are one clause reworded
SAME_SECTION = 0.15  # what sharing a section adds to it
# A change answers a question about one subject ("did you change how long you keep my data?") when its clause
# ranks within this much of the best clause of either version for that subject.
RELEVANT_MARGIN = 0.25


@dataclass(frozen=True)
class Change:
    kind: str  # "added", "removed" or "changed"
    before: Clause | None
    after: Clause | None

    @property
    def section(self) -> str:
        return (self.after or self.before).section

    def to_json(self) -> dict:
        return {"kind": self.kind, "section": self.section, "before": self.before.text if self.before else None,
                "after": self.after.text if self.after else None}


@dataclass(frozen=True)
class Diff:
    policy: str
    old: Policy
    new: Policy
    changes: list[Change]

    def to_json(self) -> dict:
        return {"policy": self.policy, "from": self.old.version, "to": self.new.version,
                "changes": [c.to_json() for c in self.changes]}


def between(index: Index, policy: str, since: str | None = None, until: str | None = None) -> Diff:
    """The changes from version `since` to version `until` of `policy` (default: its two latest)."""
    known = versions.of(index, policy)
    if len(known) < 2:
        raise PolicyQAError(f"{policy} has one version only ({known[0].version or 'undated'}); "
                            f"add a dated file such as {policy}@YYYY-MM-DD.md to compare versions.")
    new = versions.named(index, policy, until) if until else known[-1]
    if since is None:
        earlier = [v for v in known if v.version < new.version]
        if not earlier:
            raise PolicyQAError(f"{new.version} is the first version of {policy}; there is none before it to compare.")
        old = earlier[-1]
    else:
        old = versions.named(index, policy, since)
    if old.version >= new.version:
        raise PolicyQAError(f"--from {old.version} is not earlier than --to {new.version}; give the older version first.")
    return Diff(policy, old, new, align(clauses_of(index, old), clauses_of(index, new)))


def clauses_of(index: Index, version: Policy) -> list[Clause]:
    lo, hi = index.ranges[version.key]
    return index.clauses[lo:hi]


def _words(text: str) -> list[str]:
    return text.split()


def align(old: list[Clause], new: list[Clause]) -> list[Change]:
    """Clause-level changes from `old` to `new`, in the order of the new version."""
    pairs: dict[int, int] = {}  # old position -> new position
    waiting: dict[str, list[int]] = {}
    for j, clause in enumerate(new):
        waiting.setdefault(" ".join(_words(clause.text)), []).append(j)
    for i, clause in enumerate(old):
        same = waiting.get(" ".join(_words(clause.text)))
        if same:
            pairs[i] = same.pop(0)
    reworded = _reworded([i for i in range(len(old)) if i not in pairs],
                         [j for j in range(len(new)) if j not in set(pairs.values())], old, new)
    pairs.update(reworded)
    changes: list[tuple[tuple[float, int], Change]] = []
    for i, j in reworded.items():
        changes.append(((j, 1), Change("changed", old[i], new[j])))
    for j in sorted(set(range(len(new))) - set(pairs.values())):
        changes.append(((j, 1), Change("added", None, new[j])))
    for i in sorted(set(range(len(old))) - set(pairs)):
        before = [pairs[p] for p in pairs if p < i]  # placed after where the clause before it went
        changes.append(((max(before, default=-1), 2), Change("removed", old[i], None)))
    return [change for _, change in sorted(changes, key=lambda item: item[0])]


def _reworded(olds: list[int], news: list[int], old: list[Clause], new: list[Clause]) -> dict[int, int]:
    """Pairs of the unmatched clauses similar enough to be one clause reworded, the most similar first."""
    scored = []
    for i in olds:
        matcher = SequenceMatcher(None, autojunk=False)
        matcher.set_seq2(_words(old[i].text))
        for j in news:
            matcher.set_seq1(_words(new[j].text))
            bonus = SAME_SECTION if old[i].section == new[j].section else 0.0
            if matcher.real_quick_ratio() + bonus < SIMILAR or matcher.quick_ratio() + bonus < SIMILAR:
                continue
            if (score := matcher.ratio() + bonus) >= SIMILAR:
                scored.append((score, i, j))
    pairs: dict[int, int] = {}
    for _, i, j in sorted(scored, reverse=True):
        if i not in pairs and j not in pairs.values():
            pairs[i] = j
    return pairs


def word_diff(before: str, after: str) -> list[tuple[str, str]]:
    """(kind, text) runs from `before` to `after`, word by word: kind is "same", "removed" or "added"."""
    a, b = re.findall(r"\s+|\S+", before), re.findall(r"\s+|\S+", after)
    runs: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            runs.append(("same", "".join(b[j1:j2])))
            continue
        if i2 > i1:
            runs.append(("removed", "".join(a[i1:i2])))
        if j2 > j1:
            runs.append(("added", "".join(b[j1:j2])))
    return runs


# ---------------------------------------------------------------- questions about changes

_ASKS = re.compile(
    r"\bwhat(?:'s|’s| has| have| is| was| were)?\s+(?:been\s+)?(?:changed|different|new|updated|modified|revised)\b"
    r"|\b(?:did|have|has|had)\s+(?!i\b|we\b)(?:\w+\s+){0,3}?(?:been\s+)?"
    r"(?:change|changed|update|updated|modify|modified|revise|revised|amend|amended)\b"
    r"|\b(?:was|were)\s+(?:\w+\s+){0,3}?(?:changed|updated|modified|revised|amended)\b"
    r"|\b(?:latest|last|recent|most\s+recent)\s+(?:changes?|updates?|revisions?|amendments?|version)\b"
    r"|\bnew\s+(?:changes?|updates?)\b"
    r"|\b(?:changes?|updates?|differences?)\s+(?:since|between|from\s+the)\b",
    re.I,
)
_NOT_SUBJECT = re.compile(
    r"\b(?:what|whats|did|do|does|have|has|had|was|were|is|are|been|you|your|they|their|it|its|we|our|the|this|that"
    r"|a|an|in|to|of|on|since|last|latest|recent|recently|most|new|version|versions|policy|policies|privacy|notice"
    r"|statement|terms|anything|something|any|there|changes?|changed|updates?|updated|modif\w*|revis\w*|amend\w*"
    r"|different|differences?|made|make|between|from|now|ever|lately|please|tell|me|us|know)\b",
    re.I,
)


def asks_what_changed(question: str) -> bool:
    """Is the question about how the policy changed ("what changed in your policy?"), not about what the
    policy says of changes ("will you tell me if the policy changes?")?"""
    return bool(_ASKS.search(question))


def subject(question: str) -> str:
    """What a question about changes asks about ("how long you keep my data"); empty when it asks about
    every change ("what changed in your privacy policy?")."""
    rest = _NOT_SUBJECT.sub(" ", re.sub(r"[^\w\s'’-]", " ", question))
    return question if re.search(r"\w{3,}", rest) else ""


def answer(index: Index, embedder: Embedder, found: answers.Assessment, top_k: int) -> Answer | None:
    """The answer to a question about changes, quoted and cited from both versions; None when the question is
    not about changes or no policy in its scope has an earlier version to compare with."""
    if not asks_what_changed(found.question):
        return None
    policies = [found.scope] if found.scope else list(index.policies)
    diffs = []
    for pid in policies:
        current = versions.in_force(index, pid, found.as_of) if found.as_of else index.policies[pid]
        if any(v.version and current.version and v.version < current.version for v in index.versions[pid]):
            diffs.append(between(index, pid, until=current.version))
        elif found.scope and len(index.versions[pid]) > 1:
            return Answer(found.question, False, f"The {current.title} in force on {found.as_of} is its first version "
                          f"(from {current.version}); there is no earlier one to compare it with.", [], found.scope,
                          as_of=found.as_of)
    if not diffs:
        return None
    topic = subject(search.without_names(index, found.question))
    paragraphs: list[str] = []
    citations: list[Citation] = []
    for diff in diffs:
        relevant = _about(index, embedder, diff, topic) if topic else diff.changes
        paragraphs += _describe(diff, relevant, citations, top_k, bool(topic))
    return Answer(found.question, True, "\n\n".join(paragraphs), citations, found.scope, as_of=found.as_of)


def _about(index: Index, embedder: Embedder, diff: Diff, topic: str) -> list[Change]:
    """The changes whose clauses answer `topic` about as well as the best clause of either version does."""
    if not diff.changes:
        return []
    hits = search.retrieve(index, embedder, topic, [diff.old.key, diff.new.key], k=len(index.clauses))
    score = {hit.clause.key: hit.score for hit in hits}
    best = max(score.values(), default=0.0)
    ranked = [(max(score.get(c.key, -np.inf) for c in (change.before, change.after) if c), change)
              for change in diff.changes]
    return [change for s, change in sorted(ranked, key=lambda item: -item[0]) if s >= best - RELEVANT_MARGIN]


def _describe(diff: Diff, changes: list[Change], citations: list[Citation], top_k: int, asked: bool) -> list[str]:
    old, new = diff.old, diff.new
    if not changes:
        what = "nothing about this" if asked else "no clause (only its layout or wording outside its clauses)"
        return [f"The {new.title} of {new.version} changed {what} since the version of {old.version}."]
    lines = [f"The {new.title} changed on {new.version} (the version before was in force from {old.version}):"]
    for change in changes[:top_k]:
        if change.kind == "changed":
            lines += [f"Changed in “{change.section or 'opening'}”, before:", _quote(old, change.before, change, citations),
                      "now:", _quote(new, change.after, change, citations)]
        elif change.kind == "removed":
            lines += [f"Removed from “{change.section or 'opening'}”:", _quote(old, change.before, change, citations)]
        else:
            lines += [f"Added to “{change.section or 'opening'}”:", _quote(new, change.after, change, citations)]
    if len(changes) > top_k:
        lines.append(f"…and {len(changes) - top_k} more; see every change with `policyqa changes {diff.policy}` "
                     f"or GET /api/policies/{diff.policy}/changes.")
    return lines


def _quote(version: Policy, clause: Clause, change: Change, citations: list[Citation]) -> str:
    """Cite the sentences of `clause` that changed (all of a short clause), and return the quote paragraph."""
    span = (0, len(clause.sentences))
    if clause.clean_end - clause.clean_start > excerpts.EXCERPT_CHARS and change.kind == "changed":
        span = _changed_sentences(change, clause is change.after)
    citations.append(answers.cite(version, clause, span, 1.0))
    return f"“{citations[-1].quote}” [{len(citations)}]"


def _changed_sentences(change: Change, after: bool) -> tuple[int, int]:
    """The sentences [a, b) of one side of a changed clause that hold its changed words."""
    mine, other = (change.after, change.before) if after else (change.before, change.after)
    theirs = set(other.sentence_texts())
    touched = [n for n, text in enumerate(mine.sentence_texts()) if text not in theirs] or [0]
    return touched[0], touched[-1] + 1
