"""A throwaway PostgreSQL cluster: `initdb` and `pg_ctl` in a temporary directory, on a
loopback port of the caller's choosing, with its socket in that directory, never touching
a PostgreSQL service already running on the machine.

Shared by the tests (tests/postgres.py, with durability off) and the benchmarks
(bench/pg.py, with durability at PostgreSQL's defaults), so it imports neither pytest
nor hubbub. Debian's `postgresql` package provides the binaries
(scripts/ensure-postgres.sh). As root, they run as the unprivileged `postgres` user
(initdb refuses root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path


def binary(name: str) -> str:
    """The newest installed PostgreSQL's `name` (initdb, pg_ctl, ...)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version)
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise RuntimeError(
        f"PostgreSQL's {name} is missing: run scripts/ensure-postgres.sh (Debian's"
        " 'postgresql' package)"
    )


def _version(path: str) -> int:
    part = Path(path).parts[-3]
    return int(part) if part.isdigit() else 0


class PostgresCluster:
    """One cluster whose superuser is `hubbub` (trust authentication on loopback).

    `settings` are `-c name=value` server options; `prefix` is a command the server is
    started under (e.g. `taskset -c 0`: its processes inherit the CPU affinity)."""

    def __init__(self, port: int, settings: Sequence[str] = (), prefix: Sequence[str] = ()) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="hubbub-pg-"))
        self.port = port
        self.settings = list(settings)
        self.prefix = list(prefix)
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(
                    "initdb refuses to run as root and there is no 'postgres' user to run it"
                    " as: run scripts/ensure-postgres.sh (Debian's 'postgresql' creates it)"
                ) from None
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self.data = self.root / "data"
        self.log = self.root / "server.log"

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, database: str) -> str:
        return f"postgresql://hubbub@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._run(
            binary("initdb"),
            "-D",
            str(self.data),
            "-U",
            "hubbub",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        )
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self.root}",
                "-c listen_addresses=127.0.0.1",
                *(f"-c {setting}" for setting in self.settings),
            ]
        )
        self._run(
            binary("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "start",
            prefix=self.prefix,
        )

    def postmaster_pid(self) -> int:
        """The server's main process (its first line of postmaster.pid)."""
        return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, RuntimeError):
            self._run(binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, *command: str, prefix: Sequence[str] = ()) -> None:
        try:
            subprocess.run(
                [*prefix, *self._as, *command],
                check=True,
                capture_output=True,
                text=True,
                timeout=120,
            )
        except subprocess.CalledProcessError as error:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(
                f"{command[0]} failed ({error.returncode}):\n{error.stdout}{error.stderr}\n{log}"
            ) from error
