"""The UI's logic on the real engine and real SQLite, without a browser: examples, follow-ups,
the source viewer's highlight, escaping, agents' search and compare, feedback failures."""

from __future__ import annotations

import html as markup
import re
import string
from collections import Counter
from dataclasses import replace

import pytest

from app import languages, phrases
from app.engine import Engine
from app.feedback import FeedbackStore
from app.records import Answer, Citation, Policy
from app.web import ui
from reading import CONTENTS_PAGE


def words(text: str) -> str:
    return " ".join(text.split())


def test_every_example_question_is_answered_by_its_policy(engine):
    index = engine.index
    for choice, questions in ui.EXAMPLES.items():
        if choice != ui.ALL and choice not in index.policies:
            continue
        for question in questions:
            result = engine.ask(question, policy=None if choice == ui.ALL else choice)
            assert result.answered, f"{choice}: {question!r} is declined"
            if choice == ui.ALL:
                assert result.policy, f"{question!r} should name its company"


def test_a_follow_up_stays_on_the_policy_of_the_conversation(engine, workers, tmp_path):
    store = FeedbackStore(tmp_path / "feedback.db")
    chat = ui.ask(engine, store, workers, "When does Clozette collect my information?", ui.ALL, [])
    chat = ui.ask(engine, store, workers, "what about cookies?", ui.ALL, chat)
    follow_up = chat[-1].answer
    assert follow_up.policy == "clozette"
    assert follow_up.answered and {c.policy for c in follow_up.citations} == {"clozette"}
    assert [x.ask_id for x in chat] == [1, 2]  # both questions logged


def test_a_product_question_is_declined_in_the_chat_as_one(engine, workers, tmp_path):
    chat = ui.ask(engine, FeedbackStore(tmp_path / "feedback.db"), workers, "how much is shipping?", "leje", [])
    assert chat[-1].answer.declined_as == "product"
    html = ui.render_transcript(chat)
    assert "pq-declined" in html and "looks like a question about the product or service" in html


def test_errors_show_as_one_chat_line(engine, workers, tmp_path):
    store = FeedbackStore(tmp_path / "feedback.db")
    chat = ui.ask(engine, store, workers, "   ", ui.ALL, [])
    chat = ui.ask(engine, store, workers, "x" * 5000, "leje", chat)
    assert [x.error for x in chat] == ["The question is empty; type a question about the policy.",
                                       "The question is 5000 characters long; keep it under 1000."]
    html = ui.render_transcript(chat)
    assert "Traceback" not in html and "pq-rate" not in html  # nothing to rate


def test_the_highlight_is_the_quote_in_the_whole_policy(engine):
    chat = [ui.Exchange("q", engine.ask(question, policy=pid)) for question, pid in (
        ("how long do you keep my payment records?", "leje"), ("do you use cookies?", None),
        ("how is my information protected?", "dr-esthetique"))]
    for turn, exchange in enumerate(chat):
        for n, citation in enumerate(exchange.answer.citations, 1):
            viewer = ui.open_citation(engine, chat, turn, n)
            marked = re.findall(r'<mark class="pq-hit">(.*?)</mark>', viewer, re.S)
            assert len(marked) == len(citation.pieces)
            assert [words(re.sub(r"<[^>]+>", " ", m)) for m in marked] == \
                [words(ui.escape(piece)) for piece in citation.quote.split(" … ")]


def test_each_piece_of_a_quote_with_a_gap_is_highlighted_with_the_gap_marked(tmp_path, model):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "acme.md").write_text(CONTENTS_PAGE, encoding="utf-8")
    acme = Engine(corpus, tmp_path / "index", model)
    acme.refresh()
    chat = [ui.Exchange("q", acme.ask("which products does this policy apply to?", policy="acme"))]
    (citation,) = chat[0].answer.citations
    assert citation.quote == "This policy is split into sections, as follows: … It applies to every product Acme makes " \
                             "and to the sites where we sell them."
    html = ui.render_transcript(chat)
    assert html.count('class="pq-skip"') == 1 and "as follows: <span" in html
    viewer = ui.open_citation(acme, chat, 0, 1)
    assert re.findall(r'<mark class="pq-hit">(.*?)</mark>', viewer, re.S) == [
        "This policy is split into sections, as follows:", "It applies to every product Acme makes and to the sites "
                                                           "where we sell them."]
    assert viewer.count('class="pq-skip"') == 1


def test_the_viewer_ignores_clicks_it_cannot_place(engine):
    chat = [ui.Exchange("q", engine.ask("do you use cookies?", policy="leje"))]
    for turn, n in ((5, 1), (0, 99), ("0", 1), (0, None)):
        assert ui.open_citation(engine, chat, turn, n) == ui.render_viewer_empty()


