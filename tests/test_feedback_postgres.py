"""FeedbackStore on a real PostgreSQL server: the same migrations and SQL as SQLite, concurrent writers
from several processes, `policyqa report` and `eval --from-feedback`, and a database that goes down."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from test_cli import run

from app.errors import PolicyQAError
from app.feedback import MIGRATIONS, FeedbackStore, Rated
from app.records import Answer


def declined(question: str, policy: str | None = "leje") -> Answer:
    return Answer(question=question, answered=False, answer="The policy does not say.", policy=policy, citations=[])


def rows(url: str, sql: str, *args) -> list[tuple]:
    with psycopg.connect(url) as db:
        return db.execute(sql, args).fetchall()


def test_the_same_numbered_migrations_are_applied_once_by_concurrent_stores(postgres_url):
    stores = [FeedbackStore(postgres_url) for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:  # six first writers at once: one migrates, the others wait and skip
        list(pool.map(lambda store: store.add(declined("Do you sell my data?"), -1), stores))
    versions = rows(postgres_url, "SELECT version FROM schema_migrations ORDER BY version")
    assert versions == [(n,) for n in range(1, len(MIGRATIONS) + 1)]
    columns = rows(postgres_url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'asks'")
    assert ("token",) in columns
    assert rows(postgres_url, "SELECT COUNT(*) FROM feedback") == [(6,)]


def test_an_answer_is_logged_rated_once_and_read_back(postgres_url, engine):
    store = FeedbackStore(postgres_url)
    answer = engine.ask("how long do you keep my payment records?", policy="leje")
    first = store.record_ask(answer, token="t0ken")
    assert store.record_ask(declined("Do you sell my data?"), token="other") == first + 1
    assert store.rate("nope", 1) is Rated.UNKNOWN
    assert store.rate("t0ken", -1, " wrong\nclause ") is Rated.SAVED
    assert store.rate("t0ken", 1) is Rated.ALREADY
    [(question, policy, rating, comment, citations)] = rows(
        postgres_url, "SELECT question, policy, rating, comment, citations FROM feedback")
    assert (question, policy, rating, comment) == (answer.question, "leje", -1, "wrong clause")
    assert json.loads(citations)[0]["quote"] == answer.citations[0].quote
    [rated] = store.ratings()
    assert rated["rating"] == -1 and rated["citations"][0]["clause"] == answer.citations[0].clause
    [gap] = [g for g in store.gaps() if g.disliked]
    assert (gap.policy, gap.question, gap.disliked) == ("leje", answer.question, 1)


def test_one_answer_rated_at_once_from_many_threads_gets_one_rating(postgres_url):
    store = FeedbackStore(postgres_url)
    tokens = [f"token-{n}" for n in range(20)]
    for token in tokens:
        store.record_ask(declined("Do you sell my data?"), token=token)
    stores = [FeedbackStore(postgres_url) for _ in range(4)]  # as four worker processes would: their own pools
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda n: stores[n % 4].rate(tokens[n % 20], 1), range(160)))
    assert results.count(Rated.SAVED) == 20 and results.count(Rated.ALREADY) == 140
    assert rows(postgres_url, "SELECT COUNT(*), COUNT(DISTINCT ask_id) FROM feedback") == [(20, 20)]


def test_concurrent_writers_in_separate_processes_lose_nothing(postgres_url):
    script = ("import sys; from app.feedback import FeedbackStore; from app.records import Answer;"
              "store = FeedbackStore(sys.argv[1]);"
              "[store.record_ask(Answer(question=f'q{sys.argv[2]}-{n}?', answered=False, answer='a', policy=None,"
              " citations=[]), token=f't{sys.argv[2]}-{n}') for n in range(150)]")
    writers = [subprocess.Popen([sys.executable, "-c", script, postgres_url, str(n)]) for n in range(4)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    assert rows(postgres_url, "SELECT COUNT(*), COUNT(DISTINCT token) FROM asks") == [(600, 600)]


def test_report_and_eval_from_feedback_read_postgresql(postgres_url, engine):
    store = FeedbackStore(postgres_url)
    for _ in range(2):
        store.record_ask(declined("Do you sell my data to brokers?", "laneige"))
    store.add(engine.ask("how long do you keep my payment records?", policy="leje"), 1)
    store.add(engine.ask("how much is shipping to canada?", policy="clozette"), 1, "right, not a privacy question")
    store.add(engine.ask("do you sell my email?", policy="laneige"), -1, "wrong clause")
    report = run("report", "--db", postgres_url, "--json")
    assert report.returncode == 0, report.stderr
    gaps = [json.loads(line) for line in report.stdout.splitlines()]
    assert gaps[0]["question"] == "Do you sell my data to brokers?" and gaps[0]["declined"] == 2
    assert any(g["disliked"] == 1 for g in gaps)
    result = run("eval", "--index", str(engine.index_dir), "--from-feedback", "--json",
                 env={"POLICYQA_FEEDBACK_DB": postgres_url})
    assert result.returncode == 0, result.stderr
    assert "2 cases from thumbs up; 1 thumbs down" in result.stderr
    gold = json.loads(result.stdout)["gold"]
    assert (gold["answerable"], gold["unanswerable"]) == (1, 1)


def test_a_database_that_is_down_gets_feedback_not_saved_and_comes_back(postgres):
    url = postgres.create_database("comes_back")
    store = FeedbackStore(url)
    store.record_ask(declined("Do you sell my data?"), token="before")
    postgres.stop()
    try:
        started = time.monotonic()
        with pytest.raises(PolicyQAError, match=r"^Feedback not saved: the feedback database is unreachable"):
            store.rate("before", 1)
        with pytest.raises(PolicyQAError, match=r"^Question not logged"):
            store.record_ask(declined("Do you sell my data?"), token="during")
        assert time.monotonic() - started < 15
        with pytest.raises(PolicyQAError, match="Cannot read the feedback database postgresql://127.0.0.1:"):
            store.gaps()
    finally:
        postgres.start()
    deadline = time.monotonic() + 60
    while True:  # the same store reconnects once the database is back (its pool retries with a back-off)
        try:
            assert store.rate("before", 1) is Rated.SAVED
            break
        except PolicyQAError:
            assert time.monotonic() < deadline
    assert rows(url, "SELECT COUNT(*) FROM feedback") == [(1,)]


def test_a_password_in_the_url_stays_out_of_messages(postgres):
    store = FeedbackStore(f"postgresql://policyqa:s3cret@127.0.0.1:{postgres.port}/no_such_database")
    with pytest.raises(PolicyQAError) as failure:
        store.gaps()
    assert "s3cret" not in str(failure.value) and "postgresql://127.0.0.1:" in str(failure.value)
