"""A damaged memory.db: refused with what to do (never a traceback, never a silent new store),
and repaired by `lorebook doctor --repair` from the automatic backups."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import memory.repair as repair_mod
from agent.cli import main
from agent.doctor import repair_store
from agent.errors import StoreDamagedError
from memory import Memory, Store, _backup
from memory.repair import diagnose, repair
from tests.memory.conftest import make_settings

FACTS = [f"Note {i}: the {w} key is in the {p}" for i, (w, p) in enumerate(
    [("red", "drawer"), ("blue", "car"), ("green", "shed"), ("gold", "safe"), ("iron", "attic")]
)]  # fmt: skip


@pytest.fixture
def cli_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOREBOOK_EMBEDDER", "hash")
    return home


def _fill(home: Path, facts: list[str] = FACTS) -> list[int]:
    with Memory.open(make_settings(home)) as mem:
        ids = [mem.add(f, user="me", kind="turn").record.id for f in facts]  # type: ignore[union-attr]
        mem.search(facts[0], user="me")  # loads, and at close saves, the index
        return ids


def _damage(db: Path, how: str) -> None:
    data = db.read_bytes()
    if how == "truncated":
        db.write_bytes(data[: len(data) // 3])
    elif how == "header-zeroed":
        db.write_bytes(b"\0" * 100 + data[100:])
    elif how == "random-bytes":
        db.write_bytes(os.urandom(len(data)))
    elif how == "emptied":
        db.write_bytes(b"")
    elif how == "deleted":
        db.unlink()


def _texts(home: Path) -> set[str]:
    with Memory.open(make_settings(home)) as mem:
        return {r.text for r in mem.list("me")}


KINDS = ["truncated", "header-zeroed", "random-bytes", "emptied", "deleted"]


@pytest.mark.parametrize("how", KINDS)
def test_a_damaged_database_gets_one_clear_line_and_repair_restores_it(
    cli_home: Path, how: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(cli_home)
    db = cli_home / "memory.db"
    assert _backup.list_backups(db)  # taken at the first write and at close
    _damage(db, how)
    damaged = db.read_bytes() if db.exists() else None

    assert main(["recall", "where is the red key"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: database {db} is damaged: ")
    assert "lorebook doctor --repair" in err and "Traceback" not in err
    assert err.count("\n") == 1

    assert main(["doctor", "--repair"]) == 0
    out = capsys.readouterr().out
    assert "restored the automatic backup" in out and "5 memories" in out
    assert "rebuilt the memories index: 5 vectors" in out
    kept = sorted(cli_home.glob("memory.db.damaged-*"))
    if damaged is not None:  # the damaged file is kept, byte for byte
        assert [p.read_bytes() for p in kept if not p.name.endswith(("-wal", "-shm"))] == [damaged]
    assert _texts(cli_home) == set(FACTS)
    assert main(["recall", "where is the red key", "-k", "1"]) == 0
    assert "red key is in the drawer" in capsys.readouterr().out


def test_an_empty_file_is_refused_when_only_the_index_shows_there_was_data(
    cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(cli_home)
    shutil.rmtree(cli_home / "backups")
    (cli_home / "memory.db").write_bytes(b"")
    assert main(["recall", "key"]) == 2
    err = capsys.readouterr().err
    assert "the file is empty (0 bytes), but its index files (memories.faiss)" in err
    assert (cli_home / "memory.db").stat().st_size == 0  # not turned into a new store


def test_an_empty_file_in_a_fresh_directory_is_a_new_store(cli_home: Path) -> None:
    cli_home.mkdir(parents=True)
    (cli_home / "memory.db").write_bytes(b"")
    assert main(["remember", "My dog is called Rex"]) == 0
    assert _texts(cli_home) == {"My dog is called Rex"}


def test_a_table_of_the_wrong_shape_is_named(home: Path) -> None:
    home.mkdir(parents=True)
    with sqlite3.connect(home / "memory.db") as conn:
        conn.execute("CREATE TABLE memories (id INTEGER PRIMARY KEY, text TEXT)")
    with pytest.raises(StoreDamagedError, match="'memories' lacks the columns created, kind"):
        Store(make_settings(home))


def test_backups_rotate_and_come_at_most_once_per_interval(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = home / "memory.db"
    with Memory.open(make_settings(home)) as mem:
        for i in range(20):
            mem.add(f"note number {i} about rivers", user="me", kind="turn")
        mem.store.db.backups.wait()
        assert len(_backup.list_backups(db)) == 1  # the first write's; the next is a minute off
    assert len(_backup.list_backups(db)) == 2  # ... and one at close
    monkeypatch.setattr(_backup, "INTERVAL_S", 0.0)
    for round_ in range(3):
        with Memory.open(make_settings(home)) as mem:
            mem.add(f"round {round_}", user="me", kind="turn")
            mem.store.db.backups.wait()
    backups = _backup.list_backups(db)
    assert len(backups) == _backup.KEEP
    assert all(diagnose(b) is None for b in backups)
    with sqlite3.connect(backups[0]) as conn:  # the newest holds everything, as a lone file
        assert conn.execute("SELECT count(*) FROM memories").fetchone()[0] == 23
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_a_database_damaged_while_open_never_rotates_the_good_backups_out(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(home)
    good = _backup.list_backups(home / "memory.db")
    monkeypatch.setattr(_backup, "INTERVAL_S", 0.0)
    taken = _backup.take_backup(home / "memory.db", lambda conn: "pretend it is damaged")
    assert taken is None and _backup.list_backups(home / "memory.db") == good


_CHILD_CLOCK = """
import os, sys, time
from pathlib import Path
from agent.settings import load_settings
from memory import Memory, _backup
s = load_settings({"home": sys.argv[1], "embedder": "hash"}, env={})
mem = Memory.open(s)
real = time.time
def add(text, minutes):   # written ``minutes`` after the start, on a clock moved forward
    _backup.time.time = lambda: real() + 60 * minutes
    mem.add(text, user="me", kind="turn")
    mem.store.db.backups.wait()
