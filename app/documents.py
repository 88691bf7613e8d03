"""Load policy files: decode, read what the document says of itself, clean, find its blocks.

A policy file (Markdown, plain text, a web page or a PDF) becomes a Policy plus a list of Blocks:
headings, list items, table rows and paragraphs, each a MappedText whose characters point back
into the source file. A web page (webpages.py) and a PDF (pdfs.py) are first read as Markdown
mapped to their text, so every format is read by one reader. Navigation chrome, archive banners
and table debris are dropped; mojibake is repaired with ftfy. Nothing here decides what a clause
is (see clauses.py).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from urllib.parse import unquote

import ftfy
from charset_normalizer import from_bytes

from . import languages, pdfs, webpages
from .errors import PolicyQAError
from .mapped import MappedText
from .records import Policy

# Repair mojibake only: curly quotes, ligatures and character widths are the source's own text.
_FTFY = ftfy.TextFixerConfig(uncurl_quotes=False, fix_latin_ligatures=False, fix_character_width=False, explain=False)
SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf")
POLICY_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Block:
    kind: str  # "heading", "item", "row" (of a table: its cells, a line each) or "text"
    level: int  # heading depth (1 = title) or item depth (0 = top)
    text: MappedText
    labels: tuple[str, ...] = ()  # a row's column names, one for each of its cells ("" where none)


# ---------------------------------------------------------------- reading


def policy_id(path: Path) -> str:
    """The policy a file holds: its stem, less any '@YYYY-MM-DD' version date."""
    return path.stem.lower().partition("@")[0]


def parse_date(text: object, what: str) -> str:
    """`text` as an ISO date (YYYY-MM-DD), or a one-line error naming `what` it came from."""
    if isinstance(text, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            pass
    raise PolicyQAError(f"{what} {str(text)[:40]!r} is not a date; write it as YYYY-MM-DD, e.g. 2021-06-01.")


def named_version(path: Path) -> str | None:
    """The date in a version's file name (`leje@2021-06-01.md`: in force from 2021-06-01), None for a plain name."""
    stem = path.stem.lower()
    if "@" not in stem:
        return None
    return parse_date(stem.partition("@")[2], f"{path.name}: the version date")


def document_key(policy: str, version: str | None) -> str:
    """How the index names one version of a policy: 'leje@2021-06-01', or 'leje' for an undated single version."""
    return f"{policy}@{version}" if version else policy


def file_key(path: Path, source: str) -> str:
    """The document key of a policy file: its named version, else the date the document states."""
    return document_key(policy_id(path), named_version(path) or stated_date(source))


