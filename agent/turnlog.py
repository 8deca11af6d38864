"""Threads and the turn log, in ``<home>/agent.sqlite`` (or the PostgreSQL ``database_url``).

The turn log records, for every turn, its route and the reason, the model, token counts,
per-node milliseconds and the error if any — the metadata ``lorebook logs`` shows. It stores no
message or reply text: the conversation itself lives in the thread's LangGraph checkpoints
(``<home>/threads.sqlite``, or the same PostgreSQL database through ``PostgresSaver``; see
:func:`open_checkpointer`), so deleting a thread deletes its words in one place. Thread titles
(the first words of a thread's first message) are deleted with the thread; on PostgreSQL the
two small tables are then rewritten (``VACUUM FULL``), as SQLite's ``secure_delete`` zeroes them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from memory._postgres import PgConnection

_SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    user TEXT NOT NULL, thread TEXT NOT NULL, title TEXT NOT NULL,
    created REAL NOT NULL, updated REAL NOT NULL, turns INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user, thread)
);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, user TEXT NOT NULL,
    thread TEXT NOT NULL, route TEXT, reason TEXT, model TEXT, prompt_tokens INTEGER,
    completion_tokens INTEGER, finish_reason TEXT, timings TEXT, error TEXT
);
CREATE INDEX IF NOT EXISTS turns_thread ON turns (user, thread);
"""


@dataclass(frozen=True)
class ThreadInfo:
    """A conversation."""

    user: str
    thread: str
    title: str
    created: float
    updated: float
    turns: int


@dataclass(frozen=True)
class TurnRecord:
    """One line of the turn log."""

    id: int
    at: float
    user: str
    thread: str
    route: str | None
    reason: str | None
    model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: str | None
    timings: dict[str, float]
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__}


#: The longest title a thread gets from its first message.
TITLE_CHARS = 60


def thread_title(message: str) -> str:
    """A thread's title from its first message: one line of at most :data:`TITLE_CHARS`,
    a longer message cut at a word and ended with an ellipsis (not mid-word, unmarked)."""
    text = " ".join(message.split())
    if len(text) <= TITLE_CHARS:
        return text
    head = text[: TITLE_CHARS - 1]
    cut = head.rfind(" ")
    return (head[:cut] if cut >= TITLE_CHARS // 2 else head).rstrip(" ,;:.-") + "…"


class TurnLog:
    """Threads and turn records; safe to share between threads of one process.

    Args:
        path: the SQLite file (used when ``database_url`` is None).
        database_url: a ``postgresql://`` URL: keep the log in that database instead.
    """

    def __init__(self, path: Path, database_url: str | None = None):
        self._pg = database_url is not None
        self._conn: sqlite3.Connection | PgConnection
        if database_url is not None:
            from memory import _postgres

            pg = _postgres.connect(database_url)
            _postgres.run_locked(pg, "lorebook:turnlog", _SCHEMA.split(";"))
            self._conn = pg
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                path, check_same_thread=False, timeout=30, isolation_level=None
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA secure_delete=ON")
            self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def _exec(self, sql: str, args: tuple[Any, ...] = ()) -> Any:
        with self._lock:
            return self._conn.execute(sql, args)

    def touch_thread(self, user: str, thread: str, first_message: str) -> None:
        now = time.time()
        title = thread_title(first_message) or thread
        self._exec(
            "INSERT INTO threads (user, thread, title, created, updated, turns) "
            "VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (user, thread) DO UPDATE SET "
            "updated = excluded.updated, turns = threads.turns + 1",
            (user, thread, title, now, now),
        )

    def record(self, user: str, thread: str, **fields: Any) -> int:
        timings = json.dumps(fields.pop("timings", {}) or {})
        cur = self._exec(
            "INSERT INTO turns (at, user, thread, route, reason, model, prompt_tokens, "
            "completion_tokens, finish_reason, timings, error) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                time.time(),
                user,
                thread,
                fields.get("route"),
                fields.get("reason"),
                fields.get("model"),
                fields.get("prompt_tokens"),
                fields.get("completion_tokens"),
                fields.get("finish_reason"),
                timings,
                fields.get("error"),
            ),
        )
        return int(cur.lastrowid or 0)

    def threads(self, user: str | None = None) -> list[ThreadInfo]:
        sql = "SELECT user, thread, title, created, updated, turns FROM threads"
        args: tuple[Any, ...] = ()
        if user is not None:
            sql, args = sql + " WHERE user = ?", (user,)
        rows = self._exec(sql + " ORDER BY updated DESC", args).fetchall()
        return [ThreadInfo(*r) for r in rows]

    def rename(self, user: str, thread: str, title: str) -> bool:
        cur = self._exec(
            "UPDATE threads SET title = ? WHERE user = ? AND thread = ?", (title, user, thread)
        )
        return bool(cur.rowcount > 0)

    def delete(self, user: str, thread: str) -> bool:
        cur = self._exec("DELETE FROM threads WHERE user = ? AND thread = ?", (user, thread))
        self._exec("DELETE FROM turns WHERE user = ? AND thread = ?", (user, thread))
        if self._pg:  # the deleted title leaves the table files (small tables: cheap)
            self._exec("VACUUM FULL threads, turns")
        return bool(cur.rowcount > 0)

    def recent(self, n: int = 20) -> list[TurnRecord]:
        rows = self._exec(
            "SELECT id, at, user, thread, route, reason, model, prompt_tokens, "
            "completion_tokens, finish_reason, timings, error FROM turns "
            "ORDER BY id DESC LIMIT ?",
            (n,),
        ).fetchall()
        return [
            TurnRecord(
                id=r[0],
                at=r[1],
                user=r[2],
                thread=r[3],
                route=r[4],
                reason=r[5],
                model=r[6],
                prompt_tokens=r[7],
                completion_tokens=r[8],
                finish_reason=r[9],
                timings=json.loads(r[10] or "{}"),
                error=r[11],
            )
            for r in reversed(rows)
        ]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_checkpointer(home: Path, database_url: str | None = None) -> tuple[Any, Any]:
    """The LangGraph checkpointer of the threads, set up: ``(connection, saver)``.

    SQLite ``<home>/threads.sqlite`` (WAL, long busy timeout: the TUI and a batch run may share
    the data directory), or ``PostgresSaver`` on ``database_url``. Close the connection when done.
    """
    if database_url is not None:
        from memory._postgres import open_checkpointer as open_pg

        return open_pg(database_url)
    from langgraph.checkpoint.sqlite import SqliteSaver

    home.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(home / "threads.sqlite", check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA secure_delete=ON")  # a forgotten fact's checkpoints are zeroed
    saver = SqliteSaver(conn)
    saver.setup()
    return conn, saver
