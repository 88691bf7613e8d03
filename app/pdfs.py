"""A PDF as the Markdown of its layout, every character mapped to where it stands in the PDF's text.

pdfplumber (on pdfminer.six, both MIT) reads the text layer in reading order, with each character's font, size
and place, and finds ruled tables. The PDF's text is its lines, a line break after each, its pages apart by a
form feed: that is the source text offsets point into, and `pages` says where each page starts. From the layout
comes Markdown that documents.py reads as it reads any policy: a line larger than the text is a heading (the
larger, the higher), a bold run keeps its marks, a line after a drawn bullet is a list item (a marker set in the
text, "•" or "1.", is read as written), a table's rows are rows under their header, and a paragraph's lines run
on. Lines that repeat at the top or foot of most pages (a printed page's date, title, address and page number)
and page numbers alone are left out, and a word broken at a line's end by a hyphen is joined again.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pdfplumber
from pdfminer.layout import LTChar, LTTextBox, LTTextLine

from .errors import PolicyQAError
from .mapped import MappedText
from .tokens import is_word

_BOLD = re.compile(r"bold|black|heavy|semibold|demi", re.I)
_LIGATURE = re.compile("[\ufb00-\ufb06]")  # ﬁ ﬂ ﬀ ...: a font's single glyph for two or three letters
_PAGE_NUMBER = re.compile(r"^\W*(?:page\s*)?\d{1,4}(?:\s*(?:/|of)\s*\d{1,4})?\W*$", re.I)
_BROKEN = re.compile(r"(\w+)([-\u00ad\u2010])$")  # a line that ends in a word and a hyphen
_BAND = 0.08  # the top and the foot of a page, as shares of its height, where running headers and footers stand
_MARKER = 7.0  # a drawn list bullet is at most this wide and high (points)
_ESCAPED = "\\`*_|"  # the PDF's own characters that Markdown would read as marks


@dataclass(frozen=True)
class Printed:
    text: str  # the PDF's text: its lines in reading order, "\n" after each, "\f" after each page
    view: MappedText  # the same as Markdown, mapped to `text`
    pages: tuple[int, ...]  # where each page starts in `text`


class _Char(NamedTuple):
    text: str
    at: int  # offset in the PDF's text
    bold: bool
    x: float  # the centre of its glyph (a space: of the glyph before it), from the page's left and top
    y: float


@dataclass
class _Line:
    chars: list[_Char]  # its characters and spaces, its line break last
    x0: float
    top: float
    bottom: float
    size: float  # the size most of its letters have
    bold: bool  # all its letters are bold

    @property
    def words(self) -> list[_Char]:
        """Its characters less the spaces and line break at its end."""
        end = len(self.chars)
        while end and self.chars[end - 1].text.isspace():
            end -= 1
        return self.chars[:end]

    @property
    def text(self) -> str:
        return "".join(c.text for c in self.words)


def read(path: Path) -> Printed:
    """The PDF at `path` as text and as Markdown; a one-line error for a PDF that cannot be read or has no text."""
    try:
        with pdfplumber.open(path, laparams={}) as pdf:
            return _printed(path, [(page, _lines(page), _tables(page), _bullets(page)) for page in pdf.pages])
    except PolicyQAError:
        raise
    except Exception as exc:  # pdfminer raises many kinds for a broken, encrypted or truncated file
        said = repr(exc).lower()
        reason = "it is encrypted" if "encrypt" in said or "password" in said else "it is damaged or not a PDF"
        raise PolicyQAError(f"{path.name} is not a readable PDF ({reason}); save the policy as an unprotected PDF "
                            "with text, or as HTML or text.") from None


def _lines(page) -> list[list[tuple[str, LTChar | None]]]:
    """The page's text lines in reading order, each a list of characters with their glyphs (None: a space or line
    break pdfminer put between glyphs)."""
    lines = []
    for box in page.layout:
        if isinstance(box, LTTextBox):
            for line in box:
                if isinstance(line, LTTextLine):
                    lines.append([(ch, item if isinstance(item, LTChar) else None)
                                  for item in line for ch in item.get_text()])
    return lines


def _tables(page) -> list:
    """The page's ruled tables; a row the page's foot cuts (ruled above and at its sides only) is closed there."""
    foot = max((e["bottom"] for e in page.edges if e["orientation"] == "v"), default=None)
    return page.find_tables({"explicit_horizontal_lines": [foot]} if foot else None)


def _bullets(page) -> list[tuple[float, float]]:
    """Small drawn shapes (x0, vertical centre) that mark list items: a browser draws a list's bullets."""
    shapes = list(page.curves) + list(page.rects)
    return [(s["x0"], (s["top"] + s["bottom"]) / 2) for s in shapes
            if 1 < s["x1"] - s["x0"] <= _MARKER and 1 < s["bottom"] - s["top"] <= _MARKER]


