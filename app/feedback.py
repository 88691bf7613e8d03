"""What customers asked and what they thought of the answers, in SQLite; and the gaps report built from it.

Two tables: `asks` logs every question the chat and the API answered or declined, `feedback` holds
thumbs up/down with an optional comment. An ask logged for the API carries a random token, the
`ask_id` its answer is rated by, so nobody can rate answers given to someone else. The gaps report groups the questions most often declined or
disliked, so a policy owner sees what customers ask that the policy does not answer.

Each call opens its own connection (cheap for SQLite, safe across threads). Writers of this
process queue on a lock, as SQLite has one writer at a time anyway; a write then takes SQLite's
lock up front with BEGIN IMMEDIATE, so another process's writer makes it wait on busy_timeout
instead of failing midway.
"""

from __future__ import annotations

import json
import logging
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

from .errors import PolicyQAError
from .records import Answer
from .text import plain

log = logging.getLogger(__name__)

# Numbered migrations: entry n is applied once, as version n + 1, and recorded in schema_migrations.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE asks (
            id INTEGER PRIMARY KEY,
            asked_at TEXT NOT NULL,
            question TEXT NOT NULL,
            policy TEXT,                 -- the scope the answer used; NULL: all policies
            answered INTEGER NOT NULL,   -- 0: declined
            answer TEXT NOT NULL,
            citations TEXT NOT NULL      -- JSON list of the cited clauses
        )""",
        "CREATE INDEX asks_declined ON asks (answered, policy)",
        """CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
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
    """The feedback database at `path`, created and migrated on first use."""

    def __init__(self, path: Path, busy_timeout: float = 5.0):
        self.path = path
        self.busy_timeout = busy_timeout
        self._migrated = False
        self._migrate_lock = threading.Lock()
        self._write_lock = threading.Lock()

    def record_ask(self, answer: Answer, token: str | None = None) -> int:
        """Log a question answered or declined, with the token it may be rated by; returns the row id."""
        with self._writing("Question not logged") as db:
            cursor = db.execute(
                "INSERT INTO asks (asked_at, question, policy, answered, answer, citations, token)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (_now(), answer.question, answer.policy, int(answer.answered), answer.answer, _citations(answer), token),
            )
            return int(cursor.lastrowid)

    def add(self, answer: Answer, rating: int, comment: str = "", ask_id: int | None = None) -> int:
        """Store a thumbs up (1) or down (-1) on `answer`, with an optional comment; returns the row id."""
        comment = _checked(rating, comment)
        with self._writing("Feedback not saved") as db:
            cursor = db.execute(
                f"INSERT INTO feedback ({_FEEDBACK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (_now(), ask_id, answer.question, answer.policy, int(answer.answered), answer.answer,
                 _citations(answer), rating, comment),
            )
            return int(cursor.lastrowid)

    def rate(self, token: str, rating: int, comment: str = "") -> Rated:
        """Store a thumbs up (1) or down (-1) on the answer logged with `token`, unless it has one already."""
        comment = _checked(rating, comment)
        with self._writing("Feedback not saved") as db:
            found = db.execute("SELECT id, EXISTS (SELECT 1 FROM feedback WHERE ask_id = asks.id) FROM asks"
                               " WHERE token = ?", (token,)).fetchone()
            if found is None:
                return Rated.UNKNOWN
            if found[1]:
                return Rated.ALREADY
            db.execute(f"INSERT INTO feedback ({_FEEDBACK_COLUMNS}) SELECT ?, id, question, policy, answered, answer,"
                       " citations, ?, ? FROM asks WHERE id = ?", (_now(), rating, comment, found[0]))
            return Rated.SAVED

    def gaps(self, limit: int = 20) -> list[Gap]:
        """The questions most often declined or disliked, near-duplicate wordings grouped per policy."""
        if not self.path.exists():
            return []
        try:
            with self._connection() as db:
                self._migrate(db)
                declined = db.execute("SELECT policy, question, COUNT(*), MAX(asked_at) FROM asks"
                                      " WHERE answered = 0 GROUP BY policy, question").fetchall()
                disliked = db.execute("SELECT policy, question, COUNT(*), MAX(created_at) FROM feedback"
                                      " WHERE rating < 0 GROUP BY policy, question").fetchall()
        except sqlite3.Error as exc:
            raise PolicyQAError(f"Cannot read the feedback database {self.path}: {exc}; "
                                "check POLICYQA_FEEDBACK_DB.") from None
        return group_gaps(declined, disliked)[:limit]

    def ratings(self) -> list[dict]:
        """Every rating, oldest first: question, policy, answered, citations (parsed) and rating."""
        if not self.path.exists():
            return []
        try:
            with self._connection() as db:
                self._migrate(db)
                rows = db.execute("SELECT question, policy, answered, citations, rating FROM feedback ORDER BY id").fetchall()
        except sqlite3.Error as exc:
            raise PolicyQAError(f"Cannot read the feedback database {self.path}: {exc}; "
                                "check POLICYQA_FEEDBACK_DB.") from None
        return [{"question": q, "policy": p, "answered": bool(a), "citations": json.loads(c), "rating": r}
                for q, p, a, c, r in rows]

    @contextmanager
    def _writing(self, failure: str) -> Iterator[sqlite3.Connection]:
        """One write transaction; any SQLite failure becomes PolicyQAError("<failure>: <why>")."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._write_lock, self._connection() as db:
                self._migrate(db)
                with _immediate(db):
                    yield db
        except (sqlite3.Error, OSError) as exc:
            log.warning("%s to %s: %s", failure, self.path, exc)
            raise PolicyQAError(f"{failure}: {_reason(exc)}") from None

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        # isolation_level=None: no implicit transactions; writes say BEGIN IMMEDIATE themselves.
        with closing(sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)) as db:
            db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            yield db

    def _migrate(self, db: sqlite3.Connection) -> None:
        if self._migrated:
            return
        with self._migrate_lock:
            if self._migrated:
                return
            migrate(db)
            self._migrated = True


def migrate(db: sqlite3.Connection) -> None:
    """Switch to WAL and apply the migrations not yet recorded; each one in its own write transaction."""
    if _version(db) >= len(MIGRATIONS):
        return
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    for version, statements in enumerate(MIGRATIONS, 1):
        with _immediate(db):
            if _version(db) < version:  # re-checked under the write lock: another process may have applied it
                for statement in statements:
                    db.execute(statement)
                db.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", (version, _now()))


def _version(db: sqlite3.Connection) -> int:
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").fetchone()
    if not exists:
        return 0
    return db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]


@contextmanager
def _immediate(db: sqlite3.Connection) -> Iterator[None]:
    """A write transaction that takes the write lock before its first statement."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


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
