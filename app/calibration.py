"""The fitted numbers of ranking and decline, shipped with the package in app/data/calibration.json: the ranking's
weights, the support's weights, and the threshold on the confidence. `policyqa eval --calibrate` fits all three."""

from __future__ import annotations

import itertools
import json
import math
from contextlib import AbstractContextManager
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import numpy as np

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
    """The ranking weights, the support's weights, the threshold and the measured operating point behind them: the
    shipped ones, or as `using` replaces some of them."""
    return shipped() | _override.current()


def using(**values) -> AbstractContextManager[None]:
    """Rank and decline with `values` in place of the shipped ones (held-out evaluation: weights fitted without
    the policies asked about)."""
    return _override.using(values)


def save(values: dict) -> None:
    """Store fitted numbers with the package; the next question uses them."""
    _path().write_text(json.dumps(values, indent=1) + "\n", encoding="utf-8")
    shipped.cache_clear()


# What the support adds to the plain cosine, each by a fitted weight: per clause, the probability that the question is
# about the clause's topic label and its word match (search.coverage); per question, the probability that it is about
# a topic its policy never covers (topics.uncovered) and whether it asks about a concept its policy never names
# (vocabulary.unmentioned). The confidence, which the decline threshold applies to, is the best clause's support
# with the two question signals added.
SUPPORT_SIGNALS = ("topic", "coverage", "absent", "unmentioned")


def fit_support(examples: list[tuple[list[float], bool, str]]) -> dict:
    """The support's weights and the probability map, from (the plain cosine and SUPPORT_SIGNALS of its
    first-ranked clause, answerable, set) of each question. A logistic regression of answerable against
    unanswerable questions, each (set, answerable) group weighing the same in all: each signal's weight is its
    coefficient over the cosine's, and the confidence c maps to the probability 1 / (1 + exp(-(scale c + intercept)))
    with scale the cosine's coefficient. The first-ranked clause does not depend on these weights, so the same
    questions always give the same numbers."""
    from sklearn.linear_model import LogisticRegression

    groups = [(group, answerable) for _, answerable, group in examples]
    sizes = {g: groups.count(g) for g in set(groups)}
    model = LogisticRegression(max_iter=5000).fit(
        np.array([features for features, _, _ in examples]), np.array([answerable for _, answerable, _ in examples]),
        sample_weight=np.array([len(groups) / (len(sizes) * sizes[g]) for g in groups]))
    cosine, *rest = model.coef_[0]
    return {"support": {name: round(float(weight / cosine), 3) for name, weight in zip(SUPPORT_SIGNALS, rest)},
            "probability": {"scale": round(float(cosine), 3), "intercept": round(float(model.intercept_[0]), 3)}}


def probability(confidence: float) -> float:
    """The probability that the policy answers a question of this confidence, as `fit_support` fitted it: for
    questions half of which the policy answers (the share of answerable questions a deployment sees moves it)."""
    fitted_ = fitted()["probability"]
    logit = fitted_["scale"] * confidence + fitted_["intercept"]
    return round(1 / (1 + math.exp(-min(max(logit, -50.0), 50.0))), 3)  # no hits at all: confidence -inf, 0


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
