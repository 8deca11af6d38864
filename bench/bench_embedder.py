"""Benchmark of the minilm embedder's two backends (numpy, torch) and of the CLI's cold start.

Run: ``.venv/bin/python bench/bench_embedder.py`` (all parts), or pick parts with
``--parts load,throughput,latency,commands``; ``--n 200`` shortens the throughput part.

- **load**: a fresh process that imports memory.embeddings (lorebook's own packages), then
  loads the backend and embeds one text, per backend: what every command paid before its
  first vector.
- **throughput**: texts per second through ``MiniLMEmbedder.embed_multi`` for ``--n``
  chunk-sized texts (~200 words, most over the model's 256 tokens) and ``--n`` short queries
  (3-10 words), built from the standard library's docstrings (real prose), after one warm-up.
- **latency**: ``embed`` of one fresh query at a time (no query cache), p50 and p95.
- **commands**: cold wall time of ``lorebook remember`` (a new fact each time), ``recall``,
  ``forget`` and ``ask`` (the default model, greedy, so every run generates the same tokens)
  in a throwaway data directory, median of ``--repeat`` runs after one untimed ``ask`` (which
  assembles the model); with the numpy backend, with ``LOREBOOK_EMBEDDER_BACKEND=torch``, and,
  given ``--before DIR`` (an export of an older commit, e.g. ``git archive HEAD~1 | tar -x -C
  DIR``), that code with this venv.

The machine line carries the load average: on a shared 2-core machine a co-tenant's load
moves every figure here, so compare runs made side by side.
"""

from __future__ import annotations

import argparse
import inspect
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _machine import cpu_name  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("numpy", "torch")


def machine() -> str:
    import numpy as np

    load = os.getloadavg()
    blas = ""
    try:
        from threadpoolctl import threadpool_info

        libs = [i for i in threadpool_info() if "numpy" in i["filepath"]]
        if libs:
            blas = f", {libs[0]['internal_api']} {libs[0]['version']}"
    except ImportError:
        pass
    return (
        f"{cpu_name()}, {os.cpu_count()} cores, load {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}; "
        f"Python {platform.python_version()}, numpy {np.__version__}{blas}"
    )


def prose() -> list[str]:
    """Sentences from docstrings of the standard library."""
    import argparse as a
    import collections
    import email.message
    import http.client
    import json
    import pathlib
    import statistics as st
    import textwrap

    sentences: list[str] = []
    for module in (a, collections, email.message, http.client, json, pathlib, st, textwrap):
        for _, obj in inspect.getmembers(module):
            doc = inspect.getdoc(obj)
            if doc and (inspect.isfunction(obj) or inspect.isclass(obj)):
                text = " ".join(doc.split())
                sentences += [s.strip() + "." for s in text.split(". ") if len(s.split()) >= 4]
    return sentences


def chunks_and_queries(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    sentences = prose()
    words = [w for s in sentences for w in s.split() if w.isalpha()]
    chunks = []
    for _ in range(n):
        parts: list[str] = []
        while sum(len(p.split()) for p in parts) < 200:
            parts.append(rng.choice(sentences))
        chunks.append(" ".join(" ".join(parts).split()[:200]))
    queries = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 10))) for _ in range(n)]
    return chunks, queries


def part_load() -> None:
    print("\n## load: fresh process, import + load + one embedding")
    code = (
        "import time; t0 = time.perf_counter()\n"
        "from memory.embeddings import MiniLMEmbedder\n"
        "t1 = time.perf_counter()\n"
        "e = MiniLMEmbedder(background=False, backend='{b}', device='cpu')\n"
        "e.embed('hello')\n"
        "print(f'{{t1 - t0:.2f}} {{time.perf_counter() - t1:.2f}}')\n"
    )
    for backend in BACKENDS:
        t = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", code.format(b=backend)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        wall = time.perf_counter() - t
        imports, load = out.stdout.split()
        print(
            f"{backend:<6} import memory.embeddings {imports} s, load + first vector {load} s, "
            f"process wall {wall:.2f} s"
        )


def _embedder(backend: str):  # type: ignore[no-untyped-def]
    from memory.embeddings import MiniLMEmbedder

    return MiniLMEmbedder(background=False, backend=backend, device="cpu")


