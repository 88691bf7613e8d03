"""What customers asked and what they thought of the answers, in SQLite or PostgreSQL; and the gaps report built from it.

Two tables: `asks` logs every question the chat and the API answered or declined, `feedback` holds
thumbs up/down with an optional comment. An ask logged for the API carries a random token, the
`ask_id` its answer is rated by, so nobody can rate answers given to someone else. The gaps report groups the questions most often declined or
disliked, so a policy owner sees what customers ask that the policy does not answer.

The SQL is the same for both databases (written with ? placeholders); a backend (_SQLite, _Postgres)
supplies only what differs: connecting, the write transaction, the id column, the row lock.
SQLite: each call opens its own connection (cheap, safe across threads). Writers of this process
queue on a lock, as SQLite has one writer at a time anyway; a write then takes SQLite's lock up
front with BEGIN IMMEDIATE, so another process's writer makes it wait on busy_timeout instead of
failing midway. PostgreSQL, shared by every worker process and machine: a small pool of connections
per process; writers run concurrently, and rating locks the rated ask's row, so one answer gets one
rating whichever worker each request reaches.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
from collections import Counter
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

from . import settings
from .errors import PolicyQAError
from .records import Answer
from .text import plain

log = logging.getLogger(__name__)

# Numbered migrations: entry n is applied once, as version n + 1, and recorded in schema_migrations.
# {id} is each backend's auto-numbered primary key column.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE asks (
            id {id},
            asked_at TEXT NOT NULL,
            question TEXT NOT NULL,
            policy TEXT,                 -- the scope the answer used; NULL: all policies
            answered INTEGER NOT NULL,   -- 0: declined
            answer TEXT NOT NULL,
            citations TEXT NOT NULL      -- JSON list of the cited clauses
        )""",
        "CREATE INDEX asks_declined ON asks (answered, policy)",
        """CREATE TABLE feedback (
            id {id},
            created_at TEXT NOT NULL,
            ask_id INTEGER REFERENCES asks (id),
            question TEXT NOT NULL,
            policy TEXT,
            answered INTEGER NOT NULL,
            answer TEXT NOT NULL,
            citations TEXT NOT NULL,
            rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
            comment TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX feedback_rating ON feedback (rating, policy)",
    ),
    (
        "ALTER TABLE asks ADD COLUMN token TEXT",  # NULL for the chat's asks, which its session rates
        "CREATE UNIQUE INDEX asks_token ON asks (token)",
        "CREATE INDEX feedback_ask ON feedback (ask_id)",
    ),
)

MAX_COMMENT = 2000  # stored at most
MAX_TYPED_COMMENT = 500  # what the chat's comment box and the API accept
SIMILAR = 0.75  # word-set overlap (Jaccard) at which two wordings count as one question
_STOPWORDS = frozenset(
    "a an the and or of to for in on at by with about from is are was were be been am do does did can could will "
    "would should shall may might must you your yours i me my mine we us our it its this that these those there "
    "what which how who whom please any some".split()
)


@dataclass(frozen=True)
class Gap:
    """A question customers keep asking that goes unanswered or disliked, its wordings grouped."""

    policy: str | None  # None: asked of all policies
    question: str  # the wording asked most often
    declined: int
    disliked: int
    wordings: int
    last: str  # when it was last asked or rated, ISO 8601 UTC

    @property
    def total(self) -> int:
        return self.declined + self.disliked

    def to_json(self) -> dict:
        return {"policy": self.policy, "question": self.question, "declined": self.declined,
                "disliked": self.disliked, "total": self.total, "wordings": self.wordings, "last": self.last}


class Rated(Enum):
    """What came of rating a logged answer by its token."""

    SAVED = "saved"
    UNKNOWN = "unknown"  # no answer was logged with that token
    ALREADY = "already"  # that answer has its rating: one per answer


class FeedbackStore:
    """The feedback database at `location`, a SQLite file or a postgresql:// URL, created and migrated on first use."""

    def __init__(self, location: Path | str, busy_timeout: float = 5.0):
        postgres = str(location).startswith(POSTGRES_SCHEMES)
        self.backend = _Postgres(str(location)) if postgres else _SQLite(Path(location), busy_timeout)
        self.path: Path | None = None if postgres else Path(location)  # None: the database is a server's
        self._migrated = False
        self._migrate_lock = threading.Lock()

    @classmethod
    def configured(cls, location: str | Path | None = None) -> FeedbackStore:
        """The store POLICYQA_FEEDBACK_DB names (or `location`): a path resolved, a URL as given."""
        value = str(location) if location is not None else settings.get("feedback_db")
        return cls(value if value.startswith(POSTGRES_SCHEMES) else Path(value).expanduser().resolve())

    def __str__(self) -> str:
        return self.backend.where

    def record_ask(self, answer: Answer, token: str | None = None) -> int:
        """Log a question answered or declined, with the token it may be rated by; returns the row id."""
        with self._writing("Question not logged") as db:
            return db.execute(
                "INSERT INTO asks (asked_at, question, policy, answered, answer, citations, token)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (_now(), answer.question, answer.policy, int(answer.answered), answer.answer, _citations(answer), token),
            ).fetchone()[0]

    def add(self, answer: Answer, rating: int, comment: str = "", ask_id: int | None = None) -> int:
        """Store a thumbs up (1) or down (-1) on `answer`, with an optional comment; returns the row id."""
        comment = _checked(rating, comment)
        with self._writing("Feedback not saved") as db:
            return db.execute(
                f"INSERT INTO feedback ({_FEEDBACK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (_now(), ask_id, answer.question, answer.policy, int(answer.answered), answer.answer,
                 _citations(answer), rating, comment),
            ).fetchone()[0]

    def rate(self, token: str, rating: int, comment: str = "") -> Rated:
        """Store a thumbs up (1) or down (-1) on the answer logged with `token`, unless it has one already."""
        comment = _checked(rating, comment)
        with self._writing("Feedback not saved") as db:
            # the ask's row is locked first, so a concurrent rating of it (any worker's) waits here, then sees ours
            found = db.execute("SELECT id FROM asks WHERE token = ?" + self.backend.row_lock, (token,)).fetchone()
            if found is None:
                return Rated.UNKNOWN
            if db.execute("SELECT EXISTS (SELECT 1 FROM feedback WHERE ask_id = ?)", (found[0],)).fetchone()[0]:
                return Rated.ALREADY
            db.execute(f"INSERT INTO feedback ({_FEEDBACK_COLUMNS}) SELECT ?, id, question, policy, answered, answer,"
                       " citations, ?, ? FROM asks WHERE id = ?", (_now(), rating, comment, found[0]))
            return Rated.SAVED

    def gaps(self, limit: int = 20) -> list[Gap]:
        """The questions most often declined or disliked, near-duplicate wordings grouped per policy."""
        with self._reading() as db:
            if db is None:
                return []
            declined = db.execute("SELECT policy, question, COUNT(*), MAX(asked_at) FROM asks"
                                  " WHERE answered = 0 GROUP BY policy, question").fetchall()
            disliked = db.execute("SELECT policy, question, COUNT(*), MAX(created_at) FROM feedback"
                                  " WHERE rating < 0 GROUP BY policy, question").fetchall()
        return group_gaps(declined, disliked)[:limit]

    def ratings(self) -> list[dict]:
        """Every rating, oldest first: question, policy, answered, citations (parsed) and rating."""
        with self._reading() as db:
            if db is None:
                return []
            rows = db.execute("SELECT question, policy, answered, citations, rating FROM feedback ORDER BY id").fetchall()
        return [{"question": q, "policy": p, "answered": bool(a), "citations": json.loads(c), "rating": r}
                for q, p, a, c, r in rows]

    @contextmanager
    def _reading(self) -> Iterator[_Connection | None]:
        """A migrated connection to read from, or None when there is no database yet; failures are PolicyQAError."""
        if not self.backend.exists():
            yield None
            return
        try:
            with self.backend.connection() as db:
                self._migrate(db)
                yield db
        except self.backend.errors as exc:
            raise PolicyQAError(f"Cannot read the feedback database {self}: {exc}; "
                                "check POLICYQA_FEEDBACK_DB.") from None

    @contextmanager
    def _writing(self, failure: str) -> Iterator[_Connection]:
        """One write transaction; any database failure becomes PolicyQAError("<failure>: <why>")."""
        try:
            with self.backend.writer() as db:
                self._migrate(db)
                with self.backend.transaction(db):
                    yield db
        except (*self.backend.errors, OSError) as exc:
            log.warning("%s to %s: %s", failure, self, exc)
            raise PolicyQAError(f"{failure}: {_reason(exc)}") from None

    @contextmanager
    def _connection(self) -> Iterator[_Connection]:
        with self.backend.connection() as db:
            yield db

    def _migrate(self, db: _Connection) -> None:
        if self._migrated:
            return
        with self._migrate_lock:
            if self._migrated:
                return
            migrate(db, self.backend)
            self._migrated = True


