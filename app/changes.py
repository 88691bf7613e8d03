"""What changed between two versions of a policy, clause by clause, as a person would list it, and answers to
questions about it.

The two versions' clauses are aligned as sequences (difflib): runs of identical clauses anchor the alignment, and
between two anchors the clauses that differ stand in the same place. A clause found word for word elsewhere merely
moved (no change). Of the rest, a clause that keeps its place and its subject is one `changed` entry with both
texts: paired in order within its place when similar enough, in words (difflib) and in meaning (the embedding
model), or anywhere when more similar still (moved and reworded). A clause left beside a pair that was split off
it, or merged into it, goes with it. What is left over was `removed` or `added`.

An entry whose words did not change (punctuation, formatting, a link's target, where the clauses split) is kept
but not listed by default; each listed change has a one-line summary of what moved ("Retention period: 5 years →
7 years").
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np

from . import answer as answers, excerpts, search, versions
from .embedder import Embedder
from .errors import PolicyQAError
from .records import Answer, Citation, Clause, Policy
from .store import Index

# How similar two clauses must be to be one clause reworded: the mean of their word-sequence similarity (difflib
# ratio) and the cosine of their embeddings. Of two different paragraphs side by side in one section of the shared
# policies (../shared/policies), 4 in 100 score IN_PLACE or more, none MOVED (0.64 at most); the clauses rewritten in
# place in tests/test_changes.py score 0.5 to 1.
IN_PLACE = 0.5  # a clause in the place of another
MOVED = 0.7  # a clause that also moved
CONTEXT = 3  # words shown before a changed phrase
SHOWN = 10  # words of a changed phrase shown at most
LONGEST = 200  # characters of edits a summary shows before "and N more" (it shows one at least)
JOINED = 3  # words between two edits that read as one ("5 years and 3 months" -> "7 years and 6 months")
REWRITTEN = 0.5  # the share of a clause's words in edits (more than shown) from which it reads as rewritten
RUN = 3  # words in a row that show a clause's words stand on the other side (not single common words here and there)
ALIGNED_KEPT = 64  # alignments kept in memory, the oldest dropped first
# A change answers a question about one subject ("did you change how long you keep my data?") when its clause
# ranks within this much of the best clause of either version for that subject.
RELEVANT_MARGIN = 0.25


def wording(text: str) -> list[str]:
    """The words of `text` as a reader compares them: letters and digits, case aside; punctuation, markup and white
    space are not words."""
    return re.findall(r"\w+", text.casefold())


@dataclass(frozen=True)
class Change:
    kind: str  # "added", "removed" or "changed"
    before: Clause | None
    after: Clause | None
    words_changed: bool = True  # False: only punctuation, formatting, link targets or where the clauses split
    # clauses whose words stand unchanged in this one's other version: split off it (after) or merged into it (before)
    also_before: tuple[Clause, ...] = ()
    also_after: tuple[Clause, ...] = ()

    @property
    def section(self) -> str:
        return (self.after or self.before).section

    @property
    def before_text(self) -> str | None:
        return _joined(self.before, self.also_before)

    @property
    def after_text(self) -> str | None:
        return _joined(self.after, self.also_after)

    @property
    def summary(self) -> str:
        return summary(self)

    def to_json(self) -> dict:
        return {"kind": self.kind, "section": self.section, "summary": self.summary, "before": self.before_text,
                "after": self.after_text, "words_changed": self.words_changed}


def _joined(clause: Clause | None, more: tuple[Clause, ...]) -> str | None:
    return "\n\n".join(c.text for c in sorted((clause, *more), key=lambda c: c.number)) if clause else None


@dataclass(frozen=True)
class Diff:
    policy: str
    old: Policy
    new: Policy
    changes: list[Change]  # every entry, those that change no word too

    def listed(self, everything: bool = False) -> list[Change]:
        """The changes a person would list: those that change words (`everything`: all entries)."""
        return [c for c in self.changes if everything or c.words_changed]

    def to_json(self, everything: bool = False) -> dict:
        listed = self.listed(everything)
        return {"policy": self.policy, "from": self.old.version, "to": self.new.version,
                "changes": [c.to_json() for c in listed], "hidden": len(self.changes) - len(listed)}


_ALIGNED: OrderedDict[tuple[str, str, str, str], list[Change]] = OrderedDict()  # (generation, old, new, model)


def between(index: Index, embedder: Embedder, policy: str, since: str | None = None, until: str | None = None) -> Diff:
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
    key = (str(index.path), old.key, new.key, embedder.name)
    if key not in _ALIGNED:  # versions long apart take seconds to embed: the Changes tab's filters and questions reuse it
        _ALIGNED[key] = align(clauses_of(index, old), clauses_of(index, new), embedder)
        if len(_ALIGNED) > ALIGNED_KEPT:
            _ALIGNED.popitem(last=False)
    return Diff(policy, old, new, _ALIGNED[key])


def clauses_of(index: Index, version: Policy) -> list[Clause]:
    lo, hi = index.ranges[version.key]
    return index.clauses[lo:hi]


# ---------------------------------------------------------------- aligning two versions' clauses


def align(old: list[Clause], new: list[Clause], embedder: Embedder) -> list[Change]:
    """Clause-level changes from `old` to `new`, in the order of the new version."""
    texts = [" ".join(c.text.split()) for c in old], [" ".join(c.text.split()) for c in new]
    unchanged: dict[int, int] = {}  # old position -> new position
    places: list[Place] = []  # the clauses between two runs of unchanged ones
    for op, i1, i2, j1, j2 in SequenceMatcher(None, *texts, autojunk=False).get_opcodes():
        if op == "equal":
            unchanged.update(zip(range(i1, i2), range(j1, j2)))
        else:
            places.append((list(range(i1, i2)), list(range(j1, j2))))
    unchanged.update(_same(places, *texts))  # moved word for word
    places = _unpaired(places, unchanged)
    untouched = _untouched(places, old, new)
    # only punctuation or formatting differ; then reworded in place; then reworded and moved
    reworded = _same(places, [" ".join(wording(c.text)) for c in old], [" ".join(wording(c.text)) for c in new])
    similar = Similarity(old, new, _unpaired(places, reworded), embedder)
    for olds, news in _unpaired(places, reworded):
        reworded.update(_in_order(olds, news, similar))
    left = _unpaired(places, reworded)
    reworded.update(_most_similar([i for olds, _ in left for i in olds], [j for _, news in left for j in news], similar))
    return _changes(old, new, unchanged | reworded, reworded, untouched)


Place = tuple[list[int], list[int]]  # old and new positions of clauses that stand in one place


def _unpaired(places: list[Place], pairs: dict[int, int]) -> list[Place]:
    taken = set(pairs.values())
    return [([i for i in olds if i not in pairs], [j for j in news if j not in taken]) for olds, news in places]


def _same(places: list[Place], old: list[str], new: list[str]) -> dict[int, int]:
    """Clauses of one place or another whose keys (`old`, `new`) are equal, in order."""
    waiting: dict[str, list[int]] = {}
    for _, news in places:
        for j in news:
            waiting.setdefault(new[j], []).append(j)
    return {i: waiting[old[i]].pop(0) for olds, _ in places for i in olds if waiting.get(old[i])}


def _untouched(places: list[Place], old: list[Clause], new: list[Clause]) -> tuple[set[int], set[int]]:
    """The old and the new clauses each of whose words stands, in order, on the other side of its place: what was
    only split into clauses otherwise (a paragraph split in two) or moved between them, no word of it changed."""
    olds: set[int] = set()
    news: set[int] = set()
    for i, j in places:
        words = [[(a, w) for a in i for w in wording(old[a].text)], [(b, w) for b in j for w in wording(new[b].text)]]
        kept = [Counter(), Counter()]  # clause -> its words matched on the other side
        matcher = SequenceMatcher(None, [w for _, w in words[0]], [w for _, w in words[1]], autojunk=False)
        for x, y, size in (block for block in matcher.get_matching_blocks() if block.size >= RUN):
            kept[0].update(a for a, _ in words[0][x:x + size])
            kept[1].update(b for b, _ in words[1][y:y + size])
        olds.update(a for a in i if kept[0][a] == len(wording(old[a].text)))
        news.update(b for b in j if kept[1][b] == len(wording(new[b].text)))
    return olds, news


def _changes(old: list[Clause], new: list[Clause], pairs: dict[int, int], reworded: dict[int, int],
             untouched: tuple[set[int], set[int]]) -> list[Change]:
    """The entries, in the order of the new version; a removed clause after where the clause before it went. A clause
    split off a reworded one, or merged into it, its words unchanged, goes with it."""
    split, merged = _companions(reworded, old, new)
    entries: list[tuple[tuple[int, int], Change]] = []
    for i, j in reworded.items():
        before, after = tuple(old[k] for k in merged.get(j, ())), tuple(new[k] for k in split.get(i, ()))
        words = not (i in untouched[0] and j in untouched[1]) and (wording(_joined(old[i], before))
                                                                   != wording(_joined(new[j], after)))
        entries.append(((j, 1), Change("changed", old[i], new[j], words, before, after)))
    gone_with = {k for ks in merged.values() for k in ks}
    came_with = {k for ks in split.values() for k in ks}
    for j in sorted(set(range(len(new))) - set(pairs.values()) - came_with):
        entries.append(((j, 1), Change("added", None, new[j], j not in untouched[1])))
    for i in sorted(set(range(len(old))) - set(pairs) - gone_with):
        before = [pairs[p] for p in pairs if p < i]
        entries.append(((max(before, default=-1), 2), Change("removed", old[i], None, i not in untouched[0])))
    return [change for _, change in sorted(entries, key=lambda item: item[0])]


def _companions(pairs: dict[int, int], old: list[Clause], new: list[Clause]
                ) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """Old clause -> the new clauses beside its reworded one that were split off it; new clause -> the old clauses
    beside its earlier one that were merged into it. A clause left over beside a pair joins it when it makes the
    pair's texts more alike (a paragraph split in two reads as one change, a new paragraph beside it does not)."""
    added = set(range(len(new))) - set(pairs.values())
    removed = set(range(len(old))) - set(pairs)
    split = {i: _grown(old[i].text, j, new, added) for i, j in pairs.items()}
    merged = {j: _grown(new[j].text, i, old, removed) for i, j in pairs.items()}
    return {i: found for i, found in split.items() if found}, {j: found for j, found in merged.items() if found}


