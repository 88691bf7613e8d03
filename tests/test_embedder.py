"""The two ways of running the model: ONNX Runtime (the default, exported once) and PyTorch give the same vectors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from app import embedder, settings, store
from app.embedder import Embedder
from app.errors import PolicyQAError
from app.onnx_encoder import MIN_COSINE


@pytest.fixture(scope="module")
def torch_model():
    return embedder.get(backend_name="torch")


def corpus_texts(index: store.Index) -> list[str]:
    """Every text the index embedded: each clause and each sentence of a multi-sentence clause."""
    texts = [store.clause_text_for_search(c) for c in index.clauses]
    return texts + [t for c in index.clauses for t in store.sentence_texts_for_search(c)]


def test_onnx_vectors_equal_pytorch_vectors_over_the_corpus(engine, model, torch_model):
    assert model.backend == "onnx" and torch_model.backend == "torch"
    texts = corpus_texts(engine.index)
    texts += ["Cookies and similar technologies " * 80, "  padded with spaces  ", "x"]  # truncated at 256 tokens
    onnx, torch = model.encode(texts), torch_model.encode(texts)
    assert onnx.shape == torch.shape == (len(texts), 384)
    cosine = (onnx * torch).sum(axis=1)
    assert cosine.min() >= MIN_COSINE, texts[int(cosine.argmin())]
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1, atol=1e-5)


def test_the_index_was_built_with_onnx_and_says_so(engine):
    manifest = engine.index.manifest
    assert manifest["backend"] == "onnx" and "onnxruntime" in manifest["libraries"]


def test_one_text_encodes_as_in_a_batch(model):
    texts = ["We keep payment records for five years.", "Do you sell my data?", "A much longer sentence " * 20]
    batch = model.encode(texts)
    for i, text in enumerate(texts):
        assert float(batch[i] @ model.encode([text])[0]) > 0.99999


def test_the_export_is_made_once_per_model(model, tmp_path):
    export = model._model.path
    assert export.is_file() and export.parent.parent == settings.path("model_cache")
    made = export.stat().st_mtime_ns
    assert Embedder(model.name).encode(["cookies"]).shape == (1, 384)  # a second load reuses the export
    assert export.stat().st_mtime_ns == made


def test_a_model_the_onnx_backend_cannot_run_is_one_clear_error(tmp_path):
    folder = tmp_path / "with-dense"
    shutil.copytree(embedder.model_path(), folder)
    modules = json.loads((folder / "modules.json").read_text())
    modules.append({"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"})
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(PolicyQAError, match="POLICYQA_EMBED_BACKEND=torch"):
        Embedder(str(folder))


def test_an_unknown_backend_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("POLICYQA_EMBED_BACKEND", "tensorflow")
    with pytest.raises(PolicyQAError, match="POLICYQA_EMBED_BACKEND='tensorflow' is not one of onnx, torch"):
        Embedder(embedder.model_path(), embedder.backend())
