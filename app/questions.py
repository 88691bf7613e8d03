"""What a question asks, read from its sentence vector: whether it is a product or support question that no privacy
policy answers (prices, passwords, shipping, features, seats), and which kind of fact it asks for (facts.KINDS).

Two logistic regressions on the unit question vector, shipped in app/data/questions.npz and refitted by `policyqa
train` from app/data/question_kinds.jsonl: customer questions the team wrote for shops and services of 24 sectors,
over no policy that any evaluation reports on, each labelled policy or product and with the kind of fact it asks
for. Both enter the probability that a clause answers (app/calibration.py) by fitted weights; a declined question
that is more likely a product question than not is told so (answer.decline).
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import numpy as np

from . import facts, softmax
from .overrides import Override
from .softmax import Softmax

ABOUT = ("policy", "product")


@dataclass(frozen=True)
class Labelled:
    """A question of the training set, as question_kinds.jsonl has it."""

    question: str
    about: str  # one of ABOUT
    fact: str  # one of facts.KINDS
    sector: str


@dataclass(frozen=True)
class Model:
    about: Softmax  # over ABOUT
    fact: Softmax  # over facts.KINDS

    def product(self, vector: np.ndarray) -> float:
        """The probability that the question (one vector) is a product or support question."""
        return float(self.about.probabilities(vector.reshape(1, -1))[0, ABOUT.index("product")])

    def asks(self, vector: np.ndarray) -> np.ndarray:
        """The probability that the question asks for each kind of fact of facts.KINDS."""
        return self.fact.probabilities(vector.reshape(1, -1))[0]


def data_path() -> Path:
    return Path(str(files("app") / "data" / "question_kinds.jsonl"))


def shipped_path() -> Path:
    return Path(str(files("app") / "data" / "questions.npz"))


def load(path: Path | None = None) -> list[Labelled]:
    rows = (path or data_path()).read_text(encoding="utf-8").splitlines()
    return [Labelled(**{k: v for k, v in json.loads(line).items() if k in Labelled.__annotations__})
            for line in rows if line.strip()]


def fit(vectors: np.ndarray, labelled: list[Labelled]) -> Model:
    return Model(Softmax(*softmax.fit(vectors, [q.about for q in labelled], ABOUT)),
                 Softmax(*softmax.fit(vectors, [q.fact for q in labelled], facts.KINDS)))


def held_out_accuracy(vectors: np.ndarray, labelled: list[Labelled]) -> dict[str, float]:
    """Accuracy of each head on sectors it was not fitted on: the sectors in two halves, each measured by a model
    fitted on the other."""
    sectors = sorted({q.sector for q in labelled})
    half = {s: i % 2 for i, s in enumerate(sectors)}
    fold = np.array([half[q.sector] for q in labelled])
    right = {"about": 0, "fact": 0}
    for k in (0, 1):
        test = fold == k
        model_ = fit(vectors[~test], [q for q, t in zip(labelled, test) if not t])
        shown = [q for q, t in zip(labelled, test) if t]
        about = model_.about.probabilities(vectors[test]).argmax(axis=1)
        fact = model_.fact.probabilities(vectors[test]).argmax(axis=1)
        right["about"] += sum(ABOUT[a] == q.about for a, q in zip(about, shown))
        right["fact"] += sum(facts.KINDS[f] == q.fact for f, q in zip(fact, shown))
    return {head: round(n / len(labelled), 4) for head, n in right.items()}


def save(model_: Model, path: Path) -> None:
    np.savez(path, about_weights=model_.about.weights, about_bias=model_.about.bias,
             fact_weights=model_.fact.weights, fact_bias=model_.fact.bias)
    shipped.cache_clear()


@lru_cache(maxsize=1)
def shipped() -> Model:
    with shipped_path().open("rb") as f:
        data = np.load(f)
        return Model(Softmax(data["about_weights"], data["about_bias"]), Softmax(data["fact_weights"], data["fact_bias"]))


_override: Override[Model] = Override(lambda: shipped())


def model() -> Model:
    return _override.current()


def using(model_: Model) -> AbstractContextManager[None]:
    """Ask with `model_` instead of the shipped one."""
    return _override.using(model_)
