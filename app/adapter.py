"""A learned query adapter: the question's vector moved toward where answers sit, q' = q + qW.

A bi-encoder places "What information is collected?" near clauses that talk about information, not
necessarily near the clause that answers it. The adapter is a linear map of the question vector
(384×384 for MiniLM), fitted on questions whose answering clauses are known: for each question, a
softmax over every clause of its own policy should put the answering ones first. Clause and
sentence vectors stay as stored, so the index does not depend on the adapter.

`policyqa train` fits it (app/training.py); it ships as app/data/adapter.npz. With no
adapter file, or one of another model's size, questions are left as they are.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import numpy as np

from .errors import PolicyQAError
from .overrides import Override

TEMPERATURE = 0.05  # softmax temperature over cosines: one policy's clauses lie close together in MiniLM's space
EPOCHS = 30
BATCH = 64
LEARNING_RATE = 1e-3
# Pulls W toward 0 (the question unchanged). PolicyQA's questions alone pull MiniLM toward its annotators'
# wording and cost customer questions: held out by policy, dense hit@3 on PolicyQA dev rose with less decay
# (0.001: +27%, 0.03: +20%, 0.1: +13%) while the gold set's customer questions (leave-one-policy-out) fell
# below plain MiniLM (89, 97 and 100 of 115 against 101). 0.1 is the least decay that keeps them.
DECAY = 0.1


@dataclass(frozen=True)
class Adapter:
    weights: np.ndarray  # dims × dims; zeros leave questions unchanged

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """The adapted, unit-length question vectors (rows of `vectors`)."""
        moved = vectors + vectors @ self.weights
        return (moved / np.linalg.norm(moved, axis=1, keepdims=True)).astype(np.float32)


@dataclass(frozen=True)
class Example:
    """One question: its vector, its policy's clause vectors, and which of those answer it."""

    question: np.ndarray  # (dims,)
    clauses: np.ndarray  # (n, dims), shared by every question of one policy
    right: np.ndarray  # (n,) bool


def fit(examples: list[Example], seed: int = 0) -> Adapter:
    """Fit W so that each question's softmax over its policy's clauses favours the right ones. Questions
    without a right clause teach nothing and are left out. Reproducible: fixed seed and order, one thread."""
    import torch

    by_policy: dict[int, list[Example]] = {}
    for e in examples:
        if e.right.any():
            by_policy.setdefault(id(e.clauses), []).append(e)
    batches = []  # (questions, clauses, target distribution) per policy chunk
    for group in by_policy.values():
        clauses = torch.from_numpy(np.ascontiguousarray(group[0].clauses, dtype=np.float32))
        for start in range(0, len(group), BATCH):
            chunk = group[start:start + BATCH]
            target = np.stack([e.right / e.right.sum() for e in chunk]).astype(np.float32)
            batches.append((torch.from_numpy(np.stack([e.question for e in chunk]).astype(np.float32)),
                            clauses, torch.from_numpy(target)))
    if not batches:
        raise PolicyQAError("None of the training questions has an answering clause in the index; index the policies "
                            "they ask about.")
    dims = batches[0][0].shape[1]
    torch.manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        weights = torch.zeros(dims, dims, requires_grad=True)
        optimiser = torch.optim.Adam([weights], lr=LEARNING_RATE)
        order = np.random.default_rng(seed)
        for _ in range(EPOCHS):
            for i in order.permutation(len(batches)):
                questions, clauses, target = batches[i]
                moved = questions + questions @ weights
                moved = moved / moved.norm(dim=1, keepdim=True)
                log_p = torch.log_softmax(moved @ clauses.T / TEMPERATURE, dim=1)
                loss = -(target * log_p).sum(dim=1).mean() + DECAY * (weights ** 2).sum()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
    finally:
        torch.set_num_threads(threads)
    return Adapter(weights.detach().numpy().copy())


def shipped_path() -> Path:
    return Path(str(files("app") / "data" / "adapter.npz"))


@lru_cache(maxsize=1)
def shipped() -> Adapter | None:
    path = shipped_path()
    if not path.is_file():
        return None
    with np.load(path) as stored:
        return Adapter(stored["weights"])


_override: Override[Adapter | None] = Override(lambda: shipped())


def model(dims: int) -> Adapter | None:
    """The adapter in use for question vectors of `dims` dimensions: none for a model of another size (a
    deployer who configures another model retrains it with `policyqa train`)."""
    chosen = _override.current()
    return chosen if chosen is not None and chosen.weights.shape[0] == dims else None


def using(adapter: Adapter | None) -> AbstractContextManager[None]:
    """Adapt questions with `adapter` (None: not at all) instead of the shipped one: for held-out evaluation."""
    return _override.using(adapter)


def save(adapter: Adapter, path: Path) -> None:
    np.savez_compressed(path, weights=adapter.weights)
    shipped.cache_clear()
