"""`make aws-local` for the tests: the serverless stack under emulation, started by the
tests themselves on free ports (`python -m scripts.aws_local`): serverless-offline
running the real Lambda handlers, moto as DynamoDB, SNS and Cognito, and a throwaway
Redis. HUBBUB_TEST_TOPOLOGY=aws-local runs the API suite against it; without Node.js
or the infra's node modules it fails, loudly (the launcher installs them with npm)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import FAST_TEST_ENV, free_port

ROOT = Path(__file__).resolve().parent.parent


def _consecutive_free_ports(count: int) -> int:
    """The first of `count` consecutive free loopback ports."""
    for _ in range(200):
        first = free_port()
        taken = []
        try:
            for port in range(first, first + count):
                sock = socket.socket()
                taken.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in taken:
                sock.close()
        return first
    raise RuntimeError("no run of free ports")


class AwsLocalStack:
    """One `scripts.aws_local` launcher: the HTTP API at `base_url`, the WebSocket API at
    `ws_url`; its log (the launcher's and, in `root/logs`, each part's) says what failed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.http_port = _consecutive_free_ports(1)
        # The WebSocket port and the four the launcher takes after it.
        self.ws_port = _consecutive_free_ports(5)
        self.log = root / "launcher.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "scripts.aws_local",
                    "--http-port",
                    str(self.http_port),
                    "--ws-port",
                    str(self.ws_port),
                    "--state-dir",
                    str(self.root),
                ],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **FAST_TEST_ENV},
                start_new_session=True,
            )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"aws_local exited early:\n{self.log.read_text()[-4000:]}")
            if "Ctrl-C stops everything" in self.log.read_text():
                self._warm_up()
                return
            time.sleep(0.2)
        raise RuntimeError(f"aws_local was not up in 180 s:\n{self.log.read_text()[-4000:]}")

    def _warm_up(self) -> None:
        """One request per HTTP service, so the suite's first tests do not each pay a
        cold start (serverless-offline starts one Python process per function)."""
        for path in ("/api/auth/refresh", "/api/users/me", "/api/sync"):
            httpx.request("POST" if "auth" in path else "GET", self.base_url + path, timeout=60)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def aws_local_topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsLocalStack]:
    stack = AwsLocalStack(Path(tmp_path_factory.mktemp("aws-local")))
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
