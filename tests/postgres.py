"""A throwaway PostgreSQL server for the tests, started by the tests themselves.

`initdb` and `pg_ctl` (Debian's `postgresql` package: scripts/ensure-postgres.sh) make
a cluster in a temporary directory and run it on a free loopback port with its socket
in that directory, never touching a PostgreSQL service already running on the machine
(tests/pgcluster.py, which the benchmarks share). Without the binaries the tests that
need PostgreSQL fail, loudly: they are never skipped.

Each test gets a fresh schema of its own (`fresh_url`): creating one and migrating it
takes milliseconds, so the contract suites stay fast. A whole server process under test
gets a fresh database (`fresh_database_url`).
"""

from __future__ import annotations

import itertools
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
from tests.pgcluster import PostgresCluster
from tests.support import free_port

# Every process sharing a PostgreSQL store signs tokens with the configured secret.
TEST_TOKEN_SECRET = "test-secret-for-postgres-shared-store-0123456789"


class PostgresServer(PostgresCluster):
    """One cluster: `admin_url` for set-up, `fresh_url()` for a test's own schema."""

    def __init__(self) -> None:
        super().__init__(
            free_port(),
            [
                # A throwaway cluster: durability is not under test here.
                "fsync=off",
                "synchronous_commit=off",
                "full_page_writes=off",
                "max_connections=300",
            ],
        )
        self._names = itertools.count(1)

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
    """A fresh store of `kind` (memory, sqlite, postgres or dynamodb) for a contract test; the
    PostgreSQL server starts only when a test asks for it."""
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SqliteStore(tmp_path / "t.db")
    if kind == "dynamodb":
        from tests.dynamodb import dynamo_store

        return dynamo_store(request)
    server: PostgresServer = request.getfixturevalue("postgres")
    return PostgresStore(server.fresh_url())


def settings_on_postgres(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """`settings` on a fresh PostgreSQL schema, as a deployment on it is configured."""
    server: PostgresServer = request.getfixturevalue("postgres")
    return replace(
        settings, store="sqlite", database_url=server.fresh_url(), token_secret=TEST_TOKEN_SECRET
    )
