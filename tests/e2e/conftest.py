"""End-to-end fixtures: a real `hubbub serve` subprocess and Debian's Chromium via Playwright.

The web app is built into src/hubbub/static first when that build is missing or older than
web/src. Without /usr/bin/chromium the tests skip locally and fail under CI (env CI set).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
STATIC = ROOT / "src" / "hubbub" / "static"
CHROMIUM = os.environ.get("HUBBUB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SERVER_ENV = {
    "HUBBUB_TOKEN_SECRET": "e2e-secret-e2e-secret-e2e-secret-0123456789",
    "HUBBUB_PASSWORD_HASH_MEMORY_KIB": "1024",
    "HUBBUB_SIGN_UP_PER_IP": "100000",
    "HUBBUB_SIGN_IN_PER_IP": "100000",
    "HUBBUB_SIGN_IN_PER_ACCOUNT": "100000",
    "HUBBUB_LOG_LEVEL": "warning",
    "PYTHONUNBUFFERED": "1",
}


def _free_port() -> int:
    """A free port below Linux's ephemeral range (32768+), so the browser's and other tests'
    outgoing connections cannot be holding it when the server binds or rebinds."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


class _PortInUse(RuntimeError):
    pass


@dataclass
class Server:
    """`hubbub serve` on a fixed port and data dir, so it can be stopped and started again."""

    data_dir: Path
    port: int = field(default_factory=_free_port)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    _started_before: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start and wait until healthy. A port taken in the meantime is retried: a new port on
        the first start, the same one (after a pause) on a restart."""
        for attempt in range(20):
            try:
                self._start_once()
                return
            except _PortInUse:
                if attempt == 19:
                    raise
                if not self._started_before:
                    self.port = _free_port()
                else:
                    time.sleep(0.5)

    def _start_once(self) -> None:
        self.log = self.data_dir.parent / f"server-{self.port}.log"
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hubbub",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(self.data_dir),
                ],
                env={**os.environ, **SERVER_ENV, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                if "address already in use" in self.log.read_text():
                    raise _PortInUse(self.port)
                raise RuntimeError(f"hubbub serve exited early:\n{self.log.read_text()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as res,
            ):
                if res.status == 200:
                    self._started_before = True
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"hubbub serve did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self, downtime: float = 0.0) -> None:
        self.stop()
        time.sleep(downtime)
        self.start()


def _build_is_stale() -> bool:
    index = STATIC / "index.html"
    if not index.exists():
        return True
    built = index.stat().st_mtime
    sources = [
        *WEB.joinpath("src").rglob("*"),
        WEB / "index.html",
        WEB / "vite.config.ts",
        WEB / "package.json",
    ]
    return any(p.is_file() and p.stat().st_mtime > built for p in sources)


@pytest.fixture(scope="session")
def web_build() -> None:
    """Make sure the server has an up-to-date build of the web app to serve."""
    if os.environ.get("HUBBUB_E2E_SKIP_BUILD") or not _build_is_stale():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed to build the web app for the browser tests")
    if not (WEB / "node_modules").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    subprocess.run([npm, "run", "build"], cwd=WEB, check=True)


# Package scope, not session: Playwright's sync API runs an event loop in this thread
# until it stops, and the async suites collected after tests/e2e need the thread free.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM}: install it with `apt-get install -y chromium`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def server(tmp_path: Path, web_build: None) -> Iterator[Server]:
    data = tmp_path / "data"
    data.mkdir()
    srv = Server(data_dir=data)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def new_page(browser: Browser, server: Server) -> Iterator[object]:
    """Factory: a fresh browser context (one user) with a page on the app."""
    contexts: list[BrowserContext] = []

    def make(width: int = 1280, height: int = 800, color_scheme: str = "light") -> Page:
        ctx = browser.new_context(
            base_url=server.url,
            viewport={"width": width, "height": height},
            color_scheme=color_scheme,
        )
        ctx.set_default_timeout(10_000)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()