def _grown(text: str, start: int, clauses: list[Clause], free: set[int]) -> list[int]:
    """The free clauses beside clauses[start] (taken from `free`) that, joined to it, read more like `text`."""
    group, best = [start], _alike(text, clauses[start].text)
    while True:
        options = [k for k in (group[0] - 1, group[-1] + 1) if k in free]
        scored = [(_alike(text, "\n\n".join(c.text for c in clauses[min(group[0], k):max(group[-1], k) + 1])), k)
                  for k in options]
        score, k = max(scored, default=(0.0, None))
        if k is None or score <= best:
            return [k for k in group if k != start]
        group, best = sorted(group + [k]), score
        free.discard(k)


def _alike(a: str, b: str) -> float:
    return SequenceMatcher(None, wording(a), wording(b), autojunk=False).ratio()


class Similarity:
    """How alike an old and a new clause are, 0 to 1: the mean of their word-sequence similarity and the cosine of
    their embeddings (only the clauses of `places` are embedded)."""

    def __init__(self, old: list[Clause], new: list[Clause], places: list[Place], embedder: Embedder):
        olds, news = [i for olds, _ in places for i in olds], [j for _, news in places for j in news]
        self.words = {("old", i): wording(old[i].text) for i in olds} | {("new", j): wording(new[j].text) for j in news}
        keys = [("old", i) for i in olds] + [("new", j) for j in news]
        texts = [old[i].text for i in olds] + [new[j].text for j in news]
        self.vectors = dict(zip(keys, embedder.encode(texts))) if texts else {}
        self.scores: dict[tuple[int, int], float] = {}

    def __call__(self, i: int, j: int) -> float:
        """Exact from IN_PLACE up; below it, a bound (from the word similarity's cheap upper bound), which is all the
        alignment needs there."""
        if (i, j) not in self.scores:
            matcher = SequenceMatcher(None, self.words["old", i], self.words["new", j], autojunk=False)
            bound = (matcher.quick_ratio() + self._meaning(i, j)) / 2
            self.scores[i, j] = bound if bound < IN_PLACE else self.exact(i, j)
        return self.scores[i, j]

    def exact(self, i: int, j: int) -> float:
        words = SequenceMatcher(None, self.words["old", i], self.words["new", j], autojunk=False).ratio()
        return (words + self._meaning(i, j)) / 2

    def _meaning(self, i: int, j: int) -> float:
        return float(self.vectors["old", i] @ self.vectors["new", j])


