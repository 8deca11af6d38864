"""Repairing a damaged ``memory.db``: restore the newest good backup, else recover what is readable.

:func:`diagnose` says what is wrong with the SQLite store of a data directory (None when
nothing is). :func:`repair` then

1. keeps the damaged file aside (``memory.db.damaged-<time>``, with its ``-wal`` and ``-shm``
   beside it so they stay paired): it is never deleted;
2. restores the newest automatic backup that passes the checks (:mod:`memory._backup`); without
   one, rebuilds the database from the damaged file both with SQLite's own recovery (the
   ``sqlite3`` command's ``.recover``, when that command is installed) and by copying every row
   it can still read, table by table, skipping over unreadable pages, and keeps the rebuild
   that got more rows back (each does better on some kinds of damage);
3. checks the result (``quick_check`` and the expected tables) and renames it into place.

The indexes are rebuilt by the caller (:func:`agent.doctor.repair_store`), which opens the
repaired store with the configured embedder. PostgreSQL is not handled here: lorebook takes no
backups of it, and its users restore from their own.

Deliberate shortcuts: restoring a backup loses the writes made after it (at most about a minute
of them, see :mod:`memory._backup`); rows are not merged from the damaged file into the backup.
A repair must run while no other lorebook process has the data directory open.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from agent.errors import StoreDamagedError
from memory import _backup, _sqlite

__all__ = ["RepairReport", "diagnose", "repair"]

#: Tables copied first, so that rows referring to them find them.
_ORDER = ("meta", "documents", "chunks", "memories")


@dataclass
class RepairReport:
    """What :func:`repair` found and did."""

    path: Path
    problem: str | None
    """What was wrong (None: the database was healthy and nothing was done)."""
    method: str = "none"
    """``none``, ``backup``, ``recover`` (SQLite's ``.recover``) or ``salvage`` (row by row)."""
    source: Path | None = None
    """The backup restored, with method ``backup``."""
    damaged_copy: Path | None = None
    """Where the damaged file was kept."""
    rows: dict[str, int] = field(default_factory=dict)
    """Rows per table in the repaired database."""
    notes: list[str] = field(default_factory=list)
    """What was tried and did not work, in order."""


def diagnose(db_path: Path) -> str | None:
    """What is wrong with the database at ``db_path``, or None (also when there is none yet).

    Example:
        >>> import tempfile; diagnose(Path(tempfile.mkdtemp()) / "memory.db") is None
        True
    """
    try:
        _sqlite._refuse_lost_file(db_path)
    except StoreDamagedError as exc:
        return exc.problem
    if not db_path.exists():
        return None
    try:
        conn = sqlite3.connect(str(db_path), timeout=30.0)
    except sqlite3.DatabaseError as exc:
        return f"SQLite cannot open it ({exc})"
    try:
        return _sqlite.damage(conn) if db_path.stat().st_size else None
    finally:
        conn.close()


def repair(db_path: Path) -> RepairReport:
    """Repair the database at ``db_path`` if it is damaged (see the module docstring).

    Returns:
        A :class:`RepairReport`; ``method`` says how the database was rebuilt.

    Raises:
        StoreDamagedError: nothing could be recovered (no good backup, and neither SQLite's
            recovery nor row-by-row copying produced a usable database); the damaged file is
            kept aside and named in the message.
    """
    report = RepairReport(db_path, diagnose(db_path))
    if report.problem is None:
        return report
    report.damaged_copy = _keep_aside(db_path)
    tmp = db_path.with_name(f".{db_path.name}.repair-{os.getpid()}.tmp")
    rivals = {m: tmp.with_name(f"{tmp.name}.{m}") for m in ("recover", "salvage")}
    for path in (tmp, *rivals.values()):
        _remove_db(path)
    try:
        if _restore_backup(db_path, tmp, report):
            report.method = "backup"
        elif report.damaged_copy is not None:
            source = _with_header(report.damaged_copy, tmp.with_name(f"{tmp.name}.src"), report)
            # Both ways, and the one that got more rows back: .recover reads pages the
            # b-trees no longer reach, but gave up on some files that rows could be read from.
            made = [
                (_found(rivals[m]), m)
                for m, run in (("recover", _recover), ("salvage", _salvage))
                if run(source, rivals[m], report)
            ]
            found, best = max(made, default=(0, ""))
            if found:
                report.method = best
                os.replace(rivals[best], tmp)
        if report.method == "none":
            kept = f"; the damaged file is kept at {report.damaged_copy}" * bool(
                report.damaged_copy
            )
            raise StoreDamagedError(
                db_path,
                f"{report.problem}, and nothing could be recovered ({'; '.join(report.notes)})"
                + kept,
                "Restore memory.db from your own backup, or remove it to start a new store.",
            )
        report.rows = _finish(tmp)
        os.replace(tmp, db_path)
        _fsync_dir(db_path.parent)
    finally:
        for path in (tmp, tmp.with_name(f"{tmp.name}.src"), *rivals.values()):
            _remove_db(path)
    return report


_MAGIC = b"SQLite format 3\0"
_PAGE = 4096  # SQLite's default page size, which lorebook never changes


def _with_header(damaged: Path, work: Path, report: RepairReport) -> Path:
    """``damaged`` itself, or, when its 100-byte header is gone (zeroed or overwritten), a copy
    at ``work`` with a fresh header for a file of 4096-byte pages, so its pages can be read."""
    with open(damaged, "rb") as fh:
        head = fh.read(100)
    size = damaged.stat().st_size
    if head.startswith(_MAGIC) or size < 2 * _PAGE:
        return damaged
    header = bytearray(100)
    header[:16] = _MAGIC
    header[16:18] = _PAGE.to_bytes(2, "big")
    header[18:24] = bytes([1, 1, 0, 64, 32, 32])  # rollback journal; payload fractions
    header[24:28] = (1).to_bytes(4, "big")  # change counter
    header[28:32] = (size // _PAGE).to_bytes(4, "big")  # pages; the freelist is lost
    header[40:44] = (1).to_bytes(4, "big")  # schema cookie
    header[44:48] = (4).to_bytes(4, "big")  # schema format
    header[56:60] = (1).to_bytes(4, "big")  # UTF-8
    header[92:96] = (1).to_bytes(4, "big")  # version-valid-for = change counter
    major, minor, patch = sqlite3.sqlite_version_info
    header[96:100] = (major * 1_000_000 + minor * 1_000 + patch).to_bytes(4, "big")
    report.notes.append("its header was unreadable: read it with a fresh one (4096-byte pages)")
    with open(damaged, "rb") as src, open(work, "wb") as out:
        src.seek(100)
        out.write(bytes(header))
        shutil.copyfileobj(src, out)
    return work


def _found(path: Path) -> int:
    """Rows of memories, documents and chunks in a rebuilt database (0 if it cannot be read)."""
    try:
        conn = sqlite3.connect(str(path))
        try:
            return _found_in(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return 0


def _found_in(conn: sqlite3.Connection) -> int:
    return sum(
        int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
        for t in ("memories", "documents", "chunks")
    )


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _keep_aside(db_path: Path) -> Path | None:
    """Rename the damaged database (and its WAL and shared-memory files) out of the way."""
    if not db_path.exists():
        return None
    aside = db_path.with_name(f"{db_path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
    n = 1
    while aside.exists():
        n += 1
        aside = aside.with_name(f"{aside.name.split('~')[0]}~{n}")
    for suffix in ("-wal", "-shm", ""):  # the main file last: no WAL is left without its file
        part = db_path.with_name(db_path.name + suffix)
        if part.exists():
            os.rename(part, aside.with_name(aside.name + suffix))
    return aside


def _restore_backup(db_path: Path, tmp: Path, report: RepairReport) -> bool:
    """Copy the newest backup that passes the checks to ``tmp``."""
    backups = _backup.list_backups(db_path)
    if not backups:
        report.notes.append("no automatic backup")
    for backup in backups:
        problem = diagnose(backup)
        if problem:
            report.notes.append(f"backup {backup.name} is damaged too ({problem})")
            continue
        shutil.copyfile(backup, tmp)
        report.source = backup
        return True
    return False


def _recover(damaged: Path, tmp: Path, report: RepairReport) -> bool:
    """SQLite's ``.recover`` (the ``sqlite3`` command) from ``damaged`` into ``tmp``."""
    cli = shutil.which("sqlite3")
    if cli is None:
        report.notes.append("the sqlite3 command is not installed (for .recover)")
        return False
    try:
        with subprocess.Popen(
            [cli, str(damaged), ".recover"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        ) as dump:
            load = subprocess.run(
                [cli, str(tmp)], stdin=dump.stdout, capture_output=True, timeout=3600
            )
            dump.wait(timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        report.notes.append(f"sqlite3 .recover failed ({exc})")
        _remove_db(tmp)
        return False
    return _usable(tmp, report, f"sqlite3 .recover (exit {load.returncode})")


def _usable(tmp: Path, report: RepairReport, how: str) -> bool:
    """Whether the rebuilt ``tmp`` holds the store's tables with at least its ``meta`` rows."""
    if not tmp.exists():
        report.notes.append(f"{how} produced nothing")
        return False
    try:
        conn = _sqlite.connect(tmp, check=False)  # adds the tables it could not recover
        try:
            problem = _sqlite.damage(conn)
            if problem is None and not _found_in(conn):
                problem = "it found no rows"
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        problem = str(exc)
    if problem:
        report.notes.append(f"{how}: {problem}")
        _remove_db(tmp)
        return False
    return True


def _rows(conn: sqlite3.Connection, table: str, names: str) -> Iterator[tuple[object, ...]]:
    """Every readable row (columns ``names``) of ``table``, skipping over unreadable pages."""
    try:
        conn.execute(f'SELECT rowid FROM "{table}" LIMIT 0')
    except sqlite3.OperationalError:  # WITHOUT ROWID (the embedding cache): up to a bad page
        with contextlib.suppress(sqlite3.DatabaseError):
            yield from conn.execute(f'SELECT {names} FROM "{table}"')
        return
    last: int | None = None
    step, misses = 1, 0
    while misses < 40:
        try:
            for row in conn.execute(
                f'SELECT rowid, {names} FROM "{table}" WHERE rowid > ? ORDER BY rowid',
                (-(2**63) if last is None else last,),
            ):
                last, step, misses = int(row[0]), 1, 0
                yield tuple(row[1:])
            return
        except sqlite3.DatabaseError:
            last = (last or 0) + step  # jump over the unreadable part, further each time
            step, misses = step * 2, misses + 1


def _salvage(damaged: Path, tmp: Path, report: RepairReport) -> bool:
    """Copy every readable row of every known table from ``damaged`` into a new ``tmp``."""
    try:
        src = sqlite3.connect(str(damaged), timeout=30.0)
    except sqlite3.DatabaseError as exc:
        report.notes.append(f"row-by-row copy: SQLite cannot open the file ({exc})")
        return False
    copied = 0
    try:
        dst = _sqlite.connect(tmp, check=False)
        try:
            dst.execute("PRAGMA foreign_keys=OFF")  # orphans are removed once all is copied
            try:
                names = [
                    r[0]
                    for r in src.execute("SELECT name FROM sqlite_master WHERE type='table'")
                    if not str(r[0]).startswith("sqlite_")
                ]
            except sqlite3.DatabaseError:
                names = list(_sqlite.expected_tables())
            names.sort(key=lambda n: _ORDER.index(n) if n in _ORDER else len(_ORDER))
            with _sqlite.transaction(dst, tmp):
                for table in names:
                    copied += _copy_table(src, dst, table)
                dst.execute("DELETE FROM chunks WHERE document NOT IN (SELECT id FROM documents)")
        finally:
            dst.close()
    finally:
        src.close()
    if not copied:
        report.notes.append("row-by-row copy: no row was readable")
        _remove_db(tmp)
        return False
    return _usable(tmp, report, "row-by-row copy")


def _copy_table(src: sqlite3.Connection, dst: sqlite3.Connection, table: str) -> int:
    """Copy what can be read of one table (created in ``dst`` from its definition if new)."""
    with contextlib.suppress(sqlite3.DatabaseError):
        sql = src.execute(
            "SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (table,)
        ).fetchone()
        if sql and sql[0]:
            dst.execute(sql[0].replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))
    try:
        columns = [r[1] for r in dst.execute(f'PRAGMA table_info("{table}")')]
        have = {r[1] for r in src.execute(f'PRAGMA table_info("{table}")')}
    except sqlite3.DatabaseError:
        return 0
    shared = [c for c in columns if c in have]
    if not shared:
        return 0
    names = ", ".join(f'"{c}"' for c in shared)
    insert = f'INSERT OR IGNORE INTO "{table}" ({names}) VALUES ({", ".join("?" * len(shared))})'
    count = 0
    for row in _rows(src, table, names):
        dst.execute(insert, row)
        count += 1
    return count


def _finish(tmp: Path) -> dict[str, int]:
    """Bring ``tmp`` to the store's settings (WAL), check it, and count its rows."""
    conn = _sqlite.connect(tmp, check=False)
    try:
        problem = _sqlite.damage(conn)
        if problem:
            raise StoreDamagedError(tmp, f"the repaired copy fails its check: {problem}")
        rows = {
            t: int(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])
            for t in ("memories", "documents", "chunks")
        }
        _sqlite.checkpoint(conn, tmp)
    finally:
        conn.close()
    return rows
