"""The same memory workload on SQLite and on PostgreSQL: add, search, catch-up, forget latency.

Uses the hash embedder (no model time: the figures are the store's own cost) and a private
throw-away PostgreSQL cluster from tests/pgserver.py (``--url`` uses another server). Medians
and p95 in milliseconds, with the machine's description.

    .venv/bin/python bench/bench_store_backends.py [--memories 2000] [--queries 200]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._machine import cpu_name  # noqa: E402
from memory import Memory  # noqa: E402
from tests.memory.conftest import make_settings  # noqa: E402


def _ms(times: list[float]) -> str:
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    return f"{statistics.median(times) * 1000:7.2f} {p95 * 1000:7.2f}"


def run(name: str, url: str | None, memories: int, queries: int) -> None:
    home = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    s = make_settings(home, duplicate_threshold=1.01, database_url=url)
    words = ["owl", "fox", "elk", "yak", "river", "stone", "piano", "lemon", "comet", "maple"]
    add, search, catchup, forget = [], [], [], []
    with Memory.open(s) as mem, Memory.open(make_settings(home / "other", database_url=url)) as b:
        for i in range(memories):
            text = f"fact {i} about {words[i % 10]} and {words[(i * 7) % 10]} number {i % 97}"
            t = time.perf_counter()
            mem.add(text, user="u")
            add.append(time.perf_counter() - t)
        for i in range(queries):
            t = time.perf_counter()
            mem.search(f"{words[i % 10]} number {i % 97}", user="u", k=5)
            search.append(time.perf_counter() - t)
        if url:  # another host: one fresh write to catch up before each search
            b.search("warm up", user="u")
            for i in range(min(queries, 50)):
                mem.add(f"late fact {i} about {words[i % 10]}", user="u")
                t = time.perf_counter()
                b.search(f"late fact {i}", user="u", k=5)
                catchup.append(time.perf_counter() - t)
        ids = [r.id for r in mem.list("u", limit=20)]
        for memory_id in ids:
            t = time.perf_counter()
            mem.forget(memory_id)
            forget.append(time.perf_counter() - t)
    print(f"{name:10} add {_ms(add)} | search {_ms(search)} | ", end="")
    print(
        f"other host's search after a write {_ms(catchup) if catchup else '      -       -'} | ",
        end="",
    )
    print(f"forget {_ms(forget)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--memories", type=int, default=2000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--url", help="a PostgreSQL server's admin URL (default: a private cluster)")
    args = ap.parse_args()
    from tests.pgserver import PgServer

    if args.url:
        os.environ["LOREBOOK_TEST_DATABASE_URL"] = args.url
    server = PgServer.start()
    try:
        print(f"machine: {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}")
        print(f"load average at start: {os.getloadavg()[0]:.2f}")
        print(f"{args.memories} memories, {args.queries} searches, hash embedder; ms median p95")
        run("sqlite", None, args.memories, args.queries)
        run("postgres", server.new_database(), args.memories, args.queries)
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
