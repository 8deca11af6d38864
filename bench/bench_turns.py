"""How fast a turn is, as a user feels it: routing, a warm short answer, opening, `lorebook ask`.

    .venv/bin/python bench/bench_turns.py [--model NAME|PATH] [--reps 5]

1. **Routing** alone (rules, then the 5 nearest labelled examples with the real MiniLM
   embedder), p50/p95 over every user message of the conversation suite, each embedded fresh.
2. **Warm turns** on an open agent with the real model: a short general answer written by the
   model ("What is the capital of Italy?" and four like it), and an answer from memory ("What is
   my dog called?"): median wall time from the call to the complete reply.
3. **Agent.open** in a fresh Python process (imports excluded, then included), and the first
   turn after it (which waits for the embedder loading in the background).
4. **`lorebook ask`** end to end in a fresh process, on a data directory that has been used once.

Medians of ``--reps`` runs on this shared machine; the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from _machine import cpu_name  # noqa: E402

QUESTIONS = [
    "What is the capital of Italy?",
    "What is the capital of Spain?",
    "How many legs does a spider have?",
    "What colour is the sky on a clear day?",
    "Which planet is the largest?",
]
_OPEN = """
import sys, time
t0 = time.perf_counter()
from agent import Agent
t1 = time.perf_counter()
bot = Agent.open(sys.argv[1], model=sys.argv[2] or None)
t2 = time.perf_counter()
turn = bot.chat("What is my dog called?", thread=None)
t3 = time.perf_counter()
print(f"{t1 - t0} {t2 - t1} {t3 - t2}")
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def suite_messages() -> list[str]:
    out = []
    for path in sorted((BENCH / "conversations").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            out += [t["user"] for t in json.loads(line)["turns"] if "user" in t]
    return out


def routing(messages: list[str]) -> list[float]:
    from agent.pipeline.routing import Router
    from memory.embeddings import MiniLMEmbedder

    emb = MiniLMEmbedder(background=False)
    router = Router(emb.embed_multi, embed_query=emb.embed)  # embed: no query cache
    router.route("warm up the examples")
    times = []
    for m in messages:
        start = time.perf_counter()
        router.route(m)
        times.append((time.perf_counter() - start) * 1000)
    return times


def warm_turns(home: Path, model: str | None, reps: int) -> tuple[list[float], list[float]]:
    from agent import Agent

    bot = Agent.open(home, model=model, temperature=0)
    bot.chat("My dog is called Rex.")
    bot.chat("Hello!", thread=None)  # loads the embedder and warms the model
    general, memory = [], []
    for i in range(reps):
        start = time.perf_counter()
        bot.chat(QUESTIONS[i % len(QUESTIONS)], thread=None)
        general.append(time.perf_counter() - start)
        start = time.perf_counter()
        bot.chat("What is my dog called?", thread=None)
        memory.append(time.perf_counter() - start)
    bot.close()
    return general, memory


def fresh_open(home: Path, model: str | None, reps: int) -> list[tuple[float, ...]]:
    out = []
    for _ in range(reps):
        done = subprocess.run(
            [sys.executable, "-c", _OPEN, str(home), model or ""],
            capture_output=True,
            text=True,
            check=True,
        )
        out.append(tuple(float(x) for x in done.stdout.split()[-3:]))
    return out


def ask(home: Path, model: str | None, reps: int) -> list[float]:
    lorebook = Path(sys.executable).with_name("lorebook")
    cmd = [str(lorebook), "--home", str(home)]
    cmd += ["ask", "What is the capital of Italy?"] + (["--model", model] if model else [])
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="registry name or .gguf path (default model)")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}")
    print(f"model: {args.model or 'the default'}; medians of {args.reps}\n")

    times = routing(suite_messages())
    print(
        f"routing ({len(times)} suite messages): p50 {pct(times, 50):.1f} ms, "
        f"p95 {pct(times, 95):.1f} ms"
    )
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        general, memory = warm_turns(home, args.model, args.reps)
        print(
            f"warm agent, short general answer (model writes it): "
            f"{statistics.median(general):.2f} s"
        )
        print(f"warm agent, answer from memory: {statistics.median(memory) * 1000:.0f} ms")
        runs = fresh_open(home, args.model, max(3, args.reps // 2))
        imp, opened, first = (statistics.median(r[k] for r in runs) for k in range(3))
        print(
            f"fresh process: import {imp:.2f} s, Agent.open {opened:.2f} s "
            f"(import + open {imp + opened:.2f} s), first turn {first:.2f} s"
        )
        walls = ask(home, args.model, max(3, args.reps // 2))
        print(f"lorebook ask, fresh process, wall: {statistics.median(walls):.2f} s")
    print(f"load at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
