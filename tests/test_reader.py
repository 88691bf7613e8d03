"""The reader: a cross-encoder fitted from the bundled MiniLM weights, quantized to ONNX, reading question and clause
together (the shipped one on real clauses; a small fit to check reproducibility and what a fit refuses)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from app import answer, reader
from app.errors import PolicyQAError

PAIRS = [("how long do you keep my data", "We keep payment records for five years.", True),
         ("how long do you keep my data", "We use cookies to remember your settings.", False)] * 24


def test_the_shipped_reader_scores_every_clause_of_a_policy(engine):
    lo, hi = engine.index.ranges["leje"]
    texts = [c.text for c in engine.index.clauses[lo:hi]]
    logits = reader.model().logits("how long do you keep my payment records?", texts)
    assert logits.shape == (hi - lo,) and np.isfinite(logits).all()
    assert reader.model().logits("anything", []).shape == (0,)


def test_every_hit_carries_the_readers_logit_and_the_probability_reads_it(engine):
    found = answer.assess(engine.index, engine.embedder, "how long do you keep my payment records?", policy="leje")
    expected = reader.model().logits(found.query, [h.clause.text for h in found.hits])
    assert np.allclose(found.hit_signals["reads"], expected, atol=1e-6)
    with reader.using(None):  # no reader: its signal reads 0
        unread = answer.assess(engine.index, engine.embedder, found.question, policy="leje")
    assert unread.hit_signals["reads"] == [0.0] * len(found.hits)


def test_a_fit_is_reproducible_and_learns_from_its_pairs(tmp_path):
    first = reader.fit(PAIRS, tmp_path / "a.onnx")
    reader.fit(PAIRS, tmp_path / "b.onnx")
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert digest(tmp_path / "a.onnx") == digest(tmp_path / "b.onnx")
    answering, other = first.logits(PAIRS[0][0], [PAIRS[0][1], PAIRS[1][1]])
    assert answering > other
    assert not list(tmp_path.glob(".tmp-*"))  # no half-written file left


def test_a_fit_without_answering_clauses_is_refused_and_writes_nothing(tmp_path):
    with pytest.raises(PolicyQAError, match="clauses that answer and clauses that do not"):
        reader.fit([p for p in PAIRS if not p[2]], tmp_path / "r.onnx")
    assert not list(tmp_path.iterdir())


def test_a_reader_that_quantizing_would_spoil_ships_as_fitted(tmp_path, monkeypatch):
    quantized = reader.fit(PAIRS, tmp_path / "int8.onnx")
    monkeypatch.setattr(reader, "MAX_LOSS", -1.0)  # no quantization keeps the score
    unquantized = reader.fit(PAIRS, tmp_path / "float.onnx")
    assert (tmp_path / "float.onnx").stat().st_size > 3 * (tmp_path / "int8.onnx").stat().st_size
    texts = [PAIRS[0][1], PAIRS[1][1]]
    assert np.argmax(unquantized.logits(PAIRS[0][0], texts)) == np.argmax(quantized.logits(PAIRS[0][0], texts)) == 0
    assert not list(tmp_path.glob(".tmp-*"))
