"""PostgreSQL plumbing for the store: connect, the schema, serialized write transactions.

The store's SQL is written for SQLite (:mod:`memory._sqlite`). :class:`PgConnection` gives a
psycopg connection the small ``sqlite3`` surface the store uses (``execute``, ``executemany``,
``fetchone``/``fetchall``/iteration, ``lastrowid``, ``rowcount``) and translates the few
SQLite-isms on the way (:func:`translate`, cached per statement):

- ``?`` placeholders become ``%s``, and every ``%`` becomes ``%%`` (psycopg reads them
  everywhere, even in string literals; a statement is always sent with its parameters);
- the column ``user``, a reserved word in PostgreSQL, is quoted; SQLite's unary ``+`` before a
  column (an index hint) is dropped; ``instr(a, b)`` becomes ``strpos(a, b)``;
- ``INSERT OR REPLACE`` becomes ``INSERT ... ON CONFLICT ... DO UPDATE`` for the two tables that
  use it; an ``INSERT`` into a table with an ``id`` gets ``RETURNING id`` (``lastrowid``);
- DDL: ``INTEGER PRIMARY KEY AUTOINCREMENT`` becomes ``BIGINT GENERATED ALWAYS AS IDENTITY``
  (a sequence: ids are never reused, and an explicit id is refused), ``INTEGER`` ``BIGINT``,
  ``REAL`` ``DOUBLE PRECISION``, ``BLOB`` ``BYTEA``; ``WITHOUT ROWID`` and ``PRAGMA`` go.

String literals and quoted identifiers are left alone. So the schema is SQLite's, one source.

Deliberate choices:

- **Writers serialize.** Every write transaction first takes ``pg_advisory_xact_lock(key)``
  (``key`` derived from the database and schema names), like SQLite's ``BEGIN IMMEDIATE``. This
  is what keeps the change log correct: a sequence value is taken at INSERT time, not at
  commit, so with two concurrent writers ``seq`` 11 could commit before 10, and a reader that
  stamped its index at 11 would never apply 10. With the lock, commit order is ``seq`` order
  (the lock is released after the commit is visible).
- Reads that need one consistent view (index catch-up, searches) run in ``REPEATABLE READ
  READ ONLY`` transactions.
- ``lock_timeout`` 5 s plus a jittered retry loop of up to 60 s around taking the lock;
  lock timeouts, serialization failures and deadlocks retry, then :class:`PostgresBusyError`.
  A connection that broke between transactions is reopened (within the same budget); one that
  breaks inside a transaction rolls it back on the server and raises a clear
  :class:`~agent.errors.MemoryStoreError`.
- Text columns are excluded from planner statistics (``SET STATISTICS 0``): ANALYZE would
  otherwise copy sample values (most common values, histogram bounds) of memories and chunks
  into ``pg_statistic``, where a forget cannot reach them.
- After a forget, :meth:`Database.erase` runs ``VACUUM FULL`` on the touched tables: measured
  on PostgreSQL 15, a plain ``VACUUM`` leaves deleted index keys in btree pages and can leave a
  deleted row's bytes in the free space of its heap page; ``VACUUM FULL`` writes new files and
  truncates the old ones. What still stays (WAL, backups) is in docs/memory.md.
- A password is never printed: messages show ``postgresql://user@host:port/dbname``.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pgerrors
from psycopg import pq

from agent.errors import (
    ConfigError,
    MemoryStoreError,
    PostgresBusyError,
    PostgresUnreachableError,
)
from memory import _sqlite

__all__ = [
    "Database",
    "PgConnection",
    "PostgresBusyError",
    "PostgresUnreachableError",
    "check_url",
    "connect",
    "display_url",
    "open_checkpointer",
    "run_locked",
    "translate",
]

T = TypeVar("T")
log = logging.getLogger(__name__)

RETRY_SECONDS = _sqlite.RETRY_SECONDS
LOCK_TIMEOUT = "5s"
CONNECT_TIMEOUT_S = 10
SCHEMES = ("postgresql://", "postgres://")

#: Tables whose rows get an ``id`` from an identity column (``lastrowid`` via RETURNING).
_ID_TABLES = frozenset({"memories", "documents", "chunks", "translations", "turns"})
#: ``INSERT OR REPLACE`` targets: conflict columns and the update.
_UPSERTS = {
    "meta": ("(key)", "value = excluded.value"),
    "embedding_cache": ("(model, hash)", "vec = excluded.vec"),
}
#: Columns kept out of planner statistics (see the module docstring).
_NO_STATS = {
    "memories": ("user", "thread", "text", "metadata", "vec"),
    "documents": ("path",),
    "chunks": ("text", "vec"),
    "embedding_cache": ("hash", "vec"),
    "translations": ("source", "target", "key", "vec"),
    "threads": ("user", "thread", "title"),
    "turns": ("user", "thread", "error"),
}


def display_url(url: str) -> str:
    """``url`` without its password (and other parameters), for messages.

    Example:
        >>> display_url("postgresql://ann:s3cret@db.example:5433/lore?sslmode=require")
        'postgresql://ann@db.example:5433/lore'
    """
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unparsable URL)"
    user = f"{info['user']}@" if info.get("user") else ""
    host = str(info.get("host") or "localhost")
    port = f":{info['port']}" if info.get("port") else ""
    return f"postgresql://{user}{host}{port}/{info.get('dbname') or ''}"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# -- SQL translation ---------------------------------------------------------------------------

_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|[^'\"]+")
_INSERT = re.compile(r"^\s*INSERT\s+(OR\s+(REPLACE|IGNORE)\s+)?INTO\s+(\w+)", re.I)


def _code(segment: str) -> str:
    """Rewrite one stretch of SQL that holds no literal and no quoted identifier."""
    s = segment.replace("%", "%%").replace("?", "%s")
    s = re.sub(r"(?<=[\s(,])\+(?=[A-Za-z_])", "", s)  # SQLite's "+column" index hint
    s = re.sub(r"(?<![\w.])user(?!\w)", '"user"', s, flags=re.I)
    s = re.sub(r"\binstr\s*\(", "strpos(", s, flags=re.I)
    s = re.sub(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b",
               "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", s, flags=re.I)  # fmt: skip
    s = re.sub(r"\bINTEGER\b", "BIGINT", s, flags=re.I)
    s = re.sub(r"\bREAL\b", "DOUBLE PRECISION", s, flags=re.I)
    s = re.sub(r"\bBLOB\b", "BYTEA", s, flags=re.I)
    return re.sub(r"\)\s*WITHOUT\s+ROWID", ")", s, flags=re.I)


@lru_cache(maxsize=512)
def translate(sql: str) -> tuple[str, bool]:
    """SQLite-flavoured ``sql`` as PostgreSQL; the flag says a ``RETURNING id`` was added.

    Raises:
        ValueError: an ``INSERT OR REPLACE`` into a table this module has no key for.

    Example:
        >>> translate("SELECT id FROM memories WHERE +user=? AND text='user?'")
        ('SELECT id FROM memories WHERE "user"=%s AND text=\\'user?\\'', False)
    """
    insert = _INSERT.match(sql)
    if insert and insert.group(1):
        sql = sql[: insert.start(1)] + sql[insert.end(1) :]
    out = (
        "".join(
            tok.replace("%", "%%") if tok[0] in "'\"" else _code(tok)
            for tok in _TOKENS.findall(sql)
        )
        .rstrip()
        .rstrip(";")
    )
    returning = False
    if insert:
        table = insert.group(3).lower()
        if insert.group(2) and insert.group(2).upper() == "IGNORE":
            out += " ON CONFLICT DO NOTHING"
        elif insert.group(2):
            if table not in _UPSERTS:
                raise ValueError(f"INSERT OR REPLACE INTO {table}: no conflict key known")
            target, update = _UPSERTS[table]
            out += f" ON CONFLICT {target} DO UPDATE SET {update}"
        if table in _ID_TABLES and "RETURNING" not in out.upper():
            out += " RETURNING id"
            returning = True
    return out, returning


# -- the connection adapter --------------------------------------------------------------------


class _Result:
    """What :meth:`PgConnection.execute` returns: a cursor with SQLite's conveniences."""

    def __init__(self, cur: psycopg.Cursor[Any], returning: bool):
        self._cur = cur
        self.rowcount = cur.rowcount
        self.lastrowid: int | None = None
        if returning:
            row = cur.fetchone()
            self.lastrowid = int(row[0]) if row else None

    def fetchone(self) -> Any:
        return self._cur.fetchone() if self._cur.description is not None else None

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall() if self._cur.description is not None else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PgConnection:
    """A psycopg connection with the ``sqlite3.Connection`` surface the store uses.

    Autocommit; transactions are explicit (:class:`Database`). A connection that broke is
    reopened before the next statement that runs outside a transaction.
    """

    def __init__(self, url: str, session: Sequence[str] = ()):
        self.url = url
        self.where = display_url(url)
        self._session = tuple(session)
        #: Set by :class:`Database` while one of its transactions is open.
        self.in_tx = False
        self.raw = self._open()

    def _open(self) -> psycopg.Connection[Any]:
        try:
            raw = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name="lorebook",
            )
        except psycopg.Error as exc:
            raise PostgresUnreachableError(self.where, _first_line(exc)) from None
        for statement in self._session:
            raw.execute(statement)
        return raw

    @property
    def broken(self) -> bool:
        return self.raw.closed or self.raw.broken

    def reopen(self, budget_s: float = RETRY_SECONDS) -> None:
        """Replace a broken connection, retrying while the server is unreachable."""
        start, delay = time.monotonic(), 0.1
        while True:
            try:
                self.raw.close()
                self.raw = self._open()
                return
            except PostgresUnreachableError as exc:
                waited = time.monotonic() - start
                if waited > budget_s:
                    raise PostgresUnreachableError(self.where, exc.detail, waited) from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 2.0)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != pq.TransactionStatus.IDLE

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Result:
        if sql.lstrip()[:6].upper() == "PRAGMA":
            return _Result(self.raw.cursor(), False)
        query, returning = translate(sql)
        created = _created_table(query)
        fresh = created is not None and not self._exists(created)
        result = self._run(lambda: _Result(self.raw.execute(query, tuple(params)), returning))
        if fresh:
            assert created is not None
            for column in _NO_STATS.get(created, ()):
                self.raw.execute(f'ALTER TABLE {created} ALTER COLUMN "{column}" SET STATISTICS 0')
        return result

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        query, _returning = translate(sql)
        rows = [tuple(r) for r in rows]
        if rows:
            self._run(lambda: self.raw.cursor().executemany(query, rows))

    def executescript(self, script: str) -> None:
        for statement in script.split(";"):
            if statement.strip():
                self.execute(statement)

    def _exists(self, table: str) -> bool:
        row = self.raw.execute("SELECT to_regclass(%s)", (table,)).fetchone()
        return bool(row and row[0])

    def _run(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except psycopg.OperationalError as exc:
            if not self.broken:
                raise
            if self.in_tx:  # the server rolled the transaction back: no silent retry
                raise _lost(self.where, exc) from exc
            self.reopen()
            return fn()

    def close(self) -> None:
        self.raw.close()


def _created_table(query: str) -> str | None:
    m = re.match(r"\s*CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+(\w+)", query, re.I)
    return m.group(1).lower() if m else None


def _lost(where: str, exc: BaseException) -> MemoryStoreError:
    return MemoryStoreError(
        f"the connection to the PostgreSQL store {where} broke during a transaction "
        f"({_first_line(exc)}); the server rolled it back, so nothing of it was saved. "
        "Retry the operation; if it keeps failing, check the server and the network."
    )


def _busy(exc: BaseException) -> bool:
    return isinstance(
        exc,
        pgerrors.LockNotAvailable | pgerrors.SerializationFailure | pgerrors.DeadlockDetected,
    )


# -- the database ------------------------------------------------------------------------------


def connect(url: str) -> PgConnection:
    """Open ``url`` with the store's session settings.

    Raises:
        ConfigError: ``url`` is not a ``postgresql://`` URL.
        PostgresUnreachableError: the server cannot be reached or refused us.
    """
    check_url(url)
    return PgConnection(url, (f"SET lock_timeout = '{LOCK_TIMEOUT}'",))


def check_url(url: str) -> None:
    """Raise :class:`~agent.errors.ConfigError` unless ``url`` is a PostgreSQL URL."""
    if not url.startswith(SCHEMES):
        raise ConfigError(
            f"database_url must start with {' or '.join(SCHEMES)} (got "
            f"{url.split('://', 1)[0]}://...); unset it to keep memory in SQLite"
        )
    try:
        psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"database_url is not a valid PostgreSQL URL: {exc}") from None


