"""A web page as the Markdown of its main content, every character mapped to where it stands in the page.

The page's HTML becomes Markdown: headings, list items (nested), table rows under their header row, bold, code
and in-page links keep their marks, so documents.py reads a page exactly as it reads a Markdown policy. What is
the page's main content, and what is site chrome (menus, cookie banners, headers, footers, sidebars, related
articles), is resiliparse's call (its main-content extraction, chosen by measuring several libraries: see
docs/formats.md): a line of the Markdown is kept when resiliparse kept its words. The words themselves are always the
page's own, taken from the source with their offsets, never the library's rendering of them.
"""

from __future__ import annotations

import difflib
import re
from html.entities import name2codepoint
from html.parser import HTMLParser

from resiliparse.extract.html2text import extract_plain_text

from .mapped import MappedText

_SKIPPED = {"script", "style", "noscript", "template", "svg", "head", "title", "select", "textarea", "iframe", "object"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_BLOCKS = {"p", "div", "section", "article", "main", "header", "footer", "nav", "aside", "blockquote", "pre", "hr",
           "ul", "ol", "dl", "dt", "dd", "table", "tr", "td", "th", "li", "form", "figure", "figcaption", "details",
           "summary", "address", "body", "html", "center", "fieldset", "caption"}
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BOLD = {"strong", "b"}
_SITE_ROLES = {"navigation", "banner", "contentinfo", "search", "menu", "menubar"}
_SECTIONING = {"article", "main", "section", "aside"}
_INVISIBLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_ESCAPED = re.compile(r"([\\`*_|])")  # the page's own characters that Markdown would read as marks
_SPACE = re.compile(r"\s+")
_TABLE_TAG = re.compile(r"<(/?)table\b[^>]*>", re.I)
_HOLDS_BLOCKS = re.compile(r"<h[1-6]\b|<table\b", re.I)
_PRESENTATION = re.compile(r"\brole\s*=\s*[\"']?(?:presentation|none)\b", re.I)


def markdown_view(html: str, origin: int = 0, main_only: bool = True) -> MappedText:
    """`html` (standing at `origin` in the source file) as Markdown, with its offsets; only its main content
    when `main_only`."""
    walker = _Walker(html, origin)
    walker.feed(html)
    walker.close()
    view = MappedText.join(walker.parts, "")
    return _main_lines(view, main_text(html)) if main_only else view


def main_text(html: str) -> str:
    """The text of the page's main content, as resiliparse extracts it."""
    return extract_plain_text(html, main_content=True)


def _left_out(tag: str, attrs: dict[str, str | None], sectioned: bool) -> bool:
    """An element the page does not show (the `hidden` attribute, aria-hidden, an inline style that hides it), or
    one it marks as the site's own rather than the page's: a landmark role of navigation, banner or footer,
    explicit or, as HTML gives <nav>, and <header> and <footer> outside an article, main or section, implicit."""
    role = (attrs.get("role") or "").lower() or (tag in ("header", "footer") and not sectioned and "banner") or ""
    return tag not in _VOID and ("hidden" in attrs or attrs.get("aria-hidden") == "true" or tag == "nav"
                                 or bool(_INVISIBLE.search(attrs.get("style") or "")) or role in _SITE_ROLES)


def _layout_tables(html: str) -> set[int]:
    """Where the tables that lay out a page (holding headings or other tables, or saying so by their role) start,
    unlike tables of data."""
    layout, open_at = set(), []
    for tag in _TABLE_TAG.finditer(html):
        if not tag[1]:
            open_at.append(tag)
        elif open_at:
            opening = open_at.pop()
            if _PRESENTATION.search(opening[0]) or _HOLDS_BLOCKS.search(html, opening.end(), tag.start()):
                layout.add(opening.start())
    return layout


class _Walker(HTMLParser):
    """Appends the page's text and the Markdown marks that stand for its tags to `parts`, each mapped to its offset.

    A heading, a list item and a table cell are one line: the blocks inside them run on in it."""

    def __init__(self, html: str, origin: int):
        super().__init__(convert_charrefs=False)
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\n", html)]
        self.origin, self.parts = origin, []
        self.layout = _layout_tables(html)
        self.skip_tag, self.skip_depth = "", 0  # the outermost element not shown, and its nesting
        self.lines: list[str] = []  # the open heading or list item (and what opened inside it) holding the line
        self.lists: list[list[str]] = []  # for each open list, the `lines` around it
        self.tables: list[dict] = []  # open tables: layout or data, rows so far, the open row's cells
        self.links: list[bool] = []  # open <a>: does each point into the page?
        self.sectioning = 0  # open article, main, section and aside elements

    def _at(self) -> int:
        line, col = self.getpos()
        return self.origin + self.line_starts[line - 1] + col

    def _mark(self, text: str) -> None:
        self.parts.append(MappedText(text, (self._at(),) * len(text)))

    def _table(self) -> dict | None:
        """The innermost open table of data (a layout table is read as blocks)."""
        return self.tables[-1] if self.tables and not self.tables[-1]["layout"] else None

    def handle_starttag(self, tag, attrs):
        named = dict(attrs)
        table = self._table()
        if self.skip_tag:
            self.skip_depth += tag == self.skip_tag
            return
        if tag in _SKIPPED or _left_out(tag, named, self.sectioning > 0):
            if tag not in _VOID:
                self.skip_tag, self.skip_depth = tag, 1
            return
        self.sectioning += tag in _SECTIONING
        if tag == "table":
            self._mark("\n\n")
            self.tables.append({"layout": self._at() - self.origin in self.layout, "rows": 0, "cells": 0,
                                "header": True, "row_at": 0, "in_cell": False})
        elif table and tag == "tr":
            self._end_row(table)
            table.update(cells=0, header=True, row_at=len(self.parts))
        elif table and tag in ("td", "th"):
            self._end_cell(table)
            table.update(cells=table["cells"] + 1, header=table["header"] and tag == "th", in_cell=True)
            self._mark("| ")
        elif table and table["in_cell"]:
            self._inline(tag, named)
        elif tag in ("ul", "ol"):
            self._mark("\n" if self.lines else "\n\n")
            self.lists.append(self.lines)
            self.lines = []  # a nested list's items are lines of their own
        elif tag == "li" and self.lists and not self.lines:
            self._mark("\n" + "  " * (len(self.lists) - 1) + "* ")
            self.lines.append(tag)
        elif tag in _HEADINGS and not self.lines:
            self._mark("\n\n" + "#" * _HEADINGS[tag] + " ")
            self.lines.append(tag)
        else:
            self._inline(tag, named)

    def _inline(self, tag: str, named: dict) -> None:
        """Marks inside a line of text: bold, code, in-page links; a block inside a line runs on after a space."""
        if tag in _BOLD:
            self._mark("**")
        elif tag == "code":
            self._mark("`")
        elif tag == "a":
            self.links.append((named.get("href") or "").startswith("#"))
            self._mark("[" if self.links[-1] else "")
        elif tag in _BLOCKS or tag in _HEADINGS or tag == "br":
            self._mark(" " if self.lines or self._in_cell() or tag == "br" else "\n\n")

    def _in_cell(self) -> bool:
        return bool((table := self._table()) and table["in_cell"])

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        table = self._table()
        if self.skip_tag:
            self.skip_depth -= tag == self.skip_tag
            self.skip_tag = self.skip_tag if self.skip_depth else ""
            return
        self.sectioning -= tag in _SECTIONING and self.sectioning > 0
        if tag == "table" and self.tables:
            if table:
                self._end_row(table)
            self.tables.pop()
            self._mark("\n\n")
        elif table and tag == "tr":
            self._end_row(table)
        elif table and tag in ("td", "th"):
            self._end_cell(table)
        elif tag in _BOLD:
            self._mark("**")
        elif tag == "code":
            self._mark("`")
        elif tag == "a" and self.links:
            self._mark("](#)" if self.links.pop() else "")
        elif self._in_cell():
            self._mark(" " if tag in _BLOCKS or tag in _HEADINGS else "")
        elif tag in ("ul", "ol") and self.lists:
            self.lines = self.lists.pop()
            self._mark("\n" if self.lines else "\n\n")
        elif self.lines and tag == self.lines[-1]:
            self.lines.pop()
            self._mark("\n" if tag == "li" else "\n\n")
        elif tag in _BLOCKS or tag in _HEADINGS:
            self._mark(" " if self.lines else "\n\n")

    def _end_cell(self, table: dict) -> None:
        if table["in_cell"]:
            table["in_cell"] = False
            self._mark(" ")

    def _end_row(self, table: dict) -> None:
        """Close the open row; after the first, the rule that makes it the header (an empty header when it names
        nothing, so that it is read as data too)."""
        self._end_cell(table)
        if not table["cells"]:
            return
        self._mark("|\n")
        table["rows"] += 1
        if table["rows"] == 1:
            rule = "|" + " --- |" * table["cells"] + "\n"
            if table["header"]:
                self._mark(rule)
            else:
                empty = "\n|" + "  |" * table["cells"] + "\n" + rule
                self.parts.insert(table["row_at"], MappedText(empty, (self._at(),) * len(empty)))
        table["cells"] = 0

    def handle_data(self, data):
        if not self.skip_tag and data:
            start = self._at()
            self.parts.append(_escape(MappedText(data, tuple(range(start, start + len(data)))).sub(_SPACE, repl=" ")))

    def _char(self, char: str) -> None:
        if not self.skip_tag:
            self.parts.append(_escape(MappedText(" " if char.isspace() else char, (self._at(),))))

    def handle_entityref(self, name):
        self._char(chr(name2codepoint.get(name, 32)))

    def handle_charref(self, name):
        try:
            code = int(name[1:], 16) if name[:1] in "xX" else int(name)
            self._char(chr(code) if 0 < code < 0x110000 and not 0xD800 <= code < 0xE000 else " ")
        except ValueError:
            self._char(" ")


def _escape(text: MappedText) -> MappedText:
    """A backslash before each character Markdown would read as a mark, mapped to that character."""
    if not _ESCAPED.search(text.text):
        return text
    chars, offsets = [], []
    for ch, at in zip(text.text, text.offsets):
        if _ESCAPED.fullmatch(ch):
            chars.append("\\")
            offsets.append(at)
        chars.append(ch)
        offsets.append(at)
    return MappedText("".join(chars), tuple(offsets))


# ---------------------------------------------------------------- keeping the main content

_TARGET = re.compile(r"\]\(#[^)]*\)")
_CONTENTS_ENTRY = re.compile(r"\s*\* \[[^\]]*\]\(#\)\s*$")  # an item that only links into the page: navigation
_RULE = re.compile(r"\|(?: --- \|)+$", re.M)


def _words(text: str) -> str:
    """Letters and digits only, lower-cased: what the view's line and the library's rendering of it share. An entry
    of the page's table of contents has none: it goes with what follows it, as markup does (documents.py drops it),
    and does not take the place of the heading it names."""
    return "" if _CONTENTS_ENTRY.match(text) else re.sub(r"[\W_]+", "", _TARGET.sub("", text).casefold())


def _main_lines(view: MappedText, main: str) -> MappedText:
    """`view` less the lines whose words `main` does not hold; a table's header and rule stay with its first row."""
    lines = [m.span() for m in re.finditer(r"[^\n]+", view.text)]
    ours = [_words(view.text[a:b]) for a, b in lines]
    theirs = [w for w in map(_words, main.splitlines()) if w]
    kept = [False] * len(lines)
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ours, theirs, autojunk=False).get_opcodes():
        if op == "equal":
            kept[i1:i2] = [True] * (i2 - i1)
        elif op == "replace":  # lines the library split or joined otherwise: found in order in its stretch of text
            stretch, cursor = "".join(theirs[j1:j2]), 0
            for i in range(i1, i2):
                at = stretch.find(ours[i], cursor) if ours[i] else -1
                if at >= 0:
                    kept[i], cursor = True, at + len(ours[i])
    for i in reversed(range(len(lines) - 1)):
        if not ours[i] or _RULE.match(view.text, lines[i + 1][0]):  # markup alone, or a header: with what follows
            kept[i] = kept[i + 1]
    pieces, last = [], 0
    for (a, b), keep in zip(lines, kept):
        if not keep:  # the line goes with one line break, so the lines around it stay apart or together as they were
            pieces.append(view[last:a])
            last = b + 1 if view.text[b:b + 1] == "\n" else b
    pieces.append(view[last:])
    return MappedText.join(pieces, "")
