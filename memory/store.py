"""The store: one database (source of truth) plus derived FAISS indexes, kept in step.

The database is SQLite in the data directory (:mod:`memory._sqlite`), or PostgreSQL when
``settings.database_url`` is set (:mod:`memory._postgres`; several processes on several hosts
then share one store). Layout in the data directory (``settings.home``)::

    memory.db, memory.db-wal, memory.db-shm   memories, documents, chunks, embedding cache,
                                              change log (SQLite, WAL; not with PostgreSQL)
    index/memories.faiss                      derived: vectors of memories
    index/chunks.faiss                        derived: vectors of document chunks
    backups/memory-<time>.db                  automatic copies of memory.db (memory._backup)

Every write that adds, changes or deletes a vector appends ``(seq, space, item)`` to the
``changes`` table in the same transaction. An index knows the last ``seq`` it contains (its
stamp). Before each search, :meth:`VectorSpace.sync` reads ``max(seq)``; if another process (or
this one) committed since, it re-reads exactly the touched items and applies them. That is how two
processes on one data directory see each other's committed writes on their next search.

On open an index file is loaded and verified (see :mod:`memory.vectors`), caught up from the
change log, its id set compared with SQLite's, and its vectors spot-checked against SQLite's
(every one that is not of unit length, and a random sample); on any disagreement, or when the
change log no longer reaches back to its stamp, it is rebuilt from the vectors stored in SQLite
(no model needed). Search results are re-scored from SQLite's vectors, and a score that
disagrees with the index's triggers a rebuild: the index can never hand back a wrong row. An
index file carries the store's id (``meta.store_id``), so one saved for another database that
shares the data directory is refused on load.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from agent.errors import ConfigError, StoreFormatError
from memory import _backup, _sqlite
from memory.embeddings import Embedder, EmbeddingCache, open_embedder
from memory.vectors import IndexFileError, Stamp, VectorIndex, load_index, save_index

if TYPE_CHECKING:
    from agent.settings import Settings

__all__ = ["Store", "VectorSpace"]

log = logging.getLogger(__name__)

#: Change-log rows kept; an index older than the oldest kept row is rebuilt instead.
KEEP_CHANGES = 50_000
#: Unsaved changes after which an index is saved without waiting for close().
SAVE_EVERY = 2_000


class VectorSpace:
    """The FAISS index of one table (``memories`` or ``chunks``), kept in step with SQLite."""

    def __init__(self, store: Store, table: str):
        self.store = store
        self.table = table
        self.path = store.home / "index" / f"{table}.faiss"
        self.index = VectorIndex.empty(store.embedder.dim)
        self.seq = -1  # -1: not loaded yet
        self.unsaved = 0
        self.rebuilds = 0
        self.last_load_error: str | None = None

    # -- opening ---------------------------------------------------------------------------

    def open(self) -> None:
        """Load the saved index if it verifies, catch it up, check its ids; else rebuild."""
        emb = self.store.embedder
        try:
            index, stamp = load_index(self.path, self.table, emb.name, emb.dim, self.store.store_id)
        except IndexFileError as exc:
            if self.path.exists():
                log.warning("rebuilding %s index: %s", self.table, exc)
            self.last_load_error = str(exc)
            self.rebuild()
            return
        current = self.store.max_seq()
        if stamp.seq > current:
            self.last_load_error = f"{self.path}: stamp seq {stamp.seq} is ahead of the database"
            self.rebuild()
            return
        self.index, self.seq = index, stamp.seq
        if not self.sync(verify=True):
            self.last_load_error = f"{self.path}: ids disagree with the database"
            self.rebuild()
        elif not self._vectors_agree():
            self.last_load_error = f"{self.path}: vectors disagree with the database"
            log.warning("rebuilding %s index: %s", self.table, self.last_load_error)
            self.rebuild()

    def _vectors_agree(self, sample: int = 32, most: int = 2_000) -> bool:
        """Compare loaded vectors with the database's: every vector whose norm is not 1 (the
        embedders return unit vectors; a zeroed or scrambled one is not), up to ``most``, and
        ``sample`` random others. A file can carry a valid checksum over wrong vectors."""
        ids, vecs = self.index.vectors()
        if len(ids) == 0:
            return True
        odd = ids[np.abs(np.linalg.norm(vecs, axis=1) - 1.0) > 1e-3][:most]
        rng = np.random.default_rng()
        picked = np.union1d(odd, rng.choice(ids, min(sample, len(ids)), replace=False))
        where = {int(i): n for n, i in enumerate(ids)}
        dim = self.store.embedder.dim
        with self.store.db.snapshot() as conn:
            for start in range(0, len(picked), 500):
                part = [int(i) for i in picked[start : start + 500]]
                marks = ",".join("?" * len(part))
                for item, blob in conn.execute(
                    f"SELECT id, vec FROM {self.table} WHERE id IN ({marks})", part
                ):
                    stored = np.frombuffer(blob, dtype=np.float32)
                    if len(stored) != dim or not np.allclose(vecs[where[item]], stored, atol=1e-4):
                        return False
        return True

    def rebuild(self) -> None:
        """Rebuild the index from the vectors in the database and save it."""
        with self.store.db.snapshot() as conn:
            seq = self.store.max_seq()
            rows = conn.execute(f"SELECT id, vec FROM {self.table} ORDER BY id").fetchall()
        dim = self.store.embedder.dim
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vecs = (
            np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(-1, dim)
            if rows
            else np.zeros((0, dim), np.float32)
        )
        self.index = VectorIndex.build(dim, ids, vecs, self.store.settings.ann_threshold)
        self.seq = seq
        self.rebuilds += 1
        self.save()

    # -- keeping in step -------------------------------------------------------------------

    def sync(self, verify: bool = False) -> bool:
        """Apply changes committed since the index's stamp. Returns False when the index and
        SQLite disagree afterwards (the caller rebuilds)."""
        current = self.store.max_seq()
        if current == self.seq and not verify:
            return True
        with self.store.db.snapshot() as conn:
            current = self.store.max_seq()
            if self.seq < self.store.pruned_through():
                return False  # the log was trimmed past our stamp: it cannot be replayed
            items = [
                r[0]
                for r in conn.execute(
                    "SELECT DISTINCT item FROM changes WHERE space=? AND seq>? AND seq<=?",
                    (self.table, self.seq, current),
                )
            ]
            if items:
                self.index.remove(np.array(items, dtype=np.int64))
            dim = self.store.embedder.dim
            # A part at a time: a 50 MB document's 78k rows held at once, then joined, took
            # ~500 MB more than the index itself.
            for start in range(0, len(items), 500):
                part = items[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = conn.execute(
                    f"SELECT id, vec FROM {self.table} WHERE id IN ({marks})", part
                ).fetchall()
                if rows:
                    self.index.add(
                        np.array([r[0] for r in rows], dtype=np.int64),
                        np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(
                            -1, dim
                        ),
                    )
            count = (
                conn.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0]
                if (items or verify)
                else len(self.index)
            )
            db_ids = (
                np.fromiter(
                    (r[0] for r in conn.execute(f"SELECT id FROM {self.table}")), dtype=np.int64
                )
                if verify
                else None
            )
        if items:
            self.unsaved += len(items)
        self.seq = current
        if len(self.index) != count:
            return False
        if db_ids is not None and not np.array_equal(np.sort(db_ids), np.sort(self.index.ids())):
            return False
        if self.unsaved >= SAVE_EVERY:
            self.save()
        return True

    def ensure_current(self) -> None:
        """Catch up with other processes' commits; rebuild if that fails."""
        if self.seq < 0:
            self.open()
        elif not self.sync():
            self.rebuild()

    def save(self) -> None:
        """Write the index file atomically with its stamp (a failed save raises)."""
        emb = self.store.embedder
        stamp = Stamp(
            self.table,
            emb.name,
            emb.dim,
            self.seq,
            len(self.index),
            self.index.kind,
            self.store.store_id,
        )
        save_index(self.path, self.index, stamp)
        self.unsaved = 0

    # -- searching -------------------------------------------------------------------------

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top-``k`` (id, score) by inner product, after catching up with SQLite."""
        self.ensure_current()
        if len(self.index) == 0:
            return []
        scores, ids = self.index.search(query.reshape(1, -1), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def verify_scores(
        self, query: np.ndarray, hits: Sequence[tuple[int, float]], vecs: dict[int, np.ndarray]
    ) -> bool:
        """True when every hit's index score matches the SQLite vector's score."""
        for item, score in hits:
            vec = vecs.get(item)
            if vec is not None and abs(float(vec @ query) - score) > 1e-3:
                log.warning(
                    "%s index disagrees with SQLite for id %d: rebuilding", self.table, item
                )
                return False
        return True


class Store:
    """The database and the vector spaces of one data directory.

    Args:
        settings: ``home`` (where the index files, and the SQLite database, live),
            ``database_url`` (PostgreSQL instead of SQLite), ``embedder``, ``ann_threshold``...
        embedder: an already loaded embedder (default: the one ``settings.embedder`` names).

    Raises:
        StoreFormatError: the database's vectors were made by another embedder.
        StoreBusyError: another process held the database past every retry.
        ConfigError: ``database_url`` is not a PostgreSQL URL, or psycopg is not installed.
        MemoryStoreError: the PostgreSQL server cannot be reached (a message that says which
            URL, without its password, what failed and what to do).

    Example:
        >>> import tempfile; from agent.settings import load_settings
        >>> s = load_settings({"home": tempfile.mkdtemp(), "embedder": "hash"}, env={})
        >>> with Store(s) as store:
        ...     store.db_path.name
        'memory.db'
    """

    def __init__(self, settings: Settings, embedder: Embedder | None = None):
        self.settings = settings
        self.home = Path(settings.home)
        url = settings.database_url
        #: The SQLite file (None with PostgreSQL).
        self.db_path: Path | None = None if url else self.home / "memory.db"
        self.embedder = embedder or open_embedder(settings.embedder, settings)
        self.db = _open_database(url, self.home / "memory.db")
        #: Where the database is, for messages (a path, or a URL without its password).
        self.where: str = self.db.where
        #: ``sqlite3.Connection`` or :class:`memory._postgres.PgConnection` (same surface).
        self.conn: Any = self.db.conn
        row = self.conn.execute("SELECT value FROM meta WHERE key='store_id'").fetchone()
        self.store_id: str = row[0]
        self.lock = threading.RLock()
        self._depth = 0
        self._check_embedder()
        self.cache = EmbeddingCache(self.conn, self.embedder, self.write)
        self.spaces = {t: VectorSpace(self, t) for t in ("memories", "chunks")}
        _remove_stale_temp_files(self.home / "index")

    def _check_embedder(self) -> None:
        with self.write() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key='embedder'").fetchone()
            mine = f"{self.embedder.name}/{self.embedder.dim}"
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('embedder', ?)", (mine,))
            elif row[0] != mine:
                raise StoreFormatError(
                    f"{self.where} holds vectors from embedder {row[0]!r}, not {mine!r}. Set "
                    f"embedder back (LOREBOOK_EMBEDDER={row[0].split('/')[0]}) or use another "
                    "data directory (LOREBOOK_HOME)."
                )

    # -- transactions and the change log ------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[Any]:
        """A write transaction (retried while another process holds the lock).

        Re-entrant: a ``write()`` inside another joins the outer transaction.
        """
        with self.lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            with self.db.transaction() as conn:
                self._depth = 1
                try:
                    yield conn
                finally:
                    self._depth = 0

    @contextmanager
    def read(self) -> Iterator[Any]:
        """A read transaction: one consistent snapshot."""
        with self.lock, self.db.snapshot() as conn:
            yield conn

    def max_seq(self) -> int:
        row = self.db.retrying(
            lambda: self.conn.execute(
                "SELECT seq FROM changes ORDER BY seq DESC LIMIT 1"
            ).fetchone(),
        )
        if row is not None:
            return int(row[0])
        return self.pruned_through()

    def space_seq(self, table: str) -> int:
        """The last change sequence that touched ``table`` (cheap: indexed)."""
        row = self.db.retrying(
            lambda: self.conn.execute(
                "SELECT max(seq) FROM changes WHERE space=?", (table,)
            ).fetchone(),
        )
        return int(row[0]) if row and row[0] is not None else self.pruned_through()

    def pruned_through(self) -> int:
        row = self.conn.execute("SELECT value FROM meta WHERE key='pruned_through'").fetchone()
        return int(row[0]) if row else 0

    def log_changes(self, conn: Any, table: str, items: Sequence[int]) -> None:
        """Record that ``items`` of ``table`` changed (call inside the writing transaction)."""
        conn.executemany(
            "INSERT INTO changes (space, item) VALUES (?, ?)", [(table, int(i)) for i in items]
        )

    def prune_changes(self) -> None:
        """Keep the newest :data:`KEEP_CHANGES` change rows."""
        with self.write() as conn:
            top = conn.execute("SELECT max(seq) FROM changes").fetchone()[0]
            if top is None or top <= KEEP_CHANGES:
                return
            cut = top - KEEP_CHANGES
            if conn.execute("SELECT 1 FROM changes WHERE seq<=? LIMIT 1", (cut,)).fetchone():
                conn.execute("DELETE FROM changes WHERE seq<=?", (cut,))
                conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('pruned_through', ?)",
                    (str(max(cut, self.pruned_through())),),
                )

    # -- housekeeping ------------------------------------------------------------------------

    def erase(self, tables: Sequence[str]) -> bool:
        """After a hard delete from ``tables``: leave no deleted bytes in the database files.

        SQLite (``secure_delete`` has zeroed the pages): checkpoint and truncate the WAL.
        PostgreSQL: ``VACUUM FULL`` of ``tables`` (see :meth:`memory._postgres.Database.erase`).
        Returns False when that could not be completed now (a later call completes it).
        """
        with self.lock:
            return self.db.erase(tables)

    def save(self) -> None:
        """Save every loaded index that has unsaved changes."""
        with self.lock:
            for space in self.spaces.values():
                if space.seq >= 0 and (space.unsaved or not space.path.exists()):
                    space.sync()
                    space.save()

    def close(self) -> None:
        """Save the indexes, trim the change log, checkpoint (SQLite) and close the database.

        A database found damaged during the session (the error was raised then) is only
        closed: the indexes are rebuilt after ``lorebook doctor --repair`` anyway.
        """
        with self.lock:
            if self.conn is None:
                return
            try:
                if not getattr(self.conn, "damaged", None):
                    self.save()
                    self.prune_changes()
            finally:
                self.db.close()
                self.conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def file_paths(self) -> list[Path]:
        """Every file of the store in the data directory (SQLite database, WAL and automatic
        backups; indexes)."""
        names = []
        if self.db_path is not None:
            names = [
                self.db_path,
                self.db_path.with_name("memory.db-wal"),
                self.db_path.with_name("memory.db-shm"),
            ]
            names += _backup.list_backups(self.db_path)
        names += [s.path for s in self.spaces.values()]
        return [p for p in names if p.exists()]


def _open_database(url: str | None, sqlite_path: Path) -> Any:
    """SQLite at ``sqlite_path`` without a URL, else PostgreSQL (psycopg imported only then)."""
    if not url:
        return _sqlite.Database(sqlite_path)
    try:
        from memory import _postgres
    except ImportError as exc:
        raise ConfigError(
            f"database_url is set but the PostgreSQL driver is missing ({exc}). Install the "
            "scale extra (pip install 'lorebook[scale]'), or unset database_url to use SQLite."
        ) from None
    return _postgres.Database(url)


def _remove_stale_temp_files(folder: Path) -> None:
    """Delete temp files left by a save that was killed (their writer is no longer running)."""
    if not folder.is_dir():
        return
    for tmp in folder.glob(".*.tmp"):
        try:
            pid = int(tmp.name.split(".")[3])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError):
            tmp.unlink(missing_ok=True)
        except PermissionError:
            pass


def vectors_of(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    """Stack float32 blobs into an ``(n, dim)`` array."""
    if not blobs:
        return np.zeros((0, dim), np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(-1, dim)
