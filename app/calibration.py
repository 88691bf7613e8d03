"""The decline's fitted numbers, shipped with the package in app/data/calibration.json: the weight of the word
match in each clause's support, and the threshold on the confidence. `policyqa eval --calibrate` fits both."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files
from pathlib import Path


def _path() -> Path:
    return Path(str(files("app") / "data" / "calibration.json"))


@lru_cache(maxsize=1)
def fitted() -> dict:
    """The threshold, the coverage weight and the measured operating point behind them."""
    return json.loads(_path().read_text(encoding="utf-8"))


def save(values: dict) -> None:
    """Store fitted numbers with the package; the next question uses them."""
    _path().write_text(json.dumps(values, indent=1) + "\n", encoding="utf-8")
    fitted.cache_clear()


def fit_coverage_weight(examples: list[tuple[float, float, bool, str]]) -> float:
    """The weight of the word match in the support, from (rest of the support, word match, answerable, set) of
    each question's first-ranked clause: the ratio of the two weights of a logistic regression of answerable
    against unanswerable questions, each (set, answerable) group weighing the same in all. The first-ranked
    clause does not depend on the weight, so the same questions always give the same weight."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    groups = [(group, answerable) for _, _, answerable, group in examples]
    sizes = {g: groups.count(g) for g in set(groups)}
    model = LogisticRegression(max_iter=5000).fit(
        np.array([[rest, match] for rest, match, _, _ in examples]), np.array([answerable for _, _, answerable, _ in examples]),
        sample_weight=np.array([len(groups) / (len(sizes) * sizes[g]) for g in groups]))
    rest_weight, match_weight = model.coef_[0]
    return round(float(match_weight / rest_weight), 3)
