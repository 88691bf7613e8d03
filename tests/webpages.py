"""Full web pages and their PDF prints, made from Markdown policies, for the web page and PDF readers' tests.

`page` renders a policy's Markdown (markdown-it, tables on) into one of three made-up sites: the policy sits among
a header with a menu, a cookie consent banner, breadcrumbs, a sidebar of related articles, share buttons, a
newsletter form and a footer of link columns, each site marked up its own way (HTML5 landmarks, a page builder's
classed divs, a blog engine's ids). CHROME holds the chrome's words, so a test can check that none is read as
the policy. `print_pdf` prints a page with headless Chromium, optionally with its page headers and footers (date,
title, address, page numbers), which a PDF reader must drop; as a site's print style sheet does, printing leaves
out the site's own header, menus, banners, sidebars and footers.

Run as a script, it measures main-content extraction libraries on such pages (how much policy text each keeps,
how much chrome it drops): `python tests/webpages.py` with the candidates installed (see README, web pages).
"""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path

from markdown_it import MarkdownIt

CHROMIUM = Path("/usr/bin/chromium")
_RENDER = MarkdownIt("commonmark", {"html": True}).enable("table")
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)

SITES = ("landmarks", "builder", "blog")
MENU = ["Product tour", "Pricing plans", "Customer stories", "Developer docs", "Partner program", "Careers at Acme"]
RELATED = ["How to export everything in your workspace", "Setting up two-step sign-in for your team",
           "Choosing the right plan for a growing business", "What's new this month: faster search and dark mode"]
FOOTER = ["Press kit", "Brand assets", "System status", "Accessibility statement", "Affiliate program",
          "Download the desktop app"]
BANNER = ("We and our partners use cookies to personalise content and ads and to analyse our traffic. "
          "Choose Accept all to consent or Manage settings to choose.")
NEWSLETTER = "Get product tips and company news in your inbox every other week."
COPYRIGHT = "© 2024 Acme Software Ltd. All rights reserved."
BREADCRUMBS = ["Help centre", "Legal and compliance"]
SHARE = "Share this page with your colleagues on social networks."
# the chrome's words, each of which a reader must drop (buttons' one-word labels aside)
CHROME = MENU + RELATED + FOOTER + [BANNER, NEWSLETTER, COPYRIGHT, SHARE, "Manage settings", "Sign in to your account"]


def policy_body(markdown: str) -> tuple[str, str]:
    """The policy as the site shows it: its title (the front matter's, else its first heading's) and its HTML."""
    title = ""
    if front := _FRONT_MATTER.match(markdown):
        found = re.search(r"^title:\s*['\"]?(.*?)['\"]?\s*$", front[1], re.M)
        title = found[1] if found else ""
        markdown = markdown[front.end():]
        body = _RENDER.render(f"# {title}\n\n{markdown}" if title else markdown)
    else:
        body = _RENDER.render(markdown)
    heading = re.search(r"<h[12][^>]*>(.*?)</h[12]>", body, re.S)
    return title or (re.sub(r"<[^>]+>", "", heading[1]) if heading else "Privacy policy"), body


def _links(items: list[str], cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return "".join(f'<li{attr}><a href="/{_slug(i)}">{html.escape(i)}</a></li>' for i in items)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


_STYLE = """body{font-family:sans-serif;margin:0;max-width:70em}nav ul,.menu ul,.links{list-style:none;display:flex;gap:1em}
table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px;vertical-align:top}
.cookie,.consent,#cmplz{position:fixed;bottom:0;background:#eee;padding:1em}
.layout{display:flex;gap:2em}.layout>aside,.sidebar{width:14em}
@media print{nav,.menu,.cookie,.consent,#cmplz,aside,.sidebar,.crumbs,.share,.newsletter,form,footer,.bottom,
.jp-relatedposts,.site-header,.top-bar,#masthead{display:none}}
"""


def page(markdown: str, site: str, pid: str = "acme") -> str:
    """A full web page of `site` (one of SITES) holding the policy written in `markdown`."""
    title, body = policy_body(markdown)
    head = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} | Acme</title>'
            f'<link rel="canonical" href="https://acme.example/legal/{pid}"><meta name="viewport" '
            f'content="width=device-width"><style>{_STYLE}</style><script>window.dataLayer=[];</script></head>')
    return head + {"landmarks": _landmarks, "builder": _builder, "blog": _blog}[site](body) + "</html>"