def migrate(db: _Connection, backend: _Backend | None = None) -> None:
    """Apply the migrations not yet recorded, each in its own write transaction (SQLite: in WAL mode)."""
    backend = backend or _SQLite(Path(), 0)
    if _version(db, backend) >= len(MIGRATIONS):
        return
    backend.prepare(db)
    with backend.transaction(db, migrating=True):
        db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    for version, statements in enumerate(MIGRATIONS, 1):
        with backend.transaction(db, migrating=True):
            if _version(db, backend) < version:  # re-checked under the write lock: another process may have applied it
                for statement in statements:
                    db.execute(statement.format(id=backend.id_column))
                db.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", (version, _now()))


def _version(db: _Connection, backend: _Backend) -> int:
    if not db.execute(backend.migrations_table).fetchone():
        return 0
    return db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]


# ---------------------------------------------------------------- the two databases: only what differs

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
POOL_SIZE = 4  # PostgreSQL connections per server process at most: writes are short, and N workers hold N x 4
POOL_WAIT = 3.0  # seconds a write waits for a connection (the database down: then "Feedback not saved")


class _SQLite:
    id_column = "INTEGER PRIMARY KEY"
    row_lock = ""  # BEGIN IMMEDIATE has locked the whole database already
    migrations_table = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(self, path: Path, busy_timeout: float):
        self.path = path
        self.busy_timeout = busy_timeout
        self.where = str(path)
        self._write_lock = threading.Lock()

    def exists(self) -> bool:
        return self.path.exists()

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        # isolation_level=None: no implicit transactions; writes say BEGIN IMMEDIATE themselves.
        with closing(sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)) as db:
            db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            yield db

    @contextmanager
    def writer(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._write_lock, self.connection() as db:
            yield db

    @staticmethod
    def prepare(db: sqlite3.Connection) -> None:
        db.execute("PRAGMA journal_mode = WAL")

    @staticmethod
    @contextmanager
    def transaction(db: sqlite3.Connection, migrating: bool = False) -> Iterator[None]:
        """A write transaction that takes the write lock before its first statement."""
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise


class _Postgres:
    id_column = "INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    row_lock = " FOR UPDATE"
    migrations_table = ("SELECT 1 FROM information_schema.tables"
                        " WHERE table_schema = current_schema() AND table_name = 'schema_migrations'")
    MIGRATION_LOCK = 0x706F6C6963797161  # advisory lock key: one process migrates at a time

    def __init__(self, url: str):
        import psycopg

        self.url = url
        parts = urlsplit(url)
        self.where = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))  # no user or password in logs
        self.errors = (psycopg.Error,)
        self._pool = None
        self._pool_lock = threading.Lock()

    def exists(self) -> bool:
        return True

    @contextmanager
    def connection(self) -> Iterator[_Translated]:
        with self._connections().connection() as conn:
            yield _Translated(conn)

    writer = connection

    @staticmethod
    def prepare(db: _Translated) -> None:
        pass

    @contextmanager
    def transaction(self, db: _Translated, migrating: bool = False) -> Iterator[None]:
        with db.conn.transaction():
            if migrating:  # CREATE TABLE IF NOT EXISTS is not safe against a concurrent one: take turns
                db.execute("SELECT pg_advisory_xact_lock(?)", (self.MIGRATION_LOCK,))
            yield

    def _connections(self):
        """This process's pool, opened on first use (after the server has started its worker processes)."""
        with self._pool_lock:
            if self._pool is None:
                from psycopg_pool import ConnectionPool

                self._pool = ConnectionPool(self.url, min_size=1, max_size=POOL_SIZE, timeout=POOL_WAIT,
                                            kwargs={"autocommit": True, "connect_timeout": int(POOL_WAIT),
                                                    "application_name": f"policyqa-{os.getpid()}"},
                                            check=ConnectionPool.check_connection, open=True,
                                            name="policyqa-feedback")
            return self._pool


