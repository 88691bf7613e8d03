"""A full chat queue in a real browser: with the model hung, both chat workers busy and every place in the
queue taken, the next user is told on the page that the server is busy, and the questions already
waiting are answered once the model is back."""

from __future__ import annotations

import time

import httpx
from conftest import serving
from playwright.sync_api import Browser, Page, expect
from test_api import QUESTION
from test_api_timeout import gated  # noqa: F401  (fixture)
from test_ui_browser import WAIT_MS

from app.feedback import FeedbackStore
from app.web import server

QUEUE = 1


def opened(browser: Browser, url: str) -> Page:
    """The UI in a context of its own: a browser holds at most 6 connections per host and profile, and
    every open page keeps a stream to the queue, so users sharing one context would wait in the browser."""
    page = browser.new_context().new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(url, wait_until="domcontentloaded")
    expect(page.locator("#pq-chat .pq-empty")).to_be_visible(timeout=WAIT_MS)
    return page


def send(page: Page, question: str) -> None:
    box = page.get_by_placeholder("Ask about the policy")
    box.fill(question)
    box.press("Enter")


def waiting(url: str) -> int:
    return httpx.get(f"{url}/gradio_api/queue/status", timeout=10).json()["queue_size"]


def test_a_full_queue_tells_the_next_user_the_server_is_busy(browser, gated, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("POLICYQA_REQUEST_TIMEOUT", "300")
    monkeypatch.setattr(server, "UI_QUEUE", QUEUE)
    with serving(server.create_app(gated, FeedbackStore(tmp_path / "feedback.db"))) as url:
        pages = [opened(browser, url) for _ in range(server.UI_WORKERS + QUEUE + 1)]
        held, late = pages[:-1], pages[-1]
        gated.embedder.gate.clear()
        for n, page in enumerate(held[:-1]):
            send(page, f"{QUESTION} ({n})")
        # an example question is another event handler: it shares the limit of two answers at once
        held[-1].get_by_text("How long does LEJE keep my payment records?").click()
        deadline = time.monotonic() + 60
        while waiting(url) < QUEUE:
            assert time.monotonic() < deadline, "the last held question never waited in the queue"
            time.sleep(0.2)

        send(late, QUESTION)
        expect(late.get_by_text("This application is currently busy")).to_be_visible(timeout=WAIT_MS)
        late.screenshot(path=str(tmp_path / "queue-full.png"))

        gated.embedder.gate.set()
        for page in held:
            expect(page.locator("#pq-chat .pq-turn .pq-quote").first).to_be_visible(timeout=WAIT_MS)
        expect(late.locator("#pq-chat .pq-turn")).to_have_count(0)
        for page in pages:
            page.context.close()