def _sectioned(body: str) -> str:
    """Each part under an <h2> in a <section> named for its heading, as documentation sites do ("cookies")."""
    parts = re.split(r"(?=<h2>)", body)
    return parts[0] + "".join(f'<section id="{_slug(re.sub(r"<[^>]+>", "", part[4:part.find("</h2>")]))}">{part}'
                              f"</section>" for part in parts[1:])


def _landmarks(body: str) -> str:
    """HTML5 landmarks: header, nav, main, article (a section per part), aside, footer; a consent dialog."""
    body = _sectioned(body)
    return (f'<body><header class="site-header"><a class="logo" href="/">Acme</a><nav aria-label="Main"><ul>'
            f'{_links(MENU)}</ul></nav><a class="button" href="/login">Sign in to your account</a></header>'
            f'<div class="cookie" role="dialog" aria-label="Cookie consent"><p>{BANNER}</p><button>Accept all'
            f'</button><button>Manage settings</button></div><main><nav class="crumbs" aria-label="Breadcrumb"><ol>'
            f'{_links(BREADCRUMBS)}</ol></nav><div class="layout"><article>{body}<div class="share"><p>{SHARE}</p>'
            f'<a href="/share/x">X</a> <a href="/share/in">LinkedIn</a></div></article><aside><h2>Related articles'
            f'</h2><ul>{_links(RELATED)}</ul></aside></div></main><footer><ul class="footer-links">{_links(FOOTER)}'
            f'</ul><form class="newsletter"><p>{NEWSLETTER}</p><input type="email"><button>Subscribe</button></form>'
            f'<p class="copyright">{COPYRIGHT}</p></footer></body>')


def _builder(body: str) -> str:
    """A page builder's divs and classes, no landmarks; the sidebar comes before the content in the source."""
    return (f'<body><div class="top-bar"><div class="brand">Acme</div><div class="menu"><ul>{_links(MENU, "menu-item")}'
            f'</ul></div><div class="account"><a href="/login">Sign in to your account</a></div></div>'
            f'<div class="consent" id="gdpr-consent"><span>{BANNER}</span> <a href="#" class="btn">Accept all</a> '
            f'<a href="#" class="btn">Manage settings</a></div><div class="crumbs">'
            f'{" › ".join(f"<a href=/{_slug(b)}>{b}</a>" for b in BREADCRUMBS)}</div><div class="layout">'
            f'<div class="sidebar"><div class="widget"><h4>Related articles</h4><ul>{_links(RELATED)}</ul></div></div>'
            f'<div class="content"><div class="text-block">{body}</div><div class="share">{SHARE} '
            f'<a href="/share/x">X</a></div></div></div><div class="bottom"><div class="footer-links"><ul>'
            f'{_links(FOOTER)}</ul></div><div class="newsletter"><p>{NEWSLETTER}</p><input type="email"></div>'
            f'<div class="legal">{COPYRIGHT}</div></div></body>')


def _blog(body: str) -> str:
    """A blog engine's ids (masthead, primary, secondary, colophon), its consent plugin, related posts in the post."""
    return (f'<body class="page-template-default"><div id="page" class="site"><header id="masthead"><div '
            f'class="site-branding"><p class="site-title"><a href="/">Acme</a></p></div><nav id="site-navigation">'
            f'<div class="menu-main-container"><ul id="primary-menu">{_links(MENU, "menu-item")}</ul></div></nav>'
            f'<div class="header-login"><a href="/login">Sign in to your account</a></div></header>'
            f'<div id="content" class="site-content"><div id="primary" class="content-area"><main id="main">'
            f'<article class="page type-page"><div class="entry-content">{body}</div><footer class="entry-footer">'
            f'<div class="sharedaddy share"><h3>{SHARE}</h3><ul><li><a href="/x">X</a></li></ul></div>'
            f'<div class="jp-relatedposts"><h3>Related</h3><ul>{_links(RELATED)}</ul></div></footer></article>'
            f'</main></div><div id="secondary" class="widget-area sidebar"><section class="widget newsletter"><h2>'
            f'Newsletter</h2><p>{NEWSLETTER}</p><form><input type="email"></form></section></div></div>'
            f'<footer id="colophon"><div class="footer-links"><ul>{_links(FOOTER)}</ul></div><div class="site-info">'
            f'{COPYRIGHT}</div></footer></div><div id="cmplz" class="cmplz-cookiebanner"><div class="cmplz-message">'
            f'<p>{BANNER}</p></div><button>Accept all</button><button>Manage settings</button></div></body>')