def _in_order(olds: list[int], news: list[int], similar: Similarity) -> dict[int, int]:
    """The pairs of one place, in order on both sides, similar enough to be one clause reworded, of the greatest
    total similarity (a dynamic programme over the place's old and new clauses)."""
    if not olds or not news:
        return {}
    n, m = len(olds), len(news)
    best = np.zeros((n + 1, m + 1))
    for a in range(n - 1, -1, -1):
        for b in range(m - 1, -1, -1):
            gain = similar(olds[a], news[b]) - IN_PLACE
            best[a, b] = max(best[a + 1, b], best[a, b + 1], best[a + 1, b + 1] + gain if gain >= 0 else -1.0)
    pairs, a, b = {}, 0, 0
    while a < n and b < m:
        gain = similar(olds[a], news[b]) - IN_PLACE
        if gain >= 0 and best[a, b] == best[a + 1, b + 1] + gain:
            pairs[olds[a]] = news[b]
            a, b = a + 1, b + 1
        elif best[a, b] == best[a + 1, b]:
            a += 1
        else:
            b += 1
    return pairs


def _most_similar(olds: list[int], news: list[int], similar: Similarity) -> dict[int, int]:
    """Pairs of clauses left in different places, similar enough to be one clause moved and reworded, the most
    similar first."""
    scored = sorted(((similar(i, j), i, j) for i in olds for j in news), reverse=True)
    pairs: dict[int, int] = {}
    for score, i, j in scored:
        if score >= MOVED and i not in pairs and j not in pairs.values():
            pairs[i] = j
    return pairs


