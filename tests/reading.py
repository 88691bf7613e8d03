"""What a reader of a policy file sees: its words, each at its offset in the file. The tests' own reading,
independent of app/documents.py: Markdown (and text) as markdown-it renders it, HTML as a browser shows it
(no scripts, styles, head or hidden elements; navigation, headers and footers are on the page, so they are seen).

`quote_problem` holds a citation to it: each piece of the quote stands word for word at its offsets, and the
pieces joined with the gap mark are the quote.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from markdown_it import MarkdownIt

GAP = "…"
WORD = re.compile(rf"[^\W_]+|{GAP}")  # letters and digits; markup and punctuation are not words here
_MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])
# after a link's text: its target, inline "(…)" or by reference "[…]"
_LINK_END = re.compile(r"\](?:\s*\((?:[^()\n]|\([^()\n]*\))*\)|\[[^\]\n]*\])?")
_UNSEEN_TAGS = {"script", "style", "head", "title", "template", "noscript"}
_INLINE_TAGS = {"a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "del", "dfn", "em", "font", "i", "ins", "kbd",
                "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var"}
_VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

Words = list[tuple[int, str]]  # (offset in the file, word)

# a policy whose one clause runs across a table of contents, which cleaning leaves out: its quote has one gap
CONTENTS_PAGE = ("# Acme Privacy Policy\n\nThis policy is split into sections, as follows:\n\n* [What we collect](#collect)\n"
                 "* [Your rights](#rights)\n\nIt applies to every product Acme makes and to the sites where we sell them.\n")


def seen_words(source: str, suffix: str) -> Words:
    """The words a reader sees in the file, in order, each with the offset of its first character."""
    return html_words(source) if suffix.lower() in (".html", ".htm") else markdown_words(source)


def words_of(text: str) -> list[str]:
    return WORD.findall(text)


def quote_problem(seen: Words, quote: str, pieces: list[tuple[int, int]]) -> str | None:
    """Why the quote is not its pieces' words, each piece word for word at its offsets; None when it is."""
    expected: list[str] = []
    for n, (start, end) in enumerate(pieces):
        if not start < end:
            return f"piece {n} [{start}, {end}) is empty"
        expected += ([GAP] if n else []) + [w for at, w in seen if start <= at < end]
    found = words_of(quote)
    if found == expected:
        return None
    at = next((i for i, (a, b) in enumerate(zip(found, expected)) if a != b), min(len(found), len(expected)))
    return f"the quote reads {' '.join(found[at:at + 8])!r} where the source shows {' '.join(expected[at:at + 8])!r}"


# ---------------------------------------------------------------- Markdown


def markdown_words(source: str) -> Words:
    lines = [0] + [m.end() for m in re.finditer(r"\n", source)] + [len(source)]
    found: Words = []
    cursor = 0
    for token in _MARKDOWN.parse(source):
        if token.type == "tr_close":  # cells past the header's count: renderers drop them, the file shows them
            row_end = source.find("\n", cursor)
            row_end = len(source) if row_end < 0 else row_end
            cursor = _locate(source, words_of(_LINK_END.sub(" ", source[cursor:row_end])), cursor, row_end, found)
        if token.map is None:
            continue
        start, end = lines[token.map[0]], lines[min(token.map[1], len(lines) - 1)]
        cursor = max(cursor, start)
        if token.type == "html_block":
            found += html_words(source[start:end], start)
            cursor = end
        elif token.type in ("fence", "code_block"):
            cursor = _locate(source, words_of(token.content), cursor, end, found)
        elif token.type == "list_item_open" and token.info:  # an ordered item's number, shown as "1." or "1)"
            cursor = _locate(source, [token.info], cursor, end, found)
        elif token.type == "inline":
            chars: list[tuple[int | None, str]] = []
            cursor = _inline(source, token.children or [], cursor, end, chars)
            text = "".join(c for _, c in chars)
            found += [(chars[m.start()][0], m.group()) for m in WORD.finditer(text) if chars[m.start()][0] is not None]
    return found