def corpus_files(corpus: Path) -> list[Path]:
    if not corpus.is_dir():
        raise PolicyQAError(f"Corpus folder {corpus} does not exist; create it and put policy files (.md, .txt, .html, .pdf) in it.")
    return sorted(p for p in corpus.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


def decode(data: bytes, name: str) -> str:
    """Bytes to text: UTF-8 when it is, else the encoding charset-normalizer finds."""
    if not data.strip():
        raise PolicyQAError(f"{name} is empty; add the policy's text or remove the file.")
    if b"\x00" in data[:8192]:
        raise PolicyQAError(f"{name} looks binary (it holds NUL bytes); save the policy as text, Markdown or HTML.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None:
        raise PolicyQAError(f"{name} is not readable text in any known encoding; re-save it as UTF-8.")
    return str(best)


def read_source(path: Path) -> str:
    """A policy file's text: as written, or a PDF's text layer."""
    if path.suffix.lower() == ".pdf":
        return pdfs.read(path).text
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyQAError(f"Cannot read {path}: {exc.strerror}; check the file's permissions.") from None
    return decode(data, str(path))


def _read(path: Path) -> tuple[str, MappedText, tuple[int, ...]]:
    """The file's text, the same as Markdown with offsets into it (a web page's main content, a PDF's layout read),
    and where each page starts (a PDF's)."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        printed = pdfs.read(path)
        return printed.text, printed.view, printed.pages
    source = read_source(path)
    if suffix in (".html", ".htm"):
        return source, webpages.markdown_view(source), ()
    return source, MappedText.of(source), ()


def load(path: Path) -> tuple[Policy, list[Block]]:
    """Read one policy file into its Policy record and its blocks."""
    source, view, pages = _read(path)
    marked = path.suffix.lower() in (".html", ".htm", ".pdf")  # its headings are tags or type, not lone lines
    pid = policy_id(path)
    if not POLICY_ID.match(pid):
        raise PolicyQAError(f"{path.name}: a policy file's name must be lower-case letters, digits, '-' or '_', "
                            "then optionally @YYYY-MM-DD for a version; rename it.")
    version = named_version(path)
    blocks = _drop_repeated_runs(_inline_structure(_drop_chrome(_markdown_blocks(view, labels=not marked))))
    if not blocks:
        raise PolicyQAError(f"{path} has no policy text left after cleaning; check that it is the policy page.")
    policy = _describe(pid, source, blocks)
    policy.version = version or stated_date(source)
    policy.pages = list(pages)
    policy.lang = languages.detect(policy.text)
    return policy, blocks


# ---------------------------------------------------------------- metadata

_BANNER = re.compile(
    r"extracted and transformed from the (?P<site>\S+) privacy policy that was archived on "
    r"(?P<date>\d{4}-\d{2}-\d{2})[^\n]*?\((?P<archive>https?://web\.archive\.org/\S+?)\)",
    re.I,
)
_CANONICAL = re.compile(r"<link[^>]+rel=[\"']canonical[\"'][^>]*href=[\"']([^\"']+)", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", re.I)
_PHONE = re.compile(r"(?:phone|tel|telephone|contact number|call)\s*[:.]?\s*(\+?\d[\d\s().-]{6,}\d)", re.I)
_OFFICER = re.compile(r"(?i:manager|officer)[^.:]{0,40}?\bName\s*:\s*([A-Z][\w.' -]{2,40}?)\s+(?=(?i:contact|phone|tel|e-?mail)\b)")


_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_ORDINAL = "(?:st|nd|rd|th)?"  # "December 1st, 2014"
_DATE = (rf"\d{{4}}-\d{{2}}-\d{{2}}|\d{{4}}\.\s?\d{{1,2}}\.\s?\d{{1,2}}|(?:{_MONTHS})\s+\d{{1,2}}{_ORDINAL},?\s+\d{{4}}"
         rf"|\d{{1,2}}{_ORDINAL}\s+(?:{_MONTHS}),?\s+\d{{4}}|(?:{_MONTHS}),?\s+\d{{4}}")
_STATED = re.compile(
    r"(?:effective|last\s+(?:updated|modified|revised|amended)|date\s+of\s+enforcement|enforcement\s+date)"
    rf"(?:\s+(?:date|as\s+of|on|from))?[\s*_:|,-]{{0,6}}(?P<date>{_DATE})",
    re.I,
)
_TAG = re.compile(r"<[^<>\n]*>")
_BARE_DATE = re.compile(rf"^[\s*_]*(?:{_DATE})[\s*_]*$", re.I)  # "January 1, 2020" alone under a title
_DATE_FORMATS = ("%Y-%m-%d", "%Y.%m.%d", "%B %d %Y", "%d %B %Y", "%B %Y")  # "March 2024": from March 1


def is_date_line(text: str) -> bool:
    """A short line that dates the policy ("Last updated: March 3, 2024", or a date alone): the answer to "when did
    it change?"."""
    return len(text) <= 80 and bool(_STATED.search(text) or _BARE_DATE.match(text))


def stated_date(source: str) -> str | None:
    """The date a document says it took effect ("Effective date: June 1, 2021", "Last updated 2021-06-01",
    "Date of Enforcement: December 1, 2011"; in a web page, whatever tags stand between), else the date its archive
    banner gives, else None."""
    for found in _STATED.finditer(_TAG.sub(" ", source)):
        text = re.sub(r"\s+", " ", found["date"].replace(",", " ").replace(". ", ".")).strip()
        text = re.sub(r"(?<=\d)(?:st|nd|rd|th)\b", "", text, flags=re.I)
        for pattern in _DATE_FORMATS:
            try:
                return datetime.strptime(text, pattern).date().isoformat()
            except ValueError:
                continue
    banner = _BANNER.search(source)
    return banner["date"] if banner else None


def _describe(pid: str, source: str, blocks: list[Block]) -> Policy:
    clean = MappedText.join([b.text for b in blocks], "\n\n")
    banner = _BANNER.search(source)
    archive_url = banner["archive"] if banner else None
    source_url = None
    if archive_url:
        original = re.search(r"/web/\d+(?:id_)?/(.+)$", archive_url)
        source_url = unquote(original[1]) if original else None
    elif canonical := _CANONICAL.search(source):
        source_url = canonical[1]
    company = _company_name(pid, clean.text)
    mailto = re.findall(r"mailto:([^)\s\"'>?]+)", source, re.I)
    found = [e.rstrip(".") for e in _EMAIL.findall(clean.text)]
    contact = list(dict.fromkeys(mailto + [e for e in found if not any(e.endswith(m) for m in mailto)]))
    contact += [" ".join(p.split()) for p in _PHONE.findall(clean.text)]
    contact += [f"{m} (privacy manager)" for m in _OFFICER.findall(clean.text)]
    return Policy(
        id=pid,
        title=f"{company} Privacy Policy",
        company=company,
        source_url=source_url,
        archive_url=archive_url,
        archived=banner["date"] if banner else None,
        contact=list(dict.fromkeys(contact)),
        checksum=hashlib.sha256(source.encode("utf-8")).hexdigest(),
        text=clean.text,
        offsets=list(clean.offsets),
        source_text=source,
    )


def _company_name(pid: str, text: str) -> str:
    """The company as the document spells it (e.g. 'LEJE', 'Dr.esthetique'), found from the file's id."""
    compact = re.sub(r"[^a-z0-9]", "", pid)
    spellings: dict[str, int] = {}
    for m in re.finditer(r"[A-Za-z][A-Za-z0-9.&'\- ]{1,40}", text):
        if compact not in re.sub(r"[^a-z0-9]", "", m.group().lower()):
            continue  # no phrase of this run spells the id: skips almost all the work on a long policy
        words = m.group().split()
        for i in range(len(words)):
            for j in range(i + 1, min(i + 4, len(words)) + 1):
                phrase = " ".join(words[i:j]).strip(".,'-")
                if re.sub(r"[^a-z0-9]", "", phrase.lower()) == compact:
                    spellings[phrase] = spellings.get(phrase, 0) + 1
    if spellings:
        return max(spellings, key=lambda s: (spellings[s], s[:1].isupper()))
    return " ".join(w.capitalize() for w in re.split(r"[-_]", pid))


# ---------------------------------------------------------------- Markdown and plain text

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^(\s*)(?:[*+•●○◦▪■□◆◇–—]|-(?=[A-Z])|-|\(?\d{1,2}[.)]|\(?[a-z]\)|[ivx]{1,4}\))\s+(?=\S)")
_OUTLINE_HEADING = {"●": 2, "■": 2, "◆": 2, "○": 3, "□": 3, "◇": 3}
# a link's target: "(https://…)", with spaces inside the parentheses or a "title" after the address
LINK_TARGET = r"\(\s*(?:[^()\s]|\([^()]*\))*(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"
_LINK = re.compile(r"!?\[([^\]]*)\]" + LINK_TARGET)
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>])")
# "[Data retention](#data-retention)" alone on a list item: an entry of the policy's own table of contents
_CONTENTS_ENTRY = re.compile(r"^\s*\[[^\]]*\]\(#[^()\s]*\)\s*$")
# bold marks; not the underscores that open a `__Host-session` cookie name in code
_EMPHASIS = re.compile(r"\*{2,}|(?<![\w`])_{2,}|_{2,}(?![\w`])")
# *italic* and _italic_ (not an escaped \*, not snake_case or a `_cookie_` name inside a word or code)
_ITALICS = [re.compile(rf"(?<![\w{m}\\`]){m}(?=\S)([^{m}\n]+?)(?<=[^\s\\]){m}(?![\w{m}`])") for m in (r"\*", "_")]
_CODE = re.compile(r"`([^`\n]+)`")  # `code` marks go, the name inside stays as written
_ENTITY = re.compile(r"&nbsp;|&amp;")
# Markdown's other markup: inline HTML (an <a id> anchor, <br>, <details>, a comment; its text stays), reference
# links ("[text][ref]": the text stays) and their definitions ("[ref]: https://..."), footnote marks ("[^1]"),
# blockquote marks, and setext headings (a title underlined with === or ---)
_HTML_INLINE = re.compile(r"<!--.*?-->|</?[A-Za-z][\w:-]*(?:\s[^<>]*)?/?>")
_REFERENCE = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_LINK_DEFINITION = re.compile(r"^\s{0,3}\[(?!\^)[^\]]+\]:\s*\S+\s*(?:[\"'(].*)?$")
_FOOTNOTE_REF = re.compile(r"\[\^[^\]\s]+\](?!:)")
_FOOTNOTE_MARK = re.compile(r"^\s{0,3}\[\^[^\]\s]+\]:\s*")
_QUOTE = re.compile(r"^\s{0,3}>\s?")
# "**Note:** ...", "> [!IMPORTANT]": an aside inside a section, not a section of its own
_ADMONITION = re.compile(r"^\s*\[?!?(?:notes?|important|tip|warning|caution|please note)\]?\s*:?\s*$", re.I)
_SETEXT = re.compile(r"^\s{0,3}(=+|-{2,})\s*$")
_HTML_TABLE = re.compile(r"^\s{0,3}<table\b", re.I)
_DEFINITION = re.compile(r"^\s{0,3}:[ \t]+(?=\S)")  # kramdown's definition list: "Term" then ": what it means"
_DEBRIS = re.compile(r"^[\s|:\-=_*#>Â\u00a0]*$")
_EMPTY_ROW = re.compile(r"^\s*\|(?:[ \t]*\|)+\s*$")
_PIPES = re.compile(r"(?:\s*\|)+\s*")
_OUTER_PIPES = re.compile(r"^\s*\|\s*|\s*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)+\|?\s*$")  # under a pipe table's header
# kramdown and pandoc attribute lists ("{: #sharing }", "{#id .class}", "{:.note}"), kramdown extensions
# ("{::options /}") and Jekyll's Liquid tags: markup, never the policy's words. A plain "{name}" stays.
_ATTRIBUTE = r"(?:[#.][\w:-]+|[\w-]+=(?:\"[^\"\n]*\"|'[^'\n]*'|[^\s}]+))"
MARKUP_BRACES = re.compile(r"[ \t]*(?:\{:?[ \t]*" + _ATTRIBUTE + r"(?:[ \t]+" + _ATTRIBUTE + r")*[ \t]*\}"
                            r"|\{::[^}\n]*\}|\{%.*?%\}|\{\{.*?\}\})")