# ---------------------------------------------------------------- summaries


@dataclass(frozen=True)
class _Token:
    text: str
    key: str  # its letters and digits, case folded: "" for punctuation alone
    opens_line: bool


def _tokens(text: str) -> list[_Token]:
    found, end = [], 0
    for m in re.finditer(r"\S+", text):
        found.append(_Token(m.group(), "".join(wording(m.group())), not found or "\n" in text[end:m.start()]))
        end = m.end()
    return found


def summary(change: Change) -> str:
    """One line saying what moved: the words that differ with a few words of context ("Retention period: 5 years →
    7 years"), the start of a clause added or removed, or that no word changed. A clause mostly rewritten is labelled by its
    heading, with the numbers that changed ("Security: rewritten, 24 of 33 words; 30 days → 60 days")."""
    if change.kind != "changed":  # what the clause says (the entry says that it was added or removed)
        return f"“{_shown(_tokens((change.after or change.before).text))}”"
    if not change.words_changed:
        return "No word changed (punctuation, formatting, links or where the clauses split)."
    a, b = _tokens(change.before_text), _tokens(change.after_text)
    edits = _edits(a, b)
    # an edit with a number in it (a period, an age, an amount) first, then in the order of the text
    said = [_edit(a, b, *edit) for edit in sorted(edits, key=lambda e: not _has_number(a[e[0]:e[1]] + b[e[2]:e[3]]))]
    changed = sum(i2 - i1 + j2 - j1 for i1, i2, j1, j2 in edits)
    if changed > max(REWRITTEN * (len(a) + len(b)), 2 * SHOWN):  # more words than the edits could show
        was, now = _numbers(a, [e[:2] for e in edits]), _numbers(b, [e[2:] for e in edits])
        moved = f"; {was or '…'} → {now or '…'}" if was or now else ""
        label = change.section.rpartition(" › ")[2] or "Opening"
        return f"{label}: rewritten, {changed} of {len(a) + len(b)} words{moved}"
    shown = next(n for n in range(len(said), 0, -1) if n == 1 or len("; ".join(said[:n])) <= LONGEST)
    rest = len(said) - shown
    return "; ".join(said[:shown]) + (f"; and {rest} more edit{'s' * (rest > 1)}" if rest else "")