def part_throughput(n: int) -> None:
    chunks, queries = chunks_and_queries(n)
    emb = _embedder("numpy")
    tokens = [len(ids) for ids in emb.model.tokenize(chunks)]
    print(
        f"\n## throughput: {n} chunks of 200 words ({statistics.mean(tokens):.0f} tokens on "
        f"average after truncation, {sum(t >= 256 for t in tokens)} cut at 256), "
        f"{n} queries of 3-10 words"
    )
    for backend in BACKENDS:
        emb = _embedder(backend)
        emb.embed_multi(chunks[:16] + queries[:16])  # warm-up
        row = []
        for name, texts in (("chunks", chunks), ("queries", queries)):
            t = time.perf_counter()
            vecs = emb.embed_multi(texts)
            dt = time.perf_counter() - t
            assert vecs.shape == (len(texts), 384)
            row.append(f"{name} {len(texts) / dt:7.1f}/s ({dt:5.1f} s)")
        print(f"{backend:<6} " + "   ".join(row), flush=True)


def part_latency(n: int = 200) -> None:
    _, queries = chunks_and_queries(n, seed=1)
    print(f"\n## latency: embed() of one fresh query, {n} queries")
    for backend in BACKENDS:
        emb = _embedder(backend)
        emb.embed("warm up")
        times = []
        for q in queries:
            t = time.perf_counter()
            emb.embed(q)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        p50, p95 = times[len(times) // 2], times[int(len(times) * 0.95)]
        print(f"{backend:<6} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")


FACTS = [
    "My sister lives in Lyon",
    "My brother works at a bakery in Oslo",
    "My cat is called Miso",
    "I am allergic to peanuts",
    "My dentist is Dr. Okafor",
    "I drive a blue Volvo",
    "My daughter plays the cello",
    "I was born in Valencia",
    "My landlord is called Mr. Price",
    "I take the 7:40 train to work",
    "My favourite tea is Assam",
    "My son studies chemistry",
]
QUESTION = ["ask", "What is the capital of Italy?", "--temperature", "0"]
_TURN = re.compile(r"(\d+) tokens, ([\d.]+) s\]")


def _run(args: list[str], env: dict[str, str], tree: Path) -> tuple[float, str]:
    """Wall seconds of ``python -m agent.cli ARGS`` run from ``tree``, and its stderr."""
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        env={**env, "PYTHONPATH": str(tree)},
        cwd=tree,  # -m puts the working directory first on sys.path
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(
            f"lorebook {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}"
        )
    return wall, proc.stderr


def part_commands(repeat: int, before: Path | None) -> None:
    print(
        f"\n## commands: cold wall time (s), median of {repeat}; each remember stores a new "
        "fact (so it embeds), forget removes it; ask is greedy (--temperature 0)"
    )
    configs: list[tuple[str, dict[str, str], Path]] = [
        ("numpy", {}, ROOT),
        ("torch", {"LOREBOOK_EMBEDDER_BACKEND": "torch"}, ROOT),
    ]
    if before is not None:
        configs.append((f"before: {before}", {}, before))
    facts = iter(FACTS * 10)
    with tempfile.TemporaryDirectory() as home:
        base = {k: v for k, v in os.environ.items() if not k.startswith("LOREBOOK_")}
        base["LOREBOOK_HOME"] = home
        _run(QUESTION, base, ROOT)  # assembles the model into the data directory
        names = ["remember", "recall", "forget", "ask", "ask turn"]
        print(f"{'':<30}" + "".join(f"{n:>10}" for n in names))
        for label, extra, tree in configs:
            env = {**base, **extra}
            runs: dict[str, list[float]] = {n: [] for n in names}
            for _ in range(repeat):
                fact = next(facts)
                runs["remember"].append(_run(["remember", fact], env, tree)[0])
                runs["recall"].append(_run(["recall", "x"], env, tree)[0])
                runs["forget"].append(_run(["forget", fact], env, tree)[0])
                wall, err = _run(QUESTION, env, tree)
                runs["ask"].append(wall)
                turn = _TURN.search(err)
                runs["ask turn"].append(float(turn.group(2)) if turn else float("nan"))
            cells = [statistics.median(runs[n]) for n in names]
            print(f"{label:<30}" + "".join(f"{c:>10.2f}" for c in cells), flush=True)
        print("(ask turn: the turn itself, from the provenance line; the rest of ask is start-up)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default="load,throughput,latency,commands")
    ap.add_argument("--n", type=int, default=1000, help="texts per throughput measurement")
    ap.add_argument("--repeat", type=int, default=3, help="runs per command (median)")
    ap.add_argument("--before", type=Path, help="a source tree to time the commands on too")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    print(f"machine: {machine()}")
    if "load" in parts:
        part_load()
    if "throughput" in parts:
        part_throughput(args.n)
    if "latency" in parts:
        part_latency()
    if "commands" in parts:
        part_commands(args.repeat, args.before)
    print(f"\nmachine at the end: {machine()}")


if __name__ == "__main__":
    main()
