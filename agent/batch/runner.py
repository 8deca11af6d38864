"""Run a JSONL file of tasks through one :class:`~agent.api.Agent`, one result line per task.

Guarantees:

- **One record per task, whole or not at all.** Each record is one ``write`` of a complete line
  on an append-mode file, flushed and fsynced before the next task starts. A run killed mid-write
  can leave at most a torn last line; the next ``--resume`` cuts it off and redoes that task.
- **Resume.** ``resume=True`` skips every id already in the output, so a killed run continues
  where it stopped and rerunning a finished file does nothing (it does not even load the model).
- **Bad lines cost nothing.** Malformed JSON, an unknown task or bad parameters become an
  ``error`` record naming the line; the run goes on (``fail_fast`` stops it instead).

Tasks run in file order on one agent, so memory written by one task is there for the next.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from agent.batch.progress import Progress
from agent.batch.tasks import EVAL_FIELDS, TaskError, jsonable, validate
from agent.errors import ConfigError


@dataclass
class BatchSummary:
    """What one run did."""

    total: int = 0
    ran: int = 0
    skipped: int = 0
    """Tasks whose id was already in the output (``resume``)."""
    errors: int = 0
    """Error records written by this run."""
    previous_errors: int = 0
    """Error records already in the output for tasks this run skipped."""
    repaired: bool = False
    """A torn last line was cut off the output before resuming."""
    seconds: float = 0.0
    stopped: str | None = None
    """Why the run ended early (``fail-fast``, ``interrupted``), else None."""
    failed_ids: list[Any] = field(default_factory=list)
    workers: int = 0
    """Ray workers that ran the tasks (0: the local runner, or no task needed one)."""
    restarts: int = 0
    """Workers replaced after they died (Ray runner); their unfinished tasks ran again."""

    @property
    def ok(self) -> bool:
        return self.errors == 0 and self.previous_errors == 0 and self.stopped is None


def _key(task_id: Any) -> str:
    return json.dumps(task_id, sort_keys=True)


def read_lines(source: Iterable[str | bytes]) -> Iterator[tuple[int, dict[str, Any] | TaskError]]:
    """``(line number, task or the reason it is malformed)`` for each non-blank line."""
    for n, raw in enumerate(source, 1):
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield n, TaskError(f"line {n} is not UTF-8 text")
                continue
        else:
            line = raw
        if not line.strip():
            continue
        try:
            task = json.loads(line)
        except json.JSONDecodeError as exc:
            yield n, TaskError(f"line {n} is not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(task, dict):
            yield n, TaskError(f"line {n} is a JSON {type(task).__name__}, not an object")
        elif "id" not in task or task["id"] in (None, ""):
            yield n, TaskError(f"line {n} has no 'id'")
        elif not isinstance(task["id"], str | int):
            yield n, TaskError(f"line {n}: 'id' must be a string or an integer")
        else:
            yield n, task


def completed(output: Path) -> tuple[dict[str, str], bool]:
    """Ids already in ``output`` (key → status), after cutting off a torn last line.

    Returns:
        ``(done, repaired)``; ``repaired`` is True when a torn line was removed.
    """
    if not output.exists():
        return {}, False
    data = output.read_bytes()
    good = data.rfind(b"\n") + 1  # everything after the last newline is a torn write
    repaired = good < len(data)
    done: dict[str, str] = {}
    for raw in data[:good].splitlines():
        try:
            rec = json.loads(raw)
            done[_key(rec["id"])] = rec.get("status", "ok")
        except (ValueError, KeyError, TypeError):
            continue  # not ours or damaged: that task runs again
    if repaired:
        with output.open("r+b") as f:
            f.truncate(good)
            f.flush()
            os.fsync(f.fileno())
    return done, repaired


class _Sink:
    """Where records go: an append-mode file (fsynced per record) or stdout."""

    def __init__(self, output: Path | None):
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
        self.file: IO[str] = output.open("a", encoding="utf-8") if output else sys.stdout
        self.sync = output is not None

    def write(self, record: dict[str, Any]) -> None:
        self.file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.file.flush()
        if self.sync:
            os.fsync(self.file.fileno())

    def close(self) -> None:
        if self.sync:
            self.file.close()


def _resolve(task: dict[str, Any], base: Path | None) -> dict[str, Any]:
    """Relative ``path``/``paths`` are relative to the tasks file, not the working directory."""
    if base is None:
        return task

    def fix(p: Any) -> Any:
        return str(base / p) if isinstance(p, str) and not Path(p).expanduser().is_absolute() else p

    out = dict(task)
    if "path" in out:
        out["path"] = fix(out["path"])
    if isinstance(out.get("paths"), list):
        out["paths"] = [fix(p) for p in out["paths"]]
    elif "paths" in out:
        out["paths"] = fix(out["paths"])
    return out


def run_one(
    agent: Any, task: dict[str, Any], line: int, base: Path | None = None
) -> dict[str, Any]:
    """Run one validated-or-not task; always returns a record (errors included).

    ``base``: the tasks file's folder, which relative ``path``/``paths`` are taken from.
    """
    record: dict[str, Any] = {"id": task.get("id"), "task": task.get("task"), "line": line}
    task = _resolve(task, base)
    expected = {k: task[k] for k in EVAL_FIELDS if k in task}
    start = time.perf_counter()
    before = agent.llm.totals.snapshot()
    try:
        kind, params = validate(task)
        result = jsonable(kind.run(agent, params))
        record.update(status="ok", result=result, error=None)
    except Exception as exc:  # one failed task (even a bug) must not end the run
        record.update(status="error", result=None, error=_error(exc))
    total_ms = (time.perf_counter() - start) * 1000
    used = agent.llm.totals.since(before)
    model_ms = used.prompt_ms + used.decode_ms
    record["timings"] = {
        "total_ms": round(total_ms, 2),
        "model_ms": round(model_ms, 2),
        "overhead_ms": round(max(total_ms - model_ms, 0.0), 2),
    }
    record["tokens"] = {
        "prompt": used.prompt_tokens,
        "completion": used.completion_tokens,
        "calls": used.calls,
    }
    record["tokens_per_s"] = (
        round(used.completion_tokens / (used.decode_ms / 1000), 2) if used.decode_ms > 0 else None
    )
    record["model"] = agent.llm.model_name
    if expected:
        record["expected"] = expected
    return record


def _error(exc: BaseException) -> dict[str, str]:
    return {"type": type(exc).__name__, "message": str(exc)}


def error_record(task_id: Any, task: Any, line: int, exc: BaseException) -> dict[str, Any]:
    return {
        "id": task_id,
        "task": task,
        "line": line,
        "status": "error",
        "result": None,
        "error": _error(exc),
    }


def prepare_output(
    output: Path | None, *, resume: bool, overwrite: bool
) -> tuple[dict[str, str], bool]:
    """Check ``output`` before a run and read what it already holds.

    Returns:
        ``(done, repaired)`` as :func:`completed`; empty for stdout or a fresh file.

    Raises:
        ConfigError: a non-empty output without ``resume``/``overwrite``, or ``resume`` on
            stdout.
    """
    if output is None:
        if resume:
            raise ConfigError("--resume needs an output file, not stdout")
        return {}, False
    if output.exists() and output.stat().st_size and not (resume or overwrite):
        raise ConfigError(
            f"{output} already has results; pass --resume to continue it, or --overwrite "
            "to start again"
        )
    if overwrite and not resume:
        output.write_text("")
    return completed(output)


@dataclass(frozen=True)
class Runnable:
    """A task line that needs an agent: the parsed task (not yet validated) and its line."""

    task: dict[str, Any]
    line: int


def triage(
    lines: Iterable[tuple[int, dict[str, Any] | TaskError]],
    done: dict[str, str],
    summary: BatchSummary,
    progress: Progress,
) -> Iterator[dict[str, Any] | Runnable]:
    """What each line needs: nothing (already in the output: counted as skipped, not yielded),
    a ready error record (malformed line, duplicate id), or a :class:`Runnable`."""
    seen: dict[str, int] = {}
    for n, item in lines:
        summary.total += 1
        # A malformed line has no id of its own: its record is "line-N", so resume skips it.
        task_id = f"line-{n}" if isinstance(item, TaskError) else item["id"]
        key = _key(task_id)
        if key in done:
            summary.skipped += 1
            summary.previous_errors += done[key] == "error"
            seen.setdefault(key, n)
            progress.advance(skipped=True)
        elif isinstance(item, TaskError):
            yield error_record(task_id, None, n, item)
        elif key in seen:
            err = TaskError(f"line {n}: id {task_id!r} is also on line {seen[key]}")
            yield error_record(task_id, item.get("task"), n, err)
        else:
            seen[key] = n
            yield Runnable(item, n)


class Results:
    """Where records go, and the counting each one gets (summary, progress).

    ``output`` None writes stdout. A file is opened for appending; each record is one
    ``write`` of a whole line, flushed and fsynced before ``write`` returns.
    """

    def __init__(self, output: Path | None, summary: BatchSummary, progress: Progress):
        self.sink = _Sink(output)
        self.summary = summary
        self.progress = progress

    def write(self, record: dict[str, Any]) -> bool:
        """Write one record; returns True when it is an error record."""
        self.sink.write(record)
        self.summary.ran += 1
        failed = record["status"] == "error"
        if failed:
            self.summary.errors += 1
            self.summary.failed_ids.append(record["id"])
        self.progress.advance(error=failed)
        return failed

    def close(self) -> None:
        self.sink.close()
        self.progress.close()


def run_batch(
    open_agent: Callable[[], Any],
    source: Path | None,
    output: Path | None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    fail_fast: bool = False,
    progress: Progress | None = None,
    stdin: Iterable[str | bytes] | None = None,
) -> BatchSummary:
    """Run every task of ``source`` (None: stdin) into ``output`` (None: stdout).

    Args:
        open_agent: called once, on the first task that needs the model (a resumed, finished
            file never loads it).
        resume: skip ids already in ``output``; without it an existing non-empty output is
            an error (nothing is overwritten by accident) unless ``overwrite``.
        fail_fast: stop at the first error record.

    Raises:
        ConfigError: the input cannot be read, the output exists, or resume has no file.
    """
    summary = BatchSummary()
    done, summary.repaired = prepare_output(output, resume=resume, overwrite=overwrite)
    lines = open_source(source, stdin)
    base = source.parent if source else None
    agent: Any = None
    progress = progress or Progress(None, enabled=False)
    results = Results(output, summary, progress)
    start = time.perf_counter()
    try:
        for item in triage(lines, done, summary, progress):
            if isinstance(item, Runnable):
                if agent is None:
                    agent = open_agent()
                item = run_one(agent, item.task, item.line, base)
            if results.write(item) and fail_fast:
                summary.stopped = "fail-fast"
                break
    except KeyboardInterrupt:
        summary.stopped = "interrupted"
    finally:
        results.close()
        summary.seconds = time.perf_counter() - start
        if agent is not None:
            agent.close()
    return summary


def open_source(
    source: Path | None, stdin: Iterable[str | bytes] | None = None
) -> Iterator[tuple[int, dict[str, Any] | TaskError]]:
    """:func:`read_lines` of ``source`` (None: ``stdin``, default the process's stdin).

    Raises:
        ConfigError: ``source`` cannot be opened (raised on the first ``next``).
    """
    if source is None:
        yield from read_lines(stdin if stdin is not None else sys.stdin.buffer)
        return
    try:
        f = source.open("rb")
    except OSError as exc:
        raise ConfigError(f"cannot read {source}: {exc.strerror}") from exc
    with f:
        yield from read_lines(f)


def count_tasks(source: Path) -> int | None:
    """Non-blank lines of a tasks file (the progress bar's total), None if unreadable."""
    try:
        with source.open("rb") as f:
            return sum(1 for line in f if line.strip())
    except OSError:
        return None


def read_records(path: Path) -> Iterable[dict[str, Any]]:
    """The complete records of a results file (a torn last line is left out)."""
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and "id" in rec:
                yield rec
