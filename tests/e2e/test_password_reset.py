"""Forgot password in the browser: from the sign-in form, a code by "email" (the server's
console), a new password, and back to signing in."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import Server, console_code
from tests.e2e.helpers import unique

pytestmark = pytest.mark.browser


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
        code = console_code(console_server, "confirmation", user)
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

        choose.get_by_label("Reset code").fill(console_code(console_server, "password reset", user))
        choose.get_by_role("button", name="Set new password").click()

        sign_in = page.get_by_role("form", name="Sign in")
        expect(sign_in).to_contain_text("Your password was changed")
        expect(sign_in.get_by_label("Username or email")).to_have_value(user)
        sign_in.get_by_label("Password").fill("new password here")
        sign_in.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Chats")).to_be_visible()
    finally:
        ctx.close()