def _inline(source: str, children: list, cursor: int, end: int, chars: list[tuple[int | None, str]]) -> int:
    """The rendered text of an inline run, each character with its offset (None: not found as written); words that
    markup cuts ("**G**lobally") stay whole, as a reader sees them."""
    for child in children:
        if child.type in ("text", "code_inline"):
            cursor = _rendered(source, child.content, cursor, end, chars)
        elif child.type == "image":
            cursor = _inline(source, child.children or [], cursor, end, chars)  # its alternative text
            cursor = _past_link(source, cursor, end)
        elif child.type == "link_close" and child.markup != "autolink":
            cursor = _past_link(source, cursor, end)
        elif child.type in ("softbreak", "hardbreak"):
            chars.append((None, " "))
        elif child.type == "html_inline":
            at = source.find(child.content, cursor, end)
            cursor = at + len(child.content) if at >= 0 else cursor
            tag = re.match(r"</?([A-Za-z][\w-]*)", child.content)
            if tag and tag[1].lower() not in _INLINE_TAGS:  # "<br>" parts words, "<b>" does not
                chars.append((None, " "))
    return cursor


def _rendered(source: str, text: str, cursor: int, end: int, chars: list[tuple[int | None, str]]) -> int:
    last = 0
    for word in WORD.finditer(text):
        chars += [(None, c) for c in text[last:word.start()]]
        hit = _find(source, word.group(), cursor, end)
        chars += [(hit + i if hit is not None else None, c) for i, c in enumerate(word.group())]
        cursor = hit + len(word.group()) if hit is not None else cursor
        last = word.end()
    chars += [(None, c) for c in text[last:]]
    return cursor


def _past_link(source: str, cursor: int, end: int) -> int:
    target = _LINK_END.search(source, cursor, end)
    return target.end() if target else cursor


def _find(source: str, word: str, cursor: int, end: int) -> int | None:
    hit = re.compile(rf"(?<![^\W_]){re.escape(word)}").search(source, cursor, end)
    return hit.start() if hit else None


def _locate(source: str, words: list[str], cursor: int, end: int, found: Words) -> int:
    """Find each word in the file after the one before it; one not there as written (an entity) is skipped."""
    for word in words:
        hit = _find(source, word, cursor, end)
        if hit is not None:
            found.append((hit, word))
            cursor = hit + len(word)
    return cursor


# ---------------------------------------------------------------- HTML


class _Visible(HTMLParser):
    def __init__(self, source: str, origin: int):
        super().__init__(convert_charrefs=False)
        self.line_starts = [origin] + [origin + m.end() for m in re.finditer(r"\n", source)]
        self.chars: list[tuple[int, str]] = []
        self.open: list[tuple[str, bool]] = []  # the open elements: each one's tag, and is it (or one around it) unseen?

    def _offset(self) -> int:
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    def _unseen(self) -> bool:
        return bool(self.open and self.open[-1][1])

    def handle_starttag(self, tag, attrs):
        named = dict(attrs)
        style = (named.get("style") or "").replace(" ", "").lower()
        hidden = ("hidden" in named or named.get("aria-hidden") == "true" or "display:none" in style
                  or tag in _UNSEEN_TAGS)
        if tag not in _INLINE_TAGS:
            self.chars.append((self._offset(), " "))
        if tag not in _VOID_TAGS:
            self.open.append((tag, self._unseen() or hidden))

    def handle_endtag(self, tag):
        if tag not in _INLINE_TAGS:
            self.chars.append((self._offset(), " "))
        if any(t == tag for t, _ in self.open):  # an end tag closes its element and any left open inside it
            while self.open.pop()[0] != tag:
                pass

    def handle_data(self, data):
        if not self._unseen():
            start = self._offset()
            self.chars += [(start + i, c) for i, c in enumerate(data)]

    def _char(self, char: str) -> None:
        if not self._unseen():
            self.chars.append((self._offset(), char))

    def handle_entityref(self, name):
        from html.entities import name2codepoint

        self._char(chr(name2codepoint[name]) if name in name2codepoint else f"&{name}")

    def handle_charref(self, name):
        try:
            self._char(chr(int(name[1:], 16) if name[:1] in "xX" else int(name)))
        except (ValueError, OverflowError):
            self._char(" ")


def html_words(source: str, origin: int = 0) -> Words:
    parser = _Visible(source, origin)
    parser.feed(source)
    parser.close()
    text = "".join(c for _, c in parser.chars)
    return [(parser.chars[m.start()][0], m.group()) for m in WORD.finditer(text)]