def _edits(a: list[_Token], b: list[_Token]) -> list[tuple[int, int, int, int]]:
    """The runs of words that differ, (a1, a2, b1, b2); edits at most JOINED words apart read as one."""
    edits: list[list[int]] = []
    opcodes = SequenceMatcher(None, [t.key for t in a], [t.key for t in b], autojunk=False).get_opcodes()
    for op, i1, i2, j1, j2 in opcodes:
        if op == "equal" or "".join(t.key for t in a[i1:i2]) == "".join(t.key for t in b[j1:j2]):
            continue
        if edits and i1 - edits[-1][1] <= JOINED and j1 - edits[-1][3] <= JOINED:
            edits[-1][1], edits[-1][3] = i2, j2
        else:
            edits.append([i1, i2, j1, j2])
    return [tuple(e) for e in edits]


def _has_number(tokens: list[_Token]) -> bool:
    return any(re.search(r"\d", t.key) for t in tokens)


def _numbers(tokens: list[_Token], spans: list[tuple[int, int]]) -> str:
    """The numbers within `spans` of `tokens`, each with the word after it ("30 days")."""
    return ", ".join(" ".join(t.text for t in tokens[k:k + 2]) for lo, hi in spans for k in range(lo, hi)
                     if _has_number(tokens[k:k + 1]))


def _edit(a: list[_Token], b: list[_Token], i1: int, i2: int, j1: int, j2: int) -> str:
    before, after = _left(b, j1), _right(b, j2)
    if i1 < i2 and j1 < j2:
        return " ".join(filter(None, (before, _shown(a[i1:i2]), _right(a, i2), "→", _shown(b[j1:j2]), after)))
    what = f"added “{_shown(b[j1:j2])}”" if i1 == i2 else f"removed “{_shown(a[i1:i2])}”"
    return what + (f" after “{before}”" if before else f" before “{after}”" if after else "")


def _left(tokens: list[_Token], end: int) -> str:
    """Up to CONTEXT words of context before a change, within its line, its sentence and its table cell."""
    start = end
    while (start > 0 and end - start < CONTEXT and tokens[start - 1].key
           and not re.search(r"[.!?;]$", tokens[start - 1].text) and (start == len(tokens) or not tokens[start].opens_line)):
        start -= 1
    return " ".join(t.text for t in tokens[start:end])


def _right(tokens: list[_Token], start: int) -> str:
    """Up to two words of context after a change, within its line, its part of a sentence and its table cell."""
    end = start
    while end < len(tokens) and end - start < 2 and tokens[end].key and not tokens[end].opens_line:
        end += 1
        if re.search(r"[.,;:!?]$", tokens[end - 1].text):
            break
    return " ".join(t.text for t in tokens[start:end])


def _shown(tokens: list[_Token]) -> str:
    return " ".join(t.text for t in tokens[:SHOWN]) + (" …" if len(tokens) > SHOWN else "")


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
            diffs.append(between(index, embedder, pid, until=current.version))
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
        relevant = _about(index, embedder, diff, topic) if topic else diff.listed()
        paragraphs += _describe(diff, relevant, citations, top_k, bool(topic))
    return Answer(found.question, True, "\n\n".join(paragraphs), citations, found.scope, as_of=found.as_of)


def _about(index: Index, embedder: Embedder, diff: Diff, topic: str) -> list[Change]:
    """The changes whose clauses answer `topic` about as well as the best clause of either version does."""
    if not diff.listed():
        return []
    hits = search.retrieve(index, embedder, topic, [diff.old.key, diff.new.key], k=len(index.clauses))
    score = {hit.clause.key: hit.score for hit in hits}
    best = max(score.values(), default=0.0)
    ranked = [(max(score.get(c.key, -np.inf) for c in (change.before, change.after) if c), change)
              for change in diff.listed()]
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
