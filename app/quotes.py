"""A quote is one contiguous stretch of the source as a reader sees it; where it must skip, it shows … at the gap.

Cleaning drops more than markup: a table's header row, a table of contents, site chrome, repeated blocks. A clause
whose clean text runs across such a place reads as one passage while the page shows words in between. `gaps` finds
those places when the clause is made (the clean text and its offsets into the source are at hand only then); `cut`
turns sentences [a, b) of a clause into the pieces a citation quotes, each standing whole in the source.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from .documents import LINK_TARGET, MARKUP_BRACES, fix_mojibake
from .records import Clause, Gap, Policy

MARK = " … "  # between two pieces of a quote
_WORD = re.compile(r"[^\W_]")  # a letter or digit: what a reader would miss
# Markdown that shows no words: link targets ("](https://…)", "][ref]"), footnote marks and reference-link
# definitions ("[ref]: https://…" on a line of its own); and MARKUP_BRACES (attribute lists, Liquid tags)
_HIDDEN_MARKDOWN = re.compile(r"\]" + LINK_TARGET + r"|\]\[[^\]\n]*\]|\[\^[^\]\s]+\]|^[ \t]*\[[^\]\n]+\]:[ \t]*\S.*$", re.M)
_UNSEEN_TAGS = {"script", "style", "head", "title", "template", "noscript"}
_VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def gaps(policy: Policy, start: int, end: int) -> tuple[Gap, ...]:
    """Where policy.text[start:end] skips source text a reader sees (more than markup and white space)."""
    text, offsets = policy.text, policy.offsets
    found = []
    for i in range(start, end - 1):
        if offsets[i + 1] > offsets[i] + 1 and _skips_words(policy.source_text, text[i], offsets[i], offsets[i + 1]):
            before, after = i + 1, i + 1
            while before > start and text[before - 1].isspace():
                before -= 1
            while after < end and text[after].isspace():
                after += 1
            found.append(Gap(before, offsets[before - 1] + 1, after, offsets[after]))
    return tuple(found)


def _skips_words(source: str, char: str, at: int, following: int) -> bool:
    """Does the source between clean character `char` (from offset `at`) and the next one (from `following`) hold
    words a reader sees? The words after `at` count unless `char` itself shows them: a character can stand for
    several of the source's (an entity, a tag read as a space, "ê°œ" repaired to "개")."""
    shown = fix_mojibake(_shown(source[at:following])).strip()
    return bool(_WORD.search(_shown(source[at + 1:following])) and _WORD.search(shown.removeprefix(char.strip())))


def _shown(source: str) -> str:
    """What a page shows of a stretch of its source: not markup, hidden elements or scripts."""
    if not _WORD.search(source):
        return source
    parser = _ShownText()
    parser.feed(MARKUP_BRACES.sub(" ", _HIDDEN_MARKDOWN.sub(" ", source)))
    parser.close()
    return "".join(parser.shown)


class _ShownText(HTMLParser):
    """The text of an HTML (or Markdown) fragment that a page shows: not tags, comments, scripts or hidden elements."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.shown: list[str] = []
        self.open: list[tuple[str, bool]] = []  # each open element's tag, and whether it (or one around it) is hidden

    def handle_starttag(self, tag, attrs):
        if tag in _VOID_TAGS:
            return
        named = dict(attrs)
        style = re.sub(r"\s", "", named.get("style") or "").lower()
        hidden = (tag in _UNSEEN_TAGS or "hidden" in named or named.get("aria-hidden") == "true"
                  or "display:none" in style)
        self.open.append((tag, hidden or bool(self.open and self.open[-1][1])))

    def handle_endtag(self, tag):
        if any(t == tag for t, _ in self.open):  # closes its element and any left open inside it
            while self.open.pop()[0] != tag:
                pass

    def handle_data(self, data):
        if not (self.open and self.open[-1][1]):
            self.shown.append(data)


def cut(clause: Clause, span: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Sentences [a, b) of `clause` as the pieces a quote shows: (clean_start, clean_end, start, end) each, split
    at the clause's gaps inside them."""
    first, last = clause.sentences[span[0]], clause.sentences[span[1] - 1]
    inside = [g for g in clause.gaps if first.clean_start < g.clean_start and g.clean_end < last.clean_end]
    starts = [(first.clean_start, first.start)] + [(g.clean_start, g.start) for g in inside]
    ends = [(g.clean_end, g.end) for g in inside] + [(last.clean_end, last.end)]
    return [(a, b, start, end) for (a, start), (b, end) in zip(starts, ends)]


def text(policy_text: str, pieces: list[tuple[int, int, int, int]]) -> str:
    """The quote: each piece's words, a block of the policy a line, the pieces joined by the gap mark."""
    return MARK.join("\n".join(line.strip() for line in policy_text[a:b].split("\n\n")) for a, b, _, _ in pieces)


def clean_spans(clause: Clause, pieces: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A citation's pieces (source offsets) as spans of the clause's clean text: through the sentences and gaps
    whose edges they are; pieces that are not (an older citation) are left out."""
    starts = {s.start: s.clean_start for s in clause.sentences} | {g.start: g.clean_start for g in clause.gaps}
    ends = {s.end: s.clean_end for s in clause.sentences} | {g.end: g.clean_end for g in clause.gaps}
    return [(starts[a], ends[b]) for a, b in pieces if a in starts and b in ends]
