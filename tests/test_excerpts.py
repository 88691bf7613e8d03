"""The excerpt model: fitted reproducibly on real answers, quoting the run of sentences that holds them."""

from __future__ import annotations

import numpy as np
import pytest

from app import answer, evaluation, excerpts, training


def _quoted(engine, model, fitted: excerpts.Model | None) -> int:
    """Answerable gold questions whose anchor lies inside the quote of the clause that holds it."""
    held = 0
    for case in (c for c in evaluation.load_gold() if c.anchor):
        _, _, _, query, vector = answer.read_question(engine.index, model, case.question, case.policy)
        lo, hi = engine.index.ranges[case.expected_policy]
        for row in range(lo, hi):
            clause = engine.index.clauses[row]
            if evaluation.holds(case.expected_policy, clause.start, clause.end, case):
                with excerpts.using(fitted):
                    a, b = excerpts.span(engine.index, row, query, vector)
                held += evaluation.holds(case.expected_policy, clause.sentences[a].start, clause.sentences[b - 1].end, case)
    return held


def test_fit_is_reproducible_and_quotes_the_answer_more_often_than_the_opening(engine, model):
    examples = training.gold_excerpts(engine.index, model, evaluation.load_gold())
    assert len(examples) > 80 and all(marks.any() and len(marks) > 1 for _, marks, _ in examples)
    assert all(features.shape == (len(marks), len(excerpts.FEATURES)) for features, marks, _ in examples)
    first, again = excerpts.fit(examples), excerpts.fit(examples)
    assert np.array_equal(first.coefficients, again.coefficients) and first.intercept == again.intercept
    below_best = first.coefficients[excerpts.FEATURES.index("cosine below the best")]
    assert below_best > 0  # the further a sentence falls below the clause's best match, the less likely the answer
    assert _quoted(engine, model, first) > _quoted(engine, model, None) + 10


def test_without_a_model_the_quote_is_the_clauses_opening_run(engine, model):
    question = "does Clozette send my data overseas"
    _, _, _, query, vector = answer.read_question(engine.index, model, question, "clozette")
    lo, hi = engine.index.ranges["clozette"]
    long = next(r for r in range(lo, hi) if engine.index.clauses[r].clean_end - engine.index.clauses[r].clean_start
                > 2 * excerpts.EXCERPT_CHARS)
    with excerpts.using(None):
        a, b = excerpts.span(engine.index, long, query, vector)
    clause = engine.index.clauses[long]
    assert a == 0 and 1 <= b < len(clause.sentences)
    assert clause.sentences[b - 1].clean_end - clause.sentences[0].clean_start <= excerpts.EXCERPT_CHARS or b == 1


def test_the_best_run_sums_the_most_probability_within_the_limit(engine):
    clause = next(c for c in engine.index.clauses if len(c.sentences) >= 6
                  and c.sentences[-1].clean_end - c.sentences[0].clean_start > 2 * excerpts.EXCERPT_CHARS)
    probabilities = np.full(len(clause.sentences), 0.01)
    probabilities[-1] = 0.9
    a, b = excerpts.best_run(clause, probabilities)
    assert b == len(clause.sentences) and a > 0  # the run that reaches the likeliest sentence, as long as it fits


def test_the_shipped_model_reads_every_feature():
    shipped = excerpts.shipped()
    assert shipped is not None and len(shipped.coefficients) == len(excerpts.FEATURES)


def test_save_and_load_round_trip(tmp_path, monkeypatch):
    fitted = excerpts.Model(np.arange(len(excerpts.FEATURES), dtype=float) / 10, -1.5)
    excerpts.save(fitted, tmp_path / "excerpts.json")
    monkeypatch.setattr(excerpts, "shipped_path", lambda: tmp_path / "excerpts.json")
    excerpts.shipped.cache_clear()
    try:
        loaded = excerpts.shipped()
        assert np.array_equal(loaded.coefficients, fitted.coefficients) and loaded.intercept == fitted.intercept
    finally:
        excerpts.shipped.cache_clear()


def test_fitting_on_nothing_to_learn_from_is_one_clear_error():
    from app import excerpts
    from app.errors import PolicyQAError

    one_sentence = (np.zeros((1, len(excerpts.FEATURES))), np.array([True]), 1.0)
    with pytest.raises(PolicyQAError, match="some holding the answer and some not; these questions give 1"):
        excerpts.fit([one_sentence])
