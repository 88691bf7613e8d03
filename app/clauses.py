"""Group a policy's blocks into clauses along its own structure, with sentences and offsets.

A clause is what a reader would quote together: a paragraph, or a lead-in with its list
("...for the following purposes:" + items), or a labelled record with its fields
("Records of payment ... / Reason for preservation: ... / Retention period: 5 years"), or one
row of a table (its cells, each labelled by its column's name for search).
Every clause is a slice of the policy's clean text and knows its span in the source file.
"""

from __future__ import annotations

import re

from . import quotes
from .documents import Block, is_date_line
from .records import Clause, Policy, Sentence

MAX_CHARS = 1000  # about the 256 word pieces the embedding model reads
MIN_CHARS = 60
SEPARATOR = "\n\n"  # between blocks in the clean text (documents.load joins with it)

_ANNOUNCES = re.compile(r"\b(?:as follows|the following|listed below|set out below|specified below)\b", re.I)
_KEY_VALUE = re.compile(r"^[^:.;]{2,50}:\s*\S")
# ...and the abbreviations of legal citations ("Cal. Civ. Code § 1798.83", "20 U.S.C. Sec. 1232g", "Art. 6"), in
# German, French, Spanish and Italian policies too ("Art. 6 Abs. 1 lit. f DSGVO", "z. B.", "art. 13 al. 2")
_ABBREVIATIONS = re.compile(r"(?:\b(?:e\.g|i\.e|etc|Co|Ltd|Inc|Dr|Mr|Ms|Mrs|No|vs|St|U\.S|Cal|Civ|Bus|Prof|Gov|Fed|Reg|Regs"
                            r"|Sec|Secs|Stat|Ann|Art|Arts|Para|Ch|Pub|Corp"
                            r"|Abs|Nr|lit|bzw|ggf|gem|vgl|inkl|evtl|usw|Ziff|sog|insb|ca|art|al|cf|núm|lett)\.|\b[A-Za-z]\.)$")
