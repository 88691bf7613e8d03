"""FeedbackStore on real SQLite files: migrations, WAL, concurrent writers, failures users can read,
and the gaps report (`policyqa report`) that groups declined and disliked questions."""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import closing
from datetime import datetime

import pytest
from click.testing import CliRunner

from app.cli import cli
from app.errors import PolicyQAError
from app.feedback import MIGRATIONS, FeedbackStore, Rated, migrate
from app.records import Answer


def declined(question: str, policy: str | None = "laneige") -> Answer:
    return Answer(question=question, answered=False, answer="The laneige Privacy Policy does not say anything about this.",
                  citations=[], policy=policy)


@pytest.fixture
def store(tmp_path) -> FeedbackStore:
    return FeedbackStore(tmp_path / "sub" / "feedback.db")


def rows(store: FeedbackStore, sql: str) -> list[tuple]:
    with sqlite3.connect(store.path) as db:
        return db.execute(sql).fetchall()


def test_migrations_are_numbered_recorded_and_idempotent(store):
    store.add(declined("Do you sell my data?"), -1)
    again = FeedbackStore(store.path)
    again.add(declined("Do you sell my data?"), 1)
    with sqlite3.connect(store.path) as db:
        migrate(db)
        migrate(db)
    versions = rows(store, "SELECT version FROM schema_migrations ORDER BY version")
    assert versions == [(n,) for n in range(1, len(MIGRATIONS) + 1)]
    tables = {name for (name,) in rows(store, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"asks", "feedback", "schema_migrations"} <= tables
    assert rows(store, "SELECT COUNT(*) FROM feedback") == [(2,)]


def test_the_database_is_in_wal_mode_and_waits_when_busy(store):
    store.add(declined("Do you sell my data?"), -1)
    assert rows(store, "PRAGMA journal_mode") == [("wal",)]
    with store._connection() as db:
        assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_a_thumbs_down_keeps_the_question_answer_citations_and_comment(store, engine):
    answer = engine.ask("how long do you keep my payment records?", policy="leje")
    ask_id = store.record_ask(answer)
    store.add(answer, -1, "  I wanted the\nlog records too  ", ask_id=ask_id)
    (row,) = rows(store, "SELECT ask_id, question, policy, answered, answer, citations, rating, comment, created_at"
                         " FROM feedback")
    assert row[:5] == (ask_id, answer.question, "leje", 1, answer.answer)
    cited = json.loads(row[5])
    assert [(c["policy"], c["clause"], c["quote"]) for c in cited] == \
        [(c.policy, c.clause, c.quote) for c in answer.citations]
    assert row[6:8] == (-1, "I wanted the log records too")
    assert datetime.fromisoformat(row[8]).tzinfo is not None


def test_every_asked_question_is_logged_with_its_outcome(store, engine):
    store.record_ask(engine.ask("do you use cookies?", policy="laneige"))
    store.record_ask(engine.ask("do you use cookies?", policy="leje"))
    logged = rows(store, "SELECT policy, answered, json_array_length(citations) > 0 FROM asks ORDER BY id")
    assert logged == [("laneige", 0, 0), ("leje", 1, 1)]


def test_200_concurrent_writers_all_land(store):
    stores = [store] + [FeedbackStore(store.path) for _ in range(3)]  # several writers at SQLite's lock, too
    start = threading.Barrier(200)
    failures = []

    def write(n: int) -> None:
        start.wait()
        try:
            stores[n % 4].add(declined(f"question {n}?"), 1 if n % 2 else -1, comment=f"comment {n}")
        except PolicyQAError as exc:
            failures.append(str(exc))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert rows(store, "SELECT COUNT(*), COUNT(DISTINCT comment) FROM feedback") == [(200, 200)]


def test_a_read_only_database_fails_with_one_readable_line(store, read_only):
    store.add(declined("Do you sell my data?"), 1)
    with read_only(store.path):
        for writer in (store, FeedbackStore(store.path)):
            with pytest.raises(PolicyQAError, match=r"^Feedback not saved: the feedback database is read-only\.$"):
                writer.add(declined("Do you sell my data?"), -1)
            with pytest.raises(PolicyQAError, match=r"^Question not logged: "):
                writer.record_ask(declined("Do you sell my data?"))
    assert rows(store, "SELECT COUNT(*) FROM feedback") == [(1,)]


def test_a_locked_database_fails_after_the_busy_timeout(store):
    store.add(declined("Do you sell my data?"), 1)
    impatient = FeedbackStore(store.path, busy_timeout=0.2)
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(PolicyQAError, match=r"^Feedback not saved: the feedback database is busy"):
            impatient.add(declined("Do you sell my data?"), -1)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    impatient.add(declined("Do you sell my data?"), -1)  # and works again once the lock is gone


def test_a_rating_is_a_thumb(store):
    with pytest.raises(PolicyQAError, match="Feedback not saved: the rating is 5"):
        store.add(declined("Do you sell my data?"), 5)


def test_gaps_group_declines_and_dislikes_across_wordings(store):
    for question in ("Do you sell my data?", "do you sell my data", "Do you sell data??", "DO YOU SELL MY DATA!"):
        store.record_ask(declined(question))
    store.add(declined("Do you sell my data?"), -1)
    store.add(declined("Do you sell my data?"), 1)  # a thumbs up is no gap
    store.record_ask(declined("Is there a children's policy?"))
    store.record_ask(declined("Do you sell my data?", policy=None))  # asked of all policies: its own group
    store.record_ask(Answer("Do you use cookies?", True, "The laneige Privacy Policy says: ...", [], "laneige"))

    gaps = store.gaps()
    assert [(g.policy, g.question, g.declined, g.disliked, g.wordings) for g in gaps] == [
        ("laneige", "Do you sell my data?", 4, 1, 2),
        (None, "Do you sell my data?", 1, 0, 1),
        ("laneige", "Is there a children's policy?", 1, 0, 1),
    ]


def test_gaps_of_a_missing_database_are_none(tmp_path):
    store = FeedbackStore(tmp_path / "never.db")
    assert store.gaps() == []
    assert not store.path.exists()


def test_report_command_lists_the_gaps(store):
    for _ in range(3):
        store.record_ask(declined("Do you sell my data?"))
    store.add(declined("How do I delete my account?"), -1, "no answer")
    runner = CliRunner()

    printed = runner.invoke(cli, ["report", "--db", str(store.path)])
    assert printed.exit_code == 0, printed.output
    lines = printed.output.splitlines()
    assert "Declined" in lines[0] and "Disliked" in lines[0]
    assert "Do you sell my data?" in lines[1] and "laneige" in lines[1]
    assert "How do I delete my account?" in lines[2]

    as_json = runner.invoke(cli, ["report", "--db", str(store.path), "--json", "--limit", "1"])
    assert [json.loads(line) for line in as_json.output.splitlines()] == [
        {"policy": "laneige", "question": "Do you sell my data?", "declined": 3, "disliked": 0, "total": 3,
         "wordings": 1, "last": store.gaps()[0].last}]

    empty = runner.invoke(cli, ["report", "--db", str(store.path.parent / "none.db")])
    assert empty.exit_code == 0 and "No declined or disliked questions" in empty.output


def test_an_answer_logged_with_a_token_is_rated_once_by_it(store):
    ask_id = store.record_ask(declined("Do you sell my data?"), token="t0ken")
    assert store.rate("nope", 1) is Rated.UNKNOWN
    assert store.rate("t0ken", -1, "not\nanswered") is Rated.SAVED
    assert store.rate("t0ken", 1) is Rated.ALREADY
    assert rows(store, "SELECT ask_id, question, rating, comment FROM feedback") == \
        [(ask_id, "Do you sell my data?", -1, "not answered")]
    with pytest.raises(PolicyQAError, match="the rating is 0"):
        store.rate("t0ken", 0)


def test_comments_are_stored_as_plain_text(store):
    store.add(declined("Do you sell my data?"), 1, "a\x00b \u202eevil\u200b\ud800 c\u2028d 🍪 <b>x</b>")
    assert rows(store, "SELECT comment FROM feedback") == [("a b evil c d 🍪 <b>x</b>",)]


def test_a_database_of_the_first_version_is_migrated(tmp_path):
    with closing(sqlite3.connect(tmp_path / "old.db", isolation_level=None)) as db:
        db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        for statement in MIGRATIONS[0]:
            db.execute(statement.format(id="INTEGER PRIMARY KEY"))
        db.execute("INSERT INTO schema_migrations VALUES (1, '2026-01-01T00:00:00+00:00')")
        db.execute("INSERT INTO asks (asked_at, question, answered, answer, citations) VALUES ('t', 'q?', 0, 'a', '[]')")
    old = FeedbackStore(tmp_path / "old.db")
    old.record_ask(declined("Do you sell my data?"), token="t0ken")
    assert old.rate("t0ken", 1) is Rated.SAVED
    assert rows(old, "SELECT question, token FROM asks ORDER BY id") == [("q?", None), ("Do you sell my data?", "t0ken")]
