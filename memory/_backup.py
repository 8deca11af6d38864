"""Automatic online backups of ``memory.db``: a few rotating, verified copies in the data directory.

Layout: ``<home>/backups/memory-<UTC time>.db``, newest last by name, :data:`KEEP` of them. A
copy is made with SQLite's online backup API (``sqlite3.Connection.backup``) from a connection
of its own, so it is one consistent snapshot of the committed state and writers in other
connections are not blocked (WAL). Each copy is switched to a rollback journal (a lone file),
checked (``quick_check`` and the expected tables) and fsynced before it is renamed into place;
a copy that fails the check is dropped, so a database damaged while a process runs never
rotates the good copies out.

When: :class:`AutoBackup` is told after every committed write. It takes a copy in a background
thread when the newest copy (this process's or another's) is at least :data:`INTERVAL_S` old,
and once more at close if anything was written since its last copy, so a damaged database loses
at most the last minute of writes. After a hard delete (``forget``) :meth:`AutoBackup.refresh`
replaces every copy with a fresh one, so forgotten text does not live on in a backup.

Deliberate shortcuts: a failed backup never fails the write that triggered it (it is logged and
tried again at the next write or at close); a backup taken by another process at the same
moment as a ``forget`` here may still hold the forgotten rows until the next rotation.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["INTERVAL_S", "KEEP", "AutoBackup", "backup_folder", "list_backups", "take_backup"]

log = logging.getLogger(__name__)

#: Copies kept.
KEEP = 3
#: At most one copy per this many seconds while writing (plus one at close).
INTERVAL_S = 60.0


def backup_folder(db_path: Path) -> Path:
    """Where the copies of ``db_path`` are kept."""
    return db_path.parent / "backups"


def list_backups(db_path: Path) -> list[Path]:
    """Every backup of ``db_path``, newest first."""
    folder = backup_folder(db_path)
    if not folder.is_dir():
        return []
    stem = db_path.stem
    return sorted(
        (p for p in folder.glob(f"{stem}-*.db") if p.is_file()),
        key=lambda p: p.name,
        reverse=True,
    )


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def take_backup(
    db_path: Path, check: Callable[[sqlite3.Connection], str | None], keep: int = KEEP
) -> Path | None:
    """Copy the live database at ``db_path`` into a new backup and drop all but ``keep`` copies.

    Args:
        check: what is wrong with a database (``None`` when nothing is); a copy it faults is
            not kept.

    Returns:
        The new copy, or None when the copy failed its check (the older copies are kept).

    Raises:
        sqlite3.Error, OSError: the copy could not be made (nothing changed).
    """
    folder = backup_folder(db_path)
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    final = folder / f"{db_path.stem}-{now}.db"
    tmp = folder / f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        src = sqlite3.connect(str(db_path), timeout=30.0)
        try:
            dst = sqlite3.connect(str(tmp))
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=DELETE")  # a lone file, no -wal beside it
                problem = check(dst)
            finally:
                dst.close()
        finally:
            src.close()
        if problem:
            log.warning("not keeping a backup of %s: %s", db_path, problem)
            return None
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        _fsync_dir(folder)
    finally:
        tmp.unlink(missing_ok=True)
    for old in list_backups(db_path)[keep:]:
        old.unlink(missing_ok=True)
    return final


def remove_stale_temp_files(db_path: Path) -> None:
    """Delete half-written copies left by processes that no longer run."""
    folder = backup_folder(db_path)
    if not folder.is_dir():
        return
    for tmp in folder.glob(".*.tmp"):
        try:
            os.kill(int(tmp.name.split(".")[-3]), 0)
        except (ValueError, IndexError, ProcessLookupError):
            tmp.unlink(missing_ok=True)
        except PermissionError:
            pass


class AutoBackup:
    """Takes rate-limited backups of one database file after writes, and at close.

    Args:
        db_path: the live database.
        check: see :func:`take_backup`.
        interval_s: the least time between two copies while writing (default
            :data:`INTERVAL_S`).
        keep: copies kept (default :data:`KEEP`).
        on_damage: called with what is wrong when a copy fails its check.
    """

    def __init__(
        self,
        db_path: Path,
        check: Callable[[sqlite3.Connection], str | None],
        interval_s: float | None = None,
        keep: int | None = None,
        on_damage: Callable[[str], None] | None = None,
    ):
        self.db_path = db_path
        self._check = check
        self.on_damage = on_damage
        self.interval_s = INTERVAL_S if interval_s is None else interval_s
        self.keep = KEEP if keep is None else keep
        self.dirty = False
        self.taken = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._last = self._newest_time()
        remove_stale_temp_files(db_path)

    def check(self, conn: sqlite3.Connection) -> str | None:
        """The check of a copy; a copy that fails it is told to ``on_damage`` (the live file
        is damaged, whatever the writing connection's cache still shows)."""
        problem = self._check(conn)
        if problem and self.on_damage is not None:
            self.on_damage(problem)
        return problem

    def _newest_time(self) -> float:
        newest = list_backups(self.db_path)[:1]
        try:
            return newest[0].stat().st_mtime if newest else 0.0
        except OSError:
            return 0.0

    def after_write(self) -> None:
        """Note a committed write; start a copy in the background when one is due."""
        self.dirty = True
        if time.time() - self._last < self.interval_s:
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            newest = self._newest_time()  # another process may have taken one meanwhile
            if time.time() - newest < self.interval_s:
                self._last = newest
                return
            self.dirty = False
            self._last = time.time()
            self._thread = threading.Thread(target=self._run, name="lorebook-backup", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            if take_backup(self.db_path, self.check, self.keep) is not None:
                self.taken += 1
            else:
                self.dirty = True
        except (sqlite3.Error, OSError) as exc:
            self.dirty = True  # tried again at the next write or at close
            log.warning("backup of %s failed: %s", self.db_path, exc)

    def wait(self) -> None:
        """Wait for a copy in progress."""
        thread = self._thread
        if thread is not None:
            thread.join()

    def close(self) -> None:
        """Take a last copy if anything was written since the previous one."""
        self.wait()
        if self.dirty:
            self.dirty = False
            self._last = time.time()
            self._run()

    def refresh(self) -> None:
        """Replace every copy with one of the current state (after a hard delete)."""
        with self._lock:
            self.wait()
            self.dirty = False
            self._last = time.time()
            try:
                new = take_backup(self.db_path, self.check, self.keep)
            except (sqlite3.Error, OSError) as exc:
                new = None
                log.warning("backup of %s failed: %s", self.db_path, exc)
            for old in list_backups(self.db_path):
                if old != new:
                    old.unlink(missing_ok=True)
            if new is None:
                self.dirty = True
