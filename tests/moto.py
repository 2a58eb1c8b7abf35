"""moto's server as the tests' AWS: DynamoDB, SNS, Cognito, S3 spoken to over HTTP.

One `moto_server` process per test session, on a free loopback port, started by the
tests themselves (moto is a dev dependency, so it is always there: nothing is
skipped). It is a process of its own, not a thread of pytest's, so a server under
test and the tests reach it the same way and neither slows the other down.

`aws_env` is what a process needs to talk to it: fake credentials, a region, and the
standard `AWS_ENDPOINT_URL` variable that boto3 honours for every service, so no
adapter needs an endpoint setting of its own to be tested.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import free_port

REGION = "us-east-1"


class MotoServer:
    """A running `moto_server`; `env` points boto3 at it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def start(self) -> None:
        command = Path(sys.executable).with_name("moto_server")
        self._process = subprocess.Popen(
            [str(command), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self._process.returncode}")
            try:
                httpx.get(f"{self.endpoint}/moto-api/", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("moto_server did not answer within 30 s")

    def reset(self) -> None:
        """Forgets every table, topic, pool and bucket."""
        httpx.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    """The session's moto server, started on first use, with this process's boto3
    pointed at it for the session."""
    server = MotoServer()
    server.start()
    saved = {key: os.environ.get(key) for key in server.env}
    os.environ.update(server.env)
    try:
        yield server
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
