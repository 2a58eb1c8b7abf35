#!/usr/bin/env bash
# Installs Debian's redis-server binary for the tests when it is missing. The tests
# start a throwaway server of their own on a free loopback port (tests/redis.py); they
# never use a Redis service already running on the machine. Needs root or sudo.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "Redis is missing: install Debian's 'redis-server' package (apt-get install redis-server)" >&2
  exit 1
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
command -v redis-server >/dev/null 2>&1 || { echo "redis-server installed but not on PATH" >&2; exit 1; }
