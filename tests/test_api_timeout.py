"""A hung model call: the real model behind a gate that holds every encode. /api/ask answers 503 within
POLICYQA_REQUEST_TIMEOUT while the server serves everything else, the chat says so in one line, and
answers come back once the model does."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from conftest import serving
from test_api import QUESTION, assert_error

from app.embedder import Embedder
from app.engine import Engine
from app.errors import PolicyQAError
from app.feedback import FeedbackStore
from app.web import ui
from app.web.workers import Workers

TIMEOUT = 2


class GatedEmbedder(Embedder):
    """The real model, shared; while `gate` is shut every encode waits at it, as a hung model call would."""

    def __init__(self, real: Embedder):
        self.__dict__.update(real.__dict__)
        self.gate = threading.Event()
        self.gate.set()

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        self.gate.wait()
        return super().encode(texts, batch_size, progress)


@pytest.fixture
def gated(engine):
    """An engine over the session's index whose model hangs while the test keeps the gate shut."""
    embedder = GatedEmbedder(engine.embedder)
    gated = Engine(engine.corpus, engine.index_dir, embedder)
    gated.load()
    yield gated
    embedder.gate.set()  # let calls still waiting finish


def test_a_hung_model_gets_503_and_the_server_serves_on(gated, tmp_path, monkeypatch):
    monkeypatch.setenv("POLICYQA_REQUEST_TIMEOUT", str(TIMEOUT))
    monkeypatch.setenv("POLICYQA_RATE_LIMIT", "1000/minute")
    from app.web.server import create_app

    with serving(create_app(gated, FeedbackStore(tmp_path / "feedback.db"))) as url:
        def ask(question: str) -> tuple[httpx.Response, float]:
            started = time.monotonic()
            reply = httpx.post(f"{url}/api/ask", json={"question": question}, timeout=60)
            return reply, time.monotonic() - started

        assert ask(QUESTION)[0].status_code == 200
        gated.embedder.gate.clear()
        with ThreadPoolExecutor(6) as pool:  # more than the 4 workers: two wait in the queue, and time out there
            asked = [pool.submit(ask, f"{QUESTION} ({n})") for n in range(6)]
            time.sleep(0.5)
            for path in ("/healthz", "/api/policies", "/api/policies/leje", "/widget"):
                started = time.monotonic()
                assert httpx.get(f"{url}{path}", timeout=60).status_code == 200, path
                assert time.monotonic() - started < TIMEOUT, f"{path} waited for the hung model"
            waits = []
            for future in asked:
                reply, took = future.result()
                message = assert_error(reply, 503)["message"]
                assert message == ("No answer within 2 seconds: the server is busy or stuck. "
                                   "Please try again in a moment.")
                assert TIMEOUT <= took < TIMEOUT + 5
                waits.append(took)
            print(f"hung model: 6 asks answered 503 after {min(waits):.2f}-{max(waits):.2f}s")
        gated.embedder.gate.set()
        assert answered_again(ask)


def answered_again(ask) -> bool:
    """Once the model is back, the calls it held finish and new questions are answered (a busy machine may
    need a few tries)."""
    for _ in range(15):
        reply, _ = ask(QUESTION)
        if reply.status_code == 200:
            return reply.json()["answered"]
        time.sleep(1)
    return False


def test_the_chat_and_the_agents_tabs_say_when_an_answer_takes_too_long(gated, tmp_path):
    store, workers = FeedbackStore(tmp_path / "feedback.db"), Workers(2, 1)
    gated.embedder.gate.clear()
    chat = ui.ask(gated, store, workers, QUESTION, "leje", [])
    assert chat[-1].answer is None
    assert chat[-1].error == "No answer within 1 second: the server is busy or stuck. Please try again in a moment."
    assert "No answer within 1 second" in ui.render_transcript(chat)
    for render, args in ((ui.compare, ("do you use cookies?",)), (ui.search_clauses, ("cookies", [], ui.ALL))):
        assert "No answer within 1 second" in ui.within(workers, render, gated, *args)
    gated.embedder.gate.set()


def test_the_time_limit_comes_from_the_setting(monkeypatch):
    monkeypatch.setenv("POLICYQA_REQUEST_TIMEOUT", "7")
    assert Workers.from_settings(1).timeout == 7
    for bad in ("0", "soon"):
        monkeypatch.setenv("POLICYQA_REQUEST_TIMEOUT", bad)
        with pytest.raises(PolicyQAError, match="POLICYQA_REQUEST_TIMEOUT"):
            Workers.from_settings(1)


def test_work_that_finishes_in_time_or_fails_is_returned_as_is():
    workers = Workers(1, 5)
    assert workers.run(sum, [1, 2]) == 3
    with pytest.raises(PolicyQAError, match="empty"):
        workers.run(ui.answers.clean_question, " ")