# YAML front matter (Jekyll, Hugo, GitHub Docs): the page's metadata, not the policy's words; its title is the title
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(?P<body>.*?)^---[ \t]*$\r?\n?", re.S | re.M)
_FRONT_TITLE = re.compile(r"^title:[ \t]*([\"']?)(?P<title>[^\n]*?)\1[ \t]*$", re.M)


def _front_matter(view: MappedText) -> tuple[list[Block], int]:
    """The front matter's title as the document's title heading, and where the Markdown after it starts."""
    front = _FRONT_MATTER.match(view.text)
    if not front:
        return [], 0
    title = _FRONT_TITLE.search(view.text, front.start("body"), front.end("body"))
    heading = [Block("heading", 1, view[slice(*title.span("title"))])] if title and title["title"] else []
    return heading, front.end()


def _markdown_blocks(view: MappedText, labels: bool = True) -> list[Block]:
    """The blocks of Markdown (or plain text) `view`, with its offsets. With `labels`, a short unpunctuated line
    alone is a heading, as plain text marks one; a web page's or a PDF's Markdown marks every heading it has."""
    source = view.text
    blocks, pos = _front_matter(view)
    paragraph: list[MappedText] = []

    def flush() -> None:
        line = _clean_inline(paragraph[0]) if len(paragraph) == 1 else None
        if line and labels and not paragraph[0].text.lstrip().startswith("*") and _is_label(line.text) \
                and not is_date_line(line.text):
            blocks.append(Block("heading", 2, line))
        elif paragraph:
            blocks.extend(_bold_split(MappedText.join(paragraph, " ")))
        paragraph.clear()

    columns: tuple[str, ...] | None = None  # inside a table: its column names
    defining = False
    html_end = 0  # where a raw HTML table read as HTML ends
    for raw in source[pos:].splitlines(keepends=True):
        line = view[pos:pos + len(raw.rstrip("\r\n"))]
        pos += len(raw)
        if pos - len(raw) < html_end:
            continue
        if _HTML_TABLE.match(line.text) and (close := source.find("</table>", pos - len(raw))) >= 0:
            flush()  # an HTML table in Markdown (a cookie table): read as a web page's table is
            start, html_end = pos - len(raw), close + len("</table>")
            blocks.extend(_markdown_blocks(webpages.markdown_view(source[start:html_end], view.offsets[start],
                                                                  main_only=False), labels=False))
            continue
        if quote := _QUOTE.match(line.text):
            line = line[quote.end():]
        if _LINK_DEFINITION.match(line.text) or _ADMONITION.match(line.text) and "[" in line.text:
            flush()
            continue
        if footnote := _FOOTNOTE_MARK.match(line.text):
            flush()
            line = line[footnote.end():]
        if columns is not None and "|" in line.text and line.text.strip():
            # a row of a table (a cookie, a data category): one block each, its cells on lines of their own
            flush()
            blocks.extend(_row(line, columns))
            continue
        columns = None
        if _TABLE_RULE.match(line.text) and len(paragraph) == 1 and "|" in paragraph[0].text:
            # the header row names the columns: it heads no section (a heading here would cut the rows and every
            # section after them off their own heading); it labels each row's cells
            columns = tuple(cell.text for cell in _cells(paragraph.pop()))
            continue
        if definition := _DEFINITION.match(line.text):
            if len(paragraph) == 1 and not defining and (term := _clean_inline(paragraph.pop())).text:
                blocks.append(Block("heading", 4, term))  # as a bold "Label:" heads its text
            flush()
            line = line[definition.end():]
        defining = bool(definition) or defining and bool(line.text.strip())  # a definition runs to a blank line
        if (setext := _SETEXT.match(line.text)) and len(paragraph) == 1:
            title = _clean_inline(paragraph.pop())
            if title.text:
                blocks.append(Block("heading", 1 if "=" in setext[1] else 2, title))
            continue
        if _EMPTY_ROW.match(line.text):  # a table's header row that names no column: a header all the same
            flush()
            paragraph.append(line)
            continue
        if _BANNER.search(line.text) or _DEBRIS.match(line.text) or _only_markup(line.text):
            flush()
            continue
        if heading := _HEADING.match(line.text):
            flush()
            text = _clean_inline(line[heading.start(2):heading.end(2)])
            if text.text.strip(":| "):
                blocks.append(Block("heading", len(heading[1]), text.sub(re.compile(r"^[:\s]+|[:\s]+$"))))
            continue
        item = _ITEM.match(line.text)
        if item or not line.text.strip():
            flush()
        if item and _CONTENTS_ENTRY.match(line.text[item.end():]):
            continue  # a table of contents is navigation: its entries name sections, they say nothing
        if item:
            marker = line.text[item.start():item.end()].strip()
            body = _clean_inline(line[item.end():])
            if marker in _OUTLINE_HEADING and _is_label(body.text):
                blocks.append(Block("heading", _OUTLINE_HEADING[marker], body))
            elif body.text:
                depth = len(item[1].expandtabs(4)) // 2
                # a list's own numbering or dash is the policy's text; only Markdown's bullets (*, +, -) are markup
                start = item.end() if marker in ("*", "+", "-") else item.start() + len(item[1])
                blocks.extend(Block("item", depth, b.text) if b.kind == "text" else b for b in _bold_split(line[start:]))
            continue
        if line.text.strip():
            paragraph.append(line)
    flush()
    return blocks