def _printed(path: Path, pages: list) -> Printed:
    text: list[str] = []
    starts, placed = [], []
    for page, raw, tables, bullets in pages:
        starts.append(len(text))
        lines = []
        for chars in raw:
            line = _line(chars, len(text), page.height)
            text.extend(ch for ch, _ in chars)
            if line:
                lines.append(line)
        text.append("\f")
        placed.append((page.height, lines, tables, bullets))
    source = "".join(text)
    if not source.replace("\f", "").strip():
        raise PolicyQAError(f"{path.name} has no text layer (a scanned image?); run it through OCR or save the "
                            "policy as text.")
    # a table's header row a printer repeats atop each page is the table's (read once), not a running header
    running = _running([(height, [ln for ln in lines if not any(_holds(t.bbox, ln) for t in tables)])
                        for height, lines, tables, _ in placed])
    sizes = Counter(line.size for _, lines, _, _ in placed for line in lines for c in line.chars if c.text.strip())
    markdown = _Markdown(sizes.most_common(1)[0][0])
    for _, lines, tables, bullets in placed:
        markdown.page([ln for ln in lines if _key(ln) not in running and not _PAGE_NUMBER.match(ln.text)],
                      [t for t in tables if t.rows], bullets)
    return Printed(source, markdown.result(), tuple(starts))


def _line(chars: list[tuple[str, LTChar | None]], origin: int, height: float) -> _Line | None:
    """A line of the text layer, its characters at their offsets from `origin`; None when it holds no letter."""
    out, x, y = [], 0.0, 0.0
    for i, (ch, glyph) in enumerate(chars):
        if glyph is not None:
            x, y = (glyph.x0 + glyph.x1) / 2, height - (glyph.y0 + glyph.y1) / 2
        out.append(_Char(ch, origin + i, bool(glyph and _BOLD.search(glyph.fontname)), x, y))
    glyphs = [g for ch, g in chars if g is not None and ch.strip()]
    if not glyphs:
        return None
    size = Counter(round(g.size, 1) for g in glyphs).most_common(1)[0][0]
    return _Line(out, min(g.x0 for g in glyphs), height - max(g.y1 for g in glyphs),
                 height - min(g.y0 for g in glyphs), size, all(_BOLD.search(g.fontname) for g in glyphs))


def _key(line: _Line) -> str:
    return re.sub(r"\d+", "#", line.text.strip())


def _running(pages: list[tuple[float, list[_Line]]]) -> set[str]:
    """Lines (digits aside) at the top or foot of most pages: a printed page's running header and footer."""
    seen: Counter = Counter()
    for height, lines in pages:
        seen.update({_key(ln) for ln in lines if ln.top < height * _BAND or ln.bottom > height * (1 - _BAND)})
    return {key for key, n in seen.items() if len(pages) > 1 and n >= max(2, len(pages) / 2)}