# "4." and, in Korean, "가." open an item: they end nothing
_LIST_MARKER = re.compile(r"\s*[-–—•]?\s*\(?(?:\d{1,3}|[a-zA-Z]|[ivxIVX]{1,4}|[가나다라마바사아자차카타파하])[.)]")
# A sentence ends at . ! or ? before a capital, a digit or (Korean) a syllable, or at the full stop of Chinese and
# Japanese, which needs no space after it
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)]*\s+(?=[\"'“‘(¿¡]?[A-Z0-9À-ÖØ-Þ가-힣])|;\s+(?=[A-Z])|[。！？]+[」』）\"'”’)]*\s*")


def split(policy: Policy, blocks: list[Block]) -> list[Clause]:
    spans, pos = [], 0
    for block in blocks:
        spans.append((pos, pos + len(block.text)))
        pos += len(block.text) + len(SEPARATOR)
    # a line that dates the policy stands alone: merged into its neighbour it would be lost in the neighbour's words;
    # so does a table row, whose cells read as one record
    sizes = [MIN_CHARS if is_date_line(b.text.text) else len(b.text) for b in blocks]
    groups = _merge_small(_group(blocks), sizes, {i for i, b in enumerate(blocks) if b.kind == "row"})
    clauses = []
    for section, members in groups:
        start, end = spans[members[0]][0], spans[members[-1]][1]
        windows = _windows(policy.text, start, end)
        labels = blocks[members[0]].labels if len(members) == len(windows) == 1 else ()
        for a, b in windows:
            clauses.append(_clause(policy, len(clauses), section, a, b, labels))
    return clauses


def _group(blocks: list[Block]) -> list[tuple[str, list[int]]]:
    path: list[tuple[int, str]] = []
    groups: list[tuple[str, list[int]]] = []
    current: list[int] | None = None
    title_seen = False
    for i, block in enumerate(blocks):
        if block.kind == "heading":
            if block.level == 1 and not title_seen and not groups:
                title_seen = True  # the document's own title is not a section
                continue
            path = [p for p in path if p[0] < block.level] + [(block.level, block.text.text)]
            current = None
            continue
        if current is not None and "row" not in (block.kind, blocks[current[-1]].kind) and _belongs(blocks, current, block):
            current.append(i)
        else:
            current = [i]
            groups.append((" › ".join(t for _, t in path), current))
    return groups


def _belongs(blocks: list[Block], group: list[int], block: Block) -> bool:
    """Does `block` continue the clause made of `group`?"""
    size = sum(len(blocks[i].text) for i in group)
    if size + len(block.text) > MAX_CHARS:
        return False
    last, first = blocks[group[-1]], blocks[group[0]]
    text = block.text.text
    if is_date_line(text) or is_date_line(last.text.text):
        return False
    if len(text) <= 120 and _KEY_VALUE.match(text):
        return True  # "Retention period: 5 years" belongs to the record above it
    if _leads_in(last.text.text):
        return True  # a lead-in takes what follows
    if _is_label(last.text.text):
        return True  # "– Method of destruction" takes its explanation
    if block.kind == "item":
        # "...the following purposes:", or a paragraph whose sentence the list finishes ("...the CCPA, including by")
        opening = first.text.text.rstrip()
        lead_in = opening.endswith(":") or first.kind == "text" and not _is_label(opening) and bool(re.search(r"[a-z,]$", opening))
        deeper = last.kind == "item" and block.level > first.level
        return lead_in or deeper
    return False


def _leads_in(text: str) -> bool:
    """Does the block announce what follows: "...for the following purposes:", "...are as follows.",
    "However, exceptions are made in the following cases."?"""
    text = text.rstrip()
    spans = sentence_spans(text, 0, len(text))
    return text.endswith(":") or bool(spans and _ANNOUNCES.search(text[spans[-1][0]:]))


def _is_label(text: str) -> bool:
    return len(text) <= 80 and ":" not in text and not re.search(r"[.;!?,。．；！？，、]\W*$", text.rstrip())


def _merge_small(groups: list[tuple[str, list[int]]], sizes: list[int], alone: set[int]) -> list[tuple[str, list[int]]]:
    """Fold clauses too short to stand alone into their neighbour in the same section, never across a
    heading (a repeated heading gives the same section name on both sides of it), never with a block that
    stands `alone`."""
    merged: list[tuple[str, list[int]]] = []
    pending: tuple[str, list[int]] | None = None
    joins = lambda before, after: (before[0] == after[0] and after[1][0] == before[1][-1] + 1  # noqa: E731
                                   and not alone & {before[1][-1], after[1][0]})
    for section, members in groups:
        if pending and joins(pending, (section, members)):
            members = pending[1] + members
        elif pending:
            merged.append(pending)
        pending = None
        if sum(sizes[i] for i in members) < MIN_CHARS and not alone & set(members):
            pending = (section, members)
        else:
            merged.append((section, members))
    if pending:
        if merged and joins(merged[-1], pending):
            merged[-1] = (pending[0], merged[-1][1] + pending[1])
        else:
            merged.append(pending)
    return merged


def _windows(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut an over-long clause at sentence ends into pieces of at most MAX_CHARS."""
    if end - start <= MAX_CHARS * 1.3:
        return [(start, end)]
    pieces, piece_start, last_cut = [], start, start
    for s, e in sentence_spans(text, start, end):
        if e - piece_start > MAX_CHARS and last_cut > piece_start:
            pieces.append((piece_start, last_cut))
            piece_start = s
        last_cut = e
    pieces.append((piece_start, end))
    return pieces


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentences of text[start:end] as spans; block breaks always end a sentence."""
    spans = []
    for para in re.finditer(r"[^\n]+", text[start:end]):
        p0, p1 = start + para.start(), start + para.end()
        s0 = p0
        for m in _SENTENCE_END.finditer(text, p0, p1):
            so_far = text[s0:m.start() + 1]
            if _ABBREVIATIONS.search(so_far) or _LIST_MARKER.fullmatch(so_far):
                continue
            cut = m.start() + len(m.group().rstrip())
            spans.append((s0, cut))
            s0 = m.end()
        if s0 < p1:
            spans.append((s0, p1))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def _clause(policy: Policy, number: int, section: str, start: int, end: int, labels: tuple[str, ...] = ()) -> Clause:
    sentences = tuple(
        Sentence(a, b, policy.offsets[a], policy.offsets[b - 1] + 1) for a, b in sentence_spans(policy.text, start, end)
    )
    return Clause(
        policy=policy.id,
        number=number,
        section=section,
        text=policy.text[start:end],
        clean_start=start,
        clean_end=end,
        start=sentences[0].start,
        end=sentences[-1].end,
        sentences=sentences,
        gaps=quotes.gaps(policy, start, end),
        labels=labels,
    )
