"""The reader's stand-in where it cannot read: a question or a clause in another language than English.

The reader (app/reader.py) was fitted on English questions and clauses. Its student reads the two through USE
multilingual v3 (the encoder app/crosslingual.py already loads), which puts a text and its translations close
together: a ridge regression from the element-wise product and distance of the question's and the clause's vectors,
and their cosine, to the reader's logit, fitted on the reader's own training pairs. What it learns from English pairs
then carries to a Korean question or a German clause, and its output stands on the reader's scale, so the fitted
probability that a clause answers (calibration.fit_clauses) weighs it as it weighs the reader.

`policyqa train` fits it beside the reader and ships it in app/data/multilingual_reader.npz (4 KB).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import numpy as np

from . import crosslingual, reader
from .errors import PolicyQAError
from .overrides import Override

# How hard the ridge pulls the weights toward 0. On the gold set's 1,367 hits over the seeds (neither the reader nor its
# student was fitted on them), the student's logit ranks the answering hits with ROC AUC 0.881 at 1, 0.892 at 10 and
# 0.888 at 100; the reader's own, 0.898.
DECAY = 10.0
HELD_OUT = 5  # every fifth question's pairs measure the fit


def features(question: np.ndarray, clauses: np.ndarray) -> np.ndarray:
    """What the student reads of one question vector and each clause vector (unit USE vectors, one row per clause):
    their element-wise product and absolute difference, and their cosine."""
    product = clauses * question
    return np.hstack([product, np.abs(clauses - question), product.sum(axis=1, keepdims=True)])


class Student:
    def __init__(self, weights: np.ndarray) -> None:
        self.weights = weights  # one per feature, then the intercept

    def logits(self, question: str, texts: list[str]) -> np.ndarray:
        """What the reader's logit would be for each text as an answer to the question (0 with no texts)."""
        if not texts:
            return np.zeros(0)
        vectors = crosslingual.encode([question, *texts]).astype(np.float64)
        return features(vectors[0], vectors[1:]) @ self.weights[:-1] + self.weights[-1]


def shipped_path() -> Path:
    return Path(str(files("app") / "data" / "multilingual_reader.npz"))


@lru_cache(maxsize=1)
def shipped() -> Student | None:
    path = shipped_path()
    if not path.is_file():
        return None
    with np.load(path) as stored:
        return Student(stored["weights"])


_override: Override[Student | None] = Override(lambda: shipped())


def model() -> Student | None:
    return _override.current()


def using(student: Student | None) -> AbstractContextManager[None]:
    """Read with `student` instead of the shipped one (None: hits the reader cannot read read 0)."""
    return _override.using(student)


def fit(pairs: list[tuple[str, str]], logits: np.ndarray) -> tuple[Student, float]:
    """The student of the reader whose `logits` these are for `pairs` (question, clause text), and the correlation
    between its logits and the reader's on every HELD_OUT-th question's pairs, fitted without them."""
    questions = {q: i for i, q in enumerate(dict.fromkeys(q for q, _ in pairs))}
    if len(questions) < 2 * HELD_OUT:
        raise PolicyQAError(f"The multilingual reader needs the pairs of {2 * HELD_OUT} questions or more to fit and "
                            f"check on; these have {len(questions)}.")
    texts = sorted({text for pair in pairs for text in pair})
    at = {text: i for i, text in enumerate(texts)}
    vectors = crosslingual.encode(texts).astype(np.float64)
    rows = np.vstack([features(vectors[at[q]], vectors[at[c]].reshape(1, -1)) for q, c in pairs])
    held = np.array([questions[q] % HELD_OUT == 0 for q, _ in pairs])
    check = _ridge(rows[~held], logits[~held])
    correlation = float(np.corrcoef(rows[held] @ check[:-1] + check[-1], logits[held])[0, 1])
    return Student(_ridge(rows, logits)), correlation


def taught(teacher: reader.Reader, pairs: list[reader.Pair]) -> tuple[Student, float]:
    """The student of `teacher` on the pairs it was fitted on, and its held-out correlation (`fit`)."""
    texts: dict[str, list[str]] = {}
    for question, text, _ in pairs:
        texts.setdefault(question, []).append(text)
    logits = {q: dict(zip(t, teacher.logits(q, t).tolist())) for q, t in texts.items()}
    return fit([(q, text) for q, text, _ in pairs], np.array([logits[q][text] for q, text, _ in pairs]))


def _ridge(rows: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Ridge weights and intercept (the intercept not pulled toward 0)."""
    mean_row, mean_target = rows.mean(axis=0), target.mean()
    centred = rows - mean_row
    weights = np.linalg.solve(centred.T @ centred + DECAY * np.eye(rows.shape[1]), centred.T @ (target - mean_target))
    return np.append(weights, mean_target - mean_row @ weights)


def save(student: Student, path: Path) -> None:
    np.savez_compressed(path, weights=student.weights.astype(np.float32))
    shipped.cache_clear()
