"""A throwaway Redis server for the tests, started by the tests themselves.

`redis-server` (Debian's package: scripts/ensure-redis.sh) runs on a free loopback
port with nothing kept on disk, never touching a Redis service already running on the
machine. Without the binary the tests that need Redis fail, loudly: they are never
skipped. Fault tests stop it and start it again on the same port.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support import free_port


class RedisServer:
    """One `redis-server` process on `port`; `url(db)` names one of its databases, so
    tests that must not see each other's keys use different ones (`fresh_url`)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="hubbub-redis-"))
        self.process: subprocess.Popen[bytes] | None = None
        self._databases = itertools.count(1)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def fresh_url(self) -> str:
        """A database of its own (Redis has 16; they are reused, flushed, after that)."""
        db = next(self._databases) % 16
        self._flush(db)
        return self.url(db)

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is missing: run scripts/ensure-redis.sh")
        # The child keeps its own copy of the log's descriptor; ours closes at once.
        with open(self.root / "redis.log", "ab") as log:
            self.process = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.root),
                    "--daemonize",
                    "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.root / "redis.log").read_text())
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock,
            ):
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on {self.port}")

    def stop(self, *, kill: bool = False) -> None:
        """Stops the server (SIGKILL with `kill`); everything it held is gone."""
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None

    def _flush(self, db: int) -> None:
        with redis.Redis(port=self.port, db=db) as client:
            client.flushdb()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """The session's Redis server, started on first use."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
