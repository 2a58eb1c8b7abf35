"""End-to-end fixtures: a real `hubbub serve` subprocess and Debian's Chromium via Playwright.

The web app is built into src/hubbub/static first when that build is missing or older than
web/src. Without Chromium (/usr/bin/chromium, or HUBBUB_CHROMIUM) the tests fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.support import ServerProcess

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


class Server(ServerProcess):
    """The shared `ServerProcess` with the browser suites' settings (a fixed token secret,
    sign-in limits out of the way, unbuffered output for reading confirmation codes)."""

    def __post_init__(self) -> None:
        self.env = {**SERVER_ENV, **self.env}

    @property
    def url(self) -> str:
        return self.base_url


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
        # Like every other real service the suites need: missing is a failure, never a skip.
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install it with `make browser` (or "
            "`apt-get install -y chromium`), or point HUBBUB_CHROMIUM at one"
        )
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
def console_server(tmp_path: Path, web_build: None) -> Iterator[Server]:
    """A server that prints confirmation and reset codes instead of mailing them."""
    data = tmp_path / "data"
    data.mkdir()
    srv = Server(data_dir=data, env={"HUBBUB_CONFIRMATION": "console"})
    srv.start()
    yield srv
    srv.stop()


def console_code(server: ServerProcess, purpose: str, username: str) -> str:
    """The newest `purpose` code ("confirmation", "password reset") the server printed
    for `username`, waiting up to 10 s for it to reach the log."""
    assert server.log is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = re.findall(
            rf"{purpose} code for {re.escape(username)} <[^>]*>: (\S+)", server.log.read_text()
        )
        if found:
            return str(found[-1])
        time.sleep(0.1)
    raise AssertionError(f"no {purpose} code for {username} in the server log")


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
