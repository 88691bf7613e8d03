"""Properties of the loader, the clause splitter and the offset mapping, over generated policies.

Documents mix Markdown headings, bold run-in headings, bullets, numbered items, 'Article N Title'
inside long paragraphs, links, mojibake, blank lines, CRLF and non-Latin text. For each one:
every clause and sentence points at source text holding its words in order; clauses are ordered
and disjoint; no word of the clean text is lost or duplicated between the blocks and the clauses.
"""

from __future__ import annotations

import re

from hypothesis import example, given, strategies as st

from app import clauses as clause_split, documents
from app.errors import PolicyQAError
from app.mapped import MappedText
from app.records import Clause, Policy
from conftest import EXAMPLES, missing_word


WORDS = ["we", "collect", "your", "data", "personal", "information", "cookies", "partners", "retain", "years",
         "email", "address", "payment", "records", "consent", "delete", "request", "company", "service", "law",
         "third-party", "e.g.", "etc.", "U.S.", "(including", "name)", "users'", "50%", "2019", "DHL,",
         "café", "naïve", "Straße", "données", "개인정보", "보유기간", "データ", "個人情報", "€10", "“quoted”",
         "cafÃ©", "donnÃ©es", "Ã¼ber"]  # the last three are UTF-8 read as Latin-1: ftfy repairs them
TITLE_WORDS = ["Privacy", "Policy", "Cookies", "Retention", "Your", "Rights", "Sharing", "Data", "Security",
               "Contact", "Us", "Children", "개인정보", "Données"]
BULLETS = ["-", "●", "–", "*", "•", "1.", "2.", "3)", "(a)"]

words = st.lists(st.sampled_from(WORDS), min_size=2, max_size=14)
title = st.one_of(st.sampled_from(["Cookies", "Your Rights"]),  # repeated headings are common in policies
                 st.lists(st.sampled_from(TITLE_WORDS), min_size=1, max_size=4).map(" ".join))


@st.composite
def sentence(draw) -> str:
    body = draw(words)
    if draw(st.booleans()) and len(body) > 3:
        at = draw(st.integers(1, len(body) - 2))
        body[at:at + 2] = [f"[{body[at]} {body[at + 1]}](https://example.com/{at})"]  # link syntax
    if draw(st.integers(0, 5)) == 0:
        body.insert(draw(st.integers(0, len(body))), "Â")  # a stray mojibake byte
    end = draw(st.sampled_from([".", ".", "?", ";", ":", ""]))
    return (body[0][:1].upper() + body[0][1:] + " " + " ".join(body[1:])).strip() + end


paragraph = st.lists(sentence(), min_size=1, max_size=5).map(" ".join)


@st.composite
def long_paragraph_with_article(draw) -> str:
    """A policy flattened into one paragraph keeps its 'Article N Title' headings inline."""
    parts = draw(st.lists(st.tuples(title, st.lists(sentence(), min_size=3, max_size=6)), min_size=1, max_size=3))
    text = " ".join(draw(st.lists(sentence(), min_size=3, max_size=6)))
    for n, (heading, body) in enumerate(parts, 1):
        text += f" Article {n} {heading} " + " ".join(body)
    return text


@st.composite
def block(draw) -> list[str]:
    kind = draw(st.sampled_from(["heading", "heading", "bold", "bullets", "paragraph", "paragraph", "short", "article",
                                 "blank"]))
    if kind == "heading":
        return ["#" * draw(st.sampled_from([2, 2, 2, 1, 3])) + " " + draw(title)]
    if kind == "bold":
        colon = draw(st.sampled_from(["", ":"]))
        return [f"**{draw(title)}{colon}** {draw(paragraph)}"]
    if kind == "bullets":
        marker = draw(st.sampled_from(BULLETS))
        indent = draw(st.sampled_from(["", "", "  "]))
        return [f"{indent}{marker} {draw(sentence())}" for _ in range(draw(st.integers(1, 4)))]
    if kind == "article":
        return [draw(long_paragraph_with_article())]
    if kind == "blank":
        return ["", "   "]
    if kind == "short":
        return [draw(st.sampled_from(["We use cookies.", "None.", "Yes, we do.", "See below:"]))]
    return [draw(paragraph)]


@st.composite
def document(draw) -> bytes:
    lines = [line for b in draw(st.lists(block(), min_size=1, max_size=12)) for line in b + [""]]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join(lines).encode("utf-8")


# ---------------------------------------------------------------- checks


MOJIBAKE = {"Ã©": "é", "Ã¼": "ü", "Â": ""}  # what the generated mojibake means; "Â" is noise either way


def source_for(source: str, clean: str, start: int, end: int) -> str:
    """The source text a span covers, its generated mojibake read as the loader repairs it. A character
    repaired from two source characters maps to the first of them (one offset per character), so a
    span ending on such a character is read through to the end of its source word."""
    if clean and end < len(source) and clean[-1] != source[end - 1]:
        end = re.compile(r"\S*").match(source, end).end()
    text = source[start:end]
    for bad, good in MOJIBAKE.items():
        text = text.replace(bad, good)
    return text


