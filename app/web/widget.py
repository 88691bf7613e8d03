"""The embeddable help widget: the chat page made for an iframe, the policy viewer, embed.js, a demo page.

The chat page and the viewer are templates (static/*.html) rendered once per language with its labels
(phrases.LABELS, ?lang=ko; English without one): their text HTML-escaped, and every label as a JSON data
block (<script type="application/json" id="labels">) that their scripts read. An unknown ?lang= renders
English rather than an error: the page sits in a shop's iframe, and a mistyped data-lang must not break
the shop's page (GET /api/labels, which embed.js calls, is where an unknown language is refused). The
scripts call /api/... and put every piece of data in with textContent. api.install() includes these
routes and passes in the rate limit and the frame-ancestors list from POLICYQA_EMBED_ORIGINS.
"""

from __future__ import annotations

import html
import json
import re
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.params import Depends
from fastapi.responses import FileResponse, HTMLResponse
from starlette.exceptions import HTTPException

from .. import phrases
from ..errors import PolicyQAError
from ..languages import named

STATIC = Path(__file__).parent / "static"
ASSETS = {"widget.js": "text/javascript", "viewer.js": "text/javascript", "widget.css": "text/css",
          "demo.css": "text/css"}
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
            "base-uri 'none'; form-action 'none'")
DEMO_CSP = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
REVALIDATE = {"Cache-Control": "no-cache"}  # cached, but checked with the server so a deploy shows at once
FIELD = re.compile(r"\{\{(\w+)\}\}")  # {{key}} in a page template

pages = APIRouter(include_in_schema=False)
public = APIRouter(include_in_schema=False)


def _html(name: str, csp: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": csp, **REVALIDATE})


def _language(lang: str | None) -> str:
    """The language a page is shown in: `lang` when PolicyQA speaks it, else English (see the module's docstring)."""
    try:
        return named(lang or "en")
    except PolicyQAError:
        return "en"


@lru_cache(maxsize=None)
def _rendered(name: str, lang: str) -> str:
    """The template static/`name` with the labels of `lang` (a language PolicyQA speaks) filled in."""
    labels = phrases.LABELS[lang]
    # "<" escaped: no label can end the data block's <script> element
    data = json.dumps(labels, ensure_ascii=False).replace("<", "\\u003c")
    fields = {**{key: html.escape(text) for key, text in labels.items()}, "lang": lang, "labels": data}
    return FIELD.sub(lambda match: fields[match.group(1)], (STATIC / name).read_text(encoding="utf-8"))


def _page(name: str, lang: str | None, csp: str) -> HTMLResponse:
    return HTMLResponse(_rendered(name, _language(lang)), headers={"Content-Security-Policy": csp, **REVALIDATE})


@pages.get("/widget")
def chat(request: Request, lang: str | None = None) -> HTMLResponse:
    """The chat page for an iframe: /widget?policy=ID&color=CSS-COLOUR&lang=ko."""
    return _page("widget.html", lang, request.app.state.widget_csp)


@pages.get("/widget/policy/{policy_id}")
def viewer(request: Request, lang: str | None = None) -> HTMLResponse:
    """A policy's clean text, the cited quote highlighted: /widget/policy/ID?pieces=S-E,S-E (its pieces' source
    offsets; or ?start=S&end=E), &lang=ko."""
    return _page("viewer.html", lang, request.app.state.widget_csp)


@public.get("/widget/assets/{name}")
def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise HTTPException(404, f"No widget asset {name[:80]!r}.")
    return FileResponse(STATIC / name, media_type=ASSETS[name], headers=REVALIDATE)


@public.get("/embed.js")
def embed() -> FileResponse:
    """The script of the copy-paste snippet: a floating button that opens the widget in an iframe."""
    return FileResponse(STATIC / "embed.js", media_type="text/javascript", headers=REVALIDATE)


@public.get("/demo")
def demo() -> FileResponse:
    """A sample help page with the widget embedded by the snippet."""
    return _html("demo.html", DEMO_CSP)


def install(app: FastAPI, limit: Depends, frame_ancestors: str) -> None:
    app.state.widget_csp = f"{PAGE_CSP}; {frame_ancestors}"
    app.include_router(pages, dependencies=[limit])
    app.include_router(public)