def _only_markup(line: str) -> bool:
    """A line of nothing but attribute lists or tags (kramdown's block attributes, a Liquid tag, an HTML anchor)."""
    return bool(line.strip()) and not _HTML_INLINE.sub("", MARKUP_BRACES.sub("", line)).strip()


def fix_mojibake(text: str) -> str:
    return ftfy.fix_text(text, _FTFY)


def _clean_inline(text: MappedText) -> MappedText:
    """Markdown inline markup and mojibake out; the words, with their offsets, stay. A stray pipe (table debris)
    becomes a space."""
    text = text.fixed(fix_mojibake)
    text = text.sub(MARKUP_BRACES).sub(_HTML_INLINE, repl=" ").sub(_LINK, keep=1).sub(_REFERENCE, keep=1).sub(_FOOTNOTE_REF)
    for italic in _ITALICS:
        text = text.sub(italic, keep=1)
    # escapes last: an escaped mark ("\\_\\_Host-session", "\\*") is the policy's own character, never emphasis
    text = text.sub(_EMPHASIS).sub(_CODE, keep=1).sub(_ESCAPE, keep=1).sub(_ENTITY, repl=" ")
    if "|" in text.text:
        text = text.sub(_OUTER_PIPES).sub(_PIPES, repl=" ")
    return text.squeeze()


