"""The store's SQLite connection, which reports a file damaged while open as
:class:`~agent.errors.StoreDamagedError` instead of a raw ``sqlite3.DatabaseError``.

:class:`GuardedConnection` is passed to ``sqlite3.connect(..., factory=...)`` by
:func:`memory._sqlite.connect`; its statements run on :class:`GuardedCursor`, which translates
SQLite's "malformed" / "not a database" errors (reading rows can fail too: pages are read as
rows are fetched). Why the connection also checks the file's magic string, and how the store
closes a damaged file, is in :mod:`memory._sqlite`'s docstring.

Deliberate shortcut: once a statement met damage, every later statement raises, reads that
the page cache could still answer included: the file can no longer be trusted, and no write may
land in it.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from agent.errors import StoreDamagedError

__all__ = ["WHILE_OPEN", "GuardedConnection", "GuardedCursor", "corrupt"]


def corrupt(exc: sqlite3.DatabaseError) -> bool:
    """Whether SQLite's error means a damaged file (not a lock, a permission, a full disk)."""
    if not isinstance(exc, sqlite3.OperationalError):
        return True  # DatabaseError proper: "file is not a database", "disk image is malformed"
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text or "corrupt" in text


def _damaged(conn: sqlite3.Connection, exc: sqlite3.DatabaseError) -> Exception:
    """What to raise for ``exc`` from a statement on ``conn``: a
    :class:`~agent.errors.StoreDamagedError` when it means a damaged file and ``conn`` is a
    :class:`GuardedConnection`, else ``exc`` itself (a lock, a full disk, a bad statement)."""
    if not isinstance(conn, GuardedConnection) or not corrupt(exc):
        return exc
    problem = f"SQLite cannot read it ({exc})"
    if conn.opened:
        problem += WHILE_OPEN
    conn.damaged = conn.damaged or problem
    return StoreDamagedError(conn.path, problem)


WHILE_OPEN = (
    "; it was damaged while lorebook had it open (overwritten or cut short by another "
    "program, or a disk fault)"
)


class GuardedCursor(sqlite3.Cursor):
    """A cursor whose errors of a damaged file arrive as :class:`~agent.errors.StoreDamagedError`
    (reading rows can fail too: pages are read as the rows are fetched)."""

    connection: GuardedConnection

    def execute(self, sql: str, parameters: Any = (), /) -> GuardedCursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.DatabaseError as exc:
            raise _damaged(self.connection, exc) from None

    def executemany(self, sql: str, seq: Any, /) -> GuardedCursor:
        try:
            return super().executemany(sql, seq)
        except sqlite3.DatabaseError as exc:
            raise _damaged(self.connection, exc) from None

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.DatabaseError as exc:
            raise _damaged(self.connection, exc) from None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        try:
            return super().fetchmany(self.arraysize if size is None else size)
        except sqlite3.DatabaseError as exc:
            raise _damaged(self.connection, exc) from None

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.DatabaseError as exc:
            raise _damaged(self.connection, exc) from None

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.DatabaseError as exc:
            raise _damaged(self.connection, exc) from None


class GuardedConnection(sqlite3.Connection):
    """The store's connection (``sqlite3.connect(..., factory=GuardedConnection)``): every
    statement runs on a :class:`GuardedCursor`.

    Attributes:
        path: the database file, named in the error.
        opened: False during the checks at open (the message then does not say the file was
            damaged while open).
        damaged: what went wrong, once a statement met a damaged file (None before).
        identity: the file's (device, inode) when it was opened, set by :meth:`opened_as`.
        replaced: another file was moved into :attr:`path` (see :meth:`verify_header`).
    """

    path: Path
    opened = False
    damaged: str | None = None
    identity: tuple[int, int] | None = None
    replaced = False

    def opened_as(self) -> None:
        """Mark the checks at open done and note which file this connection has open."""
        st = os.stat(self.path)
        self.identity = (st.st_dev, st.st_ino)
        self.opened = True

    def cursor(self, factory: Any = GuardedCursor) -> Any:
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> GuardedCursor:
        if self.damaged:  # known damaged: no write may land in it, no read trusts its cache
            raise StoreDamagedError(self.path, self.damaged)
        cursor: GuardedCursor = self.cursor()
        return cursor.execute(sql, parameters)

    def executemany(self, sql: str, seq: Any, /) -> GuardedCursor:
        if self.damaged:
            raise StoreDamagedError(self.path, self.damaged)
        cursor: GuardedCursor = self.cursor()
        return cursor.executemany(sql, seq)

    def commit(self) -> None:
        try:
            super().commit()
        except sqlite3.DatabaseError as exc:
            raise _damaged(self, exc) from None

    def verify_header(self) -> None:
        """Raise :class:`~agent.errors.StoreDamagedError` unless the file at :attr:`path` is
        still the one opened and still begins with SQLite's 16-byte magic string (an open, a
        ``fstat`` and one small read).

        In WAL mode SQLite trusts its page cache as long as the WAL is unchanged, so a file
        another program overwrote or emptied would otherwise be noticed only when a page not
        in the cache is read, perhaps not before close; and a file moved over it (a restore
        by hand) would never be: this session's writes would go on into the old, unlinked one.
        Damage past the header (a file cut short) is still met when such a page is read, or at
        the latest by the check at close.
        """
        if self.damaged:
            raise StoreDamagedError(self.path, self.damaged)
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO put there: no hang
            try:
                st = os.fstat(fd)
                head = os.read(fd, len(_MAGIC))
            finally:
                os.close(fd)
        except OSError as exc:
            head, why = b"", f"it cannot be read any more ({exc.strerror})"
        else:
            why = "it is empty now" if not head else "its header is no longer SQLite's"
            if self.identity is not None and (st.st_dev, st.st_ino) != self.identity:
                self.replaced = True
                self.damaged = (
                    "another file was moved into its place while lorebook had it open, so this "
                    "session's writes would go to the old one"
                )
                raise StoreDamagedError(
                    self.path,
                    self.damaged,
                    "Close this session and start lorebook again to use the new file "
                    "(`lorebook doctor` checks it).",
                )
        if head != _MAGIC:
            self.damaged = f"{why}{WHILE_OPEN}"
            raise StoreDamagedError(self.path, self.damaged)


_MAGIC = b"SQLite format 3\0"
