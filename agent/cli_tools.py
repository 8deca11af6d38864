"""The ``lorebook`` subcommands for the tools and for batch runs.

    lorebook translate "Good morning" --to fr        lorebook batch tasks.jsonl -o out.jsonl
    lorebook summarize report.pdf --words 80         lorebook eval out.jsonl
    lorebook code "reverse a list" --samples 4       lorebook compare a.jsonl b.jsonl
    lorebook review lease.pdf --json

Tool commands print the result's Markdown, rendered by rich on a terminal and as plain Markdown
when piped (``--json``: the typed result). ``batch`` exits 1 when
any task failed, 130 when interrupted (the output stays valid and ``--resume`` continues it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from agent.errors import ConfigError
from agent.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> dict[str, Handler]:
    """Add the tool and batch subcommands; returns their handlers by name."""
    p = sub.add_parser("translate", parents=[common], help="translate text or a file")
    p.add_argument("text", nargs="+", help="the text, or one file path ('-' reads stdin)")
    p.add_argument("--to", dest="target", required=True, help="target language (name or code)")
    p.add_argument("--from", dest="source", help="source language (default: detected)")
    p.add_argument("--context", help="a line about the text that helps the translation")
    p.add_argument("--glossary", nargs="*", default=[], metavar="TERM=TRANSLATION")
    p.add_argument("--explain", action="store_true", help="add notes on the choices made")
    p.add_argument("--accept", action="store_true", help="keep it in the translation memory")
    p.add_argument("--json", action="store_true", help="print the typed result as JSON")

    p = sub.add_parser("summarize", parents=[common], help="summarize text or files")
    p.add_argument("source", nargs="+", help="file paths, or the text ('-' reads stdin)")
    p.add_argument(
        "--style", default="abstractive", choices=("abstractive", "extractive", "bullets")
    )
    p.add_argument("--words", dest="max_words", type=int, help="target length in words")
    p.add_argument("--json", action="store_true", help="print the typed result as JSON")

    p = sub.add_parser("code", parents=[common], help="generate code and test it in a sandbox")
    p.add_argument("prompt", nargs="+", help="what the code should do, or a signature+docstring")
    p.add_argument("--language", default="python")
    p.add_argument("--tests", type=Path, help="a file of tests (asserts or a check() function)")
    p.add_argument("--samples", type=int, help="candidates to generate (first passing wins)")
    p.add_argument("--no-exec", action="store_true", help="generate only; run nothing")
    p.add_argument("--json", action="store_true", help="print the typed result as JSON")

    p = sub.add_parser("review", parents=[common], help="review a legal document")
    p.add_argument("source", nargs="+", help="a file path, or the text ('-' reads stdin)")
    p.add_argument("--json", action="store_true", help="print the typed result as JSON")

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
    return {
        "translate": cmd_translate,
        "summarize": cmd_summarize,
        "code": cmd_code,
        "review": cmd_review,
        "batch": cmd_batch,
        "eval": cmd_eval,
        "compare": cmd_compare,
    }


def _text(words: list[str]) -> str | Path:
    """One existing path stays a path; '-' reads stdin; anything else is the text."""
    if words == ["-"]:
        return sys.stdin.read()
    if len(words) == 1 and Path(words[0]).expanduser().is_file():
        return Path(words[0]).expanduser()
    return " ".join(words)


def _show(result: Any, as_json: bool, out: TextIO | None = None) -> None:
    """Print a tool's result: JSON, Markdown rendered for a terminal, or Markdown as it is."""
    out = out or sys.stdout
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2), file=out)
    elif out.isatty():
        from rich.console import Console
        from rich.markdown import Markdown

        Console(file=out).print(Markdown(result.to_markdown()))
    else:
        print(result.to_markdown(), file=out)


def _agent(settings: Settings) -> Any:
    from agent.cli import _open_agent

    return _open_agent(settings)


def cmd_translate(args: argparse.Namespace, settings: Settings) -> int:
    glossary = {}
    for pair in args.glossary:
        term, sep, translation = pair.partition("=")
        if not sep or not term.strip() or not translation.strip():
            raise ConfigError(f"--glossary takes TERM=TRANSLATION pairs, not {pair!r}")
        glossary[term.strip()] = translation.strip()
    with _agent(settings) as agent:
        result = agent.translate(
            _text(args.text), args.target, args.source, args.context, glossary or None, args.explain
        )
        if args.accept:
            agent.accept_translation(result)
    _show(result, args.json)
    return 0


def cmd_summarize(args: argparse.Namespace, settings: Settings) -> int:
    paths = [Path(s).expanduser() for s in args.source]
    source: Any = paths if len(paths) > 1 and all(p.is_file() for p in paths) else None
    with _agent(settings) as agent:
        result = agent.summarize(source or _text(args.source), args.style, args.max_words)
    _show(result, args.json)
    return 0


def cmd_code(args: argparse.Namespace, settings: Settings) -> int:
    tests = None
    if args.tests is not None:
        try:
            tests = args.tests.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the tests file {args.tests}: {exc.strerror}") from exc
    with _agent(settings) as agent:
        result = agent.code(
            " ".join(args.prompt),
            args.language,
            tests,
            args.samples,
            False if args.no_exec else None,
        )
    _show(result, args.json)
    return 0 if result.passed in (True, None) else 1


def cmd_review(args: argparse.Namespace, settings: Settings) -> int:
    with _agent(settings) as agent:
        result = agent.review(_text(args.source))
    _show(result, args.json)
    return 0


class _AgentOpener:
    """Opens an agent from ``settings``: what each Ray worker runs (a picklable callable)."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def __call__(self) -> Any:
        return _agent(self.settings)


def cmd_batch(args: argparse.Namespace, settings: Settings) -> int:
    from agent.batch import Progress, run_batch
    from agent.batch.runner import count_tasks

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
        from agent.batch.ray_runner import run_batch_ray

        summary = run_batch_ray(
            _AgentOpener(settings), source, output, address=args.ray, workers=args.workers,
            **options,
        )  # fmt: skip
    else:
        summary = run_batch(_AgentOpener(settings), source, output, **options)
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
    from agent.batch import evaluate, score, table

    records = _records(args.results)
    if args.json:
        for rec in records:
            s = score(rec)
            print(json.dumps({"id": s.id, "task": s.task, "status": s.status, **s.metrics}))
        return 0
    print(table(evaluate(records)))
    return 0


def cmd_compare(args: argparse.Namespace, settings: Settings) -> int:
    from agent.batch import compare, report

    a, b = _records(args.a), _records(args.b)
    print(report(compare(a, b, top=args.top), args.a.stem, args.b.stem))
    return 0


def _records(path: Path) -> list[dict[str, Any]]:
    """The complete records of a results file; a missing file is a one-line error."""
    from agent.batch import read_records

    if not path.is_file():
        raise ConfigError(f"no results file {path}")
    return list(read_records(path))
