"""Hostile input in the chat and the agents' tabs: NUL, lone surrogates, bidi and zero-width characters,
emoji, 100k-character and 1 MB questions, markup and javascript: links. Each gets a sane answer or one
clear line; nothing crashes, what is shown is escaped, what is stored is plain text. Through the UI's
handlers on real SQLite, and through Gradio itself over HTTP with gradio_client."""

from __future__ import annotations

import html
import re
import sqlite3
from contextlib import closing

import orjson
import pytest

from app.feedback import FeedbackStore
from app.web import ui

COOKIES = "do you use cookies?"
HOSTILE = {
    "NUL": "do you use\x00 cookies?",
    "lone surrogate": "do you use cookies\ud800?",
    "bidi override": "\u202edo you use cookies?\u202c",
    "zero-width": "do you use coo\u200bkies?\ufeff",
    "emoji": "do you use cookies? 🍪👨‍👩‍👧",
    "markup": "<script>alert(1)</script><img src=x onerror=alert(2)> do you use cookies?",
    "javascript: link": '[me](javascript:alert(1)) <a href="javascript:alert(2)">me</a> do you use cookies?',
    "100k characters": "cookies? " * 11_112,
    "1 MB": "x" * 1_000_000,
}
TOO_LONG = re.compile(r"^The question is \d+ characters long; keep it under 1000\.$")
# control characters but tab and line breaks (policies have those), invisible formatting, lone surrogates
INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")


def assert_inert(html: str) -> None:
    """Shown as text: no tag or link a user or policy typed, nothing invisible, and Gradio can send it."""
    orjson.dumps(html)  # what Gradio does with it; a lone surrogate would raise
    assert not re.search(r"<(script|img|a)\b", html), html[:500]
    assert not re.search(r"""href=["']?\s*javascript:""", html, re.I)
    assert not INVISIBLE.search(html)
    assert len(html) < 100_000  # a megabyte question is not echoed back whole


def letters(text: str) -> str:
    return re.sub(r"\W", "", text)


def rows(store: FeedbackStore, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(store.path)) as db:
        return db.execute(sql).fetchall()


@pytest.mark.parametrize("name", HOSTILE)
def test_the_chat_answers_or_says_why_and_stores_plain_text(engine, workers, tmp_path, name):
    """A sane answer, rated with the same text as comment; or one line saying why not."""
    store = FeedbackStore(tmp_path / "feedback.db")
    chat = ui.ask(engine, store, workers, HOSTILE[name], ui.ALL, [])
    exchange = chat[-1]
    if exchange.answer is None:
        assert TOO_LONG.match(exchange.error), exchange.error
        assert len(exchange.question) <= 1001
        assert not store.path.exists()  # a refused question is not logged
        assert_inert(ui.render_transcript(chat))
        return
    assert not INVISIBLE.search(exchange.answer.question)
    assert letters(exchange.answer.question) == letters(INVISIBLE.sub("", HOSTILE[name]))  # every visible letter kept
    chat = ui.rate(store, chat, 0, -1, HOSTILE[name][:500])
    assert chat[0].rating == -1, chat[0].notice
    assert_inert(ui.render_transcript(chat))

    stored = rows(store, "SELECT question FROM asks UNION ALL SELECT question || comment FROM feedback")
    assert all(not INVISIBLE.search(text) for (text,) in stored)
    assert rows(store, "PRAGMA integrity_check") == [("ok",)]


def test_stored_markup_is_escaped_in_the_gaps_report(engine, workers, tmp_path, monkeypatch):
    store = FeedbackStore(tmp_path / "feedback.db")
    chat = ui.ask(engine, store, workers, HOSTILE["markup"], "laneige", [])
    ui.rate(store, chat, 0, -1, HOSTILE["javascript: link"])
    monkeypatch.setenv("POLICYQA_ADMIN_TOKEN", "s3cret")
    report = ui.show_gaps(engine, store, "s3cret")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report
    assert_inert(report)


@pytest.mark.parametrize("name", HOSTILE)
def test_the_agents_tabs_answer_or_say_why(engine, name):
    for page in (ui.search_clauses(engine, HOSTILE[name], [], ui.ALL), ui.compare(engine, HOSTILE[name])):
        assert_inert(page)
        assert "pq-card" in page or "pq-compare" in page or TOO_LONG.search(re.sub(r"<[^>]+>", "", page))


@pytest.fixture(scope="module")
def gradio(live_server):
    from gradio_client import Client

    client = Client(live_server, verbose=False)
    yield client
    client.close()


@pytest.mark.parametrize("name", [n for n in HOSTILE if n != "lone surrogate"])  # the client cannot encode one
def test_through_gradio_over_http(gradio, name):
    gradio.reset_session()
    transcript, box = gradio.predict(HOSTILE[name], ui.ALL, api_name="/on_ask")
    assert box == ""
    assert_inert(transcript)
    shown = re.search(r'<div class="pq-q">(.*?)</div>', transcript).group(1)
    if "pq-answered" in transcript or "pq-declined" in transcript:
        assert letters(html.unescape(shown)) == letters(INVISIBLE.sub("", HOSTILE[name]))
    else:
        assert TOO_LONG.match(re.search(r'<p class="pq-notice pq-error">(.*?)</p>', transcript).group(1))
