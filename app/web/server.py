"""One ASGI app on one port: the JSON API and widget (api.py, widget.py) and the Gradio UI at /.

`policyqa serve` builds it once in its own process; with `--workers N` uvicorn starts N processes that
each build it with `worker_app`, from the settings in the environment.
"""

from __future__ import annotations

import gradio as gr
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from .. import settings
from ..engine import Engine
from ..feedback import FeedbackStore
from . import api, ui

UI_WORKERS = 2
UI_QUEUE = 64


def create_app(engine: Engine, feedback: FeedbackStore) -> FastAPI:
    # /docs and /redoc load their scripts from the fastapi-offline package, not a CDN: they work offline
    app = FastAPIOffline(title="PolicyQA", version="1", summary="Answers about policies, quoted and cited.")
    app.state.engine = engine
    app.state.feedback = feedback
    api.install(app)
    blocked = [str(engine.index_dir), *([str(feedback.path.parent)] if feedback.path else [])]
    # Answers are CPU-bound on a small machine: two chat events at a time keep each fast, and a bounded
    # queue tells the 65th waiting user that the server is busy instead of letting waits grow unbounded.
    # The answers themselves are computed on the API's workers, within the same time limit.
    blocks = ui.build(engine, feedback, app.state.ask_workers)
    blocks.queue(max_size=UI_QUEUE, default_concurrency_limit=UI_WORKERS, api_open=False)
    return gr.mount_gradio_app(
        app, blocks, path="/", allowed_paths=[], blocked_paths=blocked,
        enable_monitoring=False, mcp_server=False, footer_links=[], run_history=False, i18n=ui.I18N,
    )


def worker_app() -> FastAPI:
    """The app of one worker process: the index `policyqa serve` checked or built before starting the workers."""
    engine = Engine(settings.path("corpus"), settings.path("index"))
    engine.load()
    return create_app(engine, FeedbackStore.configured())