class _Translated:
    """A psycopg connection that takes this module's SQL as written, with ? placeholders."""

    def __init__(self, conn):
        self.conn = conn

    def execute(self, sql: str, params: tuple = ()):
        return self.conn.execute(sql.replace("?", "%s"), params)


_Backend = _SQLite | _Postgres
_Connection = sqlite3.Connection | _Translated
_FEEDBACK_COLUMNS = "created_at, ask_id, question, policy, answered, answer, citations, rating, comment"


def _checked(rating: int, comment: object) -> str:
    """The comment as stored, once the rating is known to be a thumb."""
    if rating not in (-1, 1):
        raise PolicyQAError(f"Feedback not saved: the rating is {rating!r}; use 1 (thumbs up) or -1 (thumbs down).")
    return plain(str(comment or ""))[:MAX_COMMENT]


def _reason(exc: Exception) -> str:
    """Why a write failed, in words a customer can read (the server log has the path)."""
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text or isinstance(exc, PermissionError):
        return "the feedback database is read-only."
    if "locked" in text or "busy" in text:
        return "the feedback database is busy; try again in a moment."
    if "connect" in text:
        return "the feedback database is unreachable; try again in a moment."
    return "the feedback database cannot be written."


def _citations(answer: Answer) -> str:
    return json.dumps([c.to_json() for c in answer.citations], ensure_ascii=False)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------- grouping questions


