"""How long the everyday commands take in a fresh process, as a new user runs them (issue 19).

    .venv/bin/python bench/bench_commands.py [--model NAME|PATH] [--reps 5] [--only ROW ...]

Each command runs ``--reps`` times as its own ``lorebook`` process on one data directory that
has been used once (the default model assembled and registered, the embedder's files read
once), and the median wall time is printed with the median CPU time of the process (user +
system) and the median 1-minute load average seen at the starts of the runs: on a shared
machine the wall time means little without the load, and the CPU time is what a quiet machine
would come close to for a command that does not wait on anything.

Rows (the table of issue 19):

- ``memory``: ``remember``, ``recall``, ``forget`` (by words, as the README does) and ``ingest``
  of one new small file; target 2 s each.
- ``threads``: ``threads --delete T`` on a thread with one turn; target 1 s.
- ``tools``: ``translate``, ``summarize``, ``code`` and ``review`` of one short input. The turn
  log records the tool's own time (the model's work and the tool's checks); wall time less that
  is the start-up a user waits for on top; target 5 s.
- ``ask``: ``lorebook ask`` with one other CPU-bound process running, with the default thread
  count (auto) and with ``--threads`` 1 and 2; the log's per-node times show where it went.
  The issue's target: a default that does not collapse when the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from _machine import cpu_name  # noqa: E402

ROWS = ("memory", "threads", "tools", "ask")
LOREBOOK = Path(sys.executable).with_name("lorebook")
NOTE = (
    "# Boiler\n\nThe boiler was serviced in March by Kessler Heating.\n\n"
    "- The next service is due in March next year.\n- The filter was replaced.\n"
)
LEASE = (
    "This lease is made between Anna Weber (the Landlord) and Tom Field (the Tenant).\n"
    "The Tenant shall pay a monthly rent of 950 euros on the first day of each month.\n"
    "This lease is governed by the laws of France.\n"
)
LARGEST = (
    'def largest(xs):\n    """The largest number in a list.\n'
    '    >>> largest([3, 1, 2])\n    3\n    """\n'
)


def load() -> float:
    return os.getloadavg()[0]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Run:
    """One ``lorebook`` process: wall and CPU seconds, the load at its start, its stdout."""

    wall: float
    cpu: float
    load: float
    out: str


