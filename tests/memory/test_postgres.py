"""What only the PostgreSQL backend has: several hosts on one database, commit order under
concurrent writers, the SQL translation, connection failures, turn log and checkpoints.

The rest of the memory suite runs on both backends (the ``[postgres]`` test ids).
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import numpy as np
import psycopg
import pytest

from agent.errors import ConfigError, MemoryStoreError
from memory import Memory, Store
from memory._postgres import display_url, translate
from tests.memory.conftest import make_settings
from tests.pgserver import PgServer


def _ids(mem: Memory) -> list[int]:
    with mem.store.read() as conn:
        return sorted(r[0] for r in conn.execute("SELECT id FROM memories"))


# -- several hosts ------------------------------------------------------------------------------


def test_two_hosts_share_facts_forget_everywhere_and_keep_users_apart(
    tmp_path: Path, pg_url: str
) -> None:
    """Two stores with their own data directories (own FAISS caches) on one database."""
    a = Memory.open(make_settings(tmp_path / "host-a", database_url=pg_url))
    b = Memory.open(make_settings(tmp_path / "host-b", database_url=pg_url))
    try:
        assert b.search("anything", user="ann") == []  # b's index is loaded, at the current seq
        rec = a.add("my locker code is 4417", user="ann").record
        assert rec is not None
        hits = b.search("locker code", user="ann", k=1)  # b's next search sees a's commit
        assert hits and hits[0].record.id == rec.id
        assert b.search("locker code", user="bob") == []  # another user sees nothing of it
        b.add("my bike is green", user="bob")
        assert [h.record.text for h in a.search("bike", user="bob", k=1)] == ["my bike is green"]
        assert all(h.record.user == "ann" for h in a.search("bike", user="ann", k=5))
        assert a.forget(query="locker", user="ann") == [rec.id]
        assert all(h.record.id != rec.id for h in b.search("locker code", user="ann", k=5))
        for mem in (a, b):
            space = mem.store.spaces["memories"]
            space.ensure_current()
            assert sorted(space.index.ids().tolist()) == _ids(mem)
            assert space.rebuilds <= 1  # the first open only (no index file yet)
        assert (tmp_path / "host-a" / "index" / "memories.faiss").exists()
        assert (tmp_path / "host-b" / "index" / "memories.faiss").exists()
    finally:
        a.close()
        b.close()


def test_commit_order_is_seq_order_under_concurrent_writers(tmp_path: Path, pg_url: str) -> None:
    """Writers on four connections add while a reader keeps catching up from the change log.

    A sequence value is taken at INSERT time; without the store's advisory lock a larger seq
    can commit before a smaller one, the reader's stamp passes the smaller one, and its index
    misses that row (seen as a failed ``sync`` and a rebuild below).
    """
    Memory.open(make_settings(tmp_path / "w0", database_url=pg_url)).close()
    reader = Memory.open(make_settings(tmp_path / "reader", database_url=pg_url))
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            s = make_settings(tmp_path / f"w{n}", database_url=pg_url, duplicate_threshold=1.01)
            with Memory.open(s) as mem:
                for i in range(60):
                    mem.add(f"writer {n} fact {i} about {'owls' if i % 2 else 'elks'}", user="u")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(n,)) for n in range(1, 5)]
    space = reader.store.spaces["memories"]
    try:
        space.ensure_current()
        for t in writers:
            t.start()
        syncs = 0
        while any(t.is_alive() for t in writers):
            assert space.sync(), "the reader's index missed a committed change"
            syncs += 1
        for t in writers:
            t.join()
        assert not errors, errors
        assert space.sync(verify=True)
        assert sorted(space.index.ids().tolist()) == _ids(reader)
        assert len(space.index) == 240 and space.rebuilds == 1  # the first open only
        assert syncs > 10
    finally:
        reader.close()


def test_an_index_saved_for_another_database_is_refused(home: Path, pg_server: PgServer) -> None:
    """Two databases used from one data directory: each index file names its store."""
    first, second = pg_server.new_database(), pg_server.new_database()
    with Memory.open(make_settings(home, database_url=first)) as mem:
        for i in range(5):
            mem.add(f"first store fact {i} about rivers", user="ann")
    with Memory.open(make_settings(home, database_url=second)) as mem:
        for i in range(5):  # same ids 1..5, same count, other texts
            mem.add(f"second store fact {i} about mountains", user="ann")
        assert mem.store.spaces["memories"].rebuilds == 1
    with Memory.open(make_settings(home, database_url=first)) as mem:
        hit = mem.search("first store fact 3 about rivers", user="ann", k=1)[0]
        assert hit.record.text == "first store fact 3 about rivers"
        space = mem.store.spaces["memories"]
        assert space.rebuilds == 1 and "store" in (space.last_load_error or "")


# -- connections --------------------------------------------------------------------------------


def test_an_unreachable_server_gives_a_clear_message_without_the_password(home: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://ann:hunter2secret@127.0.0.1:{port}/lore"
    with pytest.raises(MemoryStoreError) as info:
        Store(make_settings(home, database_url=url))
    text = str(info.value)
    assert f"postgresql://ann@127.0.0.1:{port}/lore" in text
    assert "hunter2secret" not in text and "refused" in text.lower()
    assert "LOREBOOK_DATABASE_URL" in text
    assert not (home / "memory.db").exists()  # no silent fallback to SQLite


def test_a_url_that_is_not_postgresql_is_a_config_error(home: Path) -> None:
    with pytest.raises(ConfigError, match="postgresql://"):
        Store(make_settings(home, database_url="mysql://ann@db/lore"))


def test_a_dropped_connection_is_reopened_between_transactions(
    home: Path, pg_url: str, pg_server: PgServer
) -> None:
    with Memory.open(make_settings(home, database_url=pg_url)) as mem:
        mem.add("the spare key is under the mat", user="ann")
        pid = mem.store.conn.raw.info.backend_pid
        pg_server._admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert mem.search("spare key", user="ann", k=1)[0].record.text.startswith("the spare")
        assert mem.add("the car is in the garage", user="ann").action == "added"
        assert mem.store.conn.raw.info.backend_pid != pid


def test_a_busy_store_times_out_with_a_clear_message(
    home: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import memory._postgres as pg

    store = Store(make_settings(home, database_url=pg_url))
    holder = psycopg.connect(pg_url, autocommit=True)
    try:
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (store.db.key,))
        monkeypatch.setattr(pg, "RETRY_SECONDS", 0.5)
        store.conn.raw.execute("SET lock_timeout = '100ms'")
        with pytest.raises(pg.PostgresBusyError, match="stayed locked"), store.write():
            pass  # pragma: no cover
        holder.execute("ROLLBACK")
        with store.write() as conn:  # the lock is free again: writes go on
            conn.execute("INSERT INTO meta VALUES ('probe', '1')")
    finally:
        holder.close()
        store.close()


# -- SQL translation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sqlite", "postgres", "returning"),
    [
        ("SELECT id FROM memories WHERE +user=? AND +kind IN (?,?)",
         'SELECT id FROM memories WHERE "user"=%s AND kind IN (%s,%s)', False),
        ("SELECT 'user?', \"user\" FROM t WHERE a LIKE '%x' AND instr(lower(text), ?) > 0",
         "SELECT 'user?', \"user\" FROM t WHERE a LIKE '%%x' AND strpos(lower(text), %s) > 0",
         False),
        ("INSERT OR REPLACE INTO embedding_cache VALUES (?, ?, ?)",
         "INSERT INTO embedding_cache VALUES (%s, %s, %s) ON CONFLICT (model, hash) DO UPDATE "
         "SET vec = excluded.vec", False),
        ("INSERT INTO memories (user, text) VALUES (?, ?)",
         'INSERT INTO memories ("user", text) VALUES (%s, %s) RETURNING id', True),
        ("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY AUTOINCREMENT, x REAL, v BLOB,"
         " n INTEGER) WITHOUT ROWID",
         "CREATE TABLE IF NOT EXISTS t (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
         "x DOUBLE PRECISION, v BYTEA, n BIGINT)", False),
        ("UPDATE threads SET turns = turns + 1, users = ?", "UPDATE threads SET turns = turns + 1,"
         " users = %s", False),
    ],
)  # fmt: skip
def test_sqlite_statements_translate(sqlite: str, postgres: str, returning: bool) -> None:
    assert translate(sqlite) == (postgres, returning)


def test_display_url_never_shows_the_password() -> None:
    url = "postgresql://ann:p%40ss@db.example:5433/lore?sslmode=require&password=x"
    assert display_url(url) == "postgresql://ann@db.example:5433/lore"


# -- the agent's turn log and checkpoints -------------------------------------------------------


def test_agent_threads_turn_log_and_checkpoints_live_in_postgres(home: Path, pg_url: str) -> None:
    from agent import Agent
    from agent.llm.fake import FakeLLM

    kwargs = {"embedder": "hash", "route_with_model": False, "database_url": pg_url}
    with Agent.open(home, llm=FakeLLM(default="Hello!"), **kwargs) as bot:
        bot.chat("hi there, my first message", thread="t1", user="ann")
        assert [h["role"] for h in bot.history("t1", user="ann")] == ["user", "assistant"]
        assert [t.title for t in bot.threads("ann")] == ["hi there, my first message"]
    with Agent.open(home, llm=FakeLLM(default="Again!"), **kwargs) as bot:  # from the database
        assert len(bot.history("t1", user="ann")) == 2
        assert bot.logs(5) and bot.logs(5)[-1].thread == "t1"
        assert bot.delete_thread("t1", user="ann")
        assert bot.history("t1", user="ann") == [] and bot.threads("ann") == []
    assert not (home / "threads.sqlite").exists() and not (home / "agent.sqlite").exists()
    with psycopg.connect(pg_url) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables")}
    assert {"checkpoints", "threads", "turns", "memories"} <= tables


def test_vectors_round_trip_as_float32_bytes(store: Store) -> None:
    vec = np.arange(store.embedder.dim, dtype=np.float32)
    with store.write() as conn:
        conn.execute("INSERT INTO embedding_cache VALUES ('m', 'h', ?)", (vec.tobytes(),))
    blob = store.conn.execute("SELECT vec FROM embedding_cache WHERE model='m'").fetchone()[0]
    assert np.array_equal(np.frombuffer(blob, dtype=np.float32), vec)
