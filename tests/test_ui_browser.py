"""The chat UI and the agents' tabs in a real headless Chromium against the real app on 127.0.0.1:
ask, read the quote, open its source, rate it (stored in SQLite), markup stays text, the browser's
language, agents search, compare and see the gaps. Screenshots go to artifacts/."""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app import phrases

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
WAIT_MS = 90_000  # two slow cores: the first answer also warms the model up
MARKUP = "<img src=x onerror=alert(1)><b>bold</b>"


def words(text: str) -> str:
    return " ".join(text.split())



@pytest.fixture(autouse=True)
def patient_expect():
    """Assertions wait as long as actions do (Playwright's default is 5 s)."""
    expect.set_options(timeout=WAIT_MS)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture
def page(browser, live_server, request) -> Page:
    """The UI freshly opened; only the app itself is reachable, and no dialog may open. A test parametrizes it
    (indirect) with a browser locale, such as "ko-KR", to open it in that language."""
    locale = {"locale": request.param} if hasattr(request, "param") else {}
    context = browser.new_context(viewport={"width": 1400, "height": 900}, **locale)
    context.set_default_timeout(WAIT_MS)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    page = context.new_page()
    page.route(re.compile(r"^(?!http://127\.0\.0\.1:\d+/|data:|blob:)"), lambda route: route.abort())
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(live_server, wait_until="domcontentloaded")
    expect(page.locator("#pq-chat .pq-empty")).to_be_visible()
    yield page
    assert page.dialogs == []
    context.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def choose_policy(page: Page, title: str) -> None:
    page.locator("#pq-policy input").click()
    page.get_by_role("option", name=title, exact=True).click()
    expect(page.locator("#pq-policy input")).to_have_value(title)


def ask(page: Page, question: str):
    """Type and send `question`; the exchange it adds to the transcript."""
    turns = page.locator("#pq-chat .pq-turn")
    before = turns.count()
    box = page.get_by_placeholder("Ask about the policy")
    box.fill(question)
    box.press("Enter")
    expect(turns).to_have_count(before + 1)
    return turns.nth(before)


def test_an_answer_quotes_cites_opens_its_source_and_takes_feedback(page, feedback_store, read_only):
    choose_policy(page, "LEJE Privacy Policy")
    expect(page.locator("#pq-examples")).to_contain_text("How can I delete my account?")
    turn = ask(page, "how long do you keep my payment records?")
    quote = turn.locator(".pq-quote").first
    expect(quote).to_contain_text("Retention period")
    expect(turn.locator(".pq-source").first).to_contain_text("[1] LEJE Privacy Policy — ")
    expect(turn.locator(".pq-likelihood").first).to_have_text(re.compile(r"^answers it: (\d+%|<1%)$"))
    quoted = re.sub(r"\s*\[1\]$", "", quote.inner_text().strip())

    turn.locator(".pq-source[data-cite='1']").click()
    hit = page.locator("#pq-viewer mark.pq-hit")
    expect(hit).to_be_visible()
    expect(hit).to_be_in_viewport()
    assert words(hit.inner_text()) == words(quoted)
    expect(page.locator("#pq-viewer h3")).to_have_text("LEJE Privacy Policy")
    shot(page, "chat-source-viewer")

    turn.locator(".pq-comment").fill("I also need the log records")
    turn.locator("[data-rate='-1']").click()
    expect(turn.locator(".pq-rated")).to_contain_text("Thanks, your feedback is saved.")
    with closing(sqlite3.connect(feedback_store.path)) as db:  # closed: an open handle would keep the file writable
        row = db.execute("SELECT question, policy, answered, rating, citations FROM feedback WHERE comment = ?",
                         ("I also need the log records",)).fetchone()
    assert row[:4] == ("how long do you keep my payment records?", "leje", 1, -1)
    assert json.loads(row[4])[0]["policy"] == "leje"

    second = ask(page, "How can I delete my account?")
    expect(second.locator(".pq-quote").first).to_be_visible()
    with read_only(feedback_store.path):
        second.locator("[data-rate='1']").click()
        expect(second.locator(".pq-error")).to_have_text("Feedback not saved: the feedback database is read-only.")
        shot(page, "chat-feedback-not-saved")
        third = ask(page, "How do you destroy my data?")
        expect(third.locator(".pq-quote").first).to_be_visible()  # the chat keeps working


def test_the_ask_tab_is_in_english_by_default(page):
    english = phrases.CHAT["en"]
    expect(page.get_by_placeholder(english["placeholder"], exact=True)).to_be_visible()
    expect(page.locator("#pq-ask")).to_have_text(english["ask"])
    expect(page.get_by_role("tab", name=english["tab_ask"], exact=True)).to_be_visible()
    expect(page.locator("#pq-policy input")).to_have_value(english["all_policies"])
    expect(page.locator("#pq-examples span").first).to_have_text(english["try"])


