"""The embed snippet in a real headless Chromium: a help page on another origin embeds the widget,
a customer opens it and asks; answers quote the policy, and markup typed in stays text."""

from __future__ import annotations

import functools
import re
import sqlite3
import threading
from contextlib import closing
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app import phrases

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
QUESTION = "how long do you keep payment records?"
BUTTON = "Questions about our privacy policy?"
ENGLISH = {"button": BUTTON, "close": "Close", "title": "Questions about our privacy policy",
           "title_policy": "Questions about the {title}", "question": "Your question"}
WAIT_MS = 90_000  # two slow cores: the first answer also warms the model up

SHOP_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop help</title>
<style>button {{ background: red; }}</style></head>
<body><h1>Help centre</h1><p>Anything else? Ask below.</p>
<script src="{server}/embed.js" data-policy="leje" data-color="#0b5"{lang} async></script>
</body></html>
"""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass



@pytest.fixture(scope="module")
def shop(live_server, tmp_path_factory) -> str:
    """Another origin (its own port) serving a help page with the copy-paste snippet (help.html), and the same with
    data-lang="ko" (help-ko.html) and with a language PolicyQA does not speak (help-xx.html)."""
    folder = tmp_path_factory.mktemp("shop")
    for name, lang in [("help.html", ""), ("help-ko.html", ' data-lang="ko"'), ("help-xx.html", ' data-lang="xx"')]:
        (folder / name).write_text(SHOP_PAGE.format(server=live_server, lang=lang), encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/help.html"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def page(browser, rate_limit):
    rate_limit("1000/minute")
    context = browser.new_context(viewport={"width": 1000, "height": 760})
    yield context.new_page()
    context.close()


def open_widget(page, url: str, labels: dict[str, str] = ENGLISH):
    """Click the floating button; returns it (now named Close) and the widget's frame, in the labels' language."""
    page.goto(url)
    page.get_by_role("button", name=labels["button"]).click()
    button = page.get_by_role("button", name=labels["close"])
    expect(button).to_have_attribute("aria-expanded", "true")
    frame = page.frame_locator(f"iframe[title='{labels['title']}']")
    heading = labels["title_policy"].format(title="LEJE Privacy Policy")
    expect(frame.locator("h1")).to_have_text(heading, timeout=WAIT_MS)
    return button, frame


def ask(frame, question: str, box: str = ENGLISH["question"]):
    frame.get_by_label(box).fill(question)
    frame.get_by_label(box).press("Enter")
    reply = frame.locator(".bot").last
    expect(reply).not_to_have_class(re.compile(r"\bpending\b"), timeout=WAIT_MS)
    return reply


def test_snippet_on_another_origin_answers_with_quotes(page, shop, engine):
    ARTIFACTS.mkdir(exist_ok=True)
    button, frame = open_widget(page, shop)
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(0, 187, 85)"  # data-color, not the page's CSS

    reply = ask(frame, QUESTION)
    quote = engine.ask(QUESTION, "leje").citations[0].quote
    expect(reply.locator("blockquote").first).to_contain_text(quote.splitlines()[0])
    expect(reply.locator(".sources li").first).to_contain_text("[1]")
    expect(reply.locator(".sources .likelihood").first).to_have_text(re.compile(r"answers it: (\d+%|<1%)$"))
    page.screenshot(path=ARTIFACTS / "widget-answer.png")

    with page.context.expect_page() as opened:
        reply.get_by_role("link", name="Show in policy").first.click()
    viewer = opened.value
    expect(viewer.locator("mark")).to_contain_text(quote.splitlines()[0], timeout=WAIT_MS)
    viewer.screenshot(path=ARTIFACTS / "widget-viewer.png")


def test_the_widget_speaks_the_language_the_page_asks_for(page, shop):
    korean = phrases.LABELS["ko"]
    _, frame = open_widget(page, shop.replace("help.html", "help-ko.html"), korean)
    expect(frame.locator("html")).to_have_attribute("lang", "ko")
    expect(frame.get_by_label(korean["question"])).to_have_attribute("placeholder", korean["placeholder"])
    expect(frame.locator("#send")).to_have_text(korean["ask"])

    reply = ask(frame, "결제 기록은 얼마 동안 보관하나요?", korean["question"])
    expect(reply.locator("p").first).to_contain_text("나와 있습니다")  # the answer's framing: the question's language
    expect(reply.get_by_role("button", name=korean["helpful"], exact=True)).to_be_visible()
    show = reply.get_by_role("link", name=korean["show"]).first
    expect(show).to_have_attribute("href", re.compile(r"[?&]lang=ko(&|$)"))
    with page.context.expect_page() as opened:
        show.click()
    viewer = opened.value
    expect(viewer.locator("mark").first).to_be_visible(timeout=WAIT_MS)
    expect(viewer.locator("html")).to_have_attribute("lang", "ko")


def test_a_language_it_does_not_speak_shows_the_widget_in_english_with_a_warning(page, shop):
    with page.expect_console_message(lambda message: message.type == "warning", timeout=WAIT_MS) as warned:
        page.goto(shop.replace("help.html", "help-xx.html"))
    assert "Unknown language 'xx'" in warned.value.text and "The widget shows English." in warned.value.text
    expect(page.get_by_role("button", name=ENGLISH["button"])).to_be_visible()


def test_no_button_when_the_labels_cannot_load(page, shop, live_server):
    page.route(f"{live_server}/api/labels**", lambda route: route.abort())
    with page.expect_console_message(lambda message: message.type == "warning", timeout=WAIT_MS) as warned:
        page.goto(shop)
    assert "no widget button" in warned.value.text
    expect(page.locator("button")).to_have_count(0)


def test_a_product_question_is_declined_as_one_with_the_contact(page, shop, engine):
    _, frame = open_widget(page, shop)
    reply = ask(frame, "how much is shipping to canada?")
    expect(reply).to_contain_text("looks like a question about the product or service")
    expect(reply.locator("blockquote")).to_have_count(0)
    contact = engine.index.policies["leje"].contact
    if contact:
        expect(reply).to_contain_text(contact[0])


def test_an_answer_is_rated_with_a_thumb(page, shop, feedback_store):
    question = "How can I delete my account?"
    count = ("SELECT COUNT(*) FROM feedback f JOIN asks a ON f.ask_id = a.id"
             " WHERE a.question = ? AND a.token IS NOT NULL AND f.rating = 1")
    _, frame = open_widget(page, shop)
    reply = ask(frame, question)
    before = rows(feedback_store.path, count, question)
    reply.get_by_role("button", name="Helpful", exact=True).click()
    expect(reply.locator(".rate")).to_contain_text("Thanks, your feedback is saved.", timeout=WAIT_MS)
    expect(reply.get_by_role("button", name="Not helpful")).to_be_disabled()
    expect(reply.get_by_role("button", name="Helpful", exact=True)).to_have_attribute("aria-pressed", "true")
    assert rows(feedback_store.path, count, question) == [(before[0][0] + 1,)]
    page.screenshot(path=ARTIFACTS / "widget-rated.png")


def rows(path, sql: str, *args) -> list[tuple]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(sql, args).fetchall()


def test_markup_in_a_question_stays_text(page, shop):
    ARTIFACTS.mkdir(exist_ok=True)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    _, frame = open_widget(page, shop)
    markup = "<img src=x onerror=alert(1)>"
    ask(frame, markup)
    expect(frame.locator(".user").last).to_have_text(markup)
    assert frame.locator("img").count() == 0
    assert dialogs == []
    page.screenshot(path=ARTIFACTS / "widget-markup.png")


def test_demo_page_embeds_the_widget(page, live_server):
    button, _ = open_widget(page, f"{live_server}/demo")
    button.click()
    expect(page.get_by_role("button", name=BUTTON)).to_have_attribute("aria-expanded", "false")
    expect(page.locator("iframe")).to_be_hidden()


def test_the_viewer_highlights_each_piece_of_a_quote_and_marks_the_gap(page, live_server, engine):
    clause = next(c for c in engine.index.clauses if c.policy == "leje" and len(c.sentences) >= 3)
    first, third = clause.sentences[0], clause.sentences[2]
    page.goto(f"{live_server}/widget/policy/leje?pieces={first.start}-{first.end},{third.start}-{third.end}")
    text = engine.index.policies["leje"].text
    marks = page.locator("mark")
    expect(marks).to_have_count(2, timeout=WAIT_MS)
    assert marks.all_text_contents() == [text[s.clean_start:s.clean_end] for s in (first, third)]
    expect(page.locator("#text .gap")).to_have_count(1)
