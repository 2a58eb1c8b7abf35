"""A throwaway PostgreSQL server for the tests, started by the tests themselves.

`initdb` and `pg_ctl` (Debian's `postgresql` package: scripts/ensure-postgres.sh) make
a cluster in a temporary directory and run it on a free loopback port with its socket
in that directory, never touching a PostgreSQL service already running on the machine.
As root, they run as the unprivileged `postgres` user (initdb refuses root). Without
the binaries the tests that need PostgreSQL fail, loudly: they are never skipped.

Each test gets a fresh schema of its own (`fresh_url`): creating one and migrating it
takes milliseconds, so the contract suites stay fast. A whole server process under test
gets a fresh database (`fresh_database_url`).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from hubbub.adapters import postgres_schema
from hubbub.adapters.memory import MemoryStore
from hubbub.adapters.postgres import PostgresStore
from hubbub.adapters.sqlite import SqliteStore
from hubbub.config import Settings
from hubbub.ports import Store
from tests.support import free_port

# Every process sharing a PostgreSQL store signs tokens with the configured secret.
TEST_TOKEN_SECRET = "test-secret-for-postgres-shared-store-0123456789"


def _binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version)
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise RuntimeError(
        f"PostgreSQL's {name} is missing: run scripts/ensure-postgres.sh (Debian's"
        " 'postgresql' package); the PostgreSQL tests are never skipped"
    )


def _version(path: str) -> int:
    part = Path(path).parts[-3]
    return int(part) if part.isdigit() else 0


class PostgresServer:
    """One cluster: `admin_url` for set-up, `fresh_url()` for a test's own schema."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="hubbub-pg-"))
        self.port = free_port()
        self._names = itertools.count(1)
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
            _binary("initdb"),
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
                # A throwaway cluster: durability is not under test here.
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=300",
            ]
        )
        self._run(
            _binary("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, RuntimeError):
            self._run(_binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def fresh_url(self) -> str:
        """A URL whose connections use a new, migrated schema of their own."""
        schema = f"test_{next(self._names)}"
        with psycopg.connect(self.url("hubbub"), autocommit=True) as db:
            db.execute(f"CREATE SCHEMA {schema}".encode())
        url = f"{self.url('hubbub')}?options=-csearch_path%3D{schema}"
        postgres_schema.migrate(url)
        return url

    def fresh_database_url(self, *, migrated: bool = True) -> str:
        """A URL of a new database of its own (migrated unless told otherwise)."""
        name = f"hubbub_{next(self._names)}"
        with psycopg.connect(self.admin_url, autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}".encode())
        url = self.url(name)
        if migrated:
            postgres_schema.migrate(url)
        return url

    def _run(self, *command: str) -> None:
        try:
            subprocess.run(
                [*self._as, *command], check=True, capture_output=True, text=True, timeout=120
            )
        except subprocess.CalledProcessError as error:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(
                f"{command[0]} failed ({error.returncode}):\n{error.stdout}{error.stderr}\n{log}"
            ) from error


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server, started on first use."""
    server = PostgresServer()
    try:
        server.start()
        with psycopg.connect(server.admin_url, autocommit=True) as db:
            db.execute(b"CREATE DATABASE hubbub")
        yield server
    finally:
        server.stop()


def store_of(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A fresh store of `kind` (memory, sqlite or postgres) for a contract test; the
    PostgreSQL server starts only when a test asks for it."""
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SqliteStore(tmp_path / "t.db")
    server: PostgresServer = request.getfixturevalue("postgres")
    return PostgresStore(server.fresh_url())


def settings_on_postgres(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """`settings` on a fresh PostgreSQL schema, as a deployment on it is configured."""
    server: PostgresServer = request.getfixturevalue("postgres")
    return replace(
        settings, store="sqlite", database_url=server.fresh_url(), token_secret=TEST_TOKEN_SECRET
    )
