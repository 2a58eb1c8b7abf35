#!/usr/bin/env bash
# Installs Debian's nginx binary for the scaled-out set-up (scripts/scale_out.py) and its
# tests when it is missing. Both run nginx of their own, with their own configuration and
# prefix, as a child process; never the system service. The package would start that
# service on port 80 (and again at every boot): this script keeps it from starting while
# it installs and disables it afterwards, so nothing listens that nobody asked for.
# Needs root or sudo; prints what to do otherwise.
set -euo pipefail
found() {
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]
}
if found; then
  exit 0
fi
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "nginx is missing: install Debian's 'nginx' package (apt-get install nginx)" >&2
  exit 1
fi
# Debian's way to keep a package's maintainer scripts from starting services: a
# policy-rc.d answering 101 ("action forbidden"), honoured by invoke-rc.d and
# deb-systemd-invoke. One already there is the machine owner's policy: left alone.
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
  trap '$SUDO rm -f "$POLICY"' EXIT
  printf '#!/bin/sh\n# hubbub scripts/ensure-nginx.sh, while it installs nginx\nexit 101\n' \
    | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx >/dev/null
if [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now nginx.service >/dev/null 2>&1 || true
elif command -v update-rc.d >/dev/null 2>&1; then
  $SUDO update-rc.d nginx disable >/dev/null 2>&1 || true
fi
found || { echo "nginx installed but not found" >&2; exit 1; }
echo "Installed Debian's nginx; its system service is disabled (hubbub runs its own)." >&2
