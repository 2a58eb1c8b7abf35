"""Sign-up with a confirmation step (the server prints codes instead of mailing them)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import Server, console_code
from tests.e2e.helpers import unique

pytestmark = pytest.mark.browser


def test_sign_up_with_confirmation_code(browser: Browser, console_server: Server) -> None:
    ctx = browser.new_context(base_url=console_server.url)
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

        code = console_code(console_server, "confirmation", user)
        confirm.get_by_label("Confirmation code").fill(code)
        confirm.get_by_role("button", name="Confirm").click()
        expect(page.get_by_role("heading", name="Chats")).to_be_visible()
    finally:
        ctx.close()
