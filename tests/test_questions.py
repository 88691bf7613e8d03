"""What a question asks (the shipped question classifier, on the real model) and which facts a clause states; a
product question is declined as one (the CLI's and the API's tests check that they say so)."""

from __future__ import annotations

import numpy as np
import pytest

from app import facts, questions, search


def kinds(model, question: str) -> tuple[float, str]:
    vector = search.query_vector(model, question)
    asked = questions.model()
    return asked.product(vector), facts.KINDS[int(asked.asks(vector).argmax())]


@pytest.mark.parametrize("question", ["how much is shipping to canada?", "i forgot my password how do i log in",
                                      "whats the price of the gold membership", "can i return shoes i already wore"])
def test_product_and_support_questions_are_recognised(model, question):
    assert kinds(model, question)[0] > 0.5


@pytest.mark.parametrize("question", ["do you sell my email address?", "how long do you keep my payment records?",
                                      "can i ask you to delete my personal information", "do you use cookies"])
def test_questions_a_privacy_policy_answers_are_recognised(model, question):
    assert kinds(model, question)[0] < 0.5


@pytest.mark.parametrize("question, kind", [
    ("how long do you keep my data after i close my account", "duration"),
    ("how old do i have to be to sign up", "age"),
    ("whats the phone number for your privacy team", "contact"),
    ("do you share my info with advertisers", "none"),
])
def test_the_kind_of_fact_a_question_asks_for(model, question, kind):
    assert kinds(model, question)[1] == kind


@pytest.mark.parametrize("text, kind, states", [
    ("Retention period: 5 years from the date of payment", "duration", True),
    ("We keep your information for as long as your account is active.", "duration", True),
    ("We use your information to improve our services.", "duration", False),
    ("We do not knowingly collect data from children under 13 years of age.", "age", True),
    ("Our services are not directed at children.", "age", False),
    ("Write to privacy@example.com or call +1 (555) 010-2030.", "contact", True),
    ("You may ask us what we hold about you.", "contact", False),
    ("Requests are free of charge.", "price", True),
    ("This policy is effective as of June 1, 2024.", "date", True),
])
def test_a_clause_states_a_kind_of_fact(text, kind, states):
    assert bool(facts.stated(text)[facts.KINDS.index(kind)]) is states


def test_unstated_is_the_probability_of_asking_for_what_the_clause_does_not_state():
    asks = np.zeros(len(facts.KINDS))
    asks[facts.KINDS.index("duration")], asks[facts.KINDS.index("none")] = 0.8, 0.2
    assert facts.unstated(asks, "We use cookies.") == pytest.approx(0.8)
    assert facts.unstated(asks, "We keep it for 30 days.") == 0.0


def test_the_classifier_is_fitted_reproducibly_and_measured_on_sectors_it_never_saw(model):
    labelled = questions.load()
    assert len(labelled) > 1500 and {q.about for q in labelled} == set(questions.ABOUT)
    sample = labelled[::4]
    vectors = model.encode([q.question for q in sample])
    first, second = questions.fit(vectors, sample), questions.fit(vectors, sample)
    assert np.array_equal(first.about.weights, second.about.weights)
    accuracy = questions.held_out_accuracy(vectors, sample)
    assert accuracy["about"] > 0.85 and accuracy["fact"] > 0.75


def test_a_product_question_is_declined_as_one_with_the_policy_contact(engine):
    answer = engine.ask("how much is shipping to canada?", policy="clozette")
    assert not answer.answered and answer.declined_as == "product"
    assert "looks like a question about the product or service" in answer.answer and "info@clozette.co" in answer.answer
    covered = engine.ask("do you sell my email address?", policy="laneige")
    assert covered.answered and covered.declined_as is None

