"""Run untrusted Python (generated code and its tests) in a confined subprocess.

:func:`run_sandboxed` writes the code to ``main.py`` in a fresh temporary directory and runs it
through a small launcher process (:mod:`tools._sandbox_launcher`). The layers, from the outside
in, and what each one contains:

- **Separate process, own session, scrubbed environment** (only ``PATH``, ``LANG`` and
  ``HOME``=the sandbox directory), ``python -I -S`` (no site-packages, no user site, no
  ``PYTHON*`` variables). The generated code never runs in the host process.
- **Wall-clock timeout and output cap**, enforced by the host: past ``timeout_s``, or past
  ``output_limit`` bytes of stdout+stderr, the code's process and its whole process group are
  killed with ``SIGKILL``.
- **Resource limits** (``setrlimit``): CPU seconds, address space, size of any file written
  (``file_mb``), 64 open files, no core dumps, and a process count cap that stops fork bombs.
- **One memory budget for the whole run** (``memory_mb``): a cgroup v2 of its own where this
  process may make one (layer ``cgroup``, see :mod:`tools._sandbox_cgroup`); otherwise the
  budget is split, ``memory_mb / max_procs`` of address space per process (layer
  ``memory-split``), so a fork bomb of big allocations still stays under it.
- **Kernel namespaces** when the kernel allows them (as root always; as another user when
  unprivileged user namespaces are enabled): a new **network namespace** (no interface but a
  down loopback, so no connection to anything, local or remote), a new **PID namespace** (the
  code is PID 1 there: it cannot signal the host or its launcher, and when it dies the kernel
  kills every process it started) with a fresh ``/proc`` that lists only its own processes
  (layer ``proc``), and a **mount namespace** in which one tmpfs of ``disk_mb`` holds the
  working directory and private ``/tmp``, ``/var/tmp``, ``/dev/shm`` and ``/run`` (layer
  ``tmpfs``): nothing written there reaches the host, and host UNIX sockets under those
  directories are out of reach. The private directory that holds Python (e.g. ``/root``) is
  replaced by an empty one with only Python bound back, read-only.
- **Throw-away uid** when the host runs as root: the code runs as an unused uid/gid with no
  supplementary groups, so it cannot read files that are not world-readable (``/etc/shadow``),
  cannot signal host processes, and the process cap counts only its own processes. In a user
  namespace every capability is dropped instead.
- **A report channel the code's helpers cannot forge** (``report_fd=True``): descriptor 3 of
  ``main.py`` is a pipe whose contents come back as ``report``, separate from stdout. The code
  process is not dumpable, so a process it forks (after closing descriptor 3) cannot reopen it
  through ``/proc`` or ptrace its parent; :mod:`tools._code_tests` runs candidates that way.

What it does *not* contain, deliberately (this is a guard for code a small model wrote, not a
jail for an adversary): world-readable files outside the private directories and the Python
home stay readable (no chroot, no seccomp filter; so do world-writable UNIX sockets elsewhere,
e.g. under ``/var/lib``); without root, the host user's files stay readable. Where no mount
namespace can be made, ``/tmp`` and the others are the host's, and only ``file_mb`` caps what
is written. bubblewrap would give the same namespaces, but it is not installed on a fresh
machine and setup cannot assume apt, so the layers are made here with ``unshare`` and ``mount``.
Where no network namespace can be made, sockets are refused by a Python-level guard installed
before the code runs — a guard, not a kernel boundary (``ctypes`` could get past it). The
result's ``isolation`` names the layers that were really in place on each run.

Example:
    >>> r = run_sandboxed("print(6 * 7)")
    >>> (r.ok, r.stdout)
    (True, '42\\n')
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from agent.errors import SandboxError, ToolInputError
from tools import _sandbox_cgroup
from tools._common import Result

__all__ = ["SandboxResult", "run_sandboxed"]

_LAUNCHER = Path(__file__).with_name("_sandbox_launcher.py")
_UID_BASE = 1_500_000_000
"""Throw-away uids are drawn above this (far above any real account)."""


@dataclass(frozen=True)
class SandboxResult(Result):
    """How one sandboxed run ended.

    ``limit`` names the limit that stopped the code, if any: ``timeout`` (wall clock),
    ``cpu``, ``output`` (too much stdout/stderr), ``memory`` (the run's cgroup killed it), or
    None. The per-process memory and file-size limits surface as errors inside the code
    (``MemoryError``, ``OSError: File too large``) and so in ``stderr`` and a non-zero
    ``exit_code``.
    """

    ok: bool
    """The code exited with status 0 and no limit was hit."""
    exit_code: int | None
    """Exit status, or None when the code was killed by a signal."""
    signal: int | None
    stdout: str
    stderr: str
    limit: str | None
    duration_ms: float
    isolation: tuple[str, ...]
    """The layers in place, e.g. ``("process", "rlimits", "netns", "pidns", "mountns", "tmpfs",
    "proc", "memory-split", "uid")``; ``"socket-guard"`` instead of ``"netns"`` means the
    network block was the Python guard."""
    report: str = ""
    """What the code wrote to descriptor 3 (only with ``report_fd=True``)."""

    @property
    def timed_out(self) -> bool:
        return self.limit == "timeout"


def run_sandboxed(
    code: str,
    *,
    files: Mapping[str, str] | None = None,
    argv: Sequence[str] = (),
    timeout_s: float = 10.0,
    cpu_s: float | None = None,
    memory_mb: int = 512,
    file_mb: int = 16,
    disk_mb: int = 64,
    max_procs: int = 16,
    output_limit: int = 1_000_000,
    keep_output: int = 64_000,
    report_fd: bool = False,
) -> SandboxResult:
    """Run ``code`` as ``main.py`` in a fresh temporary directory, confined (see the module doc).

    Args:
        code: Python source.
        files: extra files to put next to ``main.py`` (relative name -> text), e.g. tests or
            a module the code imports.
        argv: ``sys.argv[1:]`` for the code.
        timeout_s: wall-clock limit; the process group is killed when it runs out.
        cpu_s: CPU-time limit in seconds (default: ``timeout_s``, at least 1).
        memory_mb: memory for the whole run, all its processes together (see the module doc).
        file_mb: largest file the code may write.
        disk_mb: size of the private tmpfs holding the working directory, /tmp and the other
            writable places (with a mount namespace).
        max_procs: most processes the code may run at once (fork bombs stop there).
        output_limit: stdout+stderr bytes after which the code is killed.
        keep_output: characters of each stream kept in the result (the start of it).
        report_fd: give ``main.py`` a pipe on descriptor 3; what it writes comes back as
            ``report`` (at most ``keep_output`` characters).

    Returns:
        A :class:`SandboxResult`; a failing or killed program is a normal result, not an error.

    Raises:
        ToolInputError: a bad argument (a file name outside the directory, a limit <= 0).
        SandboxError: the sandbox itself could not be started.

    Example:
        >>> run_sandboxed("import sys; sys.exit(3)").exit_code
        3
    """
    _check_args(files or {}, timeout_s, memory_mb, file_mb, disk_mb, max_procs)
    cpu = max(1, round(cpu_s if cpu_s is not None else timeout_s))
    root = os.geteuid() == 0
    uid = _UID_BASE + secrets.randbelow(1_000_000) if root else os.geteuid()
    with tempfile.TemporaryDirectory(prefix="lorebook-sandbox-") as outer:
        # The code's directory sits inside a host-only directory: other sandboxes and users
        # cannot reach it, and the host cleans it up whatever the code left behind.
        os.chmod(outer, 0o711)
        workdir = Path(outer) / "work"
        workdir.mkdir()
        _write_files(workdir, {"main.py": code, **(files or {})}, uid if root else None)
        read_status, write_status = os.pipe()
        read_report, write_report = os.pipe() if report_fd else (None, None)
        cgroup = _sandbox_cgroup.make(memory_mb, max_procs)
        cfg = {
            "workdir": str(workdir),
            "argv": list(argv),
            "cpu_s": cpu,
            "memory_mb": memory_mb,
            "max_procs": max_procs,
            "file_mb": file_mb,
            "disk_mb": disk_mb,
            "nproc_base": 0 if root else _process_count(uid),
            "uid": uid,
            "status_fd": write_status,
            "report_fd": write_report,
            "cgroup": str(cgroup) if cgroup else None,
        }
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(workdir)}
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-B", str(_LAUNCHER), json.dumps(cfg)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=outer,
                start_new_session=True,
                pass_fds=tuple(fd for fd in (write_status, write_report) if fd is not None),
            )
        except OSError as exc:
            for fd in (read_status, read_report):
                if fd is not None:
                    os.close(fd)
            if cgroup:
                _sandbox_cgroup.remove(cgroup)
            raise SandboxError(
                f"could not start the sandbox ({exc}); check that {sys.executable} runs"
            ) from exc
        finally:
            for fd in (write_status, write_report):
                if fd is not None:
                    os.close(fd)
        pipes = _Pipes(read_status, read_report, cgroup)
        return _supervise(proc, pipes, start, timeout_s, output_limit, keep_output)


@dataclass(frozen=True)
class _Pipes:
    """The launcher's status pipe, the code's report pipe and the run's cgroup, if any."""

    status: int
    report: int | None
    cgroup: Path | None


def _check_args(
    files: Mapping[str, str],
    timeout_s: float,
    memory_mb: int,
    file_mb: int,
    disk_mb: int,
    max_procs: int,
) -> None:
    for name in files:
        p = PurePosixPath(name)
        if p.is_absolute() or ".." in p.parts or not p.parts or name == "main.py":
            raise ToolInputError(
                "sandbox",
                "bad-argument",
                f"file name {name!r} is not a plain relative path inside the sandbox",
                "Use names like 'test_main.py' or 'data/input.txt' (not main.py).",
            )
    for label, value in [
        ("timeout_s", timeout_s),
        ("memory_mb", memory_mb),
        ("file_mb", file_mb),
        ("disk_mb", disk_mb),
        ("max_procs", max_procs),
    ]:
        if value <= 0:
            raise ToolInputError(
                "sandbox", "bad-argument", f"{label} is {value}", "Pass a positive value."
            )


def _write_files(workdir: Path, files: Mapping[str, str], uid: int | None) -> None:
    for name, text in files.items():
        path = workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if uid is not None:
        for path in [workdir, *workdir.rglob("*")]:
            os.chown(path, uid, uid)


def _process_count(uid: int) -> int:
    """Processes the uid runs now (RLIMIT_NPROC counts them all, not just the sandbox's)."""
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            for line in status.read_text().splitlines():
                if line.startswith("Uid:"):
                    count += int(line.split()[1]) == uid
                    break
        except (OSError, ValueError, IndexError):
            continue
    return count


def _supervise(
    proc: subprocess.Popen[bytes],
    pipes: _Pipes,
    start: float,
    timeout_s: float,
    output_limit: int,
    keep_output: int,
) -> SandboxResult:
    """Drain the pipes until the launcher exits, killing everything at a limit."""
    assert proc.stdout is not None and proc.stderr is not None
    status_fd = pipes.status
    out: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
    report = bytearray()
    status_buf = bytearray()
    total = 0
    limit: str | None = None
    child_pid: int | None = None
    deadline = start + timeout_s
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
    sel.register(proc.stderr, selectors.EVENT_READ, "stderr")
    sel.register(status_fd, selectors.EVENT_READ, "status")
    if pipes.report is not None:
        sel.register(pipes.report, selectors.EVENT_READ, "report")
    try:
        while sel.get_map() and limit is None:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                limit = "timeout"
                break
            for key, _ in sel.select(timeout=min(remaining, 0.5)):
                data = os.read(key.fd, 65536)
                if not data:
                    sel.unregister(key.fileobj)
                    if key.data == "status":
                        # The launcher has exited: only stragglers that escaped the PID
                        # namespace (none, when there is one) can still hold the pipes.
                        deadline = min(deadline, time.perf_counter() + 0.5)
                    continue
                if key.data == "status":
                    status_buf += data
                    child_pid = child_pid or _child_pid(status_buf)
                    continue
                if key.data == "report":
                    report += data[: max(0, keep_output * 4 - len(report))]
                    continue
                total += len(data)
                buf = out[key.data]
                room = keep_output * 4 - len(buf)  # bytes; up to 4 per character
                if room > 0:
                    buf += data[:room]
                if total > output_limit:
                    limit = "output"
    finally:
        sel.close()
        if limit:
            _kill(proc, child_pid)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _kill(proc, child_pid)
            proc.wait()
        # Whatever is left in the launcher's group (when there is no PID namespace) goes too,
        # and the call returns only once it is gone: "killed" processes that the kernel has not
        # yet scheduled out still run for a moment (seen in CI on a loaded machine).
        _clear_group(proc.pid)
        if child_pid is not None:
            # PID 1 of the namespace left the launcher's group; once it is dead (a zombie at
            # most) the kernel has reaped every process of its namespace.
            _clear_group(child_pid, lambda: _alive(child_pid))
        if pipes.cgroup is not None and _sandbox_cgroup.remove(pipes.cgroup) and limit is None:
            limit = "memory"
        try:
            status_buf += os.read(status_fd, 65536)
        except OSError:
            pass
        os.close(status_fd)
        if pipes.report is not None:
            os.close(pipes.report)
        proc.stdout.close()
        proc.stderr.close()
    result = _result(bytes(status_buf), out, limit, start, keep_output)
    if report:
        result = dataclasses.replace(result, report=report.decode("utf-8", "replace")[:keep_output])
    return result


def _child_pid(status_buf: bytes | bytearray) -> int | None:
    if b"\n" not in status_buf:
        return None
    try:
        return int(json.loads(bytes(status_buf).split(b"\n", 1)[0])["pid"])
    except (ValueError, KeyError, TypeError):
        return None


def _kill(proc: subprocess.Popen[bytes], child_pid: int | None) -> None:
    if child_pid is not None:
        # PID 1 of its namespace: killing it takes every process it started with it.
        try:
            os.kill(child_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _killpg(proc.pid)


def _clear_group(pgid: int, alive: Callable[[], bool] | None = None, wait_s: float = 10.0) -> None:
    """SIGKILL the process group until none of its members is still alive (zombies aside)."""
    deadline = time.monotonic() + wait_s
    while True:
        _killpg(pgid)
        if not (alive() if alive else _group_alive(pgid)) or time.monotonic() > deadline:
            return
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _group_alive(pgid: int) -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # After the command name: state, parent pid, process group.
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _result(
    status_buf: bytes,
    out: Mapping[str, bytearray],
    limit: str | None,
    start: float,
    keep_output: int,
) -> SandboxResult:
    lines = []
    for line in status_buf.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    if not lines:
        raise SandboxError(
            "the sandbox launcher exited before starting the code: "
            + out["stderr"].decode("utf-8", "replace")[-500:]
            + " — run `python -I -S tools/_sandbox_launcher.py` by hand to see why"
        )
    layers = ["process", "rlimits", *lines[0].get("layers", [])]
    if "netns" not in layers:
        layers.append("socket-guard")
    end = lines[-1] if len(lines) > 1 else {}
    exit_code = end.get("exit")
    sig = end.get("signal")
    if limit is None and sig in (signal.SIGXCPU, signal.SIGKILL):
        limit = "cpu"  # nothing inside the sandbox can SIGKILL its PID 1: the CPU limit did
    stderr = out["stderr"].decode("utf-8", "replace")[:keep_output]
    if not end:
        sig = signal.SIGKILL
        if limit is None:  # the code killed its own launcher (possible without a uid drop)
            stderr += "\n[sandbox] the launcher was killed; the code's exit status is unknown\n"
    return SandboxResult(
        ok=exit_code == 0 and limit is None,
        exit_code=exit_code,
        signal=sig,
        stdout=out["stdout"].decode("utf-8", "replace")[:keep_output],
        stderr=stderr,
        limit=limit,
        duration_ms=(time.perf_counter() - start) * 1000,
        isolation=tuple(layers),
    )