def print_pdf(page_file: Path, pdf: Path, headers: bool = False) -> Path:
    """Print `page_file` to `pdf` with headless Chromium, with its page headers and footers when `headers`."""
    from conftest import CHROMIUM_ARGS

    plain = [] if headers else ["--no-pdf-header-footer"]
    subprocess.run([str(CHROMIUM), *CHROMIUM_ARGS, f"--print-to-pdf={pdf}", *plain, page_file.as_uri()],
                   check=True, capture_output=True, timeout=120)
    if not pdf.is_file():
        raise RuntimeError(f"Chromium printed no {pdf.name}")
    return pdf


# ---------------------------------------------------------------- measuring extraction libraries


def words(text: str) -> str:
    """Letters and digits only, lower-cased: what two extractions of the same words share."""
    return re.sub(r"\W+", "", text.casefold())


def score(extracted: str, sentences: list[str]) -> tuple[float, float]:
    """The share of the policy's `sentences` found in `extracted`, and the share of CHROME left out of it."""
    found = words(extracted)
    kept = sum(words(s) in found for s in sentences) / len(sentences)
    dropped = sum(words(c) not in found for c in CHROME) / len(CHROME)
    return kept, dropped


def read_as_policyqa(made: str, folder: Path, name: str = "acme.html") -> str:
    """The clean text PolicyQA reads from page `made`."""
    from app import documents

    path = folder / name
    path.write_text(made, encoding="utf-8")
    return documents.load(path)[0].text


def _extractors() -> dict:
    """The candidates, each a function from a page to the text it takes for the page's main content."""
    import justext
    import lxml.html
    import trafilatura
    from boilerpy3 import extractors
    from goose3 import Goose
    from readability import Document
    from resiliparse.extract.html2text import extract_plain_text

    return {
        "trafilatura": lambda page: trafilatura.extract(page, include_tables=True) or "",
        "trafilatura (favor_recall)": lambda page: trafilatura.extract(page, include_tables=True, favor_recall=True) or "",
        "readability-lxml": lambda page: lxml.html.fromstring(Document(page).summary()).text_content(),
        "resiliparse": lambda page: extract_plain_text(page, main_content=True),
        "justext": lambda page: "\n".join(p.text for p in justext.justext(page, justext.get_stoplist("English"))
                                          if not p.is_boilerplate),
        "boilerpy3 (ArticleExtractor)": lambda page: extractors.ArticleExtractor().get_content(page),
        "goose3": lambda page: Goose().extract(raw_html=page).cleaned_text,
    }


def policy_sentences(path: Path) -> list[str]:
    """The sentences of a Markdown policy as PolicyQA reads it."""
    from app import clauses, documents

    policy, _ = documents.load(path)
    sentences = [policy.text[a:b] for a, b in clauses.sentence_spans(policy.text, 0, len(policy.text))]
    # a page shows a list's numbers and a table's rules as markup, not as text: compare the words of each cell
    cells = [cell for s in sentences for cell in s.split(" | ")]
    return [re.sub(r"^\(?\d{1,2}[.)]\s+", "", c) for c in cells if words(c)]


def compare(policies: list[Path], folder: Path) -> dict[str, list[tuple[float, float, float, float]]]:
    """Each extractor's (policy text kept, chrome dropped) on every policy in every site, by itself and as PolicyQA
    reads the page with it deciding what is main content."""
    from app import webpages as reader
    from app.errors import PolicyQAError

    results: dict[str, list[tuple[float, float, float, float]]] = {}
    shipped = reader.main_text
    try:
        for path in policies:
            sentences = policy_sentences(path)
            for site in SITES:
                made = page(path.read_text(encoding="utf-8"), site, path.stem)
                for name, extract in _extractors().items():
                    reader.main_text = extract
                    try:
                        read = read_as_policyqa(made, folder)
                    except PolicyQAError:  # it found no main content
                        read = ""
                    results.setdefault(name, []).append((*score(extract(made), sentences), *score(read, sentences)))
    finally:
        reader.main_text = shipped
    return results


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    root = Path(__file__).resolve().parent.parent
    shared = root.parent.parent / "shared" if (root.parent.parent / "shared").is_dir() else root.parent / "shared"
    files = sorted((shared / "policies").glob("*.md")) + sorted((root / "corpus").glob("*.md"))
    files = [f for f in files if f.stem.lower() != "readme"]
    import tempfile

    print(f"{len(files)} policies x {len(SITES)} sites: policy sentences kept, chrome dropped (mean, worst page)")
    print("| library | kept, by itself | chrome dropped, by itself | kept, as PolicyQA reads | chrome dropped, as read |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        for name, rows in compare(files, Path(folder)).items():
            cells = [f"{sum(column) / len(column):.1%}, {min(column):.1%}" for column in zip(*rows)]
            print(f"| {name} | {' | '.join(cells)} |")

