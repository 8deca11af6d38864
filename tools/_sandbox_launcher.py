"""The small intermediary process of :mod:`tools.sandbox`; runs as ``python -I -S <this> <config>``.

It is started by the host with a scrubbed environment, in its own session, and does, in order:

1. ``unshare`` a new network, PID and mount namespace (as root directly; otherwise inside a new
   user namespace mapping only the host uid, when the kernel allows unprivileged ones). Whatever
   fails is reported in the layers, not fatal. In the mount namespace one size-capped tmpfs
   (``disk_mb``) holds the working directory and private ``/tmp``, ``/var/tmp``, ``/dev/shm``
   and ``/run`` (bound over the host's, so files written there and host UNIX sockets under them
   are out of reach), and the private directory holding Python (e.g. ``/root``) is replaced by an
   empty one with only the Python prefix bound back, read-only.
2. ``fork``. The child is PID 1 of the new PID namespace: it mounts a fresh ``/proc`` (only the
   sandbox's processes are in it), joins the run's cgroup when the host made one, tells this
   launcher which layers it got, and runs the code. This launcher reports the child's host PID
   and the layers on the status pipe, waits for it and reports how it ended. When the child
   dies the kernel kills everything it started.
3. In the child: drop to a throw-away uid/gid with no groups (as root; in a user namespace, drop
   every capability instead), set ``PR_SET_PDEATHSIG``, ``PR_SET_NO_NEW_PRIVS`` and
   ``PR_SET_DUMPABLE`` 0 (so no process of the code can ptrace it or open its descriptors through
   ``/proc``), apply the resource limits, put the report pipe (if any) on descriptor 3,
   ``chdir`` into the sandbox directory, install the socket guard when there is no network
   namespace, and run ``main.py`` in this already-started interpreter.

Memory: with a cgroup the whole run shares ``memory_mb`` and each process may use all of it;
without one, ``memory_mb`` is split: each process gets ``memory_mb / max_procs`` of address
space (at least 32 MiB, with fewer processes allowed when that floor applies), so the run
together stays under ``memory_mb`` (the ``memory-split`` layer).

Deliberate shortcut: the user code runs in the forked launcher interpreter instead of a fresh
``execve`` — it keeps startup cheap (about 30 ms a run), and the modules the launcher already
imported (``traceback``, ``json``, ``ctypes``) are there before the uid drop. It only uses the
standard library, because ``-S`` leaves site-packages out.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import traceback  # imported before the uid drop: the dropped uid may not reach the stdlib

_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNS = 0x00020000
_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_REPORT_FD = 3
_MIN_PROCESS_MB = 32
"""Address space below which a Python process cannot do much (it starts at about 15 MiB)."""
_PRIVATE_DIRS = (("/tmp", "tmp"), ("/var/tmp", "var-tmp"), ("/dev/shm", "shm"), ("/run", "run"))
"""Host directories anyone may write to, each covered by a directory of the run's tmpfs."""


def _libc() -> object | None:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True)
    except (ImportError, OSError):
        return None


def _unshare(libc: object | None, flags: int) -> bool:
    if libc is None:
        return False
    return bool(libc.unshare(flags) == 0)  # type: ignore[attr-defined]


def _namespaces(libc: object | None, cfg: dict[str, object]) -> list[str]:
    """Enter new namespaces if the kernel lets us; the layers obtained."""
    if os.geteuid() == 0 and _unshare(libc, _CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWPID):
        return ["netns", "pidns", *_private_mounts(libc, cfg)]
    uid, gid = os.geteuid(), os.getegid()
    if _unshare(libc, _CLONE_NEWUSER | _CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWPID):
        try:
            # Only our own ids are mapped: nothing inside can become another host user.
            for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                               ("gid_map", f"{gid} {gid} 1")):  # fmt: skip
                with open(f"/proc/self/{name}", "w") as fh:
                    fh.write(text)
        except OSError:
            return ["userns", "netns", "pidns"]
        return ["userns", "netns", "pidns", *_private_mounts(libc, cfg)]
    return []