class Runner:
    """Runs ``lorebook`` commands on one data directory and keeps the timings."""

    def __init__(self, home: Path, model: str | None, work: Path):
        self.home, self.model, self.work = home, model, work
        self.env = {**os.environ, "LOREBOOK_HOME": str(home)}
        self.env.pop("LOREBOOK_THREADS", None)
        if model:
            self.env["LOREBOOK_MODEL"] = model

    def run(self, *args: str, stdin: str | None = None) -> Run:
        """Run one ``lorebook`` process to its end."""
        before, cpu = load(), children_cpu()
        start = time.perf_counter()
        done = subprocess.run(
            [str(LOREBOOK), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.work,
        )
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(
                f"`lorebook {' '.join(args)}` failed ({done.returncode}):\n{done.stderr}"
            )
        return Run(wall, children_cpu() - cpu, before, done.stdout)

    def last_turn(self) -> dict[str, object]:
        """The newest line of the turn log (route, per-node milliseconds)."""
        out = self.run("logs", "-n", "1", "--json").out
        return dict(json.loads(out.splitlines()[0]))

    def repeat(
        self,
        reps: int,
        make_args: Callable[[int], list[str]],
        before: Callable[[int], None] | None = None,
    ) -> list[Run]:
        runs = []
        for i in range(reps):
            if before is not None:
                before(i)
            runs.append(self.run(*make_args(i)))
        return runs


def med(values: list[float]) -> float:
    return statistics.median(values)


def line(name: str, runs: list[Run], target: float, extra: str = "") -> None:
    wall = med([r.wall for r in runs])
    ok = "meets" if wall <= target else "over"
    cpu, at = med([r.cpu for r in runs]), med([r.load for r in runs])
    print(
        f"  {name:<34} {wall:6.2f} s, cpu {cpu:5.2f} s  (target {target:g} s: {ok}; "
        f"load {at:.1f}){extra}"
    )


def bench_memory(r: Runner, reps: int) -> None:
    print("memory commands (fresh process each):")
    line(
        "remember",
        r.repeat(reps, lambda i: ["remember", f"My colleague Ines{i} works at the harbour"]),
        2,
    )
    line("recall (hits)", r.repeat(reps, lambda i: ["recall", "colleague harbour"]), 2)
    line("recall (no hits)", r.repeat(reps, lambda i: ["recall", "submarine"]), 2)
    line("forget (by words)", r.repeat(reps, lambda i: ["forget", f"colleague Ines{i}"]), 2)

    def note(i: int) -> None:
        (r.work / f"note{i}.md").write_text(NOTE.replace("March", f"March {2000 + i}"))

    line(
        "ingest (one new small file)", r.repeat(reps, lambda i: ["ingest", f"note{i}.md"], note), 2
    )


def bench_threads(r: Runner, reps: int) -> None:
    from agent import Agent

    with Agent.open(r.home, model=r.model, temperature=0) as bot:
        for i in range(reps):
            bot.chat("hello there", thread=f"bench{i}")
    print("threads:")
    line("threads (list)", r.repeat(reps, lambda i: ["threads"]), 1)
    line("threads --delete T", r.repeat(reps, lambda i: ["threads", "--delete", f"bench{i}"]), 1)


def bench_tools(r: Runner, reps: int) -> None:
    (r.work / "note.md").write_text(NOTE)
    (r.work / "lease.txt").write_text(LEASE)
    tools = {
        "translate": ["translate", "Hello %s, your invoice is ready.", "--to", "fr"],
        "summarize": ["summarize", "note.md"],
        "code": ["code", LARGEST],
        "review": ["review", "lease.txt"],
    }
    print("tools, one short input (tool = the tool's own time from the turn log):")
    for name, args in tools.items():
        runs, own = [], []
        for _ in range(reps):
            runs.append(r.run(*args))
            timings = r.last_turn()["timings"]
            assert isinstance(timings, dict)
            own.append(sum(timings.values()) / 1000)
        over = med([x.wall - o for x, o in zip(runs, own, strict=True)])
        ok = "meets" if over <= 5 else "over"
        wall, cpu, at = (med([getattr(x, k) for x in runs]) for k in ("wall", "cpu", "load"))
        print(
            f"  {name:<10} {wall:6.2f} s, cpu {cpu:5.2f} s; tool {med(own):5.2f} s, "
            f"start-up and rest {over:5.2f} s "
            f"(target 5 s: {ok}; load {at:.1f})"
        )


@contextmanager
def busy_process() -> Iterator[None]:
    """One other CPU-bound process on the machine for the duration."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(2)
    try:
        yield
    finally:
        hog.kill()
        hog.wait()


def bench_ask(r: Runner, reps: int) -> None:
    from agent.llm.llama_cpp import auto_threads

    question = ["ask", "What is the capital of Italy?", "--temperature", "0"]
    with busy_process():
        print(
            f"lorebook ask with one busy process (auto picks {auto_threads()} thread(s) "
            f"now; {os.cpu_count()} cores):"
        )
        for label, extra in (("default (auto)", []), ("--threads 1", ["--threads", "1"]),
                             ("--threads 2", ["--threads", "2"])):  # fmt: skip
            runs: list[Run] = []
            nodes: list[dict[str, float]] = []
            for _ in range(reps):
                runs.append(r.run(*question, *extra))
                timings = r.last_turn()["timings"]
                assert isinstance(timings, dict)
                nodes.append(timings)
            per = ", ".join(
                f"{k} {med([n.get(k, 0.0) for n in nodes]) / 1000:.2f} s" for k in nodes[0]
            )
            wall, cpu, at = (med([getattr(x, k) for x in runs]) for k in ("wall", "cpu", "load"))
            print(f"  {label:<16} wall {wall:6.2f} s, cpu {cpu:5.2f} s (load {at:.1f}); {per}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="registry name or .gguf path (default model)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", nargs="*", choices=ROWS, default=list(ROWS))
    args = ap.parse_args()
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; load {load():.1f} at the start")
    print(f"model: {args.model or 'the default'}; medians of {args.reps} fresh processes; "
          f"{time.strftime('%d %b %Y %H:%M')}\n")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        runner = Runner(Path(tmp) / "home", args.model, Path(tmp))
        # First use: the default model is assembled and registered, the stores created.
        runner.run("remember", "My sister is called Ana")
        runner.run("ask", "What is my sister called?")
        for row in args.only:
            {"memory": bench_memory, "threads": bench_threads, "tools": bench_tools,
             "ask": bench_ask}[row](runner, args.reps)  # fmt: skip
    print(f"\nload at the end {load():.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
