"""Which sentences of a cited clause to quote: the run that holds the answer most likely.

A clause can run to a dozen sentences; a citation quotes at most EXCERPT_CHARS of it. Each sentence gets
the probability that it holds the answer, from a logistic regression of FEATURES fitted on questions whose
answers are marked inside their clauses (PolicyQA's answer spans, the gold set's anchors; app/training.py).
Of the runs of whole sentences that fit within EXCERPT_CHARS (each as long as it can be from where it starts),
the quote is the one that holds the most answer sentences, expected.

`policyqa train` fits it; it ships as app/data/excerpts.json. Without that file the quote is the
clause's opening run.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import numpy as np

from . import search, topics
from .errors import PolicyQAError
from .overrides import Override
from .records import Clause
from .store import Index

EXCERPT_CHARS = 400  # a citation is an excerpt a reader takes in at a glance, not a dump
# What the regression reads of each sentence; "below the best" is how far it falls short of the clause's best
# sentence by the same measure (which sentence of this clause, not how good the clause is).
FEATURES = ("cosine", "word match", "cosine below the best", "word match below the best", "first", "position",
            "log length", "topic agreement", "topic agreement below the best", "last")


@dataclass(frozen=True)
class Model:
    coefficients: np.ndarray  # one per FEATURES
    intercept: float

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """P(sentence holds the answer) for each row of `features`."""
        return 1 / (1 + np.exp(-(features @ self.coefficients + self.intercept)))


def features(index: Index, row: int, query: str, vector: np.ndarray) -> np.ndarray | None:
    """FEATURES of each sentence of clause `row` for the question (`vector` as the model encoded it); None for a
    clause of one sentence, which is quoted whole."""
    stored = search.sentence_vectors(index, row)
    if stored is None:
        return None
    cosine = stored @ vector[0]
    clause = index.clauses[row]
    document = index.documents[clause.document]
    terms = search.question_terms(query)
    match = np.array([search.coverage(terms, text, document.title, document.lang) for text in clause.sentence_texts()])
    topic_model = topics.model()
    agreement = topic_model.probabilities(stored) @ topic_model.probabilities(vector)[0]
    n = len(clause.sentences)
    place = np.arange(n)
    length = np.array([s.clean_end - s.clean_start for s in clause.sentences])
    return np.column_stack([cosine, match, cosine - cosine.max(), match - match.max(), place == 0,
                            place / max(n - 1, 1), np.log1p(length), agreement, agreement - agreement.max(), place == n - 1])


def span(index: Index, row: int, query: str, vector: np.ndarray) -> tuple[int, int]:
    """The run of sentences [a, b) of clause `row` to quote for the question: without a model, the opening run."""
    clause, fitted = index.clauses[row], model()
    found = features(index, row, query, vector) if fitted else None
    return (0, run_end(clause, 0)) if found is None else best_run(clause, fitted.probabilities(found))


def best_run(clause: Clause, probabilities: np.ndarray) -> tuple[int, int]:
    """Of the runs that fit within EXCERPT_CHARS, the one whose sentences' probabilities sum highest (ties: the
    first)."""
    held = np.concatenate([[0.0], np.cumsum(probabilities)])
    runs = [(a, run_end(clause, a)) for a in range(len(clause.sentences))]
    return max(runs, key=lambda run: held[run[1]] - held[run[0]])


def run_end(clause: Clause, a: int) -> int:
    """The end of the longest run of sentences from `a` that fits within EXCERPT_CHARS (at least one)."""
    b = a + 1
    while b < len(clause.sentences) and clause.sentences[b].clean_end - clause.sentences[a].clean_start <= EXCERPT_CHARS:
        b += 1
    return b


def fit(examples: list[tuple[np.ndarray, np.ndarray, float]]) -> Model:
    """The regression of (FEATURES of each sentence of a clause, which of them hold the answer, how much the
    question weighs): each clause weighs its question's weight, shared among its sentences. Deterministic."""
    from sklearn.linear_model import LogisticRegression

    if len({bool(mark) for _, marks, _ in examples for mark in marks}) < 2:
        raise PolicyQAError(f"The excerpt model learns from answering clauses of several sentences, some holding the "
                            f"answer and some not; these questions give {len(examples)}. Add questions.")
    weights = np.concatenate([np.full(len(marks), weight / len(marks)) for _, marks, weight in examples])
    fitted = LogisticRegression(max_iter=5000).fit(np.vstack([f for f, _, _ in examples]),
                                                   np.concatenate([marks for _, marks, _ in examples]),
                                                   sample_weight=weights)
    return Model(np.round(fitted.coef_[0], 6), round(float(fitted.intercept_[0]), 6))


def shipped_path() -> Path:
    return Path(str(files("app") / "data" / "excerpts.json"))


@lru_cache(maxsize=1)
def shipped() -> Model | None:
    path = shipped_path()
    if not path.is_file():
        return None
    stored = json.loads(path.read_text(encoding="utf-8"))
    return Model(np.array([stored["coefficients"][name] for name in FEATURES]), stored["intercept"])


_override: Override[Model | None] = Override(lambda: shipped())


def model() -> Model | None:
    return _override.current()


def using(fitted: Model | None) -> AbstractContextManager[None]:
    """Choose excerpts with `fitted` (None: quote each clause's opening) instead of the shipped model: for held-out
    evaluation."""
    return _override.using(fitted)


def save(fitted: Model, path: Path) -> None:
    coefficients = dict(zip(FEATURES, fitted.coefficients.tolist()))
    path.write_text(json.dumps({"coefficients": coefficients, "intercept": fitted.intercept}, indent=1) + "\n",
                    encoding="utf-8")
    shipped.cache_clear()
