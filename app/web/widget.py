"""The embeddable help widget: the chat page made for an iframe, the policy viewer, embed.js, a demo page.

The pages are static files (static/); their scripts call /api/... and put every piece of data in
with textContent. api.install() includes these routes and passes in the rate limit and the
frame-ancestors list from POLICYQA_EMBED_ORIGINS.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.params import Depends
from fastapi.responses import FileResponse
from starlette.exceptions import HTTPException

STATIC = Path(__file__).parent / "static"
ASSETS = {"widget.js": "text/javascript", "viewer.js": "text/javascript", "widget.css": "text/css",
          "demo.css": "text/css"}
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
            "base-uri 'none'; form-action 'none'")
DEMO_CSP = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
REVALIDATE = {"Cache-Control": "no-cache"}  # cached, but checked against the ETag so a deploy shows at once

pages = APIRouter(include_in_schema=False)
public = APIRouter(include_in_schema=False)


def _html(name: str, csp: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": csp, **REVALIDATE})


@pages.get("/widget")
def chat(request: Request) -> FileResponse:
    """The chat page for an iframe: /widget?policy=ID&color=CSS-COLOUR."""
    return _html("widget.html", request.app.state.widget_csp)


@pages.get("/widget/policy/{policy_id}")
def viewer(request: Request) -> FileResponse:
    """A policy's clean text, the cited quote highlighted: /widget/policy/ID?pieces=S-E,S-E (its pieces' source
    offsets; or ?start=S&end=E)."""
    return _html("viewer.html", request.app.state.widget_csp)


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
