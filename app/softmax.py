"""A multinomial logistic regression on unit sentence vectors (probabilities = softmax(X W + b)), fitted with
scikit-learn and kept as two arrays so that reading it needs only NumPy: what the topic model and the question
classifier are."""

from __future__ import annotations

import numpy as np


class Softmax:
    def __init__(self, weights: np.ndarray, bias: np.ndarray):
        self.weights, self.bias = weights.astype(np.float32), bias.astype(np.float32)

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        logits = vectors @ self.weights + self.bias
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)


def fit(vectors: np.ndarray, labels: list[str], names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The weights and bias of a balanced logistic regression of `labels` (each one of `names`) on `vectors`. A name
    absent from `labels` is never predicted."""
    from sklearn.linear_model import LogisticRegression

    y = np.array([names.index(label) for label in labels])
    clf = LogisticRegression(C=4.0, max_iter=3000, class_weight="balanced").fit(vectors, y)
    weights = np.zeros((vectors.shape[1], len(names)), dtype=np.float32)
    bias = np.full(len(names), -30.0, dtype=np.float32)
    if len(clf.classes_) == 2:  # sklearn keeps one column for two classes: the second's logit against the first's
        weights[:, clf.classes_[1]], bias[clf.classes_[1]] = clf.coef_[0], clf.intercept_[0]
        bias[clf.classes_[0]] = 0.0
    else:
        for column, cls in enumerate(clf.classes_):
            weights[:, cls], bias[cls] = clf.coef_[column], clf.intercept_[column]
    return weights, bias
