"""Several `hubbub serve` processes acting as one platform: one PostgreSQL database and
one Redis shared by all, each process with its own data directory and port.

`HUBBUB_TEST_TOPOLOGY=two-processes` runs the API suite on such a cluster of two (with
`HUBBUB_TEST_STORE=postgres`, or `dynamodb`: DynamoDB tables instead of the database),
each test's users spread over both processes by `Api` (tests/support.py: first user on
the first process, second on the second, ...). The scale-out fault tests
(tests/reliability/test_scale_out.py) build their own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.moto import MotoServer
from tests.postgres import TEST_TOKEN_SECRET, PostgresServer
from tests.support import Api, ServerProcess

# Short enough that a killed process's users go offline within seconds in the tests.
LEASE_SECONDS = 3


@dataclass
class Cluster:
    """The processes of one deployment and what they share."""

    processes: list[ServerProcess]
    database_url: str
    redis_url: str

    @property
    def base_urls(self) -> list[str]:
        return [p.base_url for p in self.processes]

    def api(self) -> Api:
        """A client spreading its users over every process (close it after use)."""
        return Api(self.base_urls)

    def start(self) -> None:
        """Starts every process that is not running (on its own port and data)."""
        for process in self.processes:
            if process.process is None or process.process.poll() is not None:
                process.start()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        for process in self.processes:
            process.stop(sig)

    def logs(self) -> list[str]:
        return [p.log.read_text() if p.log else "" for p in self.processes]


def migrate(env: Mapping[str, str]) -> None:
    """`hubbub migrate` with `env`, as an operator runs it once: servers on PostgreSQL
    never migrate on their own, and on DynamoDB it creates the tables."""
    subprocess.run(
        [sys.executable, "-m", "hubbub", "migrate"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=120,
    )


def dynamodb_env(dynamodb: MotoServer, prefix: str) -> dict[str, str]:
    """What a server is configured with to use `dynamodb`, its tables named `prefix`<name>."""
    return {
        **dynamodb.env,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb.endpoint,
        "HUBBUB_STORE": "dynamodb",
        "HUBBUB_DYNAMODB_TABLE_PREFIX": prefix,
        "HUBBUB_TOKEN_SECRET": TEST_TOKEN_SECRET,
    }


def cluster_env(database_url: str, redis_url: str, **env: str) -> dict[str, str]:
    """What every process of a cluster is configured with (plus `env`)."""
    return {
        "HUBBUB_DATABASE_URL": database_url,
        "HUBBUB_TOKEN_SECRET": TEST_TOKEN_SECRET,
        "HUBBUB_REDIS_URL": redis_url,
        "HUBBUB_PRESENCE_LEASE_SECONDS": str(LEASE_SECONDS),
        **env,
    }


@contextlib.contextmanager
def running_cluster(
    root: Path,
    postgres: PostgresServer,
    redis_url: str,
    *,
    count: int = 2,
    env: Mapping[str, str] | None = None,
) -> Iterator[Cluster]:
    """`count` processes on a fresh, migrated PostgreSQL database and `redis_url`, with
    the given HUBBUB_* settings; killed at the end even if the test failed."""
    database_url = postgres.fresh_database_url(migrated=False)
    migrate({"HUBBUB_DATABASE_URL": database_url, "HUBBUB_TOKEN_SECRET": TEST_TOKEN_SECRET})
    # The processes share one attachment directory, as processes on one machine must.
    shared = {"HUBBUB_ATTACHMENT_DIR": str(root / "attachments"), **(env or {})}
    settings = cluster_env(database_url, redis_url, **shared)
    with _running(root, settings, count, database_url, redis_url) as cluster:
        yield cluster


@contextlib.contextmanager
def running_dynamodb_cluster(
    root: Path, dynamodb: MotoServer, redis_url: str, *, count: int = 2
) -> Iterator[Cluster]:
    """`count` processes on fresh DynamoDB tables (created by `hubbub migrate`) and
    `redis_url`; killed at the end even if the test failed."""
    settings = {
        **dynamodb_env(dynamodb, f"cluster{os.getpid()}-{root.name}-"),
        "HUBBUB_REDIS_URL": redis_url,
        "HUBBUB_PRESENCE_LEASE_SECONDS": str(LEASE_SECONDS),
        "HUBBUB_ATTACHMENT_DIR": str(root / "attachments"),
    }
    migrate(settings)
    with _running(root, settings, count, "", redis_url) as cluster:
        yield cluster


@contextlib.contextmanager
def _running(
    root: Path, settings: Mapping[str, str], count: int, database_url: str, redis_url: str
) -> Iterator[Cluster]:
    """`count` processes configured with `settings`, killed at the end even if the test
    failed."""
    cluster = Cluster(
        [
            ServerProcess(
                data_dir=root / f"process-{chr(ord('a') + n)}" / "data", env=dict(settings)
            )
            for n in range(count)
        ],
        database_url,
        redis_url,
    )
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop(signal.SIGKILL)
