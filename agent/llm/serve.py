"""Starting llama.cpp's ``llama-server`` on a registered model (``lorebook serve-model``).

The binary is built by ``make llama-server`` (``scripts/build_llama_tools.sh``) from the
llama.cpp that llama-cpp-python vendors, with the wheel's flags (CUDA where available), and kept
in ``~/.cache/lorebook/llama-tools/<version>-<flags hash>/`` (``$XDG_CACHE_HOME/lorebook/...``
where that is set, as the build script does). :func:`find_server_binary` looks there, then at
``$LOREBOOK_LLAMA_SERVER`` and ``PATH``.

:class:`LocalServer` runs one server as a child process: it picks a free port when none is
given, waits for ``/health``, and stops the process (SIGTERM, then SIGKILL) on exit. The CLI,
the tests and the benchmarks all start servers through it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from agent.errors import ConfigError, ServerUnavailableError


def tools_cache() -> Path:
    """Where ``make llama-server`` keeps its builds: ``$LLAMA_TOOLS_CACHE``, else
    ``$XDG_CACHE_HOME/lorebook/llama-tools``, else ``~/.cache/lorebook/llama-tools``."""
    if os.environ.get("LLAMA_TOOLS_CACHE"):
        return Path(os.environ["LLAMA_TOOLS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lorebook" / "llama-tools"


def find_server_binary(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The ``llama-server`` to run.

    Order: ``explicit``, ``$LOREBOOK_LLAMA_SERVER``, the newest build in
    :func:`tools_cache` for the installed llama-cpp-python version, ``llama-server`` on
    ``PATH``.

    Raises:
        ConfigError: none found (the message says how to build one).
    """
    candidates: list[Path] = []
    for given in (explicit, os.environ.get("LOREBOOK_LLAMA_SERVER")):
        if given:
            path = Path(given).expanduser()
            if not (path.is_file() and os.access(path, os.X_OK)):
                raise ConfigError(f"{path} is not an executable llama-server")
            return path
    cache = tools_cache()
    version = _llama_cpp_version()
    if cache.is_dir():
        builds = [p / "llama-server" for p in cache.iterdir() if p.name.startswith(f"{version}-")]
        candidates += sorted(
            (b for b in builds if b.is_file()), key=lambda b: b.stat().st_mtime, reverse=True
        )
    on_path = shutil.which("llama-server")
    if on_path:
        candidates.append(Path(on_path))
    if not candidates:
        raise ConfigError(
            "no llama-server found: build it with `make llama-server` (add CUDA=1 for a GPU "
            "build), or set LOREBOOK_LLAMA_SERVER to an existing binary"
        )
    return candidates[0]


def _llama_cpp_version() -> str:
    try:
        from importlib.metadata import version

        return version("llama-cpp-python")
    except Exception:  # not installed: any cached build will do
        return ""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def server_command(
    binary: Path,
    model_path: Path | str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    n_ctx: int = 8192,
    parallel: int = 1,
    n_threads: int = 0,
    gpu_layers: int = -1,
    n_batch: int = 512,
    extra: Sequence[str] = (),
) -> list[str]:
    """The command line for one server. ``n_ctx`` is per slot (the server gets n_ctx × parallel).

    ``gpu_layers=-1`` offloads every layer (llama-server's own default since b5xxx is "auto");
    on a build without a GPU backend the server keeps everything on the CPU.
    """
    cmd = [
        str(binary),
        "--model",
        str(model_path),
        "--host",
        host,
        "--port",
        str(port),
        "--ctx-size",
        str(n_ctx * parallel),
        "--parallel",
        str(parallel),
        "--batch-size",
        str(n_batch),
        "--ubatch-size",
        str(n_batch),
        "--n-gpu-layers",
        "999" if gpu_layers < 0 else str(gpu_layers),
        "--no-webui",
    ]
    if n_threads > 0:
        cmd += ["--threads", str(n_threads), "--threads-batch", str(n_threads)]
    return cmd + list(extra)


class LocalServer:
    """One ``llama-server`` child process on this machine.

    Example (not run here: it needs a built server and a model)::

        with LocalServer(model_path, port=0) as server:
            llm = ServerLLM(server.url)
    """

    def __init__(
        self,
        model_path: Path | str,
        *,
        binary: Path | str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        log: IO[str] | Path | None = None,
        ready_timeout_s: float = 120.0,
        **options: Any,
    ):
        self.binary = find_server_binary(binary)
        self.host = host
        self.port = port or free_port(host)
        self.cmd = server_command(self.binary, model_path, host=host, port=self.port, **options)
        self.log = log
        self.ready_timeout_s = ready_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[Any] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> LocalServer:
        from agent.llm.server import wait_until_ready

        out: Any
        if isinstance(self.log, Path):
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = out = self.log.open("ab")
        elif self.log is None:
            out = subprocess.DEVNULL
        else:
            out = self.log
        # Its own process group: a Ctrl-C in the terminal reaches us, and we stop it in order.
        self.proc = subprocess.Popen(
            self.cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        try:
            wait_until_ready(self.url, self.ready_timeout_s, alive=self.alive)
        except ServerUnavailableError:
            code = self.stop()
            raise ServerUnavailableError(
                {self.url: f"llama-server did not start (exit status {code}); command: "
                 + " ".join(self.cmd)}
            ) from None  # fmt: skip
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash would (tests of a dead replica)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout_s``; returns the exit status."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return proc.returncode

    def wait(self) -> int:
        """Run until the server exits (``serve-model`` in the foreground)."""
        assert self.proc is not None
        return self.proc.wait()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main_note(url: str) -> str:
    """What ``serve-model`` prints once the server is ready."""
    return (
        f"llama-server ready at {url}\n"
        f"use it:  LOREBOOK_BACKEND=llama_server LOREBOOK_SERVER_URLS={url} lorebook chat\n"
        "stop it: Ctrl-C"
    )


if __name__ == "__main__":  # pragma: no cover - manual use
    print(find_server_binary(), file=sys.stderr)
