"""Shared fixtures: every path points into a temporary folder; the index is real, built once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session", autouse=True)
def isolated_paths(tmp_path_factory) -> Path:
    """POLICYQA_* paths in a temp folder, so no test touches the repo's index/ or feedback.db."""
    base = tmp_path_factory.mktemp("policyqa")
    shutil.copytree(ROOT / "corpus", base / "corpus")
    os.environ["POLICYQA_CORPUS"] = str(base / "corpus")
    os.environ["POLICYQA_INDEX"] = str(base / "index")
    os.environ["POLICYQA_FEEDBACK_DB"] = str(base / "feedback.db")
    os.environ["HF_HUB_OFFLINE"] = "1"
    return base


@pytest.fixture(scope="session")
def model():
    from app import embedder

    return embedder.get()


@pytest.fixture(scope="session")
def engine(isolated_paths, model):
    """A real engine over the bundled corpus, its index built by the real model."""
    from app.engine import Engine

    engine = Engine(isolated_paths / "corpus", isolated_paths / "index", model)
    engine.refresh()
    return engine


@pytest.fixture(scope="session")
def feedback_store(isolated_paths):
    from app.feedback import FeedbackStore

    return FeedbackStore(isolated_paths / "feedback.db")


@pytest.fixture(scope="session")
def web_app(engine, feedback_store):
    from app.web.server import create_app

    return create_app(engine, feedback_store)


@pytest.fixture(scope="session")
def live_server(web_app):
    """The real app served by uvicorn on 127.0.0.1 at a free port, for HTTP and browser tests."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(web_app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
