"""SQLite plumbing for the store: connection settings, retrying transactions, the schema.

Deliberate choices:

- WAL journal, ``synchronous=FULL`` (a commit that returned survives a kill -9 and a power cut),
  ``secure_delete=ON`` (deleted rows are overwritten with zeros, so forgotten text leaves the
  file), a 5 s ``busy_timeout`` plus our own retry loop with backoff around every transaction,
  so a second process (the TUI beside a batch run) waits instead of surfacing
  "database is locked".
- Writes start with ``BEGIN IMMEDIATE``: a deferred transaction that later upgrades to a write
  can fail with SQLITE_BUSY at once, whatever the timeout.
- Ids use ``AUTOINCREMENT`` so an id is never reused after a delete: a stale vector in some
  process's index can then never point at a different, newer memory.
- ``meta.store_id`` (a random UUID) names the store; index files carry it in their stamp.
"""

from __future__ import annotations

import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from agent.errors import StoreBusyError

T = TypeVar("T")

SCHEMA_VERSION = 1
RETRY_SECONDS = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS memories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    thread TEXT,
    role TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    source TEXT NOT NULL,
    created REAL NOT NULL,
    refreshed REAL NOT NULL,
    valid_from REAL NOT NULL,
    valid_to REAL,
    superseded_by INTEGER,
    metadata TEXT NOT NULL DEFAULT '{}',
    vec BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS memories_user ON memories (user, kind, created);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    pages INTEGER NOT NULL,
    chunks INTEGER NOT NULL,
    ingested REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    document INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    page INTEGER,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    vec BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_document ON chunks (document);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    space TEXT NOT NULL,
    item INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_space ON changes (space, seq);
CREATE TABLE IF NOT EXISTS embedding_cache (
    model TEXT NOT NULL, hash TEXT NOT NULL, vec BLOB NOT NULL, PRIMARY KEY (model, hash)
) WITHOUT ROWID;
"""


def _busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def retrying(path: Path, fn: Callable[[], T], budget_s: float = RETRY_SECONDS) -> T:
    """Run ``fn``, retrying with jittered backoff while SQLite says busy or locked.

    Raises:
        StoreBusyError: still busy after ``budget_s`` seconds.
    """
    start = time.monotonic()
    delay = 0.01
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            waited = time.monotonic() - start
            if not _busy(exc) or waited > budget_s:
                if _busy(exc):
                    raise StoreBusyError(path, waited) from exc
                raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.5)


def connect(path: Path) -> sqlite3.Connection:
    """Open the store database with the pragmas above and the schema in place."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def _open() -> sqlite3.Connection:
        conn = sqlite3.connect(
            str(path), isolation_level=None, timeout=5.0, check_same_thread=False
        )
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA journal_size_limit=0")
        return conn

    conn = retrying(path, _open)
    with transaction(conn, path):
        # One statement at a time: executescript() would COMMIT the open transaction first.
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        if conn.execute("SELECT value FROM meta WHERE key='store_id'").fetchone() is None:
            conn.execute("INSERT INTO meta VALUES ('store_id', ?)", (uuid.uuid4().hex,))
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """A write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), rolled back on any error."""
    retrying(path, lambda: conn.execute("BEGIN IMMEDIATE"))
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if conn.in_transaction:
        retrying(path, lambda: conn.execute("COMMIT"))


@contextmanager
def snapshot(conn: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """A read transaction: every query inside sees the same committed state."""
    retrying(path, lambda: conn.execute("BEGIN"))
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


def checkpoint(conn: sqlite3.Connection, path: Path, attempts: int = 20) -> bool:
    """``wal_checkpoint(TRUNCATE)``: copy the WAL into the database and empty the WAL file.

    Returns True when the WAL was emptied; False when another process kept a read transaction
    open through every attempt (its frames are then removed by a later checkpoint).
    """
    for attempt in range(attempts):
        busy, _log, _done = retrying(
            path, lambda: conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        )
        if busy == 0:
            return True
        time.sleep(0.02 * (attempt + 1))
    return False


class Database:
    """The store's SQLite file behind the interface :class:`memory.store.Store` uses (the
    PostgreSQL one is :class:`memory._postgres.Database`)."""

    def __init__(self, path: Path):
        self.path = path
        self.where = str(path)
        self.conn = connect(path)

    def transaction(self) -> Any:
        return transaction(self.conn, self.path)

    def snapshot(self) -> Any:
        return snapshot(self.conn, self.path)

    def retrying(self, fn: Callable[[], T]) -> T:
        return retrying(self.path, fn)

    def erase(self, tables: Sequence[str]) -> bool:
        """After a delete: ``secure_delete`` zeroed the pages; empty the WAL as well."""
        return checkpoint(self.conn, self.path)

    def close(self) -> None:
        try:
            checkpoint(self.conn, self.path)
        finally:
            self.conn.close()