def test_markup_from_users_and_policies_is_text():
    markup = '<img src=x onerror=alert(1)><b>bold</b><script>alert(2)</script>'
    quote = f'{markup} “and quotes” & more'
    citation = Citation(policy="evil", title=markup, section=markup, quote=quote, start=0, end=1, pieces=((0, 1),),
                        score=0.9, clause=0)
    answer = Answer(question=markup, answered=True, answer=f"The {markup} says:\n\n“{quote}” [1]", citations=[citation])
    html = ui.render_transcript([ui.Exchange(markup, answer), ui.Exchange(markup, error=markup)])
    policy = Policy(id="evil", title=markup, company=markup, source_url="javascript:alert(3)",
                    archive_url="https://web.archive.org/x\" onmouseover=\"alert(4)", archived=markup, text=quote)
    viewer = ui.render_viewer(policy, citation, 1, [(0, len(markup))])
    for page in (html, viewer):
        assert "<img" not in page and "<b>" not in page and "<script" not in page
        assert "&lt;img src=x onerror=alert(1)&gt;&lt;b&gt;bold&lt;/b&gt;" in page
    assert "javascript:" not in viewer and 'onmouseover="' not in viewer
    assert 'rel="noopener noreferrer"' in viewer


def test_only_http_links_are_links():
    assert ui.safe_url("https://example.com/privacy") == "https://example.com/privacy"
    assert ui.safe_url(" http://example.com ") == "http://example.com"
    for bad in ("javascript:alert(1)", "data:text/html,x", "//example.com", "ftp://example.com", "", None):
        assert ui.safe_url(bad) is None
        assert ui.link(bad, "x") == ""


def test_agent_search_ranks_clauses_of_the_chosen_policies(engine):
    index = engine.index
    hits = ui.ranked_clauses(index, engine.embedder, "delete my account", [], None)
    assert len(hits) == ui.AGENT_RESULTS
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    chosen = ui.ranked_clauses(index, engine.embedder, "delete my account", ["laneige", "leje"], None)
    assert chosen and {h.clause.policy for h in chosen} <= {"laneige", "leje"}
    leje = ui.ranked_clauses(index, engine.embedder, "delete my account", ["leje"], None)
    assert ui.search_clauses(engine, "delete my account", ["leje"], ui.ALL).count('class="pq-card"') == len(leje)


def test_the_topic_filter_keeps_only_clauses_of_that_topic(engine):
    index = engine.index
    topic = ui.ranked_clauses(index, engine.embedder, "do you use cookies?", [], None)[0].clause.topic
    hits = ui.ranked_clauses(index, engine.embedder, "do you use cookies?", [], topic)
    assert hits and all(h.clause.topic == topic for h in hits)
    in_index = Counter(c.topic for c in index.clauses)
    assert len(hits) == min(ui.AGENT_RESULTS, in_index[topic])
    absent = next((t for t in ui.TOPICS if t not in in_index), None)
    if absent:
        assert "No clause matches" in ui.search_clauses(engine, "do you use cookies?", [], absent)


def test_copy_citation_carries_quote_title_section_and_link(engine):
    index = engine.index
    clause = index.clauses[index.ranges["clozette"][0] + 2]
    text = ui.copy_text(clause, index.policies["clozette"])
    assert text == f"“{clause.text}”\n— Clozette Privacy Policy, {clause.section}\nhttp://www.clozette.co/info/privacy"


def test_compare_has_one_row_per_policy_and_says_not_stated(engine):
    html = ui.compare(engine, "do you use cookies?")
    found = re.findall(r'<tr class="pq-([a-z-]+)" data-policy="([^"]+)"', html)
    rows = {pid: kind for kind, pid in found}
    assert len(found) == len(rows) and set(rows) == set(engine.index.policies)
    asked = {pid: engine.ask("do you use cookies?", policy=pid).answered for pid in rows}
    assert rows == {pid: "stated" if answered else "not-stated" for pid, answered in asked.items()}
    assert rows["laneige"] == "not-stated" and rows["clozette"] == rows["leje"] == "stated"  # laneige never mentions cookies
    assert html.count("not stated") == list(asked.values()).count(False)
    assert "empty" in ui.compare(engine, "  ")


