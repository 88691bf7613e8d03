"""A reader that reads the question and a clause together and scores how likely the clause answers it: a
cross-encoder fine-tuned from the bundled MiniLM weights, shipped quantized (int8 ONNX, app/data/reader.onnx) and run
on ONNX Runtime like the embedder. Its logit is one more signal of the probability that a clause answers
(calibration.fit_clauses), not a ranking of its own: alone it ranks worse than the fitted ranking.

`policyqa train` fits it on the team's customer questions over PolicyQA dev's policies
(app/data/policyqa_customers.jsonl): each question with the ten clauses retrieval ranks first for it, a clause
positive when it holds the question's anchor; a question its policy does not answer has no positive. One epoch,
reproducibly (seeded, one process).
"""

from __future__ import annotations

import logging
import os
import random
import uuid
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import numpy as np

from .errors import PolicyQAError
from .overrides import Override

MAX_TOKENS = 128  # question and clause together; a longer clause is read from its start
EPOCHS, BATCH, LEARNING_RATE, WARMUP = 1, 16, 4e-5, 0.1
MAX_LOSS = 0.01  # a quantized export may rank the probe pairs this much worse than PyTorch (ROC AUC)
PROBES = 256  # pairs spread over the training pairs that the export is checked on

log = logging.getLogger(__name__)

Pair = tuple[str, str, bool]  # question, clause text, whether the clause answers


def shipped_path() -> Path:
    return Path(str(files("app") / "data" / "reader.onnx"))


class Reader:
    """The quantized cross-encoder on ONNX Runtime."""

    def __init__(self, path: Path):
        from .onnx_encoder import _session

        self._tokenizer = _pair_tokenizer(_model_dir())
        self._session = _session(path)

    def logits(self, question: str, texts: list[str]) -> np.ndarray:
        """How strongly each text answers the question, on the logit scale (0 with no texts)."""
        if not texts:
            return np.zeros(0)
        feed = encode(self._tokenizer, [(question, text) for text in texts])
        return self._session.run(None, feed)[0].reshape(-1).astype(np.float64)


def _pair_tokenizer(model_dir: Path):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS, strategy="longest_first")
    tokenizer.enable_padding(pad_id=0)
    return tokenizer


def encode(tokenizer, pairs: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    from .onnx_encoder import arrays

    return arrays(tokenizer.encode_batch(pairs))


def _model_dir() -> Path:
    from .embedder import model_path

    return Path(model_path())


@lru_cache(maxsize=1)
def shipped() -> Reader | None:
    """The shipped reader; None when the package ships none (its probability weight is then 0)."""
    return Reader(shipped_path()) if shipped_path().is_file() else None


_override: Override[Reader | None] = Override(lambda: shipped())


def model() -> Reader | None:
    return _override.current()


def using(reader: Reader | None) -> AbstractContextManager[None]:
    """Read with `reader` instead of the shipped one (held-out evaluation: one fitted without the policies asked)."""
    return _override.using(reader)


def fit(pairs: list[Pair], dest: Path, progress: Callable[[str, int, int], None] | None = None, seed: int = 0) -> Reader:
    """Fine-tune a cross-encoder from the embedding model's weights on `pairs`, export it to ONNX, quantize it and
    publish it at `dest` (atomically); the same pairs give the same file."""
    import torch
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as transformers_logging

    positives = sum(answers for _, _, answers in pairs)
    if not 0 < positives < len(pairs):
        raise PolicyQAError(f"The reader needs clauses that answer and clauses that do not; these are {positives} "
                            f"and {len(pairs) - positives}.")
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    torch.manual_seed(seed)
    model_dir = _model_dir()
    tokenizer = _pair_tokenizer(model_dir)
    network = AutoModelForSequenceClassification.from_pretrained(str(model_dir), num_labels=1)
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    steps = EPOCHS * ((len(pairs) + BATCH - 1) // BATCH)
    optimizer = torch.optim.AdamW(network.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / (WARMUP * steps)) * max(0.0, (steps - s) / steps))
    loss = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(pairs) - positives) / positives))
    network.train()
    for step in range(steps):
        batch = [pairs[order[(step * BATCH + i) % len(pairs)]] for i in range(BATCH)]
        feed = {k: torch.from_numpy(v) for k, v in encode(tokenizer, [(q, c) for q, c, _ in batch]).items()}
        loss(network(**feed).logits.squeeze(-1), torch.tensor([float(y) for _, _, y in batch])).backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
        optimizer.step(), schedule.step(), optimizer.zero_grad()
        if progress:
            progress("reader", step + 1, steps)
    network.eval()
    _publish(network, tokenizer, _probes(pairs), dest)
    return Reader(dest)


def _probes(pairs: list[Pair]) -> list[Pair]:
    """About PROBES pairs spread over `pairs`, clauses that answer among them (all the pairs when a spread has none)."""
    spread = pairs[::max(1, len(pairs) // PROBES)]
    return spread if len({answers for *_, answers in spread}) == 2 else pairs


# How the export is shrunk, most first: every weight to int8 (the word embeddings too), then the matrix products
# alone (the embeddings stay float). The first that keeps the score ships; when none does, the float export ships.
QUANTIZATIONS = ({}, {"op_types_to_quantize": ["MatMul", "Gemm"]})


def _publish(network, tokenizer, probes: list[Pair], dest: Path) -> None:
    """Export to ONNX, quantize the weights to int8 as far as the quantized model still ranks the probe pairs as well
    as PyTorch's (QUANTIZATIONS), then rename."""
    import torch
    from sklearn.metrics import roc_auc_score

    from .onnx_encoder import INPUTS, OPSET, _session

    feed = encode(tokenizer, [(q, c) for q, c, _ in probes])
    names, answers = list(INPUTS), [a for *_, a in probes]
    dest.parent.mkdir(parents=True, exist_ok=True)
    plain = dest.with_name(f".tmp-{uuid.uuid4().hex[:8]}-plain.onnx")
    quantized = dest.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{dest.name}")
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            tensors = tuple(torch.from_numpy(feed[n]) for n in names)
            expected = roc_auc_score(answers, network(*tensors).logits.numpy().reshape(-1))
            torch.onnx.export(network, tensors, str(plain), input_names=names, output_names=["logits"],
                              opset_version=OPSET, dynamo=False,
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names} | {"logits": {0: "batch"}})
        for options in QUANTIZATIONS:
            _quantize(plain, quantized, options)
            got = roc_auc_score(answers, _session(quantized).run(None, feed)[0].reshape(-1))
            log.info("reader quantized %s: ROC AUC %.3f on probe pairs, PyTorch's %.3f", options or "fully", got, expected)
            if expected - got <= MAX_LOSS:
                os.replace(quantized, dest)
                return
        os.replace(plain, dest)
    finally:
        plain.unlink(missing_ok=True)
        quantized.unlink(missing_ok=True)


def _quantize(plain: Path, quantized: Path, options: dict) -> None:
    """int8 weights, one scale per output channel (one per matrix moved the fitted logits too far)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # the quantizer advises pre-processing, which changes nothing here
    try:
        quantize_dynamic(str(plain), str(quantized), weight_type=QuantType.QInt8, per_channel=True, **options)
    finally:
        logging.getLogger().setLevel(quiet)


def publish(fitted: Path) -> None:
    """Ship the reader fitted at `fitted` with the package; the next question reads with it."""
    os.replace(fitted, shipped_path())
    shipped.cache_clear()
