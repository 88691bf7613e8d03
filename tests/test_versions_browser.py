"""Policy versions in a real headless Chromium against the real app on 127.0.0.1, over LEJE's two dated
versions: the chat's version choice, the source viewer opening the version quoted, the Changes tab with
its word-level differences, and the widget's version choice and viewer. Screenshots go to artifacts/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from test_ui_browser import WAIT_MS, ask, patient_expect, shot  # noqa: F401 (patient_expect: autouse, here too)

QUESTION = "how long do you keep my payment records?"


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(WAIT_MS)
    yield context
    context.close()


@pytest.fixture
def page(context, versioned_server) -> Page:
    page = context.new_page()
    page.route(re.compile(r"^(?!http://127\.0\.0\.1:\d+/|data:|blob:)"), lambda route: route.abort())
    page.goto(versioned_server, wait_until="domcontentloaded")
    expect(page.locator("#pq-chat .pq-empty")).to_be_visible()
    return page


def choose(page: Page, dropdown: str, option: str) -> None:
    page.locator(f"{dropdown} input").click()
    page.locator(dropdown).get_by_role("option", name=option, exact=True).click()
    expect(page.locator(f"{dropdown} input")).to_have_value(option)


def ask_and_open(page: Page, choice: str, version: str, years: int) -> None:
    """Ask QUESTION of the version `choice` picks; its first quote gives `years` from `version`, and opens it."""
    choose(page, "#pq-version", choice)
    turn = ask(page, QUESTION)
    expect(turn.locator(".pq-quote").first).to_contain_text(f"Retention period: {years} years")
    expect(turn.locator(".pq-source").first).to_contain_text(f"(version of {version})")
    turn.locator(".pq-source[data-cite='1']").click()
    expect(page.locator("#pq-viewer h3")).to_have_text(f"LEJE Privacy Policy (version of {version})")


def test_the_chat_answers_from_the_chosen_version_and_opens_it(page):
    choose(page, "#pq-policy", "LEJE Privacy Policy")
    ask_and_open(page, "In force on 2019-01-01", "2019-01-01", 5)
    expect(page.locator("#pq-viewer mark.pq-hit")).to_contain_text("Retention period: 5 years")
    expect(page.locator("#pq-viewer .pq-doc")).to_contain_text("Records of consumer complaints or dispute handling")
    shot(page, "versions-chat-as-of")

    ask_and_open(page, "Latest version", "2021-06-01", 7)
    expect(page.locator("#pq-viewer .pq-doc")).not_to_contain_text("Records of consumer complaints")


def test_a_question_about_changes_quotes_both_versions(page):
    choose(page, "#pq-policy", "LEJE Privacy Policy")
    turn = ask(page, "did you change how long you keep my data?")
    quotes = turn.locator(".pq-quote")
    expect(quotes.nth(0)).to_contain_text("Retention period: 5 years")
    expect(quotes.nth(1)).to_contain_text("Retention period: 7 years")
    expect(turn.locator(".pq-source").nth(0)).to_contain_text("(version of 2019-01-01)")
    expect(turn.locator(".pq-source").nth(1)).to_contain_text("(version of 2021-06-01)")


def test_the_changes_tab_highlights_the_words_that_changed(page):
    page.get_by_role("tab", name="Changes").click()
    choose(page, "#pq-changes-policy", "LEJE Privacy Policy")
    page.locator("#pq-changes-go").click()
    cards = page.locator("#pq-changes .pq-change")
    expect(cards).to_have_count(3)
    expect(page.locator("#pq-changes .pq-changes-head")).to_contain_text("3 changes from the version of 2019-01-01 "
                                                                         "to the version of 2021-06-01")
    changed = page.locator("#pq-changes .pq-change[data-kind='changed']")
    expect(changed.locator(".pq-summary")).to_have_text("Retention period: 5 years → 7 years")
    expect(changed.locator("del.pq-removed")).to_have_text("5")
    expect(changed.locator("ins.pq-added")).to_have_text("7")
    expect(page.locator("#pq-changes .pq-change[data-kind='removed'] del.pq-removed")).to_contain_text(
        "Records of consumer complaints")
    expect(page.locator("#pq-changes .pq-change[data-kind='added'] ins.pq-added")).to_contain_text(
        "servers located in the Republic of Korea")
    shot(page, "versions-changes-tab")

    choose(page, "#pq-changes-section", "Storage of personal information abroad (1)")
    expect(cards).to_have_count(1)
    expect(cards.first).to_have_attribute("data-kind", "added")
    expect(page.locator("#pq-changes .pq-changes-head")).to_contain_text(
        "Showing the 1 in “Storage of personal information abroad”")
    choose(page, "#pq-changes-section", "All sections")
    expect(cards).to_have_count(3)

    choose(page, "#pq-changes-from", "2021-06-01")
    choose(page, "#pq-changes-to", "2019-01-01")
    page.locator("#pq-changes-go").click()
    expect(page.locator("#pq-changes .pq-error")).to_contain_text("is not earlier than")


def test_the_widget_answers_from_the_chosen_version_and_its_viewer_opens_it(context, versioned_server):
    page = context.new_page()
    page.goto(f"{versioned_server}/widget?policy=leje")
    choice = page.get_by_label("Answer from")
    expect(choice).to_be_visible()
    expect(choice.locator("option")).to_have_text(["the latest version", "the version in force on 2021-06-01",
                                                   "the version in force on 2019-01-01"])
    choice.select_option("2019-01-01")
    page.get_by_label("Your question").fill(QUESTION)
    page.get_by_label("Your question").press("Enter")
    reply = page.locator(".bot").last
    expect(reply).not_to_have_class(re.compile(r"\bpending\b"))
    expect(reply.locator("blockquote").first).to_contain_text("Retention period: 5 years")
    expect(reply.locator(".sources li").first).to_contain_text("(version of 2019-01-01)")
    link = reply.get_by_role("link", name="Show in policy").first
    assert "version=2019-01-01" in link.get_attribute("href")
    page.goto(link.get_attribute("href"))
    expect(page.locator("#meta")).to_contain_text("version of 2019-01-01")
    expect(page.locator("mark")).to_contain_text("Retention period: 5 years")
    expect(page.locator("#text")).to_contain_text("Records of consumer complaints or dispute handling")
    shot(page, "versions-widget-viewer")
