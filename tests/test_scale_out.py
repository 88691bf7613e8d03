"""Many sites at once: `policyqa serve --workers 2` as a real subprocess, its rate limit in a real
redis-server and its feedback in a real PostgreSQL (both started by the tests on free ports); a
re-index reaching every worker, a killed worker replaced, Redis going down; and in-process, the
pieces behind them (a shared limit, following index/CURRENT, memory-mapped vectors)."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
import psycopg
import pytest
from click.testing import CliRunner
from conftest import POLICYQA, ROOT
from services import free_port, redis_server
from starlette.exceptions import HTTPException

from app import store
from app.cli import cli
from app.engine import Engine
from app.errors import PolicyQAError
from app.feedback import FeedbackStore
from app.records import Answer
from app.web.api import RateLimit

QUESTION = {"question": "How long do you keep payment records?", "policy": "leje"}
ADMIN = "t0p-secret-admin"


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path
    workers: int

    def worker_pids(self) -> set[int]:
        """The live worker processes: the server's children that run uvicorn's workers."""
        found = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                cmdline = (stat.parent / "cmdline").read_bytes()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid and b"spawn_main" in cmdline and fields[0] != "Z":
                found.add(int(stat.parent.name))
        return found

    def answering(self, path: str = "/healthz", method: str = "GET", **kwargs) -> tuple[httpx.Response, int]:
        """One request on a fresh connection, then /healthz on the same one: the response and the worker's pid."""
        with httpx.Client(base_url=self.url, timeout=120) as client:
            response = client.request(method, path, **kwargs)
            return response, client.get("/healthz").json()["worker"]

    @contextmanager
    def one_connection_per_worker(self, seconds: float = 60) -> Iterator[list[httpx.Client]]:
        """Open kept-alive connections until one reaches each worker (the kernel picks the worker per
        connection, so sequential fresh connections may all land on one); those, one per worker."""
        deadline, kept, opened = time.monotonic() + seconds, {}, []
        try:
            while len(kept) < self.workers:
                assert time.monotonic() < deadline, f"connections reached only workers {set(kept)}"
                opened.append(httpx.Client(base_url=self.url, timeout=120))
                kept.setdefault(opened[-1].get("/healthz").json()["worker"], opened[-1])
            yield list(kept.values())
        finally:
            for client in opened:
                client.close()

    def wait_for_workers(self, seconds: float = 240) -> set[int]:
        """Until every worker has answered /healthz; the pids that did."""
        deadline = time.monotonic() + seconds
        seen: set[int] = set()
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                seen.add(self.answering()[1])
            except httpx.HTTPError:
                time.sleep(0.5)
                continue
            live = self.worker_pids()
            if len(live) == self.workers and live <= seen:
                return live
        raise AssertionError(f"not every worker answered within {seconds}s: {seen}\n{self.log.read_text()}")