def normalize(question: str) -> str:
    """Lower case, punctuation out, whitespace collapsed: the form in which questions are compared."""
    return " ".join(re.findall(r"\w+", question.lower()))


def terms(question: str) -> frozenset[str]:
    """The words that carry a question's meaning: stop words out, plural -s off."""
    words = [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in normalize(question).split()]
    return frozenset(w for w in words if w not in _STOPWORDS) or frozenset(words)


def similar(a: frozenset[str], b: frozenset[str]) -> bool:
    return bool(a or b) and len(a & b) / len(a | b) >= SIMILAR


@dataclass
class _Group:
    policy: str | None
    terms: frozenset[str]
    asked: Counter = field(default_factory=Counter)  # wording -> times
    declined: int = 0
    disliked: int = 0
    last: str = ""

    def gap(self) -> Gap:
        return Gap(policy=self.policy, question=self.asked.most_common(1)[0][0], declined=self.declined,
                   disliked=self.disliked, wordings=len({normalize(q) for q in self.asked}), last=self.last)


def group_gaps(declined: list[tuple], disliked: list[tuple]) -> list[Gap]:
    """Group (policy, question, count, last) rows of declines and dislikes into Gaps, most frequent first.

    Greedy: the most frequent wording founds a group, and each further wording joins the first
    group of its policy whose words it shares closely enough.
    """
    rows = [(kind, *row) for kind, found in (("declined", declined), ("disliked", disliked)) for row in found]
    groups: list[_Group] = []
    for kind, policy, question, count, last in sorted(rows, key=lambda r: -r[3]):
        words = terms(question)
        group = next((g for g in groups if g.policy == policy and similar(g.terms, words)), None)
        if group is None:
            group = _Group(policy, words)
            groups.append(group)
        group.asked[question] += count
        if kind == "declined":
            group.declined += count
        else:
            group.disliked += count
        group.last = max(group.last, last)
    gaps = [g.gap() for g in groups]
    return sorted(gaps, key=lambda g: (-g.total, -g.declined, g.question.lower()))