add("minute 0: the owl nests in the barn", 0)      # the open's write took a backup: none
add("minute 0.5: the bat roosts in the loft", 0.5)  # within its minute: none
add("minute 1.2: the fox sleeps by the wall", 1.2)  # a minute on: a backup
add("minute 1.9: the hare runs in the field", 1.9)  # within the minute after it: none
print(len(list((Path(sys.argv[1]) / "backups").glob("memory-*.db"))), flush=True)
mem.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the damage below hits every row
os._exit(0)                                         # killed: no close, no last backup
"""


def test_a_crash_then_damage_loses_only_the_last_minute_of_writes(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The process writes over two minutes (the backups' clock moved on), is killed, and
    ``memory.db`` is then damaged (no WAL to read it through): restoring the automatic backup
    brings back every write but those of the minute after the newest backup."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_CHILD_CLOCK), str(home)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == "2"
    _damage(home / "memory.db", "random-bytes")
    assert repair_store(make_settings(home)) == 0
    assert "restored the automatic backup" in capsys.readouterr().out
    texts = {t.split(":")[0] for t in _texts(home)}
    # the backup began at minute 1.2's first commit (its row may have landed just after);
    # everything older is back, and what is lost was written within the minute after it
    assert {"minute 0", "minute 0.5"} <= texts <= {"minute 0", "minute 0.5", "minute 1.2"}


@pytest.mark.parametrize("how", ["last-page", "header-zeroed"])
def test_without_backups_the_rows_are_rebuilt_from_the_damaged_file(home: Path, how: str) -> None:
    ids = _fill(home)
    shutil.rmtree(home / "backups")
    db = home / "memory.db"
    data = bytearray(db.read_bytes())
    if how == "last-page":
        data[-4096:] = os.urandom(4096)
    else:
        data[:100] = bytes(100)
    db.write_bytes(bytes(data))
    assert diagnose(db) is not None
    report = repair(db)
    assert report.method in ("recover", "salvage")
    assert report.rows["memories"] >= len(ids) - (2 if how == "last-page" else 0)
    assert diagnose(db) is None
    assert _texts(home) <= set(FACTS)


def _page_holding(data: bytes, text: bytes, page: int = 4096) -> int:
    at = data.index(text)
    return at - at % page


def test_without_backups_or_sqlite3_rows_are_copied_one_by_one(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    facts = [f"fact {i:03d}: plant {i} needs water every {i % 7 + 1} days" for i in range(300)]
    _fill(home, facts)
    shutil.rmtree(home / "backups")
    db = home / "memory.db"
    data = bytearray(db.read_bytes())
    start = _page_holding(data, b"fact 150:")
    data[start : start + 4096] = b"\xff" * 4096  # the memories' leaf page holding fact 150
    db.write_bytes(bytes(data))
    monkeypatch.setattr(repair_mod.shutil, "which", lambda name: None)
    report = repair(db)
    assert report.method == "salvage"
    assert "the sqlite3 command is not installed" in " ".join(report.notes)
    assert 250 <= report.rows["memories"] < 300
    texts = _texts(home)
    assert texts <= set(facts) and len(texts) == report.rows["memories"]
    assert "fact 150: plant 150 needs water every 4 days" not in texts
    assert {facts[0], facts[-1]} <= texts  # rows on both sides of the bad page
    assert report.damaged_copy is not None and report.damaged_copy.read_bytes() == bytes(data)


def test_nothing_recoverable_is_said_and_the_file_is_kept(
    cli_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(cli_home)
    shutil.rmtree(cli_home / "backups")
    _damage(cli_home / "memory.db", "random-bytes")
    monkeypatch.setattr(repair_mod.shutil, "which", lambda name: None)
    assert main(["doctor", "--repair"]) == 1
    out = capsys.readouterr().out
    assert "nothing could be recovered (no automatic backup" in out
    assert "the damaged file is kept at" in out and "Traceback" not in out
    assert len(list(cli_home.glob("memory.db.damaged-*"))) == 1


def test_repair_of_a_healthy_store_only_rebuilds_the_indexes(
    cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(cli_home)
    before = (cli_home / "memory.db").read_bytes()
    assert main(["doctor", "--repair"]) == 0
    out = capsys.readouterr().out
    assert "no damage found" in out and "rebuilt the memories index: 5 vectors" in out
    assert not list(cli_home.glob("memory.db.damaged-*"))
    assert _texts(cli_home) == set(FACTS)
    assert len(before) > 0


def test_postgres_users_are_pointed_at_their_own_backups(home: Path) -> None:
    lines: list[str] = []
    url = "postgresql://ann:s3cret@db.example:5432/lore"
    assert repair_store(make_settings(home, database_url=url), lines.append) == 1
    assert "Restore it from your own backups" in lines[0] and "s3cret" not in lines[0]


def test_plain_doctor_reports_the_database_and_its_backups(home: Path) -> None:
    from agent.doctor import _database

    _fill(home)
    (ok,) = _database(make_settings(home))
    assert ok.status == "ok" and "passes its check; 2 automatic backup(s)" in ok.detail
    _damage(home / "memory.db", "truncated")
    (bad,) = _database(make_settings(home))
    assert bad.status == "fail" and "run `lorebook doctor --repair`" in bad.detail


@pytest.mark.parametrize("how", ["truncated", "emptied"])
def test_a_database_damaged_while_open_is_reported_not_raised_raw(home: Path, how: str) -> None:
    """Another program cuts ``memory.db`` short while a session has it open: every later call
    says which file and what to do, closing does not fail again or write into the damaged file,
    and ``doctor --repair`` brings the memories back."""
    _fill(home)
    db = home / "memory.db"
    mem = Memory.open(make_settings(home))
    assert mem.search("red key", user="me")  # open and in use
    _damage(db, how)
    damaged = db.read_bytes()
    calls = {
        "search": lambda: mem.search("where is the blue key", user="me"),
        "list": lambda: mem.list("me"),
        "add": lambda: mem.add("Note 9: the tin key is in the boot", user="me", kind="turn"),
    }
    for name, call in calls.items():
        with pytest.raises(StoreDamagedError) as caught:
            call()
        message = str(caught.value)
        assert message.startswith(f"database {db} is damaged: SQLite cannot read it ("), name
        assert "damaged while lorebook had it open" in message, name
        assert "lorebook doctor --repair" in message, name
        err = caught.value  # no sqlite3 traceback chained under it
        assert err.__cause__ is None and (err.__suppress_context__ or not err.__context__), name
    mem.close()  # the damage was reported: closing neither raises nor checkpoints into it
    assert db.read_bytes() == damaged

    assert repair_store(make_settings(home)) == 0
    assert _texts(home) == set(FACTS)


def test_a_file_moved_over_the_open_database_stops_the_session(home: Path) -> None:
    """A restore by hand (``mv backup.db memory.db``) under a running session: its writes would
    go on into the old, unlinked file, lost at close; they are refused instead."""
    _fill(home)
    db = home / "memory.db"
    mem = Memory.open(make_settings(home))
    mem.add("Note 8: the brass key is in the porch", user="me", kind="turn")  # in the WAL
    newest = _backup.list_backups(db)[0]
    shutil.copy(newest, home / "restored.db")
    os.replace(home / "restored.db", db)
    with pytest.raises(StoreDamagedError, match="another file was moved into its place") as e:
        mem.add("Note 9: the tin key is in the boot", user="me", kind="turn")
    assert "start lorebook again to use the new file" in str(e.value)
    mem.close()
    # the new file is used from the next open on, and the old file's WAL was not replayed
    # onto it (its frames went into the old file at close)
    assert diagnose(db) is None
    assert _texts(home) == set(FACTS)
