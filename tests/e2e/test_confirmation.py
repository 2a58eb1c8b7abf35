"""Sign-up with a confirmation step (the server prints codes instead of mailing them)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import Server
from tests.e2e.helpers import unique

pytestmark = pytest.mark.browser


@pytest.fixture
def confirming_server(tmp_path: Path, web_build: None) -> Iterator[Server]:
    data = tmp_path / "data"
    data.mkdir()
    srv = Server(data_dir=data, env={"HUBBUB_CONFIRMATION": "console"})
    srv.start()
    yield srv
    srv.stop()


def _code_for(server: Server, username: str) -> str:
    assert server.log is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = re.findall(
            rf"confirmation code for {re.escape(username)} <[^>]*>: (\S+)", server.log.read_text()
        )
        if found:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError(f"no confirmation code for {username} in the server log")


def test_sign_up_with_confirmation_code(browser: Browser, confirming_server: Server) -> None:
    ctx = browser.new_context(base_url=confirming_server.url)
    try:
        page = ctx.new_page()
        user = unique("conf")
        page.goto("/signup")
        form = page.get_by_role("form", name="Create account")
        form.get_by_label("Username").fill(user)
        form.get_by_label("Display name").fill("Con Firm")
        form.get_by_label("Email").fill(f"{user}@example.com")
        form.get_by_label("Password").fill("correct horse battery")
        form.get_by_role("button", name="Create account").click()

        confirm = page.get_by_role("form", name="Confirm your account")
        expect(confirm).to_be_visible()
        confirm.get_by_label("Confirmation code").fill("000000x")
        confirm.get_by_role("button", name="Confirm").click()
        expect(page.get_by_role("alert")).to_be_visible()

        confirm.get_by_label("Confirmation code").fill(_code_for(confirming_server, user))
        confirm.get_by_role("button", name="Confirm").click()
        expect(page.get_by_role("heading", name="Chats")).to_be_visible()
    finally:
        ctx.close()
