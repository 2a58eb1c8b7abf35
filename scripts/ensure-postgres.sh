#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries (initdb, pg_ctl) for the tests when they
# are missing. The tests start a throwaway server of their own on a free loopback port
# (tests/postgres.py); they never use a PostgreSQL service already running on the
# machine. Needs root or sudo; prints what to do otherwise.
set -euo pipefail
found() {
  command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}
if found; then
  exit 0
fi
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "PostgreSQL is missing: install Debian's 'postgresql' package (apt-get install postgresql)" >&2
  exit 1
fi
$SUDO apt-get update -qq
# The package would start a cluster of its own on 5432: the tests do not need it.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
found || { echo "PostgreSQL installed but initdb not found" >&2; exit 1; }
