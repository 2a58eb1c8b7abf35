"""`make scale-out`'s command, as a person runs it: it starts PostgreSQL, Redis, two
`hubbub serve` and nginx, serves the platform on one port, stops everything on SIGTERM,
and keeps the data (and the sessions: the token secret is kept too) for the next run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support import FAST_TEST_ENV, Api, free_port, open_socket

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 2
TAKES = PROCESSES + 3  # nginx, the servers, Redis, PostgreSQL: consecutive ports


@contextmanager
def _scale_out(state: Path) -> Iterator[str]:
    """Runs the launcher until the platform answers; yields its URL; SIGTERM at the end,
    which must stop it cleanly (exit 0)."""
    for _attempt in range(10):
        port = free_port()
        log = state.parent / f"scale-out-{port}.log"
        with open(log, "ab") as out:
            launcher = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "scripts.scale_out",
                    "--processes",
                    str(PROCESSES),
                    "--port",
                    str(port),
                    "--state-dir",
                    str(state),
                ],
                cwd=ROOT,
                env={**os.environ, **FAST_TEST_ENV},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            if _answers(launcher, url, log):
                yield url
                launcher.send_signal(signal.SIGTERM)
                assert launcher.wait(timeout=60) == 0, log.read_text()
                return
        finally:
            if launcher.poll() is None:
                launcher.kill()
                launcher.wait()
        if " in use (this set-up takes" not in log.read_text():  # else a parallel suite took a port
            raise AssertionError(f"scale_out did not start:\n{log.read_text()}")
    raise AssertionError("no free run of ports for scale_out")


def _answers(launcher: subprocess.Popen[bytes], url: str, log: Path) -> bool:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if launcher.poll() is not None:
            return False
        if "Hubbub is on" in log.read_text():
            assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200
            return True
        time.sleep(0.1)
    raise AssertionError(f"scale_out did not come up:\n{log.read_text()}")


def _nothing_left_on(url: str) -> None:
    port = int(url.rsplit(":", 1)[1])
    for offset in range(TAKES):
        try:
            httpx.get(f"http://127.0.0.1:{port + offset}/", timeout=1)
        except httpx.ConnectError:
            continue
        raise AssertionError(f"something still listens on {port + offset}")


@pytest.fixture
def state() -> Iterator[Path]:
    """A state directory the `postgres` user can enter (as root, PostgreSQL runs as
    it), unlike pytest's own temporary directories (0700)."""
    root = Path(tempfile.mkdtemp(prefix="hubbub-scale-out-"))
    root.chmod(0o755)
    try:
        yield root / "scaled-out"
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def test_one_command_serves_the_platform_and_keeps_it_between_runs(state: Path) -> None:
    with _scale_out(state) as url:
        api = Api(url)
        try:
            ana, bob = await api.sign_up(), await api.sign_up()
            conversation = await api.direct(ana, bob)
            # Two sockets through nginx (least_conn puts them on different processes).
            async with open_socket(api, ana) as ana_socket, open_socket(api, bob) as bob_socket:
                await ana_socket.request(
                    "sendMessage", conversationId=conversation, clientMessageId="s-1", body="hi"
                )
                assert (await bob_socket.wait_for(type="message.created"))["message"][
                    "body"
                ] == "hi"
            page = await api.http.get("/")
            assert page.status_code == 200
        finally:
            await api.close()
    _nothing_left_on(url)
    secrets = [state / name for name in ("token-secret", "postgres-password", "redis-password")]
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in secrets)

    with _scale_out(state) as url:  # the same state directory, perhaps other ports
        api = Api(url)
        try:
            # Bob's session of the first run still works: same database, same secret.
            history = await api.call("GET", f"/conversations/{conversation}/messages", bob)
            assert history.status_code == 200, history.text
            assert [m["body"] for m in history.json()["messages"]] == ["hi"]
        finally:
            await api.close()
    _nothing_left_on(url)
