"""The fitted numbers of ranking and decline, shipped with the package in app/data/calibration.json: the ranking's
weights, the weight of the word match in each clause's support, and the threshold on the confidence.
`policyqa eval --calibrate` fits all three."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import numpy as np

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


_chosen: list[dict] = []


def fitted() -> dict:
    """The ranking weights, the threshold, the coverage weight and the measured operating point behind them: the
    shipped ones, or as `using` replaces some of them."""
    return (shipped() | _chosen[-1]) if _chosen else shipped()


@contextmanager
def using(**values) -> Iterator[None]:
    """Rank and decline with `values` in place of the shipped ones (held-out evaluation: weights fitted without
    the policies asked about)."""
    _chosen.append(values)
    try:
        yield
    finally:
        _chosen.pop()


def save(values: dict) -> None:
    """Store fitted numbers with the package; the next question uses them."""
    _path().write_text(json.dumps(values, indent=1) + "\n", encoding="utf-8")
    shipped.cache_clear()


def fit_coverage_weight(examples: list[tuple[float, float, bool, str]]) -> float:
    """The weight of the word match in the support, from (rest of the support, word match, answerable, set) of
    each question's first-ranked clause: the ratio of the two weights of a logistic regression of answerable
    against unanswerable questions, each (set, answerable) group weighing the same in all. The first-ranked
    clause does not depend on the weight, so the same questions always give the same weight."""
    from sklearn.linear_model import LogisticRegression

    groups = [(group, answerable) for _, _, answerable, group in examples]
    sizes = {g: groups.count(g) for g in set(groups)}
    model = LogisticRegression(max_iter=5000).fit(
        np.array([[rest, match] for rest, match, _, _ in examples]), np.array([answerable for _, _, answerable, _ in examples]),
        sample_weight=np.array([len(groups) / (len(sizes) * sizes[g]) for g in groups]))
    rest_weight, match_weight = model.coef_[0]
    return round(float(match_weight / rest_weight), 3)


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
