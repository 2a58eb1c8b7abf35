"""Forgot password in the browser: from the sign-in form, a code by "email" (the server's
console), a new password, and back to signing in."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import Server
from tests.e2e.helpers import unique

pytestmark = pytest.mark.browser


@pytest.fixture
def console_server(tmp_path: Path, web_build: None) -> Iterator[Server]:
    data = tmp_path / "data"
    data.mkdir()
    srv = Server(data_dir=data, env={"HUBBUB_CONFIRMATION": "console"})
    srv.start()
    yield srv
    srv.stop()


def _code(server: Server, purpose: str, username: str) -> str:
    assert server.log is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = re.findall(
            rf"{purpose} code for {re.escape(username)} <[^>]*>: (\S+)", server.log.read_text()
        )
        if found:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError(f"no {purpose} code for {username} in the server log")


def test_forgot_password_from_the_sign_in_form(browser: Browser, console_server: Server) -> None:
    user = unique("forgot")
    with httpx.Client(base_url=console_server.url) as http:
        signed_up = http.post(
            "/api/auth/signup",
            json={
                "username": user,
                "email": f"{user}@example.com",
                "password": "old password here",
                "displayName": "For Got",
            },
        )
        assert signed_up.status_code == 201
        code = _code(console_server, "confirmation", user)
        assert http.post("/api/auth/confirm", json={"username": user, "code": code}).is_success

    ctx = browser.new_context(base_url=console_server.url)
    try:
        page = ctx.new_page()
        page.goto("/signin")
        sign_in = page.get_by_role("form", name="Sign in")
        sign_in.get_by_label("Username or email").fill(user)
        sign_in.get_by_role("link", name="Forgot password?").click()

        ask = page.get_by_role("form", name="Reset your password")
        expect(ask.get_by_label("Username or email")).to_have_value(user)
        ask.get_by_role("button", name="Send code").click()

        choose = page.get_by_role("form", name="Choose a new password")
        expect(choose).to_be_visible()
        choose.get_by_label("Reset code").fill("000000x")
        choose.get_by_label("New password").fill("new password here")
        choose.get_by_role("button", name="Set new password").click()
        expect(page.get_by_role("alert")).to_be_visible()

        choose.get_by_label("Reset code").fill(_code(console_server, "password reset", user))
        choose.get_by_role("button", name="Set new password").click()

        sign_in = page.get_by_role("form", name="Sign in")
        expect(sign_in).to_contain_text("Your password was changed")
        expect(sign_in.get_by_label("Username or email")).to_have_value(user)
        sign_in.get_by_label("Password").fill("new password here")
        sign_in.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Chats")).to_be_visible()
    finally:
        ctx.close()
