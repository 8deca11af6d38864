"""Crash safety (kill -9 at random moments) and two processes sharing one store, on both backends.

On PostgreSQL the two processes have separate data directories (separate FAISS caches, as two
hosts would) and share the database.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from memory import Memory
from tests.memory.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
KILLS = {"sqlite": 25, "postgres": 12}


def _child(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.memory._child", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_every_reported_commit_survives_kill_9(home: Path, db_url: str | None) -> None:
    settings = make_settings(home, database_url=db_url)
    kills = KILLS["postgres" if db_url else "sqlite"]
    rng = random.Random(1234)
    committed: dict[int, str] = {}
    forgotten: set[int] = set()
    maybe: set[int] = set()  # forget started; the kill may have come before or after its commit
    for run in range(kills):
        proc = _child("crash", str(home), str(run), *([db_url] if db_url else []))
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY", proc.stderr.read()  # type: ignore[union-attr]
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(proc.pid, signal.SIGKILL)
        out, _err = proc.communicate(timeout=30)
        for line in out.splitlines():
            if line.startswith("C "):
                _, memory_id, text = line.split(" ", 2)
                committed[int(memory_id)] = text
            elif line.startswith("F "):
                forgotten.add(int(line.split()[1]))
            elif line.startswith("f "):
                maybe.add(int(line.split()[1]))
        with Memory.open(settings) as mem:
            rows = {r.id: r.text for r in mem.list("crash")}
            for memory_id, text in committed.items():
                if memory_id in forgotten:
                    assert memory_id not in rows
                elif memory_id in maybe:
                    assert rows.get(memory_id, text) == text
                else:
                    assert rows.get(memory_id) == text, f"run {run}: lost commit {memory_id}"
            space = mem.store.spaces["memories"]
            space.ensure_current()
            assert sorted(space.index.ids().tolist()) == sorted(rows)
            if run > 0:  # saves are atomic: the file on disk always verifies
                assert space.rebuilds == 0, space.last_load_error
            probe = rng.choice([m for m in committed if m not in forgotten | maybe])
            assert mem.search(committed[probe], user="crash", k=1)[0].record.id == probe
        assert not list((home / "index").glob("*.tmp"))
    assert len(committed) > kills  # the kills landed while writing, not before
    assert forgotten


def test_two_processes_write_and_search_side_by_side(home: Path, db_url: str | None) -> None:
    Memory.open(make_settings(home, database_url=db_url)).close()  # create the store first
    home.mkdir(parents=True, exist_ok=True)  # the processes meet through files in it
    n = 30
    url = [db_url] if db_url else []
    a = _child("concurrent", str(home), "A", "B", str(n), *url)
    b = _child("concurrent", str(home), "B", "A", str(n), *url)
    try:
        out_a, err_a = a.communicate(timeout=240)
        if a.returncode != 0:
            b.kill()  # it would wait for A forever
        out_b, err_b = b.communicate(timeout=240)
    finally:
        for proc in (a, b):
            if proc.poll() is None:
                proc.kill()
    assert a.returncode == 0, err_a
    assert b.returncode == 0, err_b
    assert "locked" not in err_a + err_b
    for out in (out_a, out_b):
        found, seen = (int(x) for x in out.split()[1::2])
        assert found == n and seen >= n - 1  # lockstep: every round after the first
    with Memory.open(make_settings(home, database_url=db_url)) as mem:
        rows = mem.list("shared")
        assert len(rows) == 2 * n
        space = mem.store.spaces["memories"]
        space.ensure_current()
        assert np.array_equal(np.sort(space.index.ids()), np.array(sorted(r.id for r in rows)))