def run_locked(conn: PgConnection, name: str, statements: Sequence[str]) -> None:
    """Run ``statements`` (DDL) in one transaction under an advisory lock named ``name``, so
    that processes starting together do not race on ``CREATE TABLE IF NOT EXISTS``."""
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
    conn.raw.execute("BEGIN")
    try:
        conn.raw.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
        for statement in statements:
            if statement.strip():
                conn.execute(statement)
    except BaseException:
        if not conn.broken:
            conn.raw.execute("ROLLBACK")
        raise
    conn.raw.execute("COMMIT")


def open_checkpointer(url: str) -> tuple[Any, Any]:
    """A LangGraph ``PostgresSaver`` on ``url`` with its tables in place: (connection, saver).

    ``setup()`` runs under a session advisory lock, since two processes may start at once.

    Raises:
        PostgresUnreachableError: the server cannot be reached.
    """
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row

    check_url(url)
    where = display_url(url)
    try:
        raw = psycopg.connect(
            url,
            autocommit=True,
            prepare_threshold=0,
            row_factory=dict_row,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name="lorebook",
        )
    except psycopg.Error as exc:
        raise PostgresUnreachableError(where, _first_line(exc)) from None
    saver = PostgresSaver(raw)
    key = int.from_bytes(
        hashlib.blake2b(b"lorebook:checkpoints", digest_size=8).digest(), "big", signed=True
    )
    raw.execute("SELECT pg_advisory_lock(%s)", (key,))
    try:
        saver.setup()
    finally:
        raw.execute("SELECT pg_advisory_unlock(%s)", (key,))
    return raw, saver