_CELL_EDGE = re.compile(r"(?<!\\)\|")  # a pipe that parts two cells (an escaped one is a cell's text)


def _cells(line: MappedText) -> list[MappedText]:
    """The cells of a table row ("| Purpose | Data |"), each clean; an empty cell is empty text."""
    text = line.text.strip()
    start = len(line.text) - len(line.text.lstrip()) + (1 if text.startswith("|") else 0)
    end = len(line.text.rstrip()) - (1 if text.endswith("|") and not text.endswith("\\|") and len(text) > 1 else 0)
    edges = [start - 1] + [m.start() for m in _CELL_EDGE.finditer(line.text, start, end)] + [end]
    return [_clean_inline(line[a + 1:b]) for a, b in zip(edges, edges[1:])]


def _row(line: MappedText, labels: tuple[str, ...]) -> list[Block]:
    """A table row as one block: its cells in order, each on a line, labelled by their columns' names."""
    cells = _cells(line)
    kept = [(cell, labels[i] if i < len(labels) else "") for i, cell in enumerate(cells) if cell.text]
    if not kept:
        return []
    return [Block("row", 0, MappedText.join([cell for cell, _ in kept], "\n"), tuple(label for _, label in kept))]


_BOLD_LEAD = re.compile(r"^\s*((?:\*\*[^*]*\*\*\s*)+)")
_BOLD_LABEL = re.compile(r"\*\*[^*\n]{2,80}?:\s*\*\*")
_LEADING_LABEL = re.compile(r"[\s*]*" + _BOLD_LABEL.pattern)  # after stray emphasis marks


