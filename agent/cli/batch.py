"""``lorebook batch``, ``eval`` and ``compare``: run a JSONL file of tasks, score it, A/B it.

    lorebook batch tasks.jsonl -o out.jsonl        lorebook eval out.jsonl
    lorebook compare a.jsonl b.jsonl

``batch`` exits 1 when any task failed, 130 when interrupted (the output stays valid and
``--resume`` continues it). The task types are :data:`agent.batch.tasks.TASKS`, generated from
the capability registry.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from agent.batch import Progress, compare, evaluate, read_records, report, run_batch, score, table
from agent.batch.runner import count_tasks
from agent.cli.common import Handler, open_agent
from agent.errors import ConfigError
from agent.settings import Settings


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> dict[str, Handler]:
    """Add ``batch``, ``eval`` and ``compare``; returns their handlers by name."""
    p = sub.add_parser("batch", parents=[common], help="run a JSONL file of tasks")
    p.add_argument("tasks", help="tasks file, one JSON object per line ('-' reads stdin)")
    p.add_argument("-o", "--output", required=True, help="results file ('-' writes stdout)")
    p.add_argument("--resume", action="store_true", help="skip ids already in the output")
    p.add_argument("--overwrite", action="store_true", help="start the output afresh")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--keep-going", action="store_true", help="run every task (the default)")
    mode.add_argument("--fail-fast", action="store_true", help="stop at the first failed task")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or lines")
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run the tasks on Ray workers: 'local' (a private cluster on this machine) or a "
        "cluster's address (host:6379, ray://host:10001); needs lorebook[scale]",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="Ray workers, each loading the model once (default: the cluster's CPUs, at most 8)",
    )

    p = sub.add_parser("eval", parents=[common], help="score a results file")
    p.add_argument("results", type=Path)
    p.add_argument("--json", action="store_true", help="one JSON object per task with metrics")

    p = sub.add_parser("compare", parents=[common], help="A/B compare two results files")
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.add_argument("--top", type=int, default=5, help="tasks that moved most to list")
    return {"batch": cmd_batch, "eval": cmd_eval, "compare": cmd_compare}


class AgentOpener:
    """Opens an agent from ``settings``: what each Ray worker runs (a picklable callable)."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def __call__(self) -> Any:
        return open_agent(self.settings)


def cmd_batch(args: argparse.Namespace, settings: Settings) -> int:
    source = None if args.tasks == "-" else Path(args.tasks)
    output = None if args.output == "-" else Path(args.output)
    if source is not None and not source.is_file():
        raise ConfigError(f"no tasks file {source}")
    if args.workers is not None and args.ray is None:
        raise ConfigError("--workers needs --ray (the local runner has one agent)")
    progress = Progress(
        count_tasks(source) if source is not None else None, enabled=not args.no_progress
    )
    options: dict[str, Any] = dict(
        resume=args.resume, overwrite=args.overwrite, fail_fast=args.fail_fast, progress=progress
    )
    if args.ray is not None:
        from agent.batch.ray_runner import run_batch_ray  # Ray: only when asked for

        summary = run_batch_ray(
            AgentOpener(settings), source, output, address=args.ray, workers=args.workers,
            **options,
        )  # fmt: skip
    else:
        summary = run_batch(AgentOpener(settings), source, output, **options)
    where = f", results in {output}" if output is not None else ""
    errors = summary.errors + summary.previous_errors
    on = ""
    if summary.workers:
        on = f" on {summary.workers} Ray worker{'s' if summary.workers != 1 else ''}"
        if summary.restarts:
            on += f" ({summary.restarts} replaced after dying; their unfinished tasks ran again)"
    print(
        f"batch: {summary.total} tasks, {summary.ran} run{on}, {summary.skipped} already done, "
        f"{errors} failed, {summary.seconds:.1f} s{where}"
        + (" (a torn last record was removed and redone)" if summary.repaired else ""),
        file=sys.stderr,
    )
    if summary.failed_ids:
        shown = ", ".join(map(repr, summary.failed_ids[:10]))
        print(f"failed ids: {shown}", file=sys.stderr)
    if summary.stopped == "interrupted":
        return 130
    return 0 if summary.ok else 1


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    records = _records(args.results)
    if args.json:
        for rec in records:
            s = score(rec)
            print(json.dumps({"id": s.id, "task": s.task, "status": s.status, **s.metrics}))
        return 0
    print(table(evaluate(records)))
    return 0


def cmd_compare(args: argparse.Namespace, settings: Settings) -> int:
    a, b = _records(args.a), _records(args.b)
    print(report(compare(a, b, top=args.top), args.a.stem, args.b.stem))
    return 0


def _records(path: Path) -> list[dict[str, Any]]:
    """The complete records of a results file; a missing file is a one-line error."""
    if not path.is_file():
        raise ConfigError(f"no results file {path}")
    return list(read_records(path))
