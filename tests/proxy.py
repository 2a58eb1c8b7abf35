"""The scaled-out set-up for the tests: `hubbub serve` processes on one PostgreSQL
database and one Redis, behind nginx with the configuration `make scale-out` runs
(scripts/nginx.py), everything on free loopback ports.

HUBBUB_TEST_TOPOLOGY=proxy runs the API suite through it (tests/api/conftest.py);
tests/reliability/test_behind_proxy.py starts its own with tight limits. nginx is
Debian's (scripts/ensure-nginx.sh): without it these tests fail, they are never skipped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from scripts import nginx

from hubbub.config import Settings
from tests.postgres import TEST_TOKEN_SECRET, PostgresServer
from tests.redis import RedisServer
from tests.support import FAST_TEST_ENV, ServerProcess, free_port


class ProxiedDeployment:
    """nginx on `port` in front of `servers`. It offers what the API suite uses of a
    single server (`base_url`, `env`, `data_dir`, `restart`, `stop`), so a test that
    restarts "the server" restarts every process behind the proxy, which stays up."""

    def __init__(self, root: Path, env: dict[str, str], processes: int = 2) -> None:
        self.root = root
        self.env = env
        self.servers = [
            ServerProcess(data_dir=root / f"process-{n}" / "data", env=env)
            for n in range(processes)
        ]
        self.port = free_port()
        self.proxy: nginx.Nginx | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        """Unused on PostgreSQL; there for tests that look for a SQLite file first."""
        return self.servers[0].data_dir

    def start(self) -> None:
        for server in self.servers:
            server.start()
        settings = Settings.from_env({**FAST_TEST_ENV, **self.env})
        upstreams = [f"127.0.0.1:{server.port}" for server in self.servers]
        for attempt in range(10):  # a parallel suite may take the free port meanwhile
            self.proxy = nginx.Nginx(
                self.root / f"nginx-{self.port}",
                nginx.config(
                    prefix=self.root / f"nginx-{self.port}",
                    listen=f"127.0.0.1:{self.port}",
                    upstreams=upstreams,
                    max_body_bytes=settings.max_body_bytes,
                    keep_alive_seconds=settings.keep_alive_seconds,
                ),
                die_with_parent=False,  # the test process has threads
            )
            try:
                self.proxy.start(f"{self.base_url}/readyz")
                return
            except RuntimeError as error:
                if "Address already in use" not in str(error) or attempt == 9:
                    raise
                self.port = free_port()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stops every process behind the proxy (with `sig`); the proxy stays up."""
        for server in self.servers:
            server.stop(sig)

    def restart(self, sig: int = signal.SIGTERM, downtime: float = 0.0) -> None:
        self.stop(sig)
        time.sleep(downtime)
        for server in self.servers:
            server.start()

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        self.stop(signal.SIGKILL)


def migrated_database(postgres: PostgresServer) -> str:
    """A fresh database, migrated as an operator does: `hubbub migrate` before any
    server starts (servers on PostgreSQL never migrate on their own)."""
    url = postgres.fresh_database_url(migrated=False)
    subprocess.run(
        [sys.executable, "-m", "hubbub", "migrate"],
        env={**os.environ, "HUBBUB_DATABASE_URL": url, "HUBBUB_TOKEN_SECRET": TEST_TOKEN_SECRET},
        check=True,
        capture_output=True,
        timeout=120,
    )
    return url


@contextlib.contextmanager
def proxied(
    request: pytest.FixtureRequest, root: Path, processes: int = 2, **settings: str
) -> Iterator[ProxiedDeployment]:
    """A running deployment on the session's PostgreSQL server (a database of its own)
    and Redis server (a database of its own), with HUBBUB_* `settings` on every process;
    stopped at the end even if the test failed."""
    postgres: PostgresServer = request.getfixturevalue("postgres")
    redis_server: RedisServer = request.getfixturevalue("redis_server")
    env = {
        "HUBBUB_DATABASE_URL": migrated_database(postgres),
        "HUBBUB_TOKEN_SECRET": TEST_TOKEN_SECRET,
        "HUBBUB_REDIS_URL": redis_server.fresh_url(),
        # As `make scale-out` sets it: nginx reaches the servers from here.
        "HUBBUB_TRUSTED_PROXIES": "127.0.0.1",
        # As `make scale-out` sets it: one attachment directory for every process.
        "HUBBUB_ATTACHMENT_DIR": str(root / "attachments"),
        **settings,
    }
    deployment = ProxiedDeployment(root, env, processes)
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.close()


def proxy_topology(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, store: str
) -> Iterator[ProxiedDeployment]:
    """The API suite's `server` for HUBBUB_TEST_TOPOLOGY=proxy."""
    if store != "postgres":
        raise pytest.UsageError(
            "HUBBUB_TEST_TOPOLOGY=proxy runs on PostgreSQL: set HUBBUB_TEST_STORE=postgres"
        )
    with proxied(request, Path(tmp_path_factory.mktemp("hubbub-proxied"))) as deployment:
        yield deployment
