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
- On open the file is checked: ``PRAGMA quick_check`` (one pass over the pages, no index
  cross-checks: about 0.1 s per 100 MB) and the expected tables and columns. A damaged file, or
  one emptied to 0 bytes (or gone) while backups or index files show it held data, raises
  :class:`~agent.errors.StoreDamagedError` instead of a traceback or a silent new store.
- A file damaged *while open* (overwritten, cut short or emptied by another program after the
  checks above) gives the same :class:`~agent.errors.StoreDamagedError`, never a raw
  ``sqlite3.DatabaseError``. In WAL mode SQLite trusts its page cache, so the damage shows
  where it can be seen: every statement of the store's :class:`GuardedConnection` translates
  SQLite's "malformed" errors; every transaction first reads the file's 16-byte magic string
  (one small read: an emptied or overwritten file fails it); an automatic backup whose copy
  fails its check marks the store damaged; and close checks the file through a fresh
  connection. Once damaged, every statement raises, no write lands in the file, and close
  neither checkpoints the WAL into it nor backs it up: the WAL, holding the session's writes,
  stays beside the file for ``lorebook doctor --repair``. Damage past the header that no
  statement reads is thus reported at the latest by close.
- Automatic backups (:mod:`memory._backup`): at most one copy a minute while writing, one at
  close, a fresh set after every hard delete; ``lorebook doctor --repair`` restores from them
  (:mod:`memory.repair`).
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from agent.errors import StoreBusyError, StoreDamagedError
from memory import _backup
from memory._sqlite_guard import WHILE_OPEN, GuardedConnection, corrupt

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


_EXPECTED: dict[str, set[str]] = {}