def _mount(libc: object, source: str, target: str, fstype: str, flags: int, data: str) -> None:
    import ctypes

    rc = libc.mount(  # type: ignore[attr-defined]
        source.encode(), target.encode(), fstype.encode(), ctypes.c_ulong(flags), data.encode()
    )
    if rc != 0:
        raise OSError(ctypes.get_errno(), f"mount {source} on {target} failed")


def _private_mounts(libc: object | None, cfg: dict[str, object]) -> list[str]:
    """Give the run its own capped tmpfs for every writable place; hide Python's private home.

    One tmpfs of ``disk_mb`` is mounted over the host-only directory around the working
    directory; the working directory and a fresh /tmp, /var/tmp, /dev/shm and /run are
    directories of it, bound over the host's, so together they cannot hold more than
    ``disk_mb`` and nothing written there reaches the host. The files the host put in the
    working directory are copied in first. The throw-away uid must read the standard library,
    which may sit under a private home (``/root/.pyenv``); an empty tmpfs over that home with
    only the Python prefix bound back (read-only) gives it that and nothing else.
    """
    if libc is None:
        return []
    workdir = str(cfg["workdir"])
    outer = os.path.dirname(workdir)
    try:
        _mount(libc, "none", "/", "", _MS_REC | _MS_PRIVATE, "")
    except OSError:
        return []  # mounts refused (a seccomp or LSM policy): run without the layer
    # From here on a failure would leave the code in a half-built tree: stop the run instead.
    try:
        files = _snapshot(workdir)
        flags = _MS_NOSUID | _MS_NODEV
        _mount(libc, "tmpfs", outer, "tmpfs", flags, f"mode=0711,size={int(cfg['disk_mb'])}m")  # type: ignore[call-overload]
        owner = int(cfg["uid"]) if os.geteuid() == 0 else -1  # type: ignore[call-overload]
        for name, mode in (("work", 0o700), ("tmp", 0o1777), ("var-tmp", 0o1777),
                           ("shm", 0o1777), ("run", 0o755), ("run/lock", 0o1777)):  # fmt: skip
            os.mkdir(os.path.join(outer, name))
            os.chmod(os.path.join(outer, name), mode)
        for rel, data in files.items():
            path = os.path.join(outer, "work", rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
        if owner >= 0:
            for root, dirs, names in os.walk(os.path.join(outer, "work")):
                for entry in [root, *(os.path.join(root, n) for n in dirs + names)]:
                    os.chown(entry, owner, owner)
        keep = {name: os.open(os.path.join(outer, name), os.O_PATH | os.O_DIRECTORY)
                for name in ("work", "tmp", "var-tmp", "shm", "run")}  # fmt: skip
        covered: set[str] = set()
        for target, name in _PRIVATE_DIRS:
            real = os.path.realpath(target)
            if os.path.isdir(real) and real not in covered:
                _mount(libc, f"/proc/self/fd/{keep[name]}", real, "", _MS_BIND, "")
                covered.add(real)
        _hide_python_home(libc)
        os.makedirs(workdir, exist_ok=True)
        _mount(libc, f"/proc/self/fd/{keep['work']}", workdir, "", _MS_BIND, "")
        for fd in keep.values():
            os.close(fd)
    except OSError as exc:
        print(f"[sandbox] could not build the private mounts: {exc}", file=sys.stderr)
        os._exit(70)
    return ["mountns", "tmpfs"]


def _snapshot(workdir: str) -> dict[str, bytes]:
    files = {}
    for root, _, names in os.walk(workdir):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as fh:
                files[os.path.relpath(path, workdir)] = fh.read()
    return files


def _hide_python_home(libc: object) -> None:
    prefix = os.path.realpath(sys.base_prefix)
    hide = [d for d in _ancestors(prefix) if not os.stat(d).st_mode & 0o001][:1]
    if not hide:
        return
    keep = os.open(prefix, os.O_PATH | os.O_DIRECTORY)
    _mount(libc, "tmpfs", hide[0], "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=1m")
    os.makedirs(prefix, exist_ok=True)
    _mount(libc, f"/proc/self/fd/{keep}", prefix, "", _MS_BIND | _MS_REC, "")
    os.close(keep)
    _mount(libc, "none", prefix, "", _MS_BIND | _MS_REMOUNT | _MS_RDONLY, "")


def _ancestors(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _fresh_proc(libc: object | None, layers: list[str]) -> list[str]:
    """Mount a /proc that shows only this PID namespace (PID 1 must do it, from inside)."""
    if libc is None or "mountns" not in layers or "pidns" not in layers:
        return []
    try:
        _mount(libc, "proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, "")
    except OSError:
        return []
    return ["proc"]


def _join_cgroup(path: object) -> bool:
    if not path:
        return False
    try:
        with open(os.path.join(str(path), "cgroup.procs"), "w") as fh:
            fh.write("0")  # 0: the writing process; its children follow it
    except OSError:
        return False
    return True


def _memory_split(memory_mb: int, max_procs: int) -> tuple[int, int]:
    """Address space per process and process count so that together they fit ``memory_mb``."""
    per = min(memory_mb, max(memory_mb // max_procs, _MIN_PROCESS_MB))
    return per, max(1, min(max_procs, memory_mb // per))


def _limits(cfg: dict[str, object], as_mb: int, procs: int) -> None:
    def cap(which: int, value: int) -> None:
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            soft, hard = resource.getrlimit(which)
            if hard == resource.RLIM_INFINITY or value < hard:
                resource.setrlimit(which, (value, hard))

    cpu = int(cfg["cpu_s"])  # type: ignore[call-overload]
    # Soft limit sends SIGXCPU, which PID 1 of a namespace ignores; the hard limit's SIGKILL
    # cannot be ignored, so leave one second between them.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    cap(resource.RLIMIT_AS, as_mb * 2**20)
    cap(resource.RLIMIT_FSIZE, int(cfg["file_mb"]) * 2**20)  # type: ignore[call-overload]
    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_NOFILE, 64)
    cap(resource.RLIMIT_NPROC, int(cfg["nproc_base"]) + procs)  # type: ignore[call-overload]


def _may_drop(layers: list[str]) -> bool:
    """Whether a throw-away uid could still import the standard library."""
    if "mountns" in layers:
        return True
    return all(os.stat(d).st_mode & 0o001 for d in _ancestors(os.path.realpath(sys.base_prefix)))


def _drop_privileges(uid: int) -> bool:
    if os.geteuid() != 0:
        return False
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    return True


def _drop_capabilities(libc: object) -> bool:
    """Empty every capability set (the creator of a user namespace holds them all inside it)."""
    import ctypes

    for cap in range(64):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:  # type: ignore[attr-defined]
            return False  # EINVAL past the last capability the kernel knows is expected
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable for both 32-bit halves
    return bool(libc.capset(header, data) == 0)  # type: ignore[attr-defined]


_GUARD_MESSAGE = "network access is disabled in the lorebook sandbox"


def _socket_guard() -> None:
    """Refuse sockets in Python when no network namespace could be made (a guard, not a wall)."""
    import socket

    def refuse(*args: object, **kwargs: object) -> object:
        raise PermissionError(_GUARD_MESSAGE)

    class _Refused(socket.socket):
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise PermissionError(_GUARD_MESSAGE)

    socket.socket = _Refused  # type: ignore[misc]
    socket.create_connection = refuse  # type: ignore[assignment]
    socket.socketpair = refuse  # type: ignore[assignment]
    socket.getaddrinfo = refuse  # type: ignore[assignment]


def _confine(cfg: dict[str, object], layers: list[str], libc: object | None) -> list[str]:
    """In the child, before any of the code runs: the layers this process added."""
    own = _fresh_proc(libc, layers)
    if "pidns" in layers:
        # Out of the launcher's process group: kill(0) or killpg cannot reach the launcher,
        # which may share our uid in a user namespace. Without a PID namespace the host needs
        # the group to find and kill every process the code started.
        os.setsid()
    memory_mb, max_procs = int(cfg["memory_mb"]), int(cfg["max_procs"])  # type: ignore[call-overload]
    if _join_cgroup(cfg.get("cgroup")):
        own.append("cgroup")
        as_mb, procs = memory_mb, max_procs
    else:
        own.append("memory-split")
        as_mb, procs = _memory_split(memory_mb, max_procs)
    if _may_drop(layers) and _drop_privileges(int(cfg["uid"])):  # type: ignore[call-overload]
        own.append("uid")
    elif "userns" in layers:
        if libc is None or not _drop_capabilities(libc):
            raise OSError("could not drop the capabilities of the user namespace")
        own.append("nocaps")
    if libc is not None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # type: ignore[attr-defined]
        libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # type: ignore[attr-defined]
        libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)  # type: ignore[attr-defined]
    _limits(cfg, as_mb, procs)
    return own


def _run_user_code(cfg: dict[str, object], layers: list[str], sync_fd: int) -> None:
    """In the child: confine, then run main.py; never returns."""
    code = 1
    try:
        libc = _libc()
        try:
            own = _confine(cfg, layers, libc)
        except OSError as exc:
            print(f"[sandbox] could not confine the code: {exc}", file=sys.stderr)
            os._exit(70)
        os.write(sync_fd, json.dumps(own).encode())
        os.close(sync_fd)
        report = cfg.get("report_fd")
        if isinstance(report, int) and report != _REPORT_FD:
            os.dup2(report, _REPORT_FD)
            os.close(report)
        workdir = str(cfg["workdir"])
        os.chdir(workdir)
        os.umask(0o077)
        if "netns" not in layers:
            _socket_guard()
        sys.path.insert(0, workdir)
        sys.argv = ["main.py", *[str(a) for a in cfg["argv"]]]  # type: ignore[attr-defined]
        with open("main.py", encoding="utf-8") as fh:
            source = fh.read()
        namespace = {"__name__": "__main__", "__file__": "main.py", "__builtins__": __builtins__}
        exec(compile(source, "main.py", "exec"), namespace)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except BaseException as exc:  # noqa: BLE001 - report whatever the user code raised
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != "main.py":
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb, file=sys.stderr)
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001, S110 - a closed or full pipe: nothing to do
                pass
        os._exit(code & 0xFF)


def main() -> None:
    cfg = json.loads(sys.argv[1])
    status = os.fdopen(int(cfg["status_fd"]), "w", buffering=1)
    layers = _namespaces(_libc(), cfg)
    sync_r, sync_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        status.close()
        os.close(sync_r)
        _run_user_code(cfg, layers, sync_w)
    os.close(sync_w)
    if isinstance(cfg.get("report_fd"), int):
        os.close(cfg["report_fd"])  # only the code's processes hold the report pipe now
    got = b""
    while chunk := os.read(sync_r, 4096):
        got += chunk
    os.close(sync_r)
    try:
        layers += [str(layer) for layer in json.loads(got)]
    except ValueError:
        pass  # the child failed before confining itself; its exit status says why
    status.write(json.dumps({"pid": pid, "layers": layers}) + "\n")
    _, wait_status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(wait_status):
        end = {"signal": os.WTERMSIG(wait_status)}
    else:
        end = {"exit": os.WEXITSTATUS(wait_status)}
    status.write(json.dumps(end) + "\n")
    status.close()
    os._exit(0)


if __name__ == "__main__":
    main()
