"""POST /api/feedback on real SQLite: an answer from /api/ask is rated by its ask_id, once; bad requests
and a database that cannot be written get the API's one error shape while /api/ask answers on;
1,000 concurrent posts over a real socket all land."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from contextlib import closing

import httpx
import pytest
from conftest import serving
from fastapi import FastAPI
from test_api import QUESTION, InProcess, api_alone, assert_error

from app.engine import Engine
from app.feedback import FeedbackStore
from app.web import api


@pytest.fixture(autouse=True)
def generous_limit(rate_limit):
    rate_limit("100000/minute")


@pytest.fixture(params=["http", "asgi"])
def client(request, live_server, web_app):
    """The same calls over a real socket and in-process."""
    if request.param == "asgi":
        yield InProcess(web_app)
        return
    with httpx.Client(base_url=live_server, timeout=120) as http:
        yield http


def rows(path, sql: str, *args) -> list[tuple]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(sql, args).fetchall()


def api_with(engine: Engine, store: FeedbackStore) -> FastAPI:
    """The API alone over a feedback store of the test's own."""
    app = api_alone(engine)
    app.state.feedback = store
    return app


def ask(client, question: str = QUESTION, policy: str | None = "leje") -> dict:
    response = client.post("/api/ask", json={"question": question, "policy": policy})
    assert response.status_code == 200, response.text
    return response.json()


def test_an_answer_is_rated_once_by_its_ask_id(client, feedback_store):
    answer = ask(client)
    response = client.post("/api/feedback", json={"ask_id": answer["ask_id"], "rating": "down",
                                                   "comment": " wanted the\nlog records too "})
    assert response.status_code == 201, response.text
    assert response.json() == {"ask_id": answer["ask_id"], "rating": "down"}

    (row,) = rows(feedback_store.path, "SELECT f.question, f.policy, f.answered, f.answer, f.citations, f.rating,"
                  " f.comment FROM feedback f JOIN asks a ON f.ask_id = a.id WHERE a.token = ?", answer["ask_id"])
    assert row[:4] == (answer["question"], "leje", 1, answer["answer"])
    assert [c["quote"] for c in json.loads(row[4])] == [c["quote"] for c in answer["citations"]]
    assert row[5:] == (-1, "wanted the log records too")

    again = client.post("/api/feedback", json={"ask_id": answer["ask_id"], "rating": "up"})
    assert "rated already" in assert_error(again, 409)["message"]


def test_every_answer_has_its_own_ask_id(client):
    first, second = ask(client), ask(client)
    assert first["ask_id"] != second["ask_id"]
    for answer, rating in ((first, "up"), (second, "down")):
        assert client.post("/api/feedback", json={"ask_id": answer["ask_id"], "rating": rating}).status_code == 201


TOKEN = "A" * 22
BAD_FEEDBACK = {
    "unknown ask_id": ({"json": {"ask_id": TOKEN, "rating": "up"}}, 404),
    "ask_id a row number": ({"json": {"ask_id": "1", "rating": "up"}}, 404),
    "ask_id with a path trick": ({"json": {"ask_id": "../1", "rating": "up"}}, 422),
    "ask_id too long": ({"json": {"ask_id": "A" * 65, "rating": "up"}}, 422),
    "ask_id a number": ({"json": {"ask_id": 1, "rating": "up"}}, 422),
    "no ask_id": ({"json": {"rating": "up"}}, 422),
    "no rating": ({"json": {"ask_id": TOKEN}}, 422),
    "rating sideways": ({"json": {"ask_id": TOKEN, "rating": "sideways"}}, 422),
    "rating a number": ({"json": {"ask_id": TOKEN, "rating": 1}}, 422),
    "comment over 500 characters": ({"json": {"ask_id": TOKEN, "rating": "up", "comment": "x" * 501}}, 422),
    "comment not text": ({"json": {"ask_id": TOKEN, "rating": "up", "comment": ["x"]}}, 422),
    "unknown field": ({"json": {"ask_id": TOKEN, "rating": "up", "answer": "forged"}}, 422),
    "malformed JSON": ({"content": b'{"ask_id": ', "headers": {"Content-Type": "application/json"}}, 400),
    "body over 64 KB": ({"content": b'{"comment": "' + b"x" * 70_000 + b'"}',
                         "headers": {"Content-Type": "application/json"}}, 413),
}


@pytest.mark.parametrize("name", BAD_FEEDBACK)
def test_bad_feedback_gets_a_json_error(client, name):
    kwargs, status = BAD_FEEDBACK[name]
    assert_error(client.post("/api/feedback", **kwargs), status)


def test_only_post(client):
    response = client.get("/api/feedback")
    assert_error(response, 405)
    assert response.headers["allow"] == "POST"


