"""A cgroup v2 per sandbox run, where this process may make one: one memory cap for the whole run.

:func:`make` creates ``lorebook-sandbox-<random>`` under this process's own cgroup with
``memory.max`` (swap off, the whole group killed together on OOM) and ``pids.max``; the
sandbox's PID 1 moves itself in, so every process the code starts shares the one budget.
:func:`remove` kills what is left, says whether the cap was hit and removes the group.

It is used only when it can be had without disturbing the host: a cgroup2 hierarchy with the
memory controller, where this process's cgroup already delegates memory to its children (or
lets this process turn that on, as in a container's root cgroup). Anything else — cgroup v1,
a read-only ``/sys/fs/cgroup``, an unprivileged user without a delegated subtree — returns None
and the launcher splits the memory budget across processes instead (``memory-split``).
Deliberate shortcut: cgroup v1's memory controller is not used even where it is writable.
"""

from __future__ import annotations

import functools
import os
import secrets
import signal
import time
from pathlib import Path

_PREFIX = "lorebook-sandbox-"


@functools.cache
def _base() -> Path | None:
    """This process's cgroup2 directory, when children with the memory controller can be made."""
    try:
        own = next(
            line.split("::", 1)[1].strip()
            for line in Path("/proc/self/cgroup").read_text().splitlines()
            if line.startswith("0::")
        )
        mounts = [
            line.split()
            for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if " - cgroup2 " in line
        ]
    except (OSError, StopIteration):
        return None
    for fields in mounts:
        if fields[3] != "/":
            continue  # a bind of part of the hierarchy: own's path is not relative to it
        base = Path(fields[4]) / own.lstrip("/")
        try:
            if not os.access(base, os.W_OK):
                continue
            if "memory" not in (base / "cgroup.controllers").read_text().split():
                continue
            control = base / "cgroup.subtree_control"
            if "memory" not in control.read_text().split():
                control.write_text("+memory")
        except OSError:
            continue  # EBUSY (processes live here), EACCES, read-only mount
        return base
    return None


def make(memory_mb: int, max_procs: int) -> Path | None:
    """A fresh cgroup capping the run at ``memory_mb`` and ``max_procs``; None if impossible."""
    base = _base()
    if base is None:
        return None
    path = base / f"{_PREFIX}{secrets.token_hex(6)}"
    try:
        path.mkdir()
    except OSError:
        return None
    try:
        (path / "memory.max").write_text(str(memory_mb * 2**20))
        for name, value in (("memory.swap.max", "0"), ("memory.oom.group", "1")):
            if (path / name).exists():
                (path / name).write_text(value)
        if (path / "pids.max").exists():
            (path / "pids.max").write_text(str(max_procs))
    except OSError:
        remove(path)
        return None
    return path


def remove(path: Path, wait_s: float = 5.0) -> bool:
    """Kill what is left in the group and remove it; whether the memory cap killed something."""
    try:
        events = (path / "memory.events").read_text().split()
        oom = int(events[events.index("oom_kill") + 1]) > 0
    except (OSError, ValueError, IndexError):
        oom = False
    deadline = time.monotonic() + wait_s
    while True:
        _kill_all(path)
        try:
            path.rmdir()
            return oom
        except FileNotFoundError:
            return oom
        except OSError:
            if time.monotonic() > deadline:
                return oom  # left for the next boot; nothing runs in it
            time.sleep(0.02)


def _kill_all(path: Path) -> None:
    try:
        (path / "cgroup.kill").write_text("1")
        return
    except OSError:
        pass  # kernels before 5.14 have no cgroup.kill
    try:
        pids = (path / "cgroup.procs").read_text().split()
    except OSError:
        return
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, PermissionError, ValueError):
            pass