def unmarked(clean: str) -> str:
    return clean.replace("Â", "")


def check_spans(policy: Policy, clauses: list[Clause]) -> None:
    """Offsets ordered and in range; clauses and their sentences ordered, disjoint, and pointing at their words."""
    source = policy.source_text
    assert len(policy.offsets) == len(policy.text)
    assert all(a <= b for a, b in zip(policy.offsets, policy.offsets[1:]))
    assert all(0 <= o < len(source) for o in policy.offsets)
    previous_end, previous_clean_end = 0, 0
    for clause in clauses:
        assert clause.text == policy.text[clause.clean_start:clause.clean_end]
        assert previous_clean_end <= clause.clean_start < clause.clean_end
        assert previous_end <= clause.start < clause.end <= len(source)
        previous_end, previous_clean_end = clause.end, clause.clean_end
        assert missing_word(unmarked(clause.text), source_for(source, clause.text, clause.start, clause.end)) is None
        sentence_end = clause.start
        for s in clause.sentences:
            clean = policy.text[s.clean_start:s.clean_end]
            assert clause.clean_start <= s.clean_start < s.clean_end <= clause.clean_end
            assert sentence_end <= s.start < s.end <= clause.end
            sentence_end = s.end
            assert missing_word(unmarked(clean), source_for(source, clean, s.start, s.end)) is None, clean


def check_nothing_lost(blocks: list[documents.Block], clauses: list[Clause]) -> None:
    """The clauses hold exactly the words of the non-heading blocks, in order."""
    body = [w for b in blocks if b.kind != "heading" for w in b.text.text.split()]
    quoted = [w for c in clauses for w in c.text.split()]
    assert quoted == body


REPEATED_HEADING = (b"# T\n\nWe collect your personal data when you use the site and buy things.\n\n## Cookies\n\n"
                    b"We use cookies.\n\n## Cookies\n\nWe use cookies for analytics and advertising on our site.\n")


@EXAMPLES
@given(data=document())
@example(data=REPEATED_HEADING)  # a short clause was merged into the next one across a heading of the same name
def test_clauses_and_sentences_point_at_their_words(data, tmp_path_factory):
    path = tmp_path_factory.getbasetemp() / "property-policy.md"
    path.write_bytes(data)
    try:
        policy, blocks = documents.load(path)
    except PolicyQAError as exc:
        assert "is empty" in str(exc) or "no policy text left" in str(exc)  # blank, or only headings: refused
        return
    for b in blocks:
        assert b.text.text and len(b.text.text) == len(b.text.offsets)
    clauses = clause_split.split(policy, blocks)
    check_spans(policy, clauses)
    check_nothing_lost(blocks, clauses)


# ---------------------------------------------------------------- MappedText

PATTERNS = [documents._LINK, documents._ESCAPE, documents._EMPHASIS, documents._ENTITY, documents._PIPES,
            re.compile(r"\s+"), re.compile(r"[aeiou]"), re.compile(r"(\w)\w*")]
FIXES = [documents.fix_mojibake, str.upper, lambda t: t.replace("a", "aa"), lambda t: t.replace("ss", "ß"),
         lambda t: t[::-1], lambda t: ""]
text_pieces = st.sampled_from(["Ã©", "Â ", "**", "[x](y)", "\\.", "&nbsp;", " | ", "\r\n", "\u200b", "ß", "개인",
                               "  ", "a", "ss", "word", ".", "\t"])
mapped_text = st.lists(text_pieces, max_size=30).map("".join)
operation = st.one_of(
    st.tuples(st.just("sub"), st.integers(0, len(PATTERNS) - 1), st.sampled_from([None, 1, "repl"])),
    st.tuples(st.just("fixed"), st.integers(0, len(FIXES) - 1), st.none()),
    st.tuples(st.just("squeeze"), st.none(), st.none()),
    st.tuples(st.just("slice"), st.integers(0, 20), st.integers(0, 20)),
)


def apply(text: MappedText, op: tuple) -> MappedText:
    name, a, b = op
    if name == "sub":
        pattern = PATTERNS[a]
        if b == 1 and pattern.groups < 1:
            b = None
        return text.sub(pattern, repl=" ") if b == "repl" else text.sub(pattern, keep=b)
    if name == "fixed":
        return text.fixed(FIXES[a])
    if name == "squeeze":
        return text.squeeze()
    return text[a:a + b]


@EXAMPLES
@given(source=mapped_text, ops=st.lists(operation, max_size=6), start=st.integers(0, 5))
def test_mapped_text_keeps_one_ordered_offset_per_character(source, ops, start):
    text = MappedText.of(source, min(start, len(source)))
    for op in ops:
        text = apply(text, op)
        assert len(text.text) == len(text.offsets)
        assert all(a <= b for a, b in zip(text.offsets, text.offsets[1:]))
        assert all(0 <= o < max(len(source), 1) for o in text.offsets)
        a, b = text.source_span()
        assert 0 <= a <= b <= len(source)
