"""Policy topics (after OPP-115's categories): a small classifier over the sentence embeddings.

Clauses get their topic when indexed (the agents' topic filter uses it), and questions get
topic probabilities when asked: agreement between the two is a retrieval signal, and a question
on a topic the policy never covers is declined. The weights ship with the package
(app/data/topics.npz); `policyqa train-topics` retrains them reproducibly from the public data
in ../shared/bench and the curated seeds in app/data/topic_seeds.jsonl.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from contextlib import AbstractContextManager
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import numpy as np

from . import softmax
from .overrides import Override
from .softmax import Softmax

TOPICS: dict[str, str] = {
    "collection": "What is collected",
    "sharing": "Sharing and third parties",
    "retention": "Retention and deletion",
    "security": "Security",
    "cookies": "Cookies and tracking",
    "rights": "Your rights (access, correction, deletion)",
    "children": "Children",
    "changes": "Policy changes",
    "contact": "Contact",
    "other": "Other",
}
NAMES = list(TOPICS)


def from_opp115(kind: str) -> str:
    """Our topic for an OPP-115 'category|||attribute|||value' label."""
    category, attribute, value = (kind.split("|||") + ["", ""])[:3]
    if "Cookies" in value or category == "Do Not Track":
        return "cookies"
    if category == "International and Specific Audiences":
        return "children" if "Children" in value else "other"
    return {
        "First Party Collection/Use": "collection",
        "Third Party Sharing/Collection": "sharing",
        "User Choice/Control": "rights",
        "User Access, Edit and Deletion": "rights",
        "Data Retention": "retention",
        "Data Security": "security",
        "Policy Change": "changes",
    }.get(category, "other")


_PRIVACYQA = {"first": "collection", "third": "sharing", "datasecurity": "security", "dataretention": "retention",
              "user_access": "rights", "user_choice": "rights", "other": "other"}


class TopicModel(Softmax):
    """The probability that a text is about each topic of NAMES."""

    def labels(self, vectors: np.ndarray) -> list[str]:
        return [NAMES[i] for i in self.probabilities(vectors).argmax(axis=1)] if len(vectors) else []


GENERIC = ("collection", "other")  # every policy covers these in some way
COVERED_AT = 0.5  # a policy covers a topic when one of its clauses or sentences is more likely about it than not


def coverage(vectors: np.ndarray) -> list[float]:
    """How well a policy covers each topic: the highest probability any of its clauses or sentences gets."""
    return model().probabilities(vectors).max(axis=0).round(4).tolist() if len(vectors) else [0.0] * len(NAMES)


def uncovered(question_topics: np.ndarray, covered: list[float], covered_at: float = COVERED_AT) -> float:
    """The probability that the question is about a specific topic the policy never covers. Weighing by
    the question's own topic probabilities (not a yes/no on its likeliest topic) lets a question that
    is only half about cookies, and half about what is collected, keep half its confidence."""
    gaps = [p for name, p, c in zip(NAMES, question_topics.tolist(), covered) if name not in GENERIC and c < covered_at]
    return float(sum(gaps))


_override: Override[TopicModel] = Override(lambda: shipped())


def model() -> TopicModel:
    return _override.current()


@lru_cache(maxsize=1)
def shipped() -> TopicModel:
    with (files("app") / "data" / "topics.npz").open("rb") as f:
        data = np.load(f)
        return TopicModel(data["weights"], data["bias"])


def using(model_: TopicModel) -> AbstractContextManager[None]:
    """Index and search with `model_` instead of the shipped model: the PolicyQA bench measures each
    policy with a model that never saw it."""
    return _override.using(model_)


# ---------------------------------------------------------------- training


def training_data(bench_dir: Path) -> tuple[list[str], list[str], list[str]]:
    """(texts, topics, groups): PolicyQA questions and segments (grouped by policy, for held-out
    testing), PrivacyQA questions with exactly one label, and the curated seeds."""
    texts, labels, groups = [], [], []
    data = json.loads((bench_dir / "policyqa_dev.json").read_text(encoding="utf-8"))["data"]
    for policy in data:
        for para in policy["paragraphs"]:
            kinds = [from_opp115(qa["type"]) for qa in para["qas"]]
            for qa, kind in zip(para["qas"], kinds):
                texts.append(qa["question"]), labels.append(kind), groups.append(policy["title"])
            ranked = Counter(kinds).most_common(2)
            if ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]):  # a segment whose questions tie on two topics teaches neither
                texts.append(para["context"]), labels.append(ranked[0][0]), groups.append(policy["title"])
    with open(bench_dir / "privacyqa_questions_train.tsv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            marked = [_PRIVACYQA[k] for k in _PRIVACYQA if row.get(k, "0").strip() == "1"]
            if len(set(marked)) == 1:
                texts.append(row["Query"]), labels.append(marked[0]), groups.append("privacyqa:" + row["DocID"])
    for line in (files("app") / "data" / "topic_seeds.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            seed = json.loads(line)
            texts.append(seed["text"]), labels.append(seed["topic"]), groups.append("seeds")
    unique = {}
    for t, l, g in zip(texts, labels, groups):
        unique.setdefault((re.sub(r"\s+", " ", t.strip().lower()), l), (t, l, g))
    t, l, g = zip(*unique.values())
    return list(t), list(l), list(g)


def fit(vectors: np.ndarray, labels: list[str]) -> TopicModel:
    return TopicModel(*softmax.fit(vectors, labels, NAMES))


def held_out_accuracy(vectors: np.ndarray, labels: list[str], groups: list[str], seed: int = 0) -> dict:
    """Train on the texts of some policies, measure on the others (never on training data)."""
    rng = np.random.default_rng(seed)
    policies = sorted(set(groups) - {"seeds"})
    test_groups = set(rng.choice(policies, size=max(1, len(policies) * 3 // 10), replace=False))
    test = np.array([g in test_groups for g in groups])
    model_ = fit(vectors[~test], [l for l, t in zip(labels, test) if not t])
    predicted = model_.labels(vectors[test])
    truth = [l for l, t in zip(labels, test) if t]
    kinds = {"policyqa": lambda g: not g.startswith("privacyqa:"), "privacyqa": lambda g: g.startswith("privacyqa:")}
    test_groups_list = [g for g, t in zip(groups, test) if t]
    result = {}
    for name, keep in kinds.items():
        pairs = [(p, y) for p, y, g in zip(predicted, truth, test_groups_list) if keep(g)]
        result[name] = {"n": len(pairs), "accuracy": round(sum(p == y for p, y in pairs) / max(len(pairs), 1), 4)}
    return result


def save(model_: TopicModel, path: Path) -> None:
    np.savez(path, weights=model_.weights, bias=model_.bias)
    shipped.cache_clear()
