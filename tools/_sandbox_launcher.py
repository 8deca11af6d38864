"""The small intermediary process of :mod:`tools.sandbox`; runs as ``python -I -S <this> <config>``.

It is started by the host with a scrubbed environment, in its own session, and does, in order:

1. ``unshare`` a new network and PID namespace (as root directly, with a mount namespace too;
   otherwise inside a new user namespace, when the kernel allows unprivileged ones). Whatever
   fails is reported in the layers, not fatal. In the mount namespace a fresh tmpfs covers
   ``/tmp`` and the private directory holding Python (e.g. ``/root``), with the sandbox
   directory and the Python prefix (read-only) bound back.
2. ``fork``. The parent (this launcher) reports the child's host PID on the status pipe, waits
   for it and reports how it ended. The child is PID 1 of the new PID namespace, so when it
   dies the kernel kills everything it started, and the host can neither be seen nor signalled.
3. In the child: drop to a throw-away uid/gid with no groups (when root), set
   ``PR_SET_PDEATHSIG`` and ``PR_SET_NO_NEW_PRIVS``, apply the resource limits, ``chdir`` into
   the sandbox directory, install the socket guard when there is no network namespace, and run
   ``main.py`` in this already-started interpreter.

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
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38


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


def _namespaces(libc: object | None, workdir: str) -> list[str]:
    """Enter new namespaces if the kernel lets us; the layers obtained."""
    if os.geteuid() == 0 and _unshare(libc, _CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWPID):
        return ["netns", "pidns", *_private_mounts(libc, workdir)]
    if _unshare(libc, _CLONE_NEWUSER | _CLONE_NEWNET | _CLONE_NEWPID):
        return ["userns", "netns", "pidns"]
    return []


def _mount(libc: object, source: str, target: str, fstype: str, flags: int, data: str) -> None:
    import ctypes

    rc = libc.mount(  # type: ignore[attr-defined]
        source.encode(), target.encode(), fstype.encode(), ctypes.c_ulong(flags), data.encode()
    )
    if rc != 0:
        raise OSError(ctypes.get_errno(), f"mount {source} on {target} failed")


def _private_mounts(libc: object | None, workdir: str) -> list[str]:
    """Hide /tmp and the private directory holding Python; bring back what the code needs.

    The throw-away uid must read the standard library, which may sit under a private home
    (``/root/.pyenv``); an empty tmpfs over that home with only the Python prefix bound back
    (read-only) gives it that and nothing else. A fresh /tmp hides the host's temporary files
    and caps what the code can put there.
    """
    if libc is None:
        return []
    prefix = os.path.realpath(sys.base_prefix)
    hide = [d for d in _ancestors(prefix) if not os.stat(d).st_mode & 0o001][:1]
    if workdir.startswith("/tmp/"):
        hide.append("/tmp")
    try:
        _mount(libc, "none", "/", "", _MS_REC | _MS_PRIVATE, "")
        keep = {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for p in (prefix, workdir)}
        for d in hide:
            mode = "1777" if d == "/tmp" else "0755"
            _mount(libc, "tmpfs", d, "tmpfs", _MS_NOSUID | _MS_NODEV, f"mode={mode},size=64m")
        for path, fd in keep.items():
            if any(path.startswith(d + "/") for d in hide):
                os.makedirs(path, exist_ok=True)
                _mount(libc, f"/proc/self/fd/{fd}", path, "", _MS_BIND | _MS_REC, "")
            os.close(fd)
        _mount(libc, "none", prefix, "", _MS_BIND | _MS_REMOUNT | _MS_RDONLY, "")
    except OSError:
        return []
    return ["mountns"]


def _ancestors(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _limits(cfg: dict[str, object]) -> None:
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
    cap(resource.RLIMIT_AS, int(cfg["memory_mb"]) * 2**20)  # type: ignore[call-overload]
    cap(resource.RLIMIT_FSIZE, int(cfg["file_mb"]) * 2**20)  # type: ignore[call-overload]
    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_NOFILE, 64)
    cap(resource.RLIMIT_NPROC, int(cfg["nproc"]))  # type: ignore[call-overload]


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


def _run_user_code(cfg: dict[str, object], layers: list[str]) -> None:
    """In the child: confine, then run main.py; never returns."""
    code = 1
    try:
        libc = _libc()
        if _may_drop(layers):
            _drop_privileges(int(cfg["uid"]))  # type: ignore[call-overload]
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # type: ignore[attr-defined]
            libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # type: ignore[attr-defined]
        _limits(cfg)
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
    layers = _namespaces(_libc(), str(cfg["workdir"]))
    pid = os.fork()
    if pid == 0:
        status.close()
        _run_user_code(cfg, layers)
    if os.geteuid() == 0 and _may_drop(layers):
        layers.append("uid")
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
