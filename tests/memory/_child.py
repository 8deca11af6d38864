"""Child processes for the crash and concurrency tests (run as ``python -m tests.memory._child``).

``crash HOME RUN [URL]``: add memories forever, printing ``C <id> <text>`` after each commit,
``f <id>`` before and ``F <id>`` after each forget, saving the index every few writes, until killed.

``concurrent DIR NAME OTHER N [URL]``: add N memories in lockstep rounds with the other process;
before each add, look up the other process's last committed memory (published through a file
written after its commit) and require it to be found; finally wait for the other to finish and
count how many of its memories are found. Without URL both share the data directory DIR
(SQLite); with a PostgreSQL URL each has its own data directory ``DIR/NAME`` (its own FAISS
cache, like two hosts) and they share the database.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

from tests.memory.conftest import make_settings


def crash(home: Path, run: int, url: str | None) -> None:
    from memory import Memory

    mem = Memory.open(make_settings(home, duplicate_threshold=1.01, database_url=url))
    rng = random.Random(run)
    mine: list[int] = []
    print("READY", flush=True)
    i = 0
    while True:
        text = f"crash run {run} item {i} {rng.choice(['owl', 'fox', 'elk', 'yak'])}"
        rec = mem.add(text, user="crash").record
        assert rec is not None
        print(f"C {rec.id} {text}", flush=True)
        mine.append(rec.id)
        if i % 5 == 4:
            victim = mine.pop(rng.randrange(len(mine)))
            print(f"f {victim}", flush=True)  # intent: a kill may land after the delete commits
            mem.forget(victim)
            print(f"F {victim}", flush=True)
        if i % 3 == 2:
            mem.store.save()
        i += 1


def _round(published: Path) -> int:
    """The round number of the other process's last published memory (-1: none yet)."""
    try:
        return int(published.read_text().split()[4])
    except (OSError, IndexError, ValueError):
        return -1


def concurrent(home: Path, name: str, other: str, n: int, url: str | None) -> None:
    from memory import Memory

    data = home / name if url else home
    mem = Memory.open(make_settings(data, duplicate_threshold=1.01, database_url=url))
    # Start together: imports take ~1 s and vary by hundreds of ms under load, which is longer
    # than 30 adds on the hash embedder, so one process could finish before the other began.
    (home / f"ready_{name}").touch()
    deadline = time.monotonic() + 120
    while not (home / f"ready_{other}").exists():
        assert time.monotonic() < deadline, "the other process never started"
        time.sleep(0.01)
    seen_other = 0
    for i in range(n):
        published = home / f"last_{other}"
        # Lockstep rounds: wait for the other's write of round i-1, so both processes write
        # round i at the same time. Without this, one process's first add (index open, a lock
        # wait) could outlast all 30 of the other's adds (3 ms each) and nothing interleaved.
        while i > 0 and _round(published) < i - 1:
            assert time.monotonic() < deadline + 120, f"{name}: {other} stopped writing"
            time.sleep(0.002)
        if published.exists():
            text = published.read_text()
            top = mem.search(text, user="shared", k=1)
            assert top and top[0].record.text == text, f"{name} did not see {text!r}"
            seen_other += 1
        text = f"{name} wrote memory number {i} {'x' * (i % 5)}".strip()
        mem.add(text, user="shared")
        tmp = home / f".last_{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, home / f"last_{name}")
    (home / f"done_{name}").touch()
    deadline = time.monotonic() + 120
    while not (home / f"done_{other}").exists():
        assert time.monotonic() < deadline, "the other process never finished"
        time.sleep(0.05)
    found = sum(
        mem.search(f"{other} wrote memory number {i} {'x' * (i % 5)}".strip(), user="shared", k=1)[
            0
        ].record.text
        == f"{other} wrote memory number {i} {'x' * (i % 5)}".strip()
        for i in range(n)
    )
    print(f"FOUND {found} SEEN {seen_other}", flush=True)
    mem.close()


if __name__ == "__main__":
    if sys.argv[1] == "crash":
        crash(Path(sys.argv[2]), int(sys.argv[3]), (sys.argv[4:] or [None])[0])
    else:
        args = sys.argv[2:]
        concurrent(Path(args[0]), args[1], args[2], int(args[3]), (args[4:] or [None])[0])
