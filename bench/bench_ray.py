"""The Ray batch runner against the single-process runner: tasks per second, Ray's cost per task.

Three runners on the same task file, each round in a fresh temporary data directory, the
variants interleaved within a round so a change in the machine's load hits them alike:

(a) ``run_batch`` in this process; (b) ``run_batch_ray`` with 1 worker; (c) with 2 workers.

One private local Ray cluster (``num_cpus`` 2) serves every Ray run. Time to start the workers
(actor processes + opening the agent, i.e. the model load) is reported apart and not counted in
tasks/s, as bench_batch leaves out the model load.

1. Fake model + hash embedder, ``--fake-tasks`` recall tasks over 40 users: what Ray itself
   costs per task, ``(Ray time - local time) / tasks``, with nothing else to hide it.
2. ``examples/tasks.jsonl`` on the real default model with ``n_threads=1`` per agent, so two
   workers on two cores is a fair fight; the single process with its default threads (all
   cores) is shown too.

    .venv/bin/python bench/bench_ray.py [--rounds 3] [--model-rounds 3] [--fake-tasks 2000]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from agent.batch import read_records, run_batch  # noqa: E402
from agent.batch.ray_runner import WorkerPool, connect, run_batch_ray  # noqa: E402
from bench._machine import cpu_name  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    load = os.getloadavg()
    return f"{cpu_name()}, {os.cpu_count()} cores, load {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}"


def load1() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def opener(home: Path, **settings: Any) -> Callable[[], Any]:
    from agent.api import Agent

    return functools.partial(Agent.open, home, **settings)


def local(tasks: Path, home: Path, settings: dict[str, Any]) -> tuple[float, float, int]:
    """(run seconds without the model load, load seconds, failed tasks)."""
    load_s: list[float] = []
    open_agent = opener(home, **settings)

    def timed() -> Any:
        start = time.perf_counter()
        agent = open_agent()
        load_s.append(time.perf_counter() - start)
        return agent

    summary = run_batch(timed, tasks, home / "out.jsonl")
    return summary.seconds - sum(load_s), sum(load_s), summary.errors


def on_ray(
    tasks: Path, home: Path, settings: dict[str, Any], workers: int
) -> tuple[float, float, int]:
    """(run seconds, worker start seconds, failed tasks)."""
    start = time.perf_counter()
    with WorkerPool(opener(home, **settings), workers) as pool:
        started = time.perf_counter() - start
        summary = run_batch_ray(pool.open_agent, tasks, home / "out.jsonl", pool=pool)
    ids = [r["id"] for r in read_records(home / "out.jsonl")]
    assert len(ids) == len(set(ids)) == summary.ran, "a record missing or written twice"
    return summary.seconds, started, summary.errors


def compare(
    tasks: Path, n: int, rounds: int, variants: dict[str, tuple[int, dict[str, Any]]]
) -> tuple[list[str], dict[str, float]]:
    """Run each variant (name -> (workers, 0 = local; settings)) ``rounds`` times."""
    runs: dict[str, list[tuple[float, float, int, str]]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, (workers, settings) in variants.items():
            with tempfile.TemporaryDirectory() as tmp:
                home = Path(tmp) / "home"
                before = load1()
                if workers == 0:
                    run = local(tasks, home, settings)
                else:
                    run = on_ray(tasks, home, settings, workers)
                runs[name].append((*run, before))
    lines = [
        f"  {'runner':<34}{'tasks/s p50':>12}{'run s p50':>11}{'start s p50':>13}{'failed':>8}"
        "  load (1 min) before each round"
    ]
    seconds: dict[str, float] = {}
    for name, rows in runs.items():
        seconds[name] = statistics.median(r[0] for r in rows)
        start = statistics.median(r[1] for r in rows)
        lines.append(
            f"  {name:<34}{n / seconds[name]:>12.2f}{seconds[name]:>11.2f}{start:>13.2f}"
            f"{max(r[2] for r in rows):>8}  {' '.join(r[3] for r in rows)}"
        )
    return lines, seconds


def fake_part(n: int, rounds: int) -> list[str]:
    fake = {"backend": "fake", "embedder": "hash", "route_with_model": False}
    with tempfile.TemporaryDirectory() as tmp:
        tasks = Path(tmp) / "tasks.jsonl"
        tasks.write_text(
            "".join(
                json.dumps({"id": i, "task": "recall", "query": f"item {i}", "user": f"u{i % 40}"})
                + "\n"
                for i in range(n)
            )
        )
        rows, s = compare(
            tasks,
            n,
            rounds,
            {
                "(a) single process": (0, fake),
                "(b) Ray, 1 worker": (1, fake),
                "(c) Ray, 2 workers": (2, fake),
            },
        )
    over1 = (s["(b) Ray, 1 worker"] - s["(a) single process"]) / n * 1000
    over2 = (s["(c) Ray, 2 workers"] - s["(a) single process"]) / n * 1000
    return [
        f"part 1: {n} recall tasks over 40 users, fake model + hash embedder, "
        f"{rounds} round(s) (medians)",
        *rows,
        f"  Ray's cost per task beyond the single process: {over1:+.2f} ms with 1 worker, "
        f"{over2:+.2f} ms with 2 (driver, actor call, result transfer; the store's own work "
        "is in both)",
    ]


def model_part(rounds: int) -> list[str]:
    tasks = ROOT / "examples" / "tasks.jsonl"
    n = sum(1 for line in tasks.read_text().splitlines() if line.strip())
    one = {"n_threads": 1}
    rows, s = compare(
        tasks,
        n,
        rounds,
        {
            "(a) single process, n_threads=1": (0, one),
            "(a') single process, n_threads=auto": (0, {}),
            "(b) Ray, 1 worker, n_threads=1": (1, one),
            "(c) Ray, 2 workers, n_threads=1": (2, one),
        },
    )
    speedup = s["(a) single process, n_threads=1"] / s["(c) Ray, 2 workers, n_threads=1"]
    over = (s["(b) Ray, 1 worker, n_threads=1"] - s["(a) single process, n_threads=1"]) / n
    return [
        f"part 2: {tasks.relative_to(ROOT)} ({n} tasks, every type) on the default model, "
        f"{rounds} round(s) (medians); start = worker processes + model load",
        *rows,
        f"  2 workers vs the single process at 1 thread: {speedup:.2f}x; "
        f"Ray's cost with 1 worker: {over * 1000:+.0f} ms per task",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="rounds of part 1 (fake model)")
    ap.add_argument("--model-rounds", type=int, default=3, help="rounds of part 2 (real model)")
    ap.add_argument("--fake-tasks", type=int, default=2000)
    ap.add_argument("--skip-model", action="store_true")
    args = ap.parse_args()
    lines = [f"bench_ray on {machine()}", "one local Ray cluster, num_cpus 2, for every Ray run"]
    with connect("local", 2):
        lines += fake_part(args.fake_tasks, args.rounds)
        print("\n".join(lines), flush=True)
        if not args.skip_model:
            part = model_part(args.model_rounds)
            print("\n".join(part), flush=True)
            lines += part
    lines.append(f"load at the end: {machine()}")
    text = "\n".join(lines)
    print(lines[-1])
    (ROOT / "bench" / "results" / "ray.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