def test_hostile_comments_are_stored_as_plain_text(client, feedback_store):
    comment = "<script>alert(1)</script>\x00 \u202egnp.exe\u200b 🍪 [x](javascript:alert(2)) '); DROP TABLE feedback;--"
    answer = ask(client)
    assert client.post("/api/feedback", json={"ask_id": answer["ask_id"], "rating": "down",
                                              "comment": comment}).status_code == 201
    (stored,) = rows(feedback_store.path, "SELECT comment FROM feedback f JOIN asks a ON f.ask_id = a.id"
                     " WHERE a.token = ?", answer["ask_id"])[0]
    assert stored == "<script>alert(1)</script> gnp.exe 🍪 [x](javascript:alert(2)) '); DROP TABLE feedback;--"
    lone = b'{"ask_id": "%s", "rating": "up", "comment": "a\\ud800b"}' % answer["ask_id"].encode()  # not text
    refused = client.post("/api/feedback", content=lone, headers={"Content-Type": "application/json"})
    assert "comment: Input should be a valid string" in assert_error(refused, 422)["message"]
    assert rows(feedback_store.path, "PRAGMA integrity_check") == [("ok",)]


def test_feedback_shares_the_rate_limit_of_ask(live_server, rate_limit):
    rate_limit("2/minute")
    with httpx.Client(base_url=live_server, timeout=120) as http:
        answer = ask(http)
        assert http.post("/api/feedback", json={"ask_id": answer["ask_id"], "rating": "up"}).status_code == 201
        limited = http.post("/api/feedback", json={"ask_id": answer["ask_id"], "rating": "up"})
        assert_error(limited, 429)
        assert int(limited.headers["retry-after"]) >= 1


def test_without_a_feedback_store_there_is_no_ask_id_and_no_feedback(engine):
    app = InProcess(api_alone(engine))
    assert app.post("/api/ask", json={"question": QUESTION}).json()["ask_id"] is None
    assert "no feedback" in assert_error(app.post("/api/feedback", json={"ask_id": TOKEN, "rating": "up"}), 404)["message"]


def test_a_read_only_database_says_feedback_not_saved_and_ask_answers_on(engine, tmp_path, read_only):
    store = FeedbackStore(tmp_path / "feedback.db")
    app = InProcess(api_with(engine, store))
    rated_later = ask(app)
    with read_only(store.path):
        error = assert_error(app.post("/api/feedback", json={"ask_id": rated_later["ask_id"], "rating": "up"}), 503)
        assert error["message"] == "Feedback not saved: the feedback database is read-only."
        answer = ask(app, "How can I delete my account?")
        assert answer["answered"] and answer["ask_id"] is None
    assert app.post("/api/feedback", json={"ask_id": rated_later["ask_id"], "rating": "up"}).status_code == 201


def test_a_locked_database_says_feedback_not_saved_and_ask_answers_on(engine, tmp_path):
    store = FeedbackStore(tmp_path / "feedback.db", busy_timeout=0.3)
    app = InProcess(api_with(engine, store))
    answer = ask(app)
    with closing(sqlite3.connect(store.path, isolation_level=None)) as holder:
        holder.execute("BEGIN IMMEDIATE")
        error = assert_error(app.post("/api/feedback", json={"ask_id": answer["ask_id"], "rating": "up"}), 503)
        assert error["message"].startswith("Feedback not saved: the feedback database is busy")
        unlogged = ask(app, "How can I delete my account?")
        assert unlogged["answered"] and unlogged["ask_id"] is None
        holder.execute("ROLLBACK")
    assert app.post("/api/feedback", json={"ask_id": answer["ask_id"], "rating": "up"}).status_code == 201


def test_1000_concurrent_feedback_posts_give_1000_rows(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("POLICYQA_RATE_LIMIT", "100000/minute")
    from app.web.server import create_app

    store = FeedbackStore(tmp_path / "feedback.db")
    answer = engine.ask(QUESTION, "leje")
    tokens = [f"soak{n:04d}" for n in range(1000)]
    for token in tokens:  # 1,000 answers to rate, logged as /api/ask logs them
        store.record_ask(answer, token)

    async def post_all(url: str) -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as http:
            return await asyncio.gather(*(
                http.post("/api/feedback", json={"ask_id": token, "rating": ("up", "down")[n % 2],
                                                 "comment": f"comment {n}"})
                for n, token in enumerate(tokens)))

    with serving(create_app(engine, store)) as url:
        started = time.monotonic()
        replies = asyncio.run(post_all(url))
        took = time.monotonic() - started
    assert [r.status_code for r in replies] == [201] * 1000, [r.text for r in replies if r.status_code != 201][:3]
    assert rows(store.path, "SELECT COUNT(*), COUNT(DISTINCT ask_id), COUNT(DISTINCT comment), SUM(rating)"
                " FROM feedback") == [(1000, 1000, 1000, 0)]
    assert rows(store.path, "PRAGMA integrity_check") == [("ok",)]
    print(f"1,000 concurrent feedback posts stored in {took:.1f}s")
