"""A PostgreSQL server for the tests: the one ``LOREBOOK_TEST_DATABASE_URL`` names, or a private
throw-away cluster started from Debian's binaries (``scripts/ensure_postgres.sh`` installs them).

The private cluster: ``initdb`` into a temporary folder, ``pg_ctl start`` listening on
127.0.0.1 on a free port (and a socket in the folder), ``fsync`` on, trust authentication
(loopback only); stopped and deleted by :meth:`PgServer.stop`. ``initdb`` and ``postgres``
refuse to run as root, so as root they run as the ``postgres`` user (``runuser``).

Each test gets a fresh database (:meth:`PgServer.new_database`, ``CREATE DATABASE`` takes
about 50 ms here); databases are not dropped one by one (a drop waits for a checkpoint,
about 1 s): the cluster goes as a whole. With an external server, the role in the URL needs
``CREATEDB``, and the databases it made are dropped at the end.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

ENV_URL = "LOREBOOK_TEST_DATABASE_URL"
ENV_SKIP = "LOREBOOK_SKIP_POSTGRES"


class PostgresMissing(RuntimeError):
    """No PostgreSQL binaries on this machine and no server URL given."""


def find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<v>/bin`` that has ``initdb``."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """A running server: admin URL, fresh databases, and (private cluster only) its files."""

    def __init__(self, admin_url: str, data_dir: Path | None = None, tmp: Path | None = None):
        import psycopg

        self.admin_url = admin_url
        #: The cluster's data directory (None for an external server).
        self.data_dir = data_dir
        self._tmp = tmp
        self._bindir = find_bindir()
        self._made: list[str] = []
        self._admin = psycopg.connect(admin_url, autocommit=True)

    # -- starting and stopping -------------------------------------------------------------

    @classmethod
    def start(cls) -> PgServer:
        """Use ``LOREBOOK_TEST_DATABASE_URL``, else start a private cluster.

        Raises:
            PostgresMissing: no binaries and no URL.
        """
        if os.environ.get(ENV_URL):
            return cls(os.environ[ENV_URL])
        bindir = find_bindir()
        if bindir is None:
            raise PostgresMissing(
                "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb). Run "
                "`make test` (it installs it with scripts/ensure_postgres.sh), or point "
                f"{ENV_URL} at a server whose role may CREATE DATABASE; {ENV_SKIP}=1 skips "
                "the PostgreSQL tests instead."
            )
        tmp = Path(tempfile.mkdtemp(prefix="lorebook-pg-"))
        data, sock = tmp / "data", tmp / "sock"
        data.mkdir()
        sock.mkdir()
        as_root = os.geteuid() == 0
        if as_root:
            tmp.chmod(0o755)
            shutil.chown(data, "postgres", "postgres")
            shutil.chown(sock, "postgres", "postgres")
        port = _free_port()
        try:
            _run(as_root, [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U",
                           "postgres", "-E", "UTF8", "--no-sync"])  # fmt: skip
            _run(as_root, [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(sock / "log"),
                           "-w", "-t", "60", "-o",
                           f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=on "
                           "-c max_connections=200 -c shared_buffers=32MB", "start"])  # fmt: skip
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(f"postgresql://postgres@127.0.0.1:{port}/postgres", data, tmp)

    def stop(self) -> None:
        """Drop what we created on an external server; stop and delete a private cluster."""
        try:
            for name in self._made if self.data_dir is None else []:
                self._admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            self._admin.close()
        if self.data_dir is not None and self._bindir is not None:
            _run(os.geteuid() == 0,
                 [str(self._bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate",
                  "-w", "stop"], check=False)  # fmt: skip
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    # -- databases --------------------------------------------------------------------------

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        name = f"lorebook_test_{os.getpid()}_{secrets.token_hex(4)}"
        self._admin.execute(f"CREATE DATABASE {name}")
        self._made.append(name)
        return self.url(name)

    def url(self, dbname: str) -> str:
        """The admin URL pointed at another database."""
        import psycopg

        info = psycopg.conninfo.conninfo_to_dict(self.admin_url)
        info["dbname"] = dbname
        return _to_url(info)

    def database_dir(self, url: str) -> Path:
        """The folder that holds one database's files (private cluster only)."""
        import psycopg

        assert self.data_dir is not None, "an external server's files are not ours to read"
        name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
        row = self._admin.execute("SELECT oid FROM pg_database WHERE datname=%s", (name,))
        return self.data_dir / "base" / str(row.fetchone()[0])  # type: ignore[index]

    def checkpoint(self) -> None:
        """Write every dirty buffer to the data files (so their bytes can be inspected)."""
        self._admin.execute("CHECKPOINT")


def _to_url(info: dict[str, object]) -> str:
    from urllib.parse import quote

    password = f":{quote(str(info['password']), safe='')}" if info.get("password") else ""
    user = f"{quote(str(info['user']), safe='')}{password}@" if info.get("user") else ""
    port = f":{info['port']}" if info.get("port") else ""
    return f"postgresql://{user}{info.get('host', '')}{port}/{info['dbname']}"


def _run(as_root: bool, cmd: list[str], check: bool = True) -> None:
    if as_root:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