class _Markdown:
    """Builds the Markdown of the pages' lines and tables, each character mapped to the PDF's text."""

    def __init__(self, body: float):
        self.body = body  # the size of the text: larger lines are headings
        self.parts: list[MappedText] = []
        self.headings: set[float] = set()  # the sizes of headings so far
        self.indents: set[int] = set()  # where list bullets stand, to tell nested lists
        self.previous: _Line | None = None  # the line the next one may run on from
        self.table: tuple[int, tuple[str, ...]] | None = None  # the table the last page ended in: columns, header
        self.new_page = False  # the next line is a page's first
        self.row: tuple[int, list[MappedText]] | None = None  # where the last table row starts in `parts`, its cells

    def result(self) -> MappedText:
        return MappedText.join(self.parts, "")

    def _put(self, text: str, at: int) -> None:
        self.parts.append(MappedText(text, (at,) * len(text)))

    def page(self, lines: list[_Line], tables: list, bullets: list[tuple[float, float]]) -> None:
        """One page's lines in reading order, each table where it stands among them."""
        self.new_page = True
        tables = sorted(tables, key=lambda t: t.bbox[1])
        flowing = [ln for ln in lines if not any(_holds(t.bbox, ln) for t in tables)]
        cells = [c for ln in lines for c in ln.chars]
        for line in flowing:
            while tables and tables[0].bbox[1] < line.top:
                self._table(tables.pop(0), cells)
            self._line(line, bullets)
        for table in tables:
            self._table(table, cells)

    def _line(self, line: _Line, bullets: list[tuple[float, float]]) -> None:
        """`line` in the paragraph the line before is in, or as a new block: a heading, a list item, a paragraph."""
        bullet = next((x for x, y in bullets if x < line.x0 <= x + 30 and line.top <= y <= line.bottom), None)
        heading = line.size > self.body * 1.1
        before, self.previous, self.table = self.previous, line, None
        # a paragraph goes on over a page break only where its sentence visibly does
        after = self.new_page and before and (abs(line.x0 - before.x0) > 2 or before.text[-1:] in ".:;!?"
                                              or not (line.text[:1].islower() or before.text[-1:] in ",-("))
        close = before and (self.new_page or line.top - before.bottom < line.size * 0.6)
        self.new_page = False
        marked = _marked(line.words, line.bold and not heading)
        if before and bullet is None and line.size == before.size and line.bold == before.bold and close \
                and not after and line.x0 >= before.x0 - 2:
            text = len(self.parts) - 1
            self._join(before, line)
            if self.parts[text].text.endswith("**") and marked.text.startswith("**"):  # one bold run over the break
                self.parts[text], marked = self.parts[text][:-2], marked[2:]
        elif heading:
            self.headings.add(line.size)
            level = sorted(self.headings, reverse=True).index(line.size) + 1
            self._put("\n\n" + "#" * min(level, 6) + " ", line.chars[0].at)
        elif bullet is not None:
            self.indents.add(round(bullet / 10))
            self._put("\n" + "  " * sorted(self.indents).index(round(bullet / 10)) + "* ", line.chars[0].at)
        else:
            self._put("\n\n", line.chars[0].at)
        self.parts.append(marked)

    def _join(self, before: _Line, line: _Line) -> None:
        """Run a paragraph's line on from the one before: after a space (its line break), or, for a word broken by
        a hyphen, with no break, and without the hyphen where it only broke the word ("infor-mation", not
        "third-party")."""
        broken, start = _BROKEN.search(before.text), re.match(r"[a-z]\w*", line.text)
        if broken and start and self.parts[-1].text.endswith(broken[2]):
            if _only_broken(broken[1], start[0], broken[2]):
                self.parts[-1] = self.parts[-1][:-1]
            return
        self._put(" ", before.chars[-1].at)

    def _table(self, table, cells: list[_Char]) -> None:
        """A ruled table, a row a line: its first row the header when all bold (else an empty header). A table the
        page before ended in goes on under its header, less the header a printed page repeats."""
        rows = [[_cell([c for c in cells if box and _inside(c.x, c.y, box)]) for box in row.cells] for row in table.rows]
        rows = [row for row in rows if any(c.text for c in row)]
        if not rows:
            return
        at = next((c.offsets[0] for c in rows[0] if c.offsets), 0)
        columns, first = len(rows[0]), tuple(c.text for c in rows[0])
        header = first if all(c.text.startswith("**") for c in rows[0] if c.text) else None
        if self.table and self.table[0] == columns and self.parts and self.parts[-1].text.endswith("|\n"):
            rows = rows[1:] if header == self.table[1] else rows  # continued from the page before
            header = self.table[1]
            if rows and not rows[0][0].text and self.row:  # a row the page break cut: its end joins its start
                at, cells = self.row
                del self.parts[at:]
                rows[0] = [MappedText.join([a, b], " ") for a, b in zip(cells, rows[0])]
        else:
            empty = "|" + "  |" * columns + "\n" if header is None else ""
            self._put("\n\n" + empty, at)
            if header is not None:
                self._row(rows.pop(0))
            self._put("|" + " --- |" * columns + "\n", at)
        for row in rows:
            self._row(row)
        self.table, self.previous = (columns, header or ()), None

    def _row(self, cells: list[MappedText]) -> None:
        self.row = (len(self.parts), cells)
        at = next((c.offsets[0] for c in cells if c.offsets), 0)
        for cell in cells:
            self._put("| ", at)
            self.parts.append(cell)
            self._put(" ", at)
        self._put("|\n", at)