@contextmanager
def policyqa_serve(work: Path, env: dict[str, str], workers: int = 2) -> Iterator[Server]:
    """`policyqa serve --workers N` on a free port over its own copy of the session's corpus and index."""
    corpus, index = Path(os.environ["POLICYQA_CORPUS"]), Path(os.environ["POLICYQA_INDEX"])
    shutil.copytree(corpus, work / "corpus")
    shutil.copytree(index, work / "index", ignore=shutil.ignore_patterns(".build.lock"))
    port = free_port()
    log = work / "serve.log"
    env = {**os.environ, "POLICYQA_CORPUS": str(work / "corpus"), "POLICYQA_INDEX": str(work / "index"), **env}
    with open(log, "w") as out:
        process = subprocess.Popen([POLICYQA, "serve", "--workers", str(workers), "--port", str(port)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", process, log, workers)
    try:
        server.wait_for_workers()
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the server's own process group: uvicorn stops its workers
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def pg_rows(url: str, sql: str, *args) -> list[tuple]:
    with psycopg.connect(url) as db:
        return db.execute(sql, args).fetchall()


def flush(redis_url: str) -> None:
    import redis as redis_client

    redis_client.Redis.from_url(redis_url).flushall()


# ---------------------------------------------------------------- two workers, a limit of 10 a minute


@pytest.fixture(scope="module")
def limited(tmp_path_factory, postgres, engine):
    """Two workers, POLICYQA_RATE_LIMIT=10/minute counted in Redis, feedback in PostgreSQL, admin on."""
    feedback = postgres.create_database("limited")
    with redis_server() as redis:
        env = {"POLICYQA_RATE_LIMIT": "10/minute", "POLICYQA_RATE_LIMIT_STORAGE": redis.url,
               "POLICYQA_FEEDBACK_DB": feedback, "POLICYQA_ADMIN_TOKEN": ADMIN}
        with policyqa_serve(tmp_path_factory.mktemp("limited"), env) as server:
            server.redis, server.feedback = redis.url, feedback
            yield server


def test_twenty_asks_from_one_client_get_ten_answers_and_ten_429s_whichever_worker_answers(limited):
    flush(limited.redis)
    with limited.one_connection_per_worker() as clients:  # asks alternate between the two workers
        results = [clients[n % 2].post("/api/ask", json=QUESTION) for n in range(20)]
    statuses = [response.status_code for response in results]
    assert statuses == [200] * 10 + [429] * 10, statuses  # one count shared by both
    assert all(r.json()["answered"] and r.json()["citations"] for r in results[:10])
    refused = results[10]
    assert refused.json()["error"]["code"] == "rate_limited" and int(refused.headers["Retry-After"]) >= 1


def test_ratings_posted_through_the_api_are_rows_in_postgresql(limited):
    flush(limited.redis)
    answers = [limited.answering("/api/ask", "POST", json=QUESTION)[0].json() for _ in range(2)]
    for answer, rating in zip(answers, ("up", "down")):
        response, _ = limited.answering("/api/feedback", "POST",
                                        json={"ask_id": answer["ask_id"], "rating": rating, "comment": rating})
        assert response.status_code == 201, response.text
    rows = pg_rows(limited.feedback, "SELECT a.token, f.question, f.rating, f.comment FROM feedback f"
                                     " JOIN asks a ON a.id = f.ask_id ORDER BY f.id")
    assert rows == [(answers[0]["ask_id"], QUESTION["question"], 1, "up"),
                    (answers[1]["ask_id"], QUESTION["question"], -1, "down")]


def test_a_reindex_through_one_worker_reaches_every_worker(limited):
    before = limited.answering()[0].json()
    corpus = Path(limited.log.parent / "corpus")
    shutil.copyfile(ROOT / "corpus" / "leje.md", corpus / "leje-copy.md")
    response, builder = limited.answering("/api/admin/reindex", "POST", headers={"Authorization": f"Bearer {ADMIN}"})
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["rebuilt"] and after["generation"] != before["generation"] and after["policies"] == 6
    deadline, seen = time.monotonic() + 120, {}
    while set(seen) != limited.worker_pids() and time.monotonic() < deadline:
        health, pid = limited.answering()
        seen[pid] = health.json()["generation"]
    assert seen and set(seen.values()) == {after["generation"]}, seen
    assert set(seen) == limited.worker_pids() and builder in seen


# ---------------------------------------------------------------- two workers under load, and failures


@pytest.fixture(scope="module")
def busy(tmp_path_factory, postgres, engine):
    """Two workers with a limit no test reaches, counted in a Redis of its own (the last test stops it)."""
    feedback = postgres.create_database("busy")
    with redis_server() as redis:
        env = {"POLICYQA_RATE_LIMIT": "100000/minute", "POLICYQA_RATE_LIMIT_STORAGE": redis.url,
               "POLICYQA_FEEDBACK_DB": feedback}
        with policyqa_serve(tmp_path_factory.mktemp("busy"), env) as server:
            server.redis, server.feedback = redis, feedback
            yield server


def test_a_thousand_concurrent_ratings_from_both_workers_all_land_in_postgresql(busy):
    writer = FeedbackStore(busy.feedback)
    tokens = [f"tok-{n:04d}" for n in range(1000)]
    for token in tokens:
        writer.record_ask(Answer(question=f"question {token}?", answered=False, answer="no", citations=[]), token)

    def rate(n: int) -> int:
        return clients[n % len(clients)].post("/api/feedback", json={"ask_id": tokens[n], "rating": "up"}).status_code

    clients = [httpx.Client(base_url=busy.url, timeout=120) for _ in range(16)]  # 16 connections: both workers
    try:
        with ThreadPoolExecutor(32) as pool:
            statuses = list(pool.map(rate, range(1000)))
    finally:
        for client in clients:
            client.close()
    assert statuses == [201] * 1000
    assert pg_rows(busy.feedback, "SELECT COUNT(*), COUNT(DISTINCT ask_id) FROM feedback") == [(1000, 1000)]
    writers = {name for (name,) in pg_rows(busy.feedback, "SELECT DISTINCT application_name FROM pg_stat_activity"
                                                          " WHERE datname = 'busy'")}
    assert {f"policyqa-{pid}" for pid in busy.worker_pids()} <= writers, writers


def test_a_killed_worker_is_replaced_and_the_other_keeps_serving(busy):
    victim, survivor = sorted(busy.worker_pids())
    os.kill(victim, signal.SIGKILL)
    for _ in range(10):  # at once: the survivor takes every new connection
        response, pid = busy.answering("/api/ask", "POST", json=QUESTION)
        assert response.status_code == 200 and pid == survivor
    replacements = busy.wait_for_workers() - {survivor}
    assert len(replacements) == 1 and victim not in replacements
    assert busy.answering()[0].json()["ok"]


def test_redis_down_asks_are_still_answered_and_the_log_says_the_limit_is_off(busy):
    busy.redis.stop()
    statuses = [busy.answering("/api/ask", "POST", json=QUESTION)[0].status_code for _ in range(8)]
    assert statuses == [200] * 8
    said = busy.log.read_text().count("The rate limit is off")
    assert 1 <= said <= busy.workers  # once per worker that noticed


# ---------------------------------------------------------------- in-process: the pieces


def test_two_limiters_on_one_redis_share_one_count_and_a_dead_redis_lets_requests_through(caplog):
    with redis_server() as redis:
        first, second = RateLimit("3/minute", redis.url), RateLimit("3/minute", redis.url)  # as two workers
        first.hit("10.0.0.1"), second.hit("10.0.0.1"), first.hit("10.0.0.1")
        with pytest.raises(HTTPException) as refused:
            second.hit("10.0.0.1")
        assert refused.value.status_code == 429
        second.hit("10.0.0.2")  # another client has its own count
        redis.stop()
        with caplog.at_level(logging.WARNING, logger="app.web.api"):
            for _ in range(5):
                first.hit("10.0.0.1")  # over the limit, but the limit is off
    said = [r.getMessage() for r in caplog.records if "rate limit is off" in r.getMessage()]
    assert len(said) == 1 and "redis://127.0.0.1:" in said[0]


def test_a_storage_that_is_not_one_is_one_clear_line():
    with pytest.raises(PolicyQAError, match=r"^POLICYQA_RATE_LIMIT_STORAGE='mysql://x' is not a storage"):
        RateLimit("10/minute", "mysql://x")


def test_an_engine_follows_a_build_committed_by_another_process(seed_copy, model):
    corpus, index = seed_copy
    engine = Engine(corpus, index, model)
    engine.load()
    served = engine.index.generation
    assert not engine.behind()
    (corpus / "laneige.md").write_text((corpus / "laneige.md").read_text() + "\n\nWe never sell your data.\n")
    built = subprocess.run([POLICYQA, "index", "--corpus", str(corpus), "--index", str(index)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    assert engine.behind()
    engine.follow()
    assert engine.index.generation == store.serving_name(index) != served
    assert not engine.behind()


def test_the_vectors_are_memory_mapped_not_copied(engine):
    maps = Path("/proc/self/maps").read_text()
    generation = engine.index.path
    assert f"{generation / 'vectors.faiss'}" in maps and f"{generation / 'sentences.faiss'}" in maps


@pytest.mark.parametrize("args, env", [(["--workers", "0"], {}), ([], {"POLICYQA_WORKERS": "-2"})])
def test_no_worker_processes_is_one_clear_line(args, env, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["serve", *args])
    count = args[1] if args else env["POLICYQA_WORKERS"]
    assert result.exit_code == 1
    assert result.output == f"Error: --workers (or POLICYQA_WORKERS) is {count}: give 1 or more server processes.\n"
