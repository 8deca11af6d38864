"""Batch runner throughput and its overhead beyond the model's own time.

Two parts, each in a fresh temporary data directory:

1. ``examples/tasks.jsonl`` (every task type) on the real default model: tasks per second,
   and per task type the median wall time, the model's time (prompt + decode, from the model's
   own counters) and the rest (embedding, retrieval, sandbox runs, checkpoints — the "overhead
   beyond the model"). The runner's own cost (parsing, validation, JSON, fsync per record) is
   the run's wall time minus the tasks' wall times.
2. The runner alone: ``--fake-tasks`` recall/remember tasks on the fake model and the hash
   embedder, so the per-task cost of the runner and the memory store shows without a model.

    .venv/bin/python bench/bench_batch.py [--rounds 3] [--fake-tasks 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from agent.batch import read_records, run_batch  # noqa: E402
from bench._machine import cpu_name  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    load = os.getloadavg()
    return f"{cpu_name()}, {os.cpu_count()} cores, load {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}"


def run(tasks: Path, home: Path, **settings: object) -> tuple[float, float, list[dict]]:
    from agent.api import Agent

    load_s: list[float] = []

    def opener() -> Agent:
        start = time.perf_counter()
        agent = Agent.open(home, **settings)
        load_s.append(time.perf_counter() - start)
        return agent

    out = home / "results.jsonl"
    summary = run_batch(opener, tasks, out)
    return summary.seconds - sum(load_s), sum(load_s), list(read_records(out))


def real_model(rounds: int) -> list[str]:
    tasks = ROOT / "examples" / "tasks.jsonl"
    lines = [f"part 1: {tasks.relative_to(ROOT)} on the default model, {rounds} round(s)"]
    per_round = []
    by_type: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    runner_ms: list[float] = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            wall, load, recs = run(tasks, Path(tmp))
        per_round.append((len(recs), wall, load, sum(r["status"] == "error" for r in recs)))
        task_ms = sum(r.get("timings", {}).get("total_ms", 0.0) for r in recs)
        runner_ms.append((wall * 1000 - task_ms) / len(recs))
        for r in recs:
            t = r.get("timings") or {}
            by_type[r["task"]].append(
                (t.get("total_ms", 0), t.get("model_ms", 0), t.get("overhead_ms", 0))
            )
    for n, wall, load, errors in per_round:
        lines.append(
            f"  {n} tasks in {wall:.1f} s (model load {load:.1f} s not counted): "
            f"{n / wall:.3f} tasks/s, {errors} failed"
        )
    lines.append(
        f"  runner's own cost per task (median of rounds): {statistics.median(runner_ms):.2f} ms"
    )
    lines.append(
        f"  {'task':<10}{'n':>4}{'wall p50 ms':>14}{'model p50 ms':>14}{'beyond model p50 ms':>22}"
    )
    for task, rows in by_type.items():
        wall_p50, model_p50, rest_p50 = (statistics.median(r[i] for r in rows) for i in range(3))
        lines.append(
            f"  {task:<10}{len(rows):>4}{wall_p50:>14.1f}{model_p50:>14.1f}{rest_p50:>22.1f}"
        )
    return lines


def fake_model(n: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        tasks = Path(tmp) / "tasks.jsonl"
        with tasks.open("w") as f:
            for i in range(n):
                task = (
                    {"id": i, "task": "remember", "text": f"Item {i} was filed under code {i * 7}"}
                    if i % 10 == 0
                    else {"id": i, "task": "recall", "query": f"item {i}"}
                )
                f.write(json.dumps(task) + "\n")
        wall, _, recs = run(
            tasks, Path(tmp) / "home", backend="fake", embedder="hash", route_with_model=False
        )
    task_ms = [r["timings"]["total_ms"] for r in recs]
    runner = (wall * 1000 - sum(task_ms)) / len(recs)
    return [
        f"part 2: {n} recall/remember tasks, fake model + hash embedder "
        "(the runner and store alone)",
        f"  {n / wall:.0f} tasks/s; task p50 {statistics.median(task_ms):.2f} ms; "
        f"runner's own cost {runner:.2f} ms per task (JSON, validation, write + fsync)",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--fake-tasks", type=int, default=2000)
    ap.add_argument("--skip-model", action="store_true")
    args = ap.parse_args()
    lines = [f"bench_batch on {machine()}"]
    if not args.skip_model:
        lines += real_model(args.rounds)
    lines += fake_model(args.fake_tasks)
    lines.append(f"load at the end: {machine()}")
    text = "\n".join(lines)
    print(text)
    out = ROOT / "bench" / "results" / "batch.txt"
    out.write_text(text + "\n")


if __name__ == "__main__":
    main()