def _bold_split(text: MappedText) -> list[Block]:
    """A paragraph whose lead is bold gives a heading; a bold 'Label:' heads the text after it."""
    blocks: list[Block] = []
    lead = _BOLD_LEAD.match(text.text)
    if lead:
        bold = _clean_inline(text[: lead.end()])
        rest = text[lead.end():]
        if not _clean_inline(rest).text.strip(" :"):
            if not bold.text:
                return []
            return [Block("heading", 3, bold) if _is_label(bold.text) else Block("text", 0, bold)]
        question = bold.text.rfind("?")
        if question >= 0:
            # "**How does X use my data?** **Internal Use:** We use ..." -> heading, then the labelled text
            cut = _raw_index(text, bold, question + 1)
            blocks.append(Block("heading", 3, bold[: question + 1]))
            text = text[cut:]
    cuts = [m.start() for m in _BOLD_LABEL.finditer(text.text) if m.start() > 0 and text.text[: m.start()].strip(" *")]
    for a, b in zip([0] + cuts, cuts + [len(text.text)]):
        blocks.extend(_labelled(text[a:b]))
    return blocks


def _labelled(part: MappedText) -> list[Block]:
    """'**Internal Use:** We use ...': the label is a heading, so the citation carries it as its section
    and the quote starts at the policy's own sentence."""
    label = _LEADING_LABEL.match(part.text)
    if label:
        head, body = _clean_inline(part[: label.end()]), _clean_inline(part[label.end():])
        if head.text.rstrip(" :") and body.text and not _ADMONITION.match(head.text):
            return [Block("heading", 4, head[: len(head.text.rstrip(" :"))]), Block("text", 0, body)]
    clean = _clean_inline(part)
    return [Block("text", 0, clean)] if clean.text else []


def _raw_index(raw: MappedText, clean: MappedText, i: int) -> int:
    """Index in `raw` just past clean character i-1 (both views share source offsets)."""
    target = clean.offsets[i - 1]
    for j, off in enumerate(raw.offsets):
        if off > target:
            return j
    return len(raw.offsets)