def expected_tables() -> dict[str, set[str]]:
    """The columns of every table of the schema (read off an in-memory copy, once)."""
    if not _EXPECTED:
        mem = sqlite3.connect(":memory:")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    mem.execute(statement)
            names = [r[0] for r in mem.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for name in names:
                _EXPECTED[name] = {r[1] for r in mem.execute(f'PRAGMA table_info("{name}")')}
        finally:
            mem.close()
    return _EXPECTED


def damage(conn: sqlite3.Connection, schema: bool = True) -> str | None:
    """What is wrong with an open database, or None: ``quick_check``, then (with ``schema``)
    every table and column of the schema present."""
    try:
        rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check(5)").fetchall()]
        if rows != ["ok"]:
            found = " ".join("; ".join(rows).split())  # one line: its rows hold line breaks
            return f"SQLite's integrity check failed ({found[:300]})"
        if not schema:
            return None
        for table in expected_tables():
            if not conn.execute(f'PRAGMA table_info("{table}")').fetchone():
                return f"the table {table!r} is missing"
        return _wrong_columns(conn)
    except sqlite3.DatabaseError as exc:
        if not corrupt(exc):
            raise
        return f"SQLite cannot read it ({exc})"
    except StoreDamagedError as exc:  # the same, met by a GuardedConnection
        return exc.problem


def _had_data(path: Path) -> str | None:
    """What in the data directory shows that the store at ``path`` held data, or None."""
    backups = _backup.list_backups(path)
    if backups:
        return f"{len(backups)} automatic backup(s) of it are in {backups[0].parent}"
    index = sorted(p.name for p in (path.parent / "index").glob("*.faiss"))
    if index:
        return f"its index files ({', '.join(index)}) are in {path.parent / 'index'}"
    return None


def _refuse_lost_file(path: Path) -> None:
    """Raise when ``path`` is gone or 0 bytes but the data directory shows it held data: SQLite
    would silently start a new, empty store there."""
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return  # SQLite reads the pages from the WAL; the checks after opening judge the result
    if not path.exists():
        if _backup.list_backups(path):
            raise StoreDamagedError(
                path,
                f"the file is missing, but {_had_data(path)}",
                "Run `lorebook doctor --repair` to restore the newest backup. To start a new, "
                f"empty store instead, move {_backup.backup_folder(path)} away first.",
            )
        return
    if path.stat().st_size == 0:
        evidence = _had_data(path)
        if evidence:
            raise StoreDamagedError(
                path,
                f"the file is empty (0 bytes), but {evidence}; opening it would start a new, "
                "empty store",
            )


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


def connect(path: Path, check: bool = True, guard: bool = False) -> sqlite3.Connection:
    """Open the store database with the pragmas above and the schema in place.

    Args:
        check: run the damage checks of the module docstring (off only for a file being
            rebuilt by :mod:`memory.repair`).
        guard: return a :class:`GuardedConnection` (the live store's; :mod:`memory.repair`
            wants SQLite's own errors).

    Raises:
        StoreDamagedError: the file is damaged, or was emptied or lost (see the module
            docstring); the message says what to do.
        StoreBusyError: another process held it locked past every retry.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if check:
        _refuse_lost_file(path)
    try:
        return _connect(path, check, guard)
    except sqlite3.DatabaseError as exc:
        if not corrupt(exc):
            raise
        raise StoreDamagedError(path, f"SQLite cannot read it ({exc})") from None


def _connect(path: Path, check: bool, guard: bool) -> sqlite3.Connection:

    def _open() -> sqlite3.Connection:
        conn = sqlite3.connect(
            str(path),
            isolation_level=None,
            timeout=5.0,
            check_same_thread=False,
            factory=GuardedConnection if guard else sqlite3.Connection,
        )
        if isinstance(conn, GuardedConnection):
            conn.path = path
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA journal_size_limit=0")
        return conn

    conn = retrying(path, _open)
    try:
        if check:
            problem = retrying(path, lambda: damage(conn, schema=False)) or _wrong_columns(conn)
            if problem:
                raise StoreDamagedError(path, problem)
        _create_schema(conn, path)
    except BaseException:
        conn.close()
        raise
    if isinstance(conn, GuardedConnection):
        conn.opened_as()
    return conn


def _create_schema(conn: sqlite3.Connection, path: Path) -> None:
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


def _wrong_columns(conn: sqlite3.Connection) -> str | None:
    """A table of the schema that exists with columns missing (CREATE TABLE IF NOT EXISTS would
    leave it as it is, and the store fail later), or None."""
    for table, columns in expected_tables().items():
        have = {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
        if have and columns - have:
            return f"the table {table!r} lacks the columns {', '.join(sorted(columns - have))}"
    return None


@contextmanager
def transaction(conn: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """A write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), rolled back on any error."""
    retrying(path, lambda: conn.execute("BEGIN IMMEDIATE"))
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except StoreDamagedError:
                pass  # the error being raised already says so
        raise
    if conn.in_transaction:
        retrying(path, lambda: conn.execute("COMMIT"))


@contextmanager
def snapshot(conn: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """A read transaction: every query inside sees the same committed state."""
    retrying(path, lambda: conn.execute("BEGIN"))
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error, StoreDamagedError):
                conn.execute("COMMIT")  # a read: nothing to lose; the error raised says why
        raise
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

    def __init__(self, path: Path, backups: bool = True):
        self.path = path
        self.where = str(path)
        self.conn: GuardedConnection = connect(path, guard=True)  # type: ignore[assignment]
        #: Automatic backups (None when switched off). A copy that fails its check means
        #: the file on disk is damaged although this connection's cache still reads well.
        self.backups = (
            _backup.AutoBackup(path, damage, on_damage=self._found_damaged) if backups else None
        )

    def _found_damaged(self, problem: str) -> None:
        self.conn.damaged = self.conn.damaged or problem + WHILE_OPEN

    def check_on_disk(self) -> str | None:
        """What is wrong with the file as a new connection reads it (this connection's page
        cache can hide damage done by another program), or None."""
        conn = sqlite3.connect(str(self.path), timeout=30.0)
        try:
            return damage(conn)
        finally:
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; a backup is due-checked after it commits a change."""
        self.conn.verify_header()
        before = self.conn.total_changes
        with transaction(self.conn, self.path) as conn:
            yield conn
        if self.backups is not None and self.conn.total_changes != before:
            self.backups.after_write()

    def snapshot(self) -> Any:
        self.conn.verify_header()
        return snapshot(self.conn, self.path)

    def retrying(self, fn: Callable[[], T]) -> T:
        return retrying(self.path, fn)

    def erase(self, tables: Sequence[str]) -> bool:
        """After a delete: ``secure_delete`` zeroed the pages; empty the WAL as well, and
        replace the backups, which still hold the deleted rows."""
        done = checkpoint(self.conn, self.path)
        if self.backups is not None:
            self.backups.refresh()
        return done

    def close(self) -> None:
        """Check the file on disk, checkpoint, close, take the last backup.

        A file found damaged is left as it is, its WAL (this session's writes) beside it for
        ``lorebook doctor --repair``; found only now, that raises.

        Raises:
            StoreDamagedError: the file was damaged during the session and no statement had
                met it yet.
        """
        reported = bool(self.conn.damaged)
        try:
            if self.conn.replaced:
                # Empty the WAL into the old, unlinked file this connection still has open:
                # left beside the new file, its frames would be replayed onto it at the next
                # open. (The session's writes are in the old file either way.)
                with contextlib.suppress(sqlite3.Error):
                    sqlite3.Connection.execute(self.conn, "PRAGMA wal_checkpoint(TRUNCATE)")
            elif not reported:
                try:
                    problem = retrying(self.path, self.check_on_disk)
                except sqlite3.DatabaseError as exc:
                    problem = f"SQLite cannot read it ({exc})"
                if problem:
                    self._found_damaged(problem)
                    raise StoreDamagedError(self.path, str(self.conn.damaged))
                checkpoint(self.conn, self.path)
        finally:
            self.conn.close()
            if self.backups is not None:
                if self.conn.damaged:
                    self.backups.wait()
                else:
                    self.backups.close()