def _cell(chars: list[_Char]) -> MappedText:
    """A table cell's characters, bold runs marked, its lines run on after a space, or with none (and no hyphen
    where it only broke a word) after a hyphen."""
    kept: list[_Char] = []
    for i, c in enumerate(chars):
        if c.text == "\n" and kept and _BROKEN.search("".join(k.text for k in kept[-40:])) \
                and (start := re.match(r"[a-z]\w*", "".join(k.text for k in chars[i + 1:i + 40]))):
            if _only_broken(_BROKEN.search("".join(k.text for k in kept[-40:]))[1], start[0], kept[-1].text):
                kept.pop()
            continue
        kept.append(c._replace(text=" ") if c.text.isspace() else c)
    return _marked(kept, False).squeeze()


def _only_broken(head: str, tail: str, hyphen: str) -> bool:
    """Did the hyphen at a line's end only break a word ("infor-mation"), rather than belong to it ("third-party",
    "non-essential")? A soft hyphen always; else when the joined word is English and its tail alone is not."""
    return hyphen == "\u00ad" or is_word(head + tail) and not is_word(tail)


def _marked(chars: list[_Char], bold_line: bool) -> MappedText:
    """Characters as Markdown: bold runs (or a whole bold line) between "**", ligatures spelt out, the characters
    Markdown reads as marks escaped."""
    text, offsets, bold = [], [], False
    if not chars:
        return MappedText("", ())
    for c in chars:
        heavy = bold_line or (c.bold if c.text.strip() else bold)
        if heavy != bold:
            text.append("**")
            offsets.extend([c.at, c.at])
            bold = heavy
        letters = unicodedata.normalize("NFKC", c.text) if _LIGATURE.match(c.text) else \
            "\\" + c.text if c.text in _ESCAPED else c.text
        text.append(letters)
        offsets.extend([c.at] * len(letters))
    if bold:
        text.append("**")
        offsets.extend([chars[-1].at] * 2)
    return MappedText("".join(text), tuple(offsets))


def _holds(box: tuple[float, float, float, float], line: _Line) -> bool:
    return _inside(line.x0 + 1, (line.top + line.bottom) / 2, box)


def _inside(x: float, y: float, box: tuple[float, float, float, float]) -> bool:
    x0, top, x1, bottom = box
    return x0 - 1 <= x <= x1 + 1 and top - 1 <= y <= bottom + 1