def _is_label(text: str) -> bool:
    """Short, unpunctuated lines read as headings ('Provide personal information'); not one that runs on into
    the next ('... for compliance with a legal obligation; or')."""
    return (1 <= word_count(text) <= 16 and len(text) <= 140 and ":" not in text and not text[:1].islower()
            and not re.search(r"[.;,!。．；，、！？][\"'”’)\]」』）]*$|\b(?:and|or|nor|but|of|to|the|a|an|by|for|with|from|as|"
                              r"like|including)$", text, re.I))


# Chinese and Japanese put no spaces between words, which run about two characters long
_HAN_KANA = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")


def word_count(text: str) -> int:
    """About how many words `text` holds, in any language."""
    return len(text.split()) + len(_HAN_KANA.findall(text)) // 2


# ---------------------------------------------------------------- chrome

_CHROME = re.compile(
    r"(바로가기|맨 위로|현재 위치|WORLD SHIPPING|SELECT THE DESTINATION|^GO$|^close$|^top$|back to top|skip to (main )?content"
    r"|^(home|menu|search|log ?in|sign ?in|cart|about)$)",
    re.I,
)


def _is_prose(block: Block) -> bool:
    """A sentence of the policy's, or a row of its tables (however short its cells)."""
    return block.kind == "row" or block.kind != "heading" and word_count(block.text.text) >= 8


def _drop_chrome(blocks: list[Block]) -> list[Block]:
    """Drop site chrome: known navigation phrases anywhere, and non-prose scraps before the first
    and after the last sentence of the policy (breadcrumbs, shipping pickers, 'GO', 'close'). A line
    that dates the policy ("Last updated: June 1, 2021") is the policy's own, wherever it stands: it
    answers "when did this policy last change?". So are its contact details ("Email: privacy@acme.com", however
    short: the policy ends at its last sentence or e-mail address) and the rest of a list its last sentence is in."""
    prose = [i for i, b in enumerate(blocks) if _is_prose(b)]
    if not prose:
        return [b for b in blocks if not _CHROME.search(b.text.text)]
    first = prose[0]
    last = max(prose[-1], max((i for i, b in enumerate(blocks) if _EMAIL.search(b.text.text)), default=0))
    while last + 1 < len(blocks) and blocks[last].kind == blocks[last + 1].kind == "item":
        last += 1
    kept = []
    for i, block in enumerate(blocks):
        if block.kind != "row" and _CHROME.search(block.text.text) and len(block.text.text) < 80:
            continue
        outside = i < first or i > last
        heading = block.kind == "heading" and i < first and (block.level == 1 or i == first - 1 and _opens(blocks[:i], block))
        if outside and not heading and not is_date_line(block.text.text):
            continue
        kept.append(block)
    return kept


_DOCUMENT_WORDS = {"privacy", "policy", "statement", "notice"}


def _opens(before: list[Block], heading: Block) -> bool:
    """Is `heading`, right above the policy's first sentence, the first section's own ("GitHub's Notice to California
    Residents")? Only under nothing but titles and date lines (a page's navigation headings stand among other scraps),
    and not a restatement of the title ("Privacy Policy" under "Clozette Privacy Policy")."""
    if not all(b.kind == "heading" or is_date_line(b.text.text) for b in before):
        return False
    named = {w for b in before if b.kind == "heading" for w in _words(b.text.text)} | _DOCUMENT_WORDS
    return not _words(heading.text.text) <= named


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


# ---------------------------------------------------------------- structure inside long paragraphs

_NUMBERED_HEADING = re.compile(r"(?<![\w-])(?:Article|ARTICLE|Section|SECTION|Chapter|CHAPTER)\s+(\d{1,3})\b[.:)]?\s*")
_INLINE_ITEM = re.compile(r"(?:(?<=\s)|^)(?:\*|\d{1,2}\))\s+(?=\S)")
_TITLE_WORDS = {"of", "to", "and", "for", "in", "on", "with", "by", "the", "a", "an", "under", "or", "from", "about"}
_SENTENCE_STARTS = {"The", "We", "Our", "You", "Your", "If", "When", "This", "These", "Users", "Any", "All", "Each",
                    "Personal", "In", "Customer", "Company"}
_LONG = 300


