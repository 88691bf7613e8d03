"""The fitted numbers of ranking, citing and decline, shipped with the package in app/data/calibration.json: the
ranking's weights, the support's weights, the probability that a clause answers, and the thresholds on that
probability to cite a clause and to answer at all. `policyqa eval --calibrate` fits them all."""

from __future__ import annotations

import itertools
import json
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import numpy as np

from .errors import PolicyQAError
from .overrides import Override

# The weights `fit_ranking` chooses among, one tuple per signal of search.RANK_SIGNALS (the cosine weighs 1).
RANKING_GRID = {
    "lexical": (0.3, 0.6, 0.9, 1.2, 1.5),
    "label": (0.0, 0.1, 0.2),
    "whole": (0.0, 0.2, 0.4),
    "sentence": (0.0, 0.2, 0.4),
    "lead": (0.0, 0.05, 0.1, 0.15),
}


def _path() -> Path:
    return Path(str(files("app") / "data" / "calibration.json"))


@lru_cache(maxsize=1)
def shipped() -> dict:
    return json.loads(_path().read_text(encoding="utf-8"))


_override: Override[dict] = Override(dict)


def fitted() -> dict:
    """The ranking weights, the support's weights, the clause probability, the thresholds and the measured operating
    point behind them: the shipped ones, or as `using` replaces some of them."""
    return shipped() | _override.current()


def using(**values) -> AbstractContextManager[None]:
    """Rank and decline with `values` in place of the shipped ones, and of those an enclosing `using` put in place
    (held-out evaluation: weights fitted without the policies asked about)."""
    return _override.using(_override.current() | values)


def save(values: dict) -> None:
    """Store fitted numbers with the package; the next question uses them."""
    _path().write_text(json.dumps(values, indent=1) + "\n", encoding="utf-8")
    shipped.cache_clear()


# What the support adds to the plain cosine, each by a fitted weight: per clause, the probability that the question is
# about the clause's topic label and its word match (search.coverage); per question, the probability that it is about
# a topic its policy never covers (topics.uncovered), whether it asks about a concept its policy never names
# (vocabulary.unmentioned) and the probability that it is a product or support question (questions.Model.product).
# The confidence is the best clause's support with the question's signals added.
SUPPORT_SIGNALS = ("topic", "coverage", "absent", "unmentioned", "product")
QUESTION_SIGNALS = SUPPORT_SIGNALS[2:]
# What the probability that a clause answers reads: the question's confidence, how far the clause's ranking score
# falls below the best, and HIT_SIGNALS: the probability that the question asks for a kind of fact the clause does not
# state (facts.unstated) and the reader's logit for the question and clause read together (reader.Reader; its
# multilingual student's where a question or clause is not English).
CLAUSE_SIGNALS = ("confidence", "gap", "unstated", "reads")
HIT_SIGNALS = CLAUSE_SIGNALS[2:]


@dataclass(frozen=True)
class Asked:
    """What the fits read of a question asked held out: each hit's plain cosine, topic and word match (most likely
    to answer first), its ranking score, its HIT_SIGNALS and whether it answers; the question's QUESTION_SIGNALS;
    its set."""

    clauses: np.ndarray  # one row per hit: plain cosine, topic, coverage
    scores: np.ndarray
    signals: np.ndarray  # one row per hit: HIT_SIGNALS
    right: np.ndarray  # bool per hit
    question: dict[str, float]  # QUESTION_SIGNALS
    answerable: bool
    group: str

    def confidence(self, weights: dict[str, float]) -> float:
        """The confidence the support's `weights` give the question."""
        best = max(support(*clause, weights) for clause in self.clauses.tolist())
        return confidence(best, self.question, weights)


def support(plain: float, topic: float, coverage: float, weights: dict[str, float] | None = None) -> float:
    """A clause's support: its plain cosine with the question, plus its topic agreement and word match by their
    fitted weights."""
    weights = weights or fitted()["support"]
    return plain + weights["topic"] * topic + weights["coverage"] * coverage


def confidence(best_support: float, question: dict[str, float], weights: dict[str, float] | None = None) -> float:
    """The best support with the question's QUESTION_SIGNALS added by their fitted (negative) weights."""
    weights = weights or fitted()["support"]
    return best_support + sum(weights[name] * question[name] for name in QUESTION_SIGNALS)


def without(asked: list[Asked], signals: set[str]) -> list[Asked]:
    """`asked` as if the QUESTION_SIGNALS and HIT_SIGNALS named in `signals` read 0 throughout: fitted on these, a
    signal weighs nothing (the ablation of `policyqa eval --ablation`)."""
    kept = np.array([name not in signals for name in HIT_SIGNALS], dtype=float)
    return [replace(a, question={name: 0.0 if name in signals else value for name, value in a.question.items()},
                    signals=a.signals * kept) for a in asked]


def _balanced(asked: list[Asked]) -> np.ndarray:
    """One weight per question: each (set, answerable) group weighs the same in all."""
    groups = [(a.group, a.answerable) for a in asked]
    sizes = {g: groups.count(g) for g in set(groups)}
    return np.array([len(groups) / (len(sizes) * sizes[g]) for g in groups])