@pytest.mark.parametrize("page", ["ko-KR"], indirect=True)
def test_the_ask_tab_speaks_the_browsers_language_and_each_answer_its_questions(page):
    korean = phrases.CHAT["ko"]
    box = page.get_by_placeholder(korean["placeholder"], exact=True)
    expect(box).to_be_visible()
    expect(page.locator("#pq-ask")).to_have_text(korean["ask"])
    for key in ("tab_ask", "tab_search", "tab_compare", "tab_changes", "tab_gaps"):
        expect(page.get_by_role("tab", name=korean[key], exact=True)).to_be_visible()
    expect(page.get_by_text(korean["intro"], exact=True)).to_be_visible()
    expect(page.locator("#pq-policy")).to_contain_text(korean["choose_policy"])
    expect(page.locator("#pq-policy input")).to_have_value(korean["all_policies"])
    expect(page.locator("#pq-version input")).to_have_value(korean["latest"])
    expect(page.locator("#pq-examples span").first).to_have_text(korean["try"])
    expect(page.locator("#pq-chat .pq-empty")).to_have_text(korean["empty"])
    expect(page.locator("#pq-viewer")).to_have_text(korean["viewer_empty"])
    expect(page.locator("#pq-new")).to_have_text(korean["new_conversation"])

    choose_policy(page, "LEJE Privacy Policy")
    box.fill("how long do you keep my payment records?")
    box.press("Enter")
    english = page.locator("#pq-chat .pq-turn").first
    expect(english.locator(".pq-cite").first).to_have_attribute("title", "Show in the policy")
    box.fill("결제 기록은 얼마 동안 보관하나요?")
    box.press("Enter")
    asked = page.locator("#pq-chat .pq-turn").nth(1)
    expect(asked.locator(".pq-cite").first).to_have_attribute("title", phrases.chat("ko", "show"))
    expect(asked.locator(".pq-quote").first).to_contain_text("Records of payment and supply of goods")


def test_a_policy_that_is_silent_says_so_with_its_contact(page):
    choose_policy(page, "LEJE Privacy Policy")
    turn = ask(page, "Do you have a policy about children?")
    expect(turn.locator(".pq-declined")).to_contain_text("The LEJE Privacy Policy does not say anything about this.")
    expect(turn.locator(".pq-declined")).to_contain_text("contact@lejeofficial.com")


def test_an_example_question_is_asked_with_one_click(page):
    page.locator("#pq-examples [data-example='0']").click()
    turn = page.locator("#pq-chat .pq-turn").first
    expect(turn.locator(".pq-q")).to_have_text("Does Clozette use cookies?")
    expect(turn.locator(".pq-source").first).to_contain_text("Clozette Privacy Policy")


def test_markup_typed_as_a_question_shows_as_text(page):
    turn = ask(page, MARKUP)
    expect(turn.locator(".pq-q")).to_have_text(MARKUP)
    expect(turn.locator(".pq-a")).to_be_visible()
    assert page.locator("#pq-chat img").count() == 0
    assert page.locator("#pq-chat b").count() == 0
    expect(page.get_by_text(MARKUP, exact=True)).to_be_visible()
    shot(page, "chat-markup-as-text")


def test_agents_search_ranks_clauses_and_copies_a_citation(page):
    page.get_by_role("tab", name="Agents: search").click()
    page.get_by_label("Search the policies' clauses").fill("delete my account")
    page.locator("#pq-find").click()
    cards = page.locator("#pq-hits .pq-card")
    expect(cards).to_have_count(10)
    scores = [float(cards.nth(i).get_attribute("data-score")) for i in range(10)]
    assert scores == sorted(scores, reverse=True)
    first = cards.first
    expect(first.locator("header")).to_contain_text(re.compile(r"#1 score \d\.\d\d .+ Privacy Policy — "))
    first.locator(".pq-copy").click()
    expect(first.locator(".pq-copy")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("“") and words(first.locator(".pq-text").inner_text()) in words(copied)
    assert first.locator("strong").inner_text() in copied
    shot(page, "agents-search")


def test_compare_answers_for_every_policy_side_by_side(page, engine):
    page.get_by_role("tab", name="Agents: compare").click()
    page.get_by_label("One question, asked of every policy").fill("do you use cookies?")
    page.locator("#pq-compare-go").click()
    rows = page.locator("#pq-compare tbody tr")
    expect(rows).to_have_count(len(engine.index.policies))
    for pid in (pid for pid in engine.index.policies if not engine.ask("do you use cookies?", policy=pid).answered):
        expect(page.locator(f"#pq-compare tr[data-policy='{pid}'] td")).to_have_text("not stated")
    expect(page.locator("#pq-compare tr[data-policy='laneige'] td")).to_have_text("not stated")  # no cookie words
    for pid in ("clozette", "leje"):
        expect(page.locator(f"#pq-compare tr[data-policy='{pid}'] .pq-quote").first).to_contain_text(
            re.compile("cookie", re.I))
    shot(page, "agents-compare")


def test_the_gaps_tab_lists_what_customers_miss(page, monkeypatch):
    monkeypatch.setenv("POLICYQA_ADMIN_TOKEN", "browser-test-token")
    choose_policy(page, "laneige Privacy Policy")
    ask(page, "Do you use cookies?")
    page.get_by_role("tab", name="Agents: gaps").click()
    page.get_by_label("Admin token").fill("browser-test-token")
    page.locator("#pq-show-gaps").click()
    row = page.locator("#pq-gaps tr", has_text="Do you use cookies?").filter(has_text="laneige Privacy Policy")
    expect(row).to_be_visible()
    shot(page, "agents-gaps")


def test_the_api_docs_render_every_operation_offline(browser, live_server):
    """/docs loads Swagger UI from the app itself: with every other host unreachable it still lists the operations."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    outside = []
    page.route(re.compile(r"^(?!http://127\.0\.0\.1:\d+/|data:|blob:)"),
               lambda route: (outside.append(route.request.url), route.abort()))
    page.goto(f"{live_server}/docs", wait_until="domcontentloaded")
    for method, path in (("POST", "/api/ask"), ("POST", "/api/feedback"), ("GET", "/api/policies/{policy_id}"),
                         ("GET", "/healthz")):
        operation = page.locator(".opblock-summary", has=page.locator(f".opblock-summary-path[data-path='{path}']"))
        expect(operation.locator(".opblock-summary-method")).to_have_text(method)
    page.locator(".opblock-summary-path[data-path='/api/ask']").click()
    expect(page.locator(".opblock-body").first).to_contain_text("question")
    shot(page, "api-docs")
    assert outside == []
    context.close()