def _inline_structure(blocks: list[Block]) -> list[Block]:
    """A policy flattened into one paragraph still has its structure in the words: 'Article 4 Period of
    Retention ...' headings and ' * ' or '1)' items. Cut long paragraphs there."""
    out: list[Block] = []
    for block in blocks:
        if block.kind in ("heading", "row") or len(block.text) < _LONG:
            out.append(block)
            continue
        for part in _article_split(block):
            out.extend(_item_split(part) if part.kind != "heading" else [part])
    return out


def _article_split(block: Block) -> list[Block]:
    text = block.text.text
    hits = list(_NUMBERED_HEADING.finditer(text))
    if not hits:
        return [block]
    toc = {}  # a table of contents lists the titles: 'Article 1 Consent ... Article 2 ...'
    for a, b in zip(hits, hits[1:]):
        between = text[a.end():b.start()]
        if len(between) < 160 and not re.search(r"[.;]", between):
            toc.setdefault(a[1], between.strip())
    parts, last = [], 0
    for i, hit in enumerate(hits):
        nxt = hits[i + 1].start() if i + 1 < len(hits) else len(text)
        between = text[hit.end():nxt]
        if len(between) < 160 and not re.search(r"[.;]", between):
            continue  # a table-of-contents entry stays in its paragraph
        title = toc.get(hit[1], "")
        if not (title and text[hit.end():hit.end() + len(title)].lower() == title.lower()):
            starts_sentence = not text[:hit.start()].strip() or text[:hit.start()].rstrip()[-1] in ".!?:;\"”)*"
            title = _title_run(text[hit.end():hit.end() + 200]) if starts_sentence else ""
            if not title:
                continue  # a reference such as 'specified in Article 2, except ...'
        title_end = hit.end() + len(title)
        parts.append(Block(block.kind, block.level, block.text[last:hit.start()].strip()))
        parts.append(Block("heading", 2, block.text[hit.start():title_end].strip()))
        last = title_end
    parts.append(Block("text", 0, block.text[last:].strip()))
    return [p for p in parts if p.text.text]


def _title_run(text: str) -> str:
    words, taken = text.split(" "), []
    for word in words[:14]:
        if not word or not (word[:1].isupper() or word in _TITLE_WORDS):
            break
        if taken and word in _SENTENCE_STARTS and taken[-1] not in _TITLE_WORDS:
            break
        taken.append(word)
    while taken and taken[-1] in _TITLE_WORDS:
        taken.pop()
    return " ".join(taken)


def _item_split(block: Block) -> list[Block]:
    text = block.text.text
    cuts = [m for m in _INLINE_ITEM.finditer(text)]
    if len(block.text) < _LONG or len(cuts) < 2:
        return [block]
    parts = [Block(block.kind, block.level, block.text[: cuts[0].start()].strip())]
    for m, nxt in zip(cuts, cuts[1:] + [None]):
        end = nxt.start() if nxt else len(text)
        start = m.end() if m.group().strip() == "*" else m.start()
        parts.append(Block("item", 0, block.text[start:end].strip()))
    return [p for p in parts if p.text.text.strip(" *")]


def _drop_repeated_runs(blocks: list[Block], least: int = 3) -> list[Block]:
    """Layout tables repeat content (a sidebar copy of a later list): drop a run of `least` or more
    blocks that appears again later in the same order, keeping the later copy. Table rows, and short
    items that say the same in two lists or two rows ("Settings data", "Unique identifiers"), are the
    policy's words wherever they repeat: a run counts only when it holds a sentence and no row."""
    texts = [re.sub(r"^(?:\d{1,2}[.)]|[-–—•])\s*", "", b.text.text) for b in blocks]  # numbering may differ
    places: dict[tuple[str, ...], list[int]] = {}  # by the first `least` texts: a long policy repeats single blocks often
    for i in range(len(texts) - least + 1):
        places.setdefault(tuple(texts[i:i + least]), []).append(i)
    drop: set[int] = set()
    for i in range(len(texts) - least + 1):
        for j in (j for j in places[tuple(texts[i:i + least])] if j >= i + least):
            k = 0
            while j + k < len(texts) and i + k < j and texts[i + k] == texts[j + k]:
                k += 1
            run = blocks[i:i + k]
            if k >= least and all(b.kind != "row" for b in run) and any(_is_prose(b) for b in run):
                drop.update(range(i, i + k))
    return [b for i, b in enumerate(blocks) if i not in drop]
