"""Shared fixtures: every path points into a temporary folder; the index is real, built once."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import HealthCheck, settings

# the property tests' examples: 60 keep the suite fast; POLICYQA_PROPERTY_EXAMPLES=2000 for a longer hunt
EXAMPLES = settings(max_examples=int(os.environ.get("POLICYQA_PROPERTY_EXAMPLES", "60")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

ROOT = Path(__file__).resolve().parent.parent


def _shared() -> Path:
    """The team's data (../shared) beside the checkout; for a git worktree, beside its main checkout."""
    git = ROOT / ".git"  # in a worktree, a file: "gitdir: <main checkout>/.git/worktrees/<name>"
    main = Path(git.read_text().partition(":")[2].strip()).parents[2] if git.is_file() else ROOT
    return main.parent / "shared"


SHARED = _shared()  # policies/ (five current policies under open licences), bench/, seeds/
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session", autouse=True)
def isolated_paths(tmp_path_factory) -> Path:
    """POLICYQA_* paths in a temp folder, so no test touches the repo's index/ or feedback.db."""
    base = tmp_path_factory.mktemp("policyqa")
    shutil.copytree(ROOT / "corpus", base / "corpus")
    os.environ["POLICYQA_CORPUS"] = str(base / "corpus")
    os.environ["POLICYQA_INDEX"] = str(base / "index")
    os.environ["POLICYQA_FEEDBACK_DB"] = str(base / "feedback.db")
    os.environ["POLICYQA_MODEL_CACHE"] = str(base / "model-cache")  # the ONNX export is made once per session
    os.environ.pop("POLICYQA_EMBED_BACKEND", None)
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


@contextmanager
def serving(app) -> Iterator[str]:
    """`app` served by uvicorn on 127.0.0.1 at a free port, in a thread of this process; yields its URL."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(web_app):
    """The real app served by uvicorn on 127.0.0.1 at a free port, for HTTP and browser tests."""
    with serving(web_app) as url:
        yield url


@pytest.fixture(scope="session")
def workers():
    """A pool to compute answers on, as the server's, with a time limit no test on a busy machine runs into."""
    from app.web.workers import Workers

    return Workers(4, 600)


# ---------------------------------------------------------------- reliability tests: small real indexes

SEED_POLICIES = ("laneige.md", "herve-leger.md")
POLICYQA = str(ROOT / ".venv" / "bin" / "policyqa")


def copy_seed_corpus(dest: Path, names: tuple[str, ...] = SEED_POLICIES) -> Path:
    """Writable copies of seed policies (the bundled files are read-only)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(ROOT / "corpus" / name, dest / name)
    return dest


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, model) -> tuple[Path, Path]:
    """Two seed policies and their real index, built once; use `seed_copy` to change either."""
    from app import store

    base = tmp_path_factory.mktemp("seed")
    corpus = copy_seed_corpus(base / "corpus")
    store.build(corpus, base / "index", model)
    return corpus, base / "index"


@pytest.fixture
def seed_copy(seed_index, tmp_path) -> tuple[Path, Path]:
    """A private copy of the seed corpus and its index."""
    corpus, index = seed_index
    shutil.copytree(corpus, tmp_path / "corpus")
    shutil.copytree(index, tmp_path / "index")
    return tmp_path / "corpus", tmp_path / "index"


@pytest.fixture
def rate_limit(web_app):
    """Set the shared app's per-client rate limit for one test, e.g. rate_limit("5/minute"), with fresh counts."""
    from app.web.api import RateLimit

    saved = web_app.state.rate_limit
    yield lambda spec: setattr(web_app.state, "rate_limit", RateLimit(spec))
    web_app.state.rate_limit = saved


# ---------------------------------------------------------------- feedback and UI tests


@pytest.fixture
def read_only():
    """read_only(path): a context manager that makes a file unwritable, even to root, and restores it.

    Root ignores file modes, so as root the file gets the immutable attribute (chattr +i) instead.
    """
    import subprocess
    from contextlib import contextmanager

    @contextmanager
    def making(path: Path):
        if os.geteuid() != 0:
            mode = path.stat().st_mode
            path.chmod(0o444)
            try:
                yield path
            finally:
                path.chmod(mode)
            return
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip(f"running as root where chattr +i is refused: cannot make {path} read-only")
        try:
            yield path
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)

    return making


import re  # noqa: E402  (kept with the reliability helpers appended here)

_NOT_WORD = re.compile(r"[\W_]+")  # white space, punctuation and Markdown markup


def missing_word(clean: str, source: str) -> str | None:
    """The first word of `clean` not found in `source` after the words before it (comparing letters and
    digits only), or None when all are there in order: the check that offsets point at the quoted words."""
    hay, pos = _NOT_WORD.sub("", source), 0
    for word in clean.split():
        word = _NOT_WORD.sub("", word)
        found = hay.find(word, pos)
        if found < 0:
            return word
        pos = found + len(word)
    return None


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright, headless, with the flags this closed network needs."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing; run `make browser` (Debian's chromium package).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# ---------------------------------------------------------------- shared servers: real redis-server and PostgreSQL


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server on a free port of 127.0.0.1 (see services.py), for the whole session."""
    from services import postgres_server

    with postgres_server() as server:
        yield server


@pytest.fixture
def postgres_url(postgres, request) -> str:
    """The URL of a fresh, empty database of its own for one test."""
    import re

    return postgres.create_database(re.sub(r"\W", "_", request.node.name.lower())[:50] + f"_{os.getpid()}")


@pytest.fixture
def redis():
    """A real redis-server of its own on a free port of 127.0.0.1, for one test."""
    from services import redis_server

    with redis_server() as server:
        yield server


# ---------------------------------------------------------------- policy versions: a real dated corpus

VERSIONS = ROOT / "tests" / "data" / "versions"  # leje@2019-01-01.md (the seed) and leje@2021-06-01.md (edited)


@pytest.fixture(scope="session")
def versioned(tmp_path_factory, model):
    """An engine over LEJE's two dated versions and Clozette's single (archive-dated) one, its index real."""
    from app.engine import Engine

    base = tmp_path_factory.mktemp("versions")
    (base / "corpus").mkdir()
    for path in VERSIONS.glob("*.md"):
        shutil.copyfile(path, base / "corpus" / path.name)
    shutil.copyfile(ROOT / "corpus" / "clozette.md", base / "corpus" / "clozette.md")
    engine = Engine(base / "corpus", base / "index", model)
    engine.refresh()
    return engine


@pytest.fixture(scope="session")
def versioned_server(versioned, tmp_path_factory):
    """The real app over the versioned corpus, served on 127.0.0.1."""
    from app.feedback import FeedbackStore
    from app.web.server import create_app

    with serving(create_app(versioned, FeedbackStore(tmp_path_factory.mktemp("vfeedback") / "feedback.db"))) as url:
        yield url
