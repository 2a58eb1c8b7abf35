"""Helpers of the reliability suites: servers with chosen settings, one process or two
sharing PostgreSQL, minted tokens."""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

from tests.postgres import PostgresServer
from tests.support import Api, ServerProcess

TOKEN_SECRET = "reliability-suite-secret-0123456789abcdef"


@contextlib.contextmanager
def own_server(data_dir: Path, **env: str) -> Iterator[ServerProcess]:
    """`hubbub serve` with a known token secret and the given HUBBUB_* settings;
    killed at the end even if the test failed."""
    process = ServerProcess(data_dir=data_dir, env={"HUBBUB_TOKEN_SECRET": TOKEN_SECRET, **env})
    process.start()
    try:
        yield process
    finally:
        process.stop(signal.SIGKILL)


@contextlib.contextmanager
def sharing_postgres(postgres: PostgresServer, root: Path) -> Iterator[list[ServerProcess]]:
    """Two processes as `own_server` makes them (so one token secret), sharing one
    fresh PostgreSQL database."""
    url = postgres.fresh_database_url()
    with contextlib.ExitStack() as stack:
        yield [
            stack.enter_context(own_server(root / name / "data", HUBBUB_DATABASE_URL=url))
            for name in ("a", "b")
        ]


@dataclass
class Deployment:
    """What a scenario runs against: one `hubbub serve` on its SQLite file, or two
    sharing one PostgreSQL database. Clients spread over the processes by number:
    `api(n)` talks to process n modulo the count, so on one process every number is it.
    The Api of a process stays usable across its restarts (same port)."""

    servers: list[ServerProcess]
    apis: list[Api] = field(init=False)

    def __post_init__(self) -> None:
        self.apis = [Api(server.base_url) for server in self.servers]

    @property
    def single(self) -> bool:
        return len(self.servers) == 1

    def index(self, n: int) -> int:
        return n % len(self.servers)

    def api(self, n: int) -> Api:
        return self.apis[self.index(n)]

    def stop(self, n: int, sig: int) -> None:
        self.servers[self.index(n)].stop(sig)

    def start(self, n: int) -> None:
        """Starts process n again if it is not running (on the same port and data)."""
        server = self.servers[self.index(n)]
        if server.process is None or server.process.poll() is not None:
            server.start()

    async def close(self) -> None:
        for api in self.apis:
            await api.close()


def server_rss_kib(process: ServerProcess) -> int:
    """Resident memory of the server process, from /proc (Linux)."""
    assert process.process is not None
    status = Path(f"/proc/{process.process.pid}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1])


def mint_token(
    subject: str,
    *,
    key: str = TOKEN_SECRET,
    algorithm: str = "HS256",
    expires_in: int = 600,
    drop: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    """An access token signed like the server's, with any claim overridden or dropped."""
    now = int(time.time())
    body: dict[str, Any] = {
        "sub": subject,
        "iat": now,
        "exp": now + expires_in,
        "iss": "hubbub-local",
        "aud": "hubbub",
        "token_use": "access",
        "sid": "minted-session",
        **claims,
    }
    for name in drop:
        body.pop(name, None)
    return jwt.encode(body, key if algorithm != "none" else None, algorithm=algorithm)
