"""Erasure: forgotten text is gone from search and from the bytes of every store file.

SQLite: the database, its WAL and the index files. PostgreSQL: the index files and every file
of the store's database directory in the test's own cluster (``base/<oid>/``: tables, TOAST,
indexes, free-space and visibility maps, the catalog with ``pg_statistic``), read after a
``CHECKPOINT`` so that what is in shared buffers reaches the files. Not checked, because
PostgreSQL keeps it by design until recycled: the WAL (``pg_wal/``); see docs/memory.md.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.settings import Settings
from memory import Documents, Memory, Store
from tests.memory.conftest import make_settings
from tests.pgserver import PgServer


def _store_bytes(store: Store) -> bytes:
    files = store.file_paths() + list((store.home / "index").glob("*"))
    return b"".join(p.read_bytes() for p in files if p.is_file())


def _forget_canaries(
    settings: Settings,
    store_bytes: Callable[[Store], bytes],
    before: Callable[[Memory], object] = lambda mem: None,
    after: Callable[[Memory], object] = lambda mem: None,
) -> None:
    """Plant three canaries among 30 memories, forget them by id, by query and by user, then
    check search and the store's bytes (``store_bytes``), before and after a reopen."""
    canaries = [f"canary{secrets.token_hex(8)}" for _ in range(3)]
    with Memory.open(settings) as mem:
        for i in range(30):
            mem.add(f"ordinary memory {i} about gardening", user="ann")
        ids = [mem.add(f"my secret code is {c}", user="ann").record.id for c in canaries]  # type: ignore[union-attr]
        mem.add(f"bob's note {canaries[2]}", user="bob")
        mem.search(canaries[0], user="ann")
        before(mem)
        planted = store_bytes(mem.store)
        assert all(c.encode() in planted for c in canaries)  # the check can see them
        mem.forget(ids[0])
        mem.forget(query=canaries[1], user="ann")
        mem.forget(user="bob")
        mem.forget(ids[2])
        for c in canaries:
            assert all(c not in h.record.text for h in mem.search(c, user="ann", k=50))
        left = store_bytes(mem.store)
        assert not any(c.encode() in left for c in canaries)
        assert len(mem.list("ann")) == 30
        after(mem)
    with Memory.open(settings) as mem:  # and nothing comes back on reopen
        assert len(mem.list()) == 30
        assert not any(c.encode() in store_bytes(mem.store) for c in canaries)


def _remove_canary_document(
    settings: Settings, folder: Path, store_bytes: Callable[[Store], bytes]
) -> None:
    """Ingest a document holding a canary beside another, remove it, check search and bytes."""
    canary = f"canary{secrets.token_hex(8)}"
    doc = folder / "secret.txt"
    doc.write_text(f"The vault combination is {canary}.\n\nKeep it safe.")
    (folder / "other.txt").write_text("Nothing secret here, just notes about tomatoes.")
    with Documents.open(settings) as docs:
        docs.ingest([doc, folder / "other.txt"], progress=False)
        assert canary in docs.search(canary, k=1)[0].citation.quote
        assert canary.encode() in store_bytes(docs.store)
        assert docs.remove(doc)
        assert all(canary not in h.citation.quote for h in docs.search(canary, k=10))
        assert canary.encode() not in store_bytes(docs.store)


def test_forgotten_memories_leave_no_bytes_behind(home: Path) -> None:
    def wal_emptied(mem: Memory) -> None:
        assert (home / "memory.db-wal").stat().st_size == 0  # checkpointed and truncated

    _forget_canaries(make_settings(home), _store_bytes, after=wal_emptied)


def test_removed_documents_leave_no_bytes_behind(home: Path, tmp_path: Path) -> None:
    _remove_canary_document(make_settings(home), tmp_path, _store_bytes)


# -- PostgreSQL -----------------------------------------------------------------------------------


def _pg_bytes(server: PgServer, url: str, store: Store) -> bytes:
    server.checkpoint()
    files = [p for p in server.database_dir(url).rglob("*") if p.is_file()]
    files += [p for p in (store.home / "index").glob("*") if p.is_file()]
    return b"".join(p.read_bytes() for p in files)


@pytest.fixture
def private_pg(pg_server: PgServer) -> PgServer:
    if pg_server.data_dir is None:
        pytest.skip("the server's files are not readable here (LOREBOOK_TEST_DATABASE_URL)")
    return pg_server


def test_forgotten_memories_leave_no_bytes_in_the_postgres_database(
    home: Path, private_pg: PgServer
) -> None:
    url = private_pg.new_database()

    def analyze(mem: Memory) -> None:  # as autovacuum would: no text may reach pg_statistic
        mem.store.conn.execute("ANALYZE")

    _forget_canaries(
        make_settings(home, database_url=url),
        lambda store: _pg_bytes(private_pg, url, store),
        before=analyze,
    )


def test_removed_documents_leave_no_bytes_in_the_postgres_database(
    home: Path, tmp_path: Path, private_pg: PgServer
) -> None:
    url = private_pg.new_database()
    _remove_canary_document(
        make_settings(home, database_url=url),
        tmp_path,
        lambda store: _pg_bytes(private_pg, url, store),
    )


def test_a_code_in_the_query_finds_the_chunk_holding_it(home: Path, tmp_path: Path) -> None:
    # with two chunks BM25 earned no trust, and the embedder ranked a random hex code by chance:
    # about one code in 60 lost to the other chunk (make test failed on it once)
    for i in range(50):
        canary = f"canary{secrets.token_hex(8)}"
        (tmp_path / "secret.txt").write_text(f"The vault combination is {canary}.")
        (tmp_path / "other.txt").write_text("Nothing secret here, just notes about tomatoes.")
        with Documents.open(make_settings(home / str(i))) as docs:
            docs.ingest([tmp_path / "secret.txt", tmp_path / "other.txt"], progress=False)
            assert canary in docs.search(canary, k=1)[0].citation.quote
