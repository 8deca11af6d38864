"""Run a batch on Ray: N worker actors, each with its own :class:`~agent.api.Agent`.

    lorebook batch tasks.jsonl -o out.jsonl --ray local --workers 2     # a private cluster
    lorebook batch tasks.jsonl -o out.jsonl --ray head:6379              # an existing one

Everything but the running is :mod:`agent.batch.runner`'s: the driver (this process) reads and
triages the lines, writes every record itself through the same :class:`~agent.batch.runner.Results`
(one fsynced line per record), resumes the same way, and the workers run each task with the same
:func:`~agent.batch.runner.run_one`, so a record has the same shape whichever runner wrote it.

Design choices, and what they cost:

- **A worker is an actor that opens its agent once** (the model loads once per worker) and runs
  its tasks one at a time, in the order the driver submitted them (Ray runs a synchronous
  actor's calls from one caller in order). The first worker opens alone, the rest together:
  on a fresh data directory the first open assembles the default model and creates the
  database, which two processes must not do at once.
- **Order per user by pinning.** Tasks that take a ``user`` (chat, ask, remember, recall,
  forget) are ordered per user (:func:`~agent.batch.tasks.ordering_key`); the first task of a
  user goes to the least-loaded worker and every later task of that user goes to the same one,
  so a user's tasks run in file order and see one agent's session state (as with the local
  runner). Tools (translate, summarize, code, review) go to whichever worker is least loaded.
  ``ingest`` writes the documents every user's chat reads, so it is a barrier: it starts after
  every earlier task has finished and later tasks start after it. Pinning is simpler than
  chaining submissions per key and keeps a user on one process; its cost is balance: a file
  dominated by one user runs at one worker's speed.
- **Bounded queues.** At most :data:`WINDOW` tasks wait on a worker, so the driver holds a
  few records at a time whatever the file's size; when a user's worker is full the driver
  waits for any result before reading on.
- **Results in completion order,** each id exactly once; a resumed run skips the ids already
  in the output, as the local runner does.
- **A dead worker is replaced, its tasks re-run.** When a worker process dies (kill -9, the
  OOM killer, a lost node), the results it returned before dying are written, and its
  unfinished tasks are resubmitted, in their original order, to a fresh actor that takes its
  place (and its users), before anything else is sent there; so per-user order holds across
  the restart. The output is exactly-once (the driver writes each id once), the execution is
  at-least-once: the task that was running may have done part of its work (a ``remember``
  committed before the kill is committed again; the store refreshes a duplicate fact instead of
  adding it, and a repeated ``chat`` turn appears twice in its thread). A task whose worker dies
  :data:`DEATHS_PER_TASK` times while running it gets an error record (``WorkerDiedError``)
  instead of killing workers forever. The replacement starts with a fresh session (per-user
  state held in memory by the dead agent, such as what it recalled this session, is gone).
- **Shared data.** Every worker opens the same settings, so with SQLite they share one data
  directory (one machine, or a shared file system with working locks); across machines,
  ``database_url`` points every worker at one PostgreSQL. Relative ``path``/``paths`` in tasks
  are resolved against the tasks file's folder on the driver, so they must exist at that path
  on every worker's host.
- **Local cluster.** ``--ray local`` starts a private cluster for this run, without a
  dashboard, with ``num_cpus`` = the workers. Ray 2.60 cannot be held to loopback: it turns
  127.0.0.1 into the host's routable address and its servers listen on every interface (token
  authentication, on by default, is what guards it).
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from agent.batch.progress import Progress
from agent.batch.runner import (
    BatchSummary,
    Results,
    Runnable,
    error_record,
    open_source,
    prepare_output,
    run_one,
    triage,
)
from agent.batch.tasks import TASKS, ordering_key
from agent.errors import ConfigError, LorebookError

__all__ = [
    "DEATHS_PER_TASK",
    "MAX_WORKERS",
    "WINDOW",
    "WorkerDiedError",
    "WorkerPool",
    "connect",
    "run_batch_ray",
]

MAX_WORKERS = 8
"""Default cap on workers when ``--workers`` is not given (each loads its own model)."""
WINDOW = 8
"""Tasks submitted to one worker and not yet returned, at most."""
DEATHS_PER_TASK = 3
"""A task whose worker died this many times while running it gets an error record."""
START_TIMEOUT_S = 600.0
"""How long the workers may take to start and load the model."""

RAY_MISSING = (
    "--ray needs Ray, which is not installed; install it with: pip install 'lorebook[scale]'"
)


class WorkerDiedError(LorebookError):
    """A batch worker died while running a task, :data:`DEATHS_PER_TASK` times in a row."""


def _ray() -> ModuleType:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(RAY_MISSING) from exc
    return ray


@contextmanager
def connect(address: str, workers: int | None = None) -> Iterator[int]:
    """Connect this process to Ray for the ``with`` block; yields the cluster's CPUs.

    Args:
        address: ``local`` starts a private cluster (no dashboard, ``num_cpus`` = ``workers``
            or this machine's cores) that stops at the end of the block; anything else
            (``host:port``, ``ray://host:10001``) connects to a running cluster. When this
            process is already connected, that connection is used and left open.
        workers: the workers that will run (sizes a local cluster).

    Raises:
        ConfigError: Ray is not installed, or the cluster cannot be reached.
    """
    ray = _ray()
    if ray.is_initialized():
        yield int(ray.cluster_resources().get("CPU", 0))
        return
    options: dict[str, Any] = {"logging_level": logging.WARNING, "namespace": "lorebook"}
    if address == "local":
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        options.update(include_dashboard=False, num_cpus=workers or os.cpu_count() or 1)
    try:
        ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(
            f"cannot connect to the Ray cluster at {address!r}: {exc}; start one with "
            "'ray start --head' and pass its address (host:6379), or use --ray local"
        ) from exc
    try:
        yield int(ray.cluster_resources().get("CPU", 0))
    finally:
        ray.shutdown()


class _Worker:
    """The actor's body: one agent, opened by :meth:`start`, running one task at a time."""

    def __init__(self, open_agent: Callable[[], Any]):
        self.open_agent = open_agent
        self.agent: Any = None

    def start(self) -> int:
        """Open the agent (the model loads here); returns this worker's process id."""
        if self.agent is None:
            self.agent = self.open_agent()
        return os.getpid()

    def run(self, task: dict[str, Any], line: int, base: Path | None) -> dict[str, Any]:
        return run_one(self.agent, task, line, base)

    def close(self) -> None:
        if self.agent is not None:
            self.agent.close()
            self.agent = None


class WorkerPool:
    """``workers`` actors, each with its agent open; a dead one is replaced by :meth:`replace`.

    Needs a Ray connection (:func:`connect`). Each actor reserves one CPU.

    Raises:
        ConfigError: more workers than the cluster has CPUs, or they did not start in time.
        LorebookError: opening the agent failed on a worker (the worker's own error).

    Example:
        >>> with connect("local", 2):                                  # doctest: +SKIP
        ...     with WorkerPool(lambda: Agent.open(backend="fake"), 2) as pool:
        ...         pool.pids
        [20011, 20012]
    """

    def __init__(self, open_agent: Callable[[], Any], workers: int):
        self.ray = _ray()
        cpus = int(self.ray.cluster_resources().get("CPU", 0))
        if workers < 1:
            raise ConfigError(f"--workers must be at least 1, not {workers}")
        if workers > cpus:
            raise ConfigError(
                f"{workers} workers but the Ray cluster has {cpus} CPUs (each worker takes "
                f"one); pass --workers {cpus} or fewer, or add nodes to the cluster"
            )
        self._actor = self.ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(_Worker)
        self.open_agent = open_agent
        # The first worker opens its agent alone: on a fresh data directory that assembles the
        # default model and creates the database, which two processes must not do at once.
        self.actors: list[Any] = [self._actor.remote(open_agent)]
        self.pids: list[int] = self._started([self.actors[0].start.remote()])
        self.actors += [self._actor.remote(open_agent) for _ in range(workers - 1)]
        self.pids += self._started([a.start.remote() for a in self.actors[1:]])
        self.restarts = 0

    def _started(self, refs: list[Any]) -> list[int]:
        try:
            return list(self.ray.get(refs, timeout=START_TIMEOUT_S))
        except self.ray.exceptions.GetTimeoutError as exc:
            self.close()
            raise ConfigError(
                f"the batch workers did not start within {START_TIMEOUT_S:.0f} s; the cluster "
                f"has {self.ray.available_resources().get('CPU', 0):.0f} CPUs free"
            ) from exc
        except self.ray.exceptions.RayTaskError as exc:
            self.close()
            cause = exc.as_instanceof_cause()
            if isinstance(cause, LorebookError):
                raise type(cause)(*cause.args) from exc  # the worker's own error, unwrapped
            raise

    def __len__(self) -> int:
        return len(self.actors)

    def submit(self, slot: int, task: dict[str, Any], line: int, base: Path | None) -> Any:
        """Queue one task on worker ``slot``; returns the result's reference."""
        return self.actors[slot].run.remote(task, line, base)

    def replace(self, slot: int) -> None:
        """Start a fresh worker in place of ``slot`` (after it died)."""
        self.ray.kill(self.actors[slot], no_restart=True)
        self.actors[slot] = self._actor.remote(self.open_agent)
        self.pids[slot] = self._started([self.actors[slot].start.remote()])[0]
        self.restarts += 1

    def close(self, wait: bool = True) -> None:
        """Close every agent (indexes saved, WAL checkpointed), then end the actors.

        ``wait=False`` ends them at once (after Ctrl-C: the store is crash-safe).
        """
        if wait:
            refs = [a.close.remote() for a in self.actors]
            for ref in refs:
                try:
                    self.ray.get(ref, timeout=60)
                except self.ray.exceptions.RayError:
                    pass  # a dead or stuck worker has nothing left to save
        for actor in self.actors:
            self.ray.kill(actor, no_restart=True)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(eq=False)
class _Entry:
    """A submitted task: what to resubmit if its worker dies."""

    task: dict[str, Any]
    line: int
    ref: Any = None
    deaths: int = 0


class _Dispatcher:
    """Sends runnable tasks to workers in file order (pinned per user), writes results."""

    def __init__(self, pool: WorkerPool, results: Results, base: Path | None):
        self.ray = pool.ray
        self.pool = pool
        self.results = results
        self.base = base
        self.queues: list[deque[_Entry]] = [deque() for _ in range(len(pool))]
        self.pinned: dict[str, int] = {}
        self.pending: dict[Any, tuple[int, _Entry]] = {}
        self.failed = False

    def submit(self, item: Runnable) -> None:
        entry = _Entry(item.task, item.line)
        kind = TASKS.get(str(item.task.get("task")))
        if kind is not None and kind.shared_write:
            self.drain()
            self._send(self._least_loaded(), entry)
            self.drain()
            return
        key = ordering_key(item.task)
        slot = self.pinned.get(key) if key is not None else None
        if slot is None:
            slot = self._least_loaded()
            if key is not None:
                self.pinned[key] = slot
        while len(self.queues[slot]) >= WINDOW:
            self.wait()
        self._send(slot, entry)

    def _least_loaded(self) -> int:
        return min(range(len(self.queues)), key=lambda s: len(self.queues[s]))

    def _send(self, slot: int, entry: _Entry) -> None:
        entry.ref = self.pool.submit(slot, entry.task, entry.line, self.base)
        self.queues[slot].append(entry)
        self.pending[entry.ref] = (slot, entry)

    def wait(self) -> None:
        """Write at least one result (or handle a dead worker)."""
        ready, _ = self.ray.wait(list(self.pending), num_returns=1)
        for ref in ready:
            if ref not in self.pending:
                continue  # its worker died while this batch of refs was in hand: resubmitted
            slot, entry = self.pending.pop(ref)
            try:
                record = self.ray.get(ref)
            except self.ray.exceptions.RayActorError:
                self.pending[ref] = (slot, entry)
                self._worker_died(slot)
                continue
            except self.ray.exceptions.RayTaskError as exc:  # past run_one's own net
                err = exc.as_instanceof_cause()
                record = error_record(entry.task["id"], entry.task.get("task"), entry.line, err)
            self.queues[slot].remove(entry)
            self._write(record)

    def drain(self) -> None:
        while self.pending:
            self.wait()

    def _write(self, record: dict[str, Any]) -> None:
        self.failed |= self.results.write(record)

    def _worker_died(self, slot: int) -> None:
        lost = list(self.queues[slot])
        self.queues[slot].clear()
        unfinished: list[_Entry] = []
        for entry in lost:
            self.pending.pop(entry.ref, None)
            try:  # results it returned before dying are as good as any
                self._write(self.ray.get(entry.ref, timeout=30))
            except (self.ray.exceptions.RayActorError, self.ray.exceptions.GetTimeoutError):
                unfinished.append(entry)
        if unfinished:
            unfinished[0].deaths += 1  # the worker runs its queue in order: this one was running
        self.pool.replace(slot)
        for entry in unfinished:
            if entry.deaths >= DEATHS_PER_TASK:
                err = WorkerDiedError(
                    f"line {entry.line}: the worker running this task died {entry.deaths} times "
                    "(killed, out of memory, or a crash in native code); see the Ray logs"
                )
                self._write(error_record(entry.task["id"], entry.task.get("task"), entry.line, err))
            else:
                self._send(slot, entry)


def _close(pool: WorkerPool, wait: Callable[[], bool]) -> None:
    pool.close(wait=wait())


def run_batch_ray(
    open_agent: Callable[[], Any],
    source: Path | None,
    output: Path | None,
    *,
    address: str = "local",
    workers: int | None = None,
    pool: WorkerPool | None = None,
    resume: bool = False,
    overwrite: bool = False,
    fail_fast: bool = False,
    progress: Progress | None = None,
    stdin: Iterable[str | bytes] | None = None,
) -> BatchSummary:
    """:func:`~agent.batch.runner.run_batch` with the tasks run by Ray workers.

    Args:
        open_agent: run once in each worker to open its agent (pickled to the workers, so a
            closure over picklable settings).
        address: ``local`` or a cluster address, see :func:`connect`.
        workers: how many workers; default the cluster's CPUs, at most :data:`MAX_WORKERS`.
        pool: workers already started (then ``address``/``workers`` are not used and the pool
            is left open); by default the connection and the workers are made on the first
            task that needs them, so a finished file touches no cluster.
        fail_fast: after the first error record, submit nothing more; tasks already on the
            workers finish and are written.

    Raises:
        ConfigError: as :func:`~agent.batch.runner.run_batch`, or Ray is missing, unreachable
            or has fewer CPUs than ``workers``.
        LorebookError: a worker could not open its agent.
    """
    summary = BatchSummary()
    done, summary.repaired = prepare_output(output, resume=resume, overwrite=overwrite)
    lines = open_source(source, stdin)
    progress = progress or Progress(None, enabled=False)
    results = Results(output, summary, progress)
    dispatcher: _Dispatcher | None = None
    start = time.perf_counter()
    interrupted = False
    failed = False  # an error record was written (for fail_fast)
    with ExitStack() as stack:
        try:
            for item in triage(lines, done, summary, progress):
                if isinstance(item, Runnable):
                    if dispatcher is None:
                        if pool is None:
                            cpus = stack.enter_context(connect(address, workers))
                            pool = WorkerPool(open_agent, workers or max(1, min(cpus, MAX_WORKERS)))
                            stack.callback(_close, pool, lambda: not interrupted)
                        dispatcher = _Dispatcher(pool, results, source.parent if source else None)
                    dispatcher.submit(item)
                else:
                    failed |= results.write(item)
                if fail_fast and (failed or (dispatcher is not None and dispatcher.failed)):
                    summary.stopped = "fail-fast"
                    break
            if dispatcher is not None:
                dispatcher.drain()
                if fail_fast and dispatcher.failed:
                    summary.stopped = "fail-fast"
        except KeyboardInterrupt:
            interrupted = True
            summary.stopped = "interrupted"
        finally:
            results.close()
            summary.seconds = time.perf_counter() - start
            if pool is not None:
                summary.workers = len(pool)
                summary.restarts = pool.restarts
    return summary
