"""One ASGI app on one port: the JSON API and widget (api.py, widget.py) and the Gradio UI at /."""

from __future__ import annotations

import gradio as gr
from fastapi import FastAPI

from .. import settings
from ..engine import Engine
from ..feedback import FeedbackStore
from . import api, ui


def create_app(engine: Engine, feedback: FeedbackStore) -> FastAPI:
    app = FastAPI(title="PolicyQA", version="1", summary="Answers about policies, quoted and cited.")
    app.state.engine = engine
    app.state.feedback = feedback
    api.install(app)
    blocked = [str(engine.index_dir), str(settings.path("feedback_db").parent)]
    return gr.mount_gradio_app(
        app, ui.build(engine, feedback), path="/", allowed_paths=[], blocked_paths=blocked,
        enable_monitoring=False, mcp_server=False, footer_links=[], run_history=False,
    )