def test_feedback_that_cannot_be_saved_says_so_and_the_chat_goes_on(engine, workers, tmp_path, read_only):
    store = FeedbackStore(tmp_path / "feedback.db")
    chat = ui.ask(engine, store, workers, "how long do you keep my payment records?", "leje", [])
    with read_only(store.path):
        chat = ui.rate(store, chat, 0, -1, "too long")
        assert chat[0].notice == "Feedback not saved: the feedback database is read-only."
        assert "Feedback not saved: the feedback database is read-only." in ui.render_transcript(chat)
        chat = ui.ask(engine, store, workers, "How can I delete my account?", "leje", chat)
        assert chat[-1].answer.answered and chat[-1].ask_id is None
    chat = ui.rate(store, chat, 0, -1, "too long")  # a retry once the database is writable
    assert chat[0].rating == -1 and "saved" in chat[0].notice


def test_rating_ignores_what_it_cannot_place(engine, workers, tmp_path):
    store = FeedbackStore(tmp_path / "feedback.db")
    chat = ui.ask(engine, store, workers, "How can I delete my account?", "leje", [])
    for turn, rating in ((3, 1), (0, 0), (0, "1"), ("0", 1)):
        assert ui.rate(store, chat, turn, rating, "")[0].rating == 0
    assert ui.rate(store, chat, 0, 1, None)[0].rating == 1
    assert ui.rate(store, chat, 0, -1, "changed my mind")[0].rating == 1  # one rating per answer
    assert store.gaps() == []


def test_the_gaps_tab_needs_the_admin_token(engine, workers, tmp_path, monkeypatch):
    store = FeedbackStore(tmp_path / "feedback.db")
    ui.ask(engine, store, workers, "do you use cookies?", "laneige", [])
    monkeypatch.delenv("POLICYQA_ADMIN_TOKEN", raising=False)
    assert "POLICYQA_ADMIN_TOKEN" in ui.show_gaps(engine, store, "")
    monkeypatch.setenv("POLICYQA_ADMIN_TOKEN", "s3cret")
    assert "not the admin token" in ui.show_gaps(engine, store, "guess")
    shown = ui.show_gaps(engine, store, "s3cret")
    assert "laneige Privacy Policy" in shown and "do you use cookies?" in shown


@pytest.mark.parametrize("choice", [ui.ALL, "leje", "a-policy-added-later"])
def test_examples_are_buttons_of_escaped_questions(choice):
    html = ui.render_examples(choice)
    assert html.count("data-example=") == len(ui.examples_for(choice))


def quoted(page: str) -> list[str]:
    """The quotations of an answer's HTML as text: tags (a gap's mark) dropped, entities read."""
    return [markup.unescape(re.sub(r"<[^>]+>", "", q))
            for q in re.findall(r'<blockquote class="pq-quote">(.*?) <button', page, re.S)]


def test_a_korean_questions_answer_is_labelled_in_korean_around_the_same_quotes(engine, workers, tmp_path):
    store = FeedbackStore(tmp_path / "feedback.db")
    chat = ui.ask(engine, store, workers, "결제 기록은 얼마 동안 보관하나요?", "leje", [])  # how long do you keep payment records?
    korean = chat[0].answer
    assert korean.lang == "ko" and korean.answered
    page = ui.render_transcript(chat)
    english = ui.render_transcript([ui.Exchange(chat[0].question, replace(korean, lang="en"))])
    for key in ("show", "fitted", "helpful", "not_helpful", "comment"):
        assert ui.escape(phrases.chat("ko", key)) in page, key
        assert ui.escape(phrases.chat("en", key)) not in page and ui.escape(phrases.chat("en", key)) in english, key
    assert "답변일 가능성: " in page and "answers it: " not in page
    assert quoted(page) == quoted(english) == [c.quote for c in korean.citations]
    assert any("Records of payment and supply of goods" in q for q in quoted(page))  # the policy's own English words
    chat = ui.rate(store, chat, 0, 1, "")
    assert chat[0].notice == "감사합니다. 의견이 저장되었습니다." and chat[0].notice in ui.render_transcript(chat)


def test_the_chat_has_every_word_in_every_language_with_the_same_fields():
    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    assert set(phrases.CHAT) == set(languages.LANGUAGES)
    english = phrases.CHAT["en"]
    for lang, words in phrases.CHAT.items():
        assert words.keys() == english.keys(), lang
        for key, text in words.items():
            assert text.strip() and fields(text) == fields(english[key]), (lang, key)
            assert not {"<", "&"} & set(text), (lang, key)  # the browser puts the page's words into HTML as they are
    # the widget's labels the chat shows too: in LABELS alone (tests/test_api.py checks them in every language)
    assert set(phrases.SHARED) <= set(phrases.LABELS["en"]) and not set(phrases.SHARED) & set(english)
