"""The curated customer-to-policy vocabulary, and what it changes in real answers."""

from __future__ import annotations

import pytest

from app import vocabulary


@pytest.mark.parametrize("question, policy_terms", [
    ("how do I get rid of my account", ["withdraw membership", "destroy"]),
    ("will you tell me if my data gets leaked", ["notify", "leakage"]),
    ("let me know when something happens", ["notify"]),
])
def test_customer_phrases_add_the_policy_terms(question, policy_terms):
    expanded = vocabulary.expand(question)
    assert expanded.startswith(question)
    assert all(term in expanded for term in policy_terms)


def test_a_question_without_customer_phrases_is_unchanged():
    assert vocabulary.expand("Article 4 retention period") == "Article 4 retention period"


@pytest.mark.parametrize("question, wrong_term", [
    ("what information is required in order to use the site", "shipping"),  # an idiom, not a purchase
    ("can companies buy my info", "shipping"),  # selling data, not the customer's purchase
    ("is my data shared with anyone outside of the app", "international"),  # not another country
    ("does the developer sell data acquired from its users", "merge"),
])
def test_ambiguous_words_do_not_bring_another_concept(question, wrong_term):
    assert wrong_term not in vocabulary.expand(question)


@pytest.mark.parametrize("question, text, missing", [
    ("what if the company gets bought", "We may merge with another business.", []),
    ("what if the company gets bought", "We keep your data for 5 years.", ["bought out"]),
    ("what if you merged with someone", "Your data may be transferred in a sale of assets.", []),
    ("do you collect info from kids", "We do not collect data of children under 13.", []),
    ("do you collect info from kids", "Your kids are safe with us.", []),  # the customer's own word counts
    ("how do i unsubscribe", "We collect your name.", ["unsubscribe"]),
    ("what do you collect", "We collect your name.", []),
    ("which cream is best for dry skin", "We collect your name.", []),  # asks about no concept at all
    ("can i get a refund if i cancel mid month", "You may cancel your subscription at any time.", ["refund"]),
    ("can i get my money back", "Refunds are issued to the original card.", []),
    ("how much is the pro plan a month", "We collect your name.", ["how much is"]),
    ("what does the pro plan cost", "Access requests are free of charge.", []),
    ("how much data do you collect", "We collect your name.", []),  # an amount of data, not a price
    ("when was this policy last updated", "Effective date: February 1, 2024", []),
    ("when was this policy last updated", "We may change this policy from time to time.", ["last updated"]),
])
def test_unmentioned_names_the_concepts_a_text_never_mentions(question, text, missing):
    assert vocabulary.unmentioned(question, text) == missing


def test_tell_me_finds_where_the_policy_says_it_will_notify(engine):
    answer = engine.ask("will Dr Esthetique tell me if my data gets leaked")
    assert answer.answered and answer.policy == "dr-esthetique"
    lo, _ = engine.index.ranges["dr-esthetique"]
    # cited, though since the query adapter not always first: its neighbour on security measures scores close
    assert any("will promptly notify the user" in engine.index.clauses[lo + c.clause].text for c in answer.citations)
