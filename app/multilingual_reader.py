"""The reader's stand-in where it cannot read: a question or a clause in another language than English.

The reader (app/reader.py) was fitted on English questions and clauses. Its student reads the two through USE
multilingual v3 (the encoder app/crosslingual.py already loads), which puts a text and its translations close
together: a ridge regression from the element-wise product and distance of the question's and the clause's vectors,
and their cosine, to the reader's logit, fitted on the reader's own training pairs, and on the same pairs with the
question as customers type it in eight other languages, taught the English question's logit
(training.student_lessons). What it learns carries to a German clause as well, and its output stands on the reader's
scale, so the fitted probability that a clause answers (calibration.fit_clauses) weighs it as it weighs the reader.

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
# student was fitted on them), a student fitted on the English pairs ranks the answering hits with ROC AUC 0.881 at 1,
# 0.892 at 10 and 0.888 at 100; the reader's own, 0.898.
DECAY = 10.0
HELD_OUT = 5  # every fifth question's pairs measure the fit


def features(question: np.ndarray, clauses: np.ndarray) -> np.ndarray:
    """What the student reads of a question's vector and each clause's (unit USE vectors, one row per clause; one
    question for all, or one row each): their element-wise product and absolute difference, and their cosine."""
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


# What the student learns from: the question it reads (in any language), a clause, and the question the reader reads
# with that clause (the English original), whose logit the student learns.
Lesson = tuple[str, str, str]


def fit(lessons: list[Lesson], logits: np.ndarray) -> tuple[Student, float]:
    """The student of the reader whose `logits` these are for `lessons`, and the correlation between its logits and
    the reader's on the lessons of every HELD_OUT-th English question (in every language), fitted without them."""
    originals = {q: i for i, q in enumerate(dict.fromkeys(q for _, _, q in lessons))}
    if len(originals) < 2 * HELD_OUT:
        raise PolicyQAError(f"The multilingual reader needs the pairs of {2 * HELD_OUT} questions or more to fit and "
                            f"check on; these have {len(originals)}.")
    texts = sorted({text for asked, clause, _ in lessons for text in (asked, clause)})
    at = {text: i for i, text in enumerate(texts)}
    vectors = crosslingual.encode(texts).astype(np.float64)
    rows = features(vectors[[at[asked] for asked, _, _ in lessons]], vectors[[at[clause] for _, clause, _ in lessons]])
    held = np.array([originals[q] % HELD_OUT == 0 for _, _, q in lessons])
    check = _ridge(rows[~held], logits[~held])
    correlation = float(np.corrcoef(rows[held] @ check[:-1] + check[-1], logits[held])[0, 1])
    return Student(_ridge(rows, logits)), correlation


def taught(teacher: reader.Reader, lessons: list[Lesson]) -> tuple[Student, float]:
    """The student of `teacher` on `lessons` (training.student_lessons), and its held-out correlation (`fit`)."""
    texts: dict[str, dict[str, None]] = {}
    for _, clause, original in lessons:
        texts.setdefault(original, {})[clause] = None
    logits = {q: dict(zip(t, teacher.logits(q, list(t)).tolist())) for q, t in texts.items()}
    return fit(lessons, np.array([logits[original][clause] for _, clause, original in lessons]))


def _ridge(rows: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Ridge weights and intercept (the intercept not pulled toward 0)."""
    mean_row, mean_target = rows.mean(axis=0), target.mean()
    centred = rows - mean_row
    weights = np.linalg.solve(centred.T @ centred + DECAY * np.eye(rows.shape[1]), centred.T @ (target - mean_target))
    return np.append(weights, mean_target - mean_row @ weights)


def save(student: Student, path: Path) -> None:
    np.savez_compressed(path, weights=student.weights.astype(np.float32))
    shipped.cache_clear()