def fit_support(asked: list[Asked]) -> dict:
    """The support's weights, from each question's best-scored clause: a logistic regression of answerable
    against unanswerable questions on its plain cosine and SUPPORT_SIGNALS, each signal's weight its coefficient
    over the cosine's. The best-scored clause does not depend on these weights, so the same questions always give
    the same numbers."""
    from sklearn.linear_model import LogisticRegression

    answerable = sum(a.answerable for a in asked)
    if not 0 < answerable < len(asked):
        raise PolicyQAError(f"Calibrating needs questions the policies answer and questions they do not; these are "
                            f"{answerable} answerable and {len(asked) - answerable} not.")
    features = np.array([[*a.clauses[int(np.argmax(a.scores))], *(a.question[name] for name in QUESTION_SIGNALS)]
                         for a in asked])
    model = LogisticRegression(max_iter=5000).fit(features, np.array([a.answerable for a in asked]),
                                                  sample_weight=_balanced(asked))
    cosine, *rest = model.coef_[0]
    return {"support": {name: round(float(weight / cosine), 3) for name, weight in zip(SUPPORT_SIGNALS, rest)}}


def fit_clauses(asked: list[Asked], weights: dict[str, float], customer_weight: float = 1.0) -> dict:
    """The probability that a clause answers the question: a logistic regression, over every hit of every
    question, of CLAUSE_SIGNALS: the question's confidence, how far the clause's ranking score falls below the
    best and the HIT_SIGNALS. Each
    question weighs as `_balanced` says, customer questions (every set but "policyqa") `customer_weight` times more,
    shared among its hits: the probability is meant for customers' questions, which name what they ask about more plainly
    than PolicyQA's crowd workers did. The gap's weight is positive: among clauses that state what the question asks
    for, the probability falls as the ranking does."""
    from sklearn.linear_model import LogisticRegression

    rows = [np.column_stack([np.full(len(a.scores), a.confidence(weights)), a.scores - a.scores.max(), a.signals])
            for a in asked]
    favoured = np.array([1.0 if a.group == "policyqa" else customer_weight for a in asked])
    shares = [np.full(len(a.scores), w / len(a.scores)) for a, w in zip(asked, _balanced(asked) * favoured)]
    model = LogisticRegression(max_iter=5000).fit(np.vstack(rows), np.concatenate([a.right for a in asked]),
                                                  sample_weight=np.concatenate(shares))
    weights_ = dict(zip(CLAUSE_SIGNALS, model.coef_[0].tolist()))
    if weights_["gap"] <= 0:
        raise PolicyQAError("The fitted probability does not fall with the ranking; check the questions' answers.")
    return {"clauses": {name: round(w, 3) for name, w in weights_.items()}
            | {"intercept": round(float(model.intercept_[0]), 3)}}


def probabilities(confidence_: float, scores: np.ndarray, signals: np.ndarray) -> np.ndarray:
    """Each hit's probability that it answers the question (`fit_clauses`), from the question's confidence, the
    hits' ranking scores and their HIT_SIGNALS (one row per hit)."""
    if not len(scores) or not np.isfinite(confidence_):
        return np.zeros(len(scores))
    logit = _logit(fitted()["clauses"], confidence_, scores, signals)
    return np.round(1 / (1 + np.exp(-np.clip(logit, -50.0, 50.0))), 4)


def _logit(weights: dict[str, float], confidence_: float, scores: np.ndarray, signals: np.ndarray) -> np.ndarray:
    return (weights["confidence"] * confidence_ + weights["gap"] * (scores - scores.max())
            + signals @ np.array([weights[name] for name in HIT_SIGNALS]) + weights["intercept"])


def fit_citing(asked: list[Asked], threshold: float) -> float:
    """The lowest probability a hit needs to be cited: the most answers found first, then the fewest quotes. Among
    the answered questions whose first hit does not answer, each needs its best answering hit at rank 2 or 3; the
    threshold is the lowest probability any of them needs (0 when none does). Read with the support's weights and
    the clause probability in use."""
    needed, weights = [], fitted()["support"]
    for a in asked:
        p, right = ranked(a, weights)
        if a.answerable and p[0] >= threshold and not right[0] and right[1:3].any():
            needed.append(float(p[1:3][right[1:3]].max()))
    return min(needed, default=0.0)


def ranked(a: Asked, weights: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """The question's hits as the answer orders them, by the clause probability in use: each one's probability and
    whether it answers."""
    p = probabilities(a.confidence(weights), a.scores, a.signals)
    order = np.argsort(-p, kind="stable")
    return p[order], a.right[order]


def fit_ranking(questions: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]) -> dict[str, float]:
    """The ranking weights of RANKING_GRID that do best by `questions`: (each candidate's cosine, its RANK_SIGNALS,
    whether it answers, how much the question weighs). Best is an answering clause among the first three (the
    answer cites three) plus the reciprocal rank of the first (the sooner the better), summed over the questions.
    A direct search of the measure: logistic regressions of the same signals (pointwise or pairwise) put the
    answer in the top three less often on held-out policies. Ties go to the first in the grid."""
    grid = np.array(list(itertools.product(*RANKING_GRID.values())))
    found = np.zeros(len(grid))
    for dense, signals, right, weight in questions:
        order = np.argsort(-(dense[:, None] + signals @ grid.T), axis=0, kind="stable")
        first = right[order].argmax(axis=0)  # 0-based rank of the first answering clause, for each weighting
        found += weight * ((first < 3) + 1.0 / (first + 1))
    return {name: float(value) for name, value in zip(RANKING_GRID, grid[int(np.argmax(found))])}
