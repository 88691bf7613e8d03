"""The query adapter: fitted reproducibly on real questions, used by retrieval, ignored when it cannot apply."""

from __future__ import annotations

import numpy as np

from app import adapter, evaluation, search, training


def _dense_hit_at_1(examples: list[adapter.Example], fitted: adapter.Adapter | None) -> int:
    hits = 0
    for e in examples:
        vector = e.question[None] if fitted is None else fitted.apply(e.question[None])
        hits += bool(e.right[int(np.argmax(e.clauses @ vector[0]))])
    return hits


def test_fit_is_reproducible_and_moves_questions_toward_their_clauses(engine, model):
    examples = training.gold_examples(engine.index, model, evaluation.load_gold())
    assert len(examples) == 115 and all(e.right.any() for e in examples)
    first, again = training.fit([], examples), training.fit([], examples)
    assert np.array_equal(first.weights, again.weights)  # the same data gives the same adapter
    assert first.weights.shape == (model.dims, model.dims) and np.abs(first.weights).max() > 0
    assert _dense_hit_at_1(examples, first) > _dense_hit_at_1(examples, None)


def test_retrieval_scores_clauses_against_the_adapted_question(engine, model):
    question = "do you sell my email address to advertisers?"
    vector = search.query_vector(model, question)
    moved = adapter.Adapter(np.eye(model.dims, dtype=np.float32)[::-1] * 0.5)  # any map that moves the question
    with adapter.using(moved):
        hits = search.retrieve(engine.index, model, question, "laneige", vector=vector)
        aimed = search.aimed(vector)
    assert not np.allclose(aimed, vector)
    for h in hits:
        own = float(engine.index.vectors.reconstruct(h.row) @ aimed[0])
        assert h.dense >= own - 1e-5  # a clause's cosine is its own or its best sentence's, with the adapted question
    with adapter.using(None):
        plain = search.retrieve(engine.index, model, question, "laneige", vector=vector)
    assert [h.dense for h in plain] != [h.dense for h in hits]


def test_an_adapter_of_another_size_or_none_leaves_questions_as_they_are(model):
    vector = search.query_vector(model, "what cookies do you use?")
    with adapter.using(adapter.Adapter(np.ones((8, 8), dtype=np.float32))):
        assert adapter.model(model.dims) is None and np.array_equal(search.aimed(vector), vector)
    with adapter.using(None):
        assert np.array_equal(search.aimed(vector), vector)
    shipped = adapter.shipped()
    assert shipped is not None and adapter.model(model.dims) is shipped  # the package ships one for MiniLM


def test_save_and_load_round_trip(tmp_path, monkeypatch):
    fitted = adapter.Adapter(np.random.default_rng(0).normal(size=(4, 4)).astype(np.float32))
    adapter.save(fitted, tmp_path / "adapter.npz")
    monkeypatch.setattr(adapter, "shipped_path", lambda: tmp_path / "adapter.npz")
    try:
        assert np.array_equal(adapter.shipped().weights, fitted.weights)
    finally:
        adapter.shipped.cache_clear()
