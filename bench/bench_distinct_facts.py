"""Benchmark: does every distinct fact survive ``Memory.add``? Prints figures.

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_distinct_facts.py`` (``--facts 3000``).

With the default settings and the real default embedder (all-MiniLM-L6-v2), through
``Memory.add(text, user, source="user")`` as ``Agent.remember`` calls it:

- **distinct**: generated distinct sentences (names, objects, colours, places, numbers, dates;
  tests/memory/_facts.py) plus the twelve lockers, none about the user's own slots: how many
  became rows, were refreshed (counted as a near-duplicate) or superseded, how many had an
  earlier fact at cosine >= ``duplicate_threshold`` (what the similarity rule alone refreshed),
  and recall@1 of each by its own text.
- **slots**: facts the slot rule recognises ("I moved to Lyon", "My sister lives in Oslo",
  "My dog is called Rex"), added after those, for the same user: supersessions against an
  oracle that applies the rule by hand, recall@1 of current facts (and of superseded ones with
  ``include_history``), and what the slot scan costs at that many current facts.
- **unrelated 19**: the nineteen "X keeps a colour object in place" facts with an LLM that
  always answers "same subject" (the 270M model superseded 14 of them): rows and recall@1.
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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _machine import cpu_name  # noqa: E402

from agent.llm.fake import FakeLLM  # noqa: E402
from agent.settings import load_settings  # noqa: E402
from memory import Memory, Store  # noqa: E402
from memory._slots import slot  # noqa: E402
from tests.memory._facts import (  # noqa: E402
    LOCKERS,
    SLOT_TEMPLATES,
    UNRELATED_19,
    distinct_facts,
)


def open_memory(home: str, llm: FakeLLM | None = None) -> Memory:
    # The default settings: only the data directory is ours (no config file, no environment).
    return Memory(Store(load_settings({"home": home}, env={})), llm)


def add_all(mem: Memory, facts: list[str], user: str) -> dict[str, object]:
    actions = {"added": 0, "refreshed": 0, "rejected": 0}
    superseded: list[tuple[int, ...]] = []
    ms: list[float] = []
    for text in facts:
        t0 = time.perf_counter()
        res = mem.add(text, user=user, source="user")
        ms.append((time.perf_counter() - t0) * 1000)
        actions[res.action] += 1
        superseded.append(res.superseded)
    return {"actions": actions, "superseded": superseded, "ms": ms}


def recall_at_1(mem: Memory, user: str, history: bool) -> tuple[int, int]:
    records = mem.list(user, kinds=["fact"], include_history=history)
    if history:
        records = [r for r in records if not r.current]
    hits = sum(
        mem.search(r.text, user=user, k=1, include_history=history)[0].record.id == r.id
        for r in records
    )
    return hits, len(records)


def similar_to_an_earlier(mem: Memory, user: str, threshold: float) -> int:
    """Facts with an earlier fact at cosine >= threshold: what similarity alone refreshed."""
    texts = [r.text for r in mem.list(user, include_history=True)]
    vecs = mem.store.cache.embed(texts)
    sims = vecs @ vecs.T
    return int(sum(bool((sims[i, :i] >= threshold).any()) for i in range(len(texts))))


def pct(a: int, b: int) -> str:
    return f"{a}/{b} ({100 * a / b:.1f}%)" if b else "0/0"


def part_distinct(mem: Memory, n: int) -> None:
    facts = list(dict.fromkeys([*distinct_facts(n - len(LOCKERS), seed=0), *LOCKERS]))
    t0 = time.perf_counter()
    out = add_all(mem, facts, "ann")
    secs = time.perf_counter() - t0
    actions = out["actions"]
    superseded = sum(len(s) for s in out["superseded"])  # type: ignore[attr-defined]
    rows = len(mem.list("ann"))
    near = similar_to_an_earlier(mem, "ann", mem.settings.duplicate_threshold)
    hits, total = recall_at_1(mem, "ann", history=False)
    print(f"\n[distinct] {len(facts)} distinct sentences, one user, {secs:.0f} s of adds")
    print(f"  rows (current facts)         {rows}")
    print(
        f"  added / refreshed / rejected {actions['added']} / {actions['refreshed']} / "  # type: ignore[index]
        f"{actions['rejected']}"
    )  # type: ignore[index]
    print(f"  superseded                   {superseded}")
    print(
        f"  with an earlier fact at cosine >= {mem.settings.duplicate_threshold} "
        f"(refreshed by similarity alone before): {near}"
    )
    print(f"  recall@1 by own text          {pct(hits, total)}")
    print(
        f"  add ms median / p95           {statistics.median(out['ms']):.1f} / "  # type: ignore[arg-type]
        f"{np.percentile(out['ms'], 95):.1f}"
    )


def part_slots(mem: Memory, n: int) -> None:
    import random

    rng = random.Random(1)
    facts: list[str] = []
    for _ in range(n):
        text = SLOT_TEMPLATES[rng.randrange(len(SLOT_TEMPLATES))][1](rng)
        if text not in facts:
            facts.append(text)
    before = len(mem.list("ann"))
    # The oracle: a fact replaces the current facts of its slot unless it restates one.
    current: list[str] = []
    want_superseded = want_refreshed = 0
    for text in facts:
        own = slot(text)
        same = [t for t in current if own is not None and slot(t) == own]
        if text in same:
            want_refreshed += 1
            continue
        want_superseded += len(same)
        current = [t for t in current if t not in same] + [text]
    unrecognised = sum(slot(t) is None for t in facts)
    out = add_all(mem, facts, "ann")
    actions = out["actions"]
    superseded = sum(len(s) for s in out["superseded"])  # type: ignore[attr-defined]
    hits, total = recall_at_1(mem, "ann", history=False)
    old_hits, old_total = recall_at_1(mem, "ann", history=True)
    slotted = [(t, s) for t in current for s in [slot(t)] if s is not None]
    agree = sum([r.text for r in mem.current_slot("ann", *s)] == [t] for t, s in slotted)
    with mem.store.read() as conn:
        t0 = time.perf_counter()
        for _ in range(50):
            mem._slot_facts(conn, "ann", ("i", "residence"))
        scan_ms = (time.perf_counter() - t0) * 1000 / 50
        t0 = time.perf_counter()
        for _ in range(50):
            conn.execute(
                "SELECT id, text FROM memories WHERE user=? AND kind='fact' AND valid_to IS NULL",
                ("ann",),
            ).fetchall()
        sql_ms = (time.perf_counter() - t0) * 1000 / 50
    print(
        f"\n[slots] {len(facts)} slot facts after the {before} above, same user "
        f"({unrecognised} not recognised by slot())"
    )
    print(
        f"  added / refreshed            {actions['added']} / {actions['refreshed']} "  # type: ignore[index]
        f"(oracle: {len(facts) - want_refreshed} / {want_refreshed})"
    )
    print(f"  superseded                   {superseded} (oracle: {want_superseded})")
    print(
        f"  rows (current facts)         {len(mem.list('ann'))} "
        f"(= {before} + {len(current)} current: one per slot, and the unrecognised)"
    )
    print(f"  current_slot agrees          {pct(agree, len(slotted))}")
    print(
        f"  add ms median / p95           {statistics.median(out['ms']):.1f} / "  # type: ignore[arg-type]
        f"{np.percentile(out['ms'], 95):.1f}"
    )
    print(f"  recall@1, current            {pct(hits, total)}")
    print(f"  recall@1, superseded (history) {pct(old_hits, old_total)}")
    print(
        f"  slot scan over {len(mem.list('ann'))} current facts: {scan_ms:.2f} ms "
        f"(of which the SQL fetch alone {sql_ms:.2f} ms; parses cached)"
    )


def part_unrelated(home: str) -> None:
    llm = FakeLLM(default='{"same_subject": true}')
    with open_memory(home, llm) as mem:
        out = add_all(mem, list(UNRELATED_19), "ann")
        superseded = sum(len(s) for s in out["superseded"])  # type: ignore[attr-defined]
        hits, total = recall_at_1(mem, "ann", history=False)
        print("\n[unrelated 19] with an LLM that always answers same_subject=true")
        print(
            f"  rows {len(mem.list('ann'))}, superseded {superseded}, "
            f"model calls {len(llm.calls)}, recall@1 {pct(hits, total)}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--facts", type=int, default=3000, help="distinct sentences (default 3000)")
    ap.add_argument("--slot-facts", type=int, default=300, help="slot facts (default 300)")
    args = ap.parse_args()
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        with open_memory(os.path.join(tmp, "a")) as mem:
            s = mem.settings
            print(
                f"embedder {s.embedder}, duplicate_threshold {s.duplicate_threshold}, "
                f"recency_weight {s.recency_weight}"
            )
            part_distinct(mem, args.facts)
            part_slots(mem, args.slot_facts)
        part_unrelated(os.path.join(tmp, "b"))
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