class Database:
    """The store's PostgreSQL database: the connection, transactions, the schema, erasure.

    Example (needs a server)::

        db = Database("postgresql://lore@db.example/lore")
        with db.transaction() as conn:
            conn.execute("INSERT INTO meta VALUES ('k', 'v')")
    """

    def __init__(self, url: str):
        self.conn = connect(url)
        self.where = self.conn.where
        row = self.conn.raw.execute("SELECT current_database(), current_schema()").fetchone()
        name, schema = row if row else ("", "")
        digest = hashlib.blake2b(f"lorebook:{name}:{schema}".encode(), digest_size=8).digest()
        #: The advisory lock every writer of this store takes first.
        self.key = int.from_bytes(digest, "big", signed=True)
        self._create_schema()

    def _create_schema(self) -> None:
        with self.transaction() as conn:
            for statement in _sqlite._SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            if conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone() is None:
                conn.execute(
                    "INSERT INTO meta VALUES ('schema', ?)", (str(_sqlite.SCHEMA_VERSION),)
                )
            if conn.execute("SELECT value FROM meta WHERE key='store_id'").fetchone() is None:
                conn.execute("INSERT INTO meta VALUES ('store_id', ?)", (uuid.uuid4().hex,))

    # -- transactions ------------------------------------------------------------------------

    def _begin(self, statements: Sequence[tuple[str, tuple[Any, ...]]]) -> None:
        start, delay = time.monotonic(), 0.01
        while True:
            try:
                if self.conn.broken:
                    self.conn.reopen(max(0.0, RETRY_SECONDS - (time.monotonic() - start)))
                for sql, args in statements:
                    self.conn.raw.execute(sql, args)
                return
            except psycopg.Error as exc:
                self._rollback()
                waited = time.monotonic() - start
                if not (_busy(exc) or self.conn.broken):
                    raise
                if waited > RETRY_SECONDS:
                    if self.conn.broken:
                        raise PostgresUnreachableError(
                            self.where, _first_line(exc), waited
                        ) from None
                    raise PostgresBusyError(self.where, waited, _first_line(exc)) from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.5)

    def _rollback(self) -> None:
        if not self.conn.broken and self.conn.in_transaction:
            try:
                self.conn.raw.execute("ROLLBACK")
            except psycopg.Error:  # the connection broke as well: the server rolls back
                pass

    @contextmanager
    def _transaction(self, begin: Sequence[tuple[str, tuple[Any, ...]]]) -> Iterator[PgConnection]:
        self._begin(begin)
        self.conn.in_tx = True
        try:
            try:
                yield self.conn
            except BaseException as exc:
                self._rollback()
                if isinstance(exc, psycopg.OperationalError) and self.conn.broken:
                    raise _lost(self.where, exc) from exc
                raise
            try:
                self.conn.raw.execute("COMMIT")
            except psycopg.OperationalError as exc:
                if not self.conn.broken:
                    raise
                raise MemoryStoreError(
                    f"the connection to the PostgreSQL store {self.where} broke while "
                    f"committing ({_first_line(exc)}): the write may or may not have been "
                    "saved. Check with a search before repeating it."
                ) from exc
        finally:
            self.conn.in_tx = False

    def transaction(self) -> Any:
        """A write transaction holding the store's advisory lock; rolled back on any error."""
        return self._transaction([("BEGIN", ()), ("SELECT pg_advisory_xact_lock(%s)", (self.key,))])

    def snapshot(self) -> Any:
        """A read transaction: every query inside sees the same committed state."""
        return self._transaction([("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", ())])

    def retrying(self, fn: Callable[[], T]) -> T:
        """Run a statement outside a transaction (the adapter reopens a broken connection)."""
        return fn()

    # -- erasure -----------------------------------------------------------------------------

    def erase(self, tables: Sequence[str]) -> bool:
        """``VACUUM FULL`` the tables a delete touched, so their files hold no deleted bytes.

        Returns False (and logs why) when a table could not be rewritten: another session
        held it past ``lock_timeout`` on every attempt, or this role does not own it. Its
        deleted rows are then rewritten away by the next forget's ``VACUUM FULL``.
        """
        done = True
        for table in tables:
            for attempt in range(4):
                try:
                    self.conn.execute(f"VACUUM FULL {table}")
                    break
                except (pgerrors.LockNotAvailable, pgerrors.InsufficientPrivilege) as exc:
                    if isinstance(exc, pgerrors.InsufficientPrivilege) or attempt == 3:
                        log.warning("VACUUM FULL %s on %s: %s", table, self.where, _first_line(exc))
                        done = False
                        break
                    time.sleep(0.2 * (attempt + 1))
        return done

    def close(self) -> None:
        self.conn.close()
