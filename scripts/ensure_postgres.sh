#!/usr/bin/env bash
# Make sure the PostgreSQL server binaries the tests start (tests/pgserver.py) are installed:
# Debian's package, which puts them in /usr/lib/postgresql/<version>/bin. Does nothing when they
# are there. Uses sudo only when not root. The tests do not need a running system service: they
# start a private throw-away cluster on loopback.
set -euo pipefail

if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    echo "ensure_postgres: found $(ls -d /usr/lib/postgresql/*/bin/initdb | tail -n 1); nothing to do"
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "ensure_postgres: no /usr/lib/postgresql/*/bin/initdb and no apt-get on this system." >&2
    echo "  Install PostgreSQL's server package, or set LOREBOOK_TEST_DATABASE_URL to a server" >&2
    echo "  whose role may CREATE DATABASE, or LOREBOOK_SKIP_POSTGRES=1 to skip those tests." >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "ensure_postgres: installing Debian's postgresql package (apt-get, ${SUDO:-as root})"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
# The package starts a system cluster on port 5432; the tests do not use it.
echo "ensure_postgres: installed $(ls -d /usr/lib/postgresql/*/bin/initdb | tail -n 1)"
