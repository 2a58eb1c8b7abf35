"""Sign-up as a person meets it: weak passwords are refused with a reason that says what to
do, every error is shown once beside the field it is about, a taken username or email is
named, and the username hint states the rule the server applies."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.conftest import Server, console_code
from tests.e2e.helpers import unique

pytestmark = pytest.mark.browser

USERNAME_RULE = (
    "3 to 32 characters: letters a-z, digits, and _ . or -, starting with a letter or digit."
)


def _fill(page: Page, username: str, email: str, password: str) -> Locator:
    page.goto("/signup")
    form = page.get_by_role("form", name="Create account")
    form.get_by_label("Username").fill(username)
    form.get_by_label("Display name").fill("Sign Up")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Create account").click()
    return form


def _signed_up(server: Server, username: str, password: str) -> bool:
    """Whether the server now knows the account (the form may not have said)."""
    with httpx.Client(base_url=server.url) as http:
        answer = http.post("/api/auth/signin", json={"username": username, "password": password})
    return answer.status_code == 200


def _starts(text: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(text))


def _shown_once(page: Page, text: str) -> None:
    expect(page.get_by_text(text)).to_have_count(1)


def test_a_common_password_is_refused_with_its_reason_beside_the_field(
    new_page: Callable[[], Page], server: Server
) -> None:
    page = new_page()
    user = unique("common")
    form = _fill(page, user, f"{user}@example.com", "password")

    password = form.get_by_label("Password")
    expect(password).to_have_accessible_description(_starts("This password is too common"))
    expect(password).to_have_attribute("aria-invalid", "true")
    _shown_once(page, "This password is too common")
    expect(page.get_by_role("heading", name="Chats")).not_to_be_visible()
    assert not _signed_up(server, user, "password")

    # A capitalised common password is the same password to a guesser.
    password.fill("Password1")
    form.get_by_role("button", name="Create account").click()
    expect(password).to_have_accessible_description(_starts("This password is too common"))
    _shown_once(page, "This password is too common")


def test_eight_spaces_are_not_a_password(new_page: Callable[[], Page], server: Server) -> None:
    page = new_page()
    user = unique("spaces")
    form = _fill(page, user, f"{user}@example.com", " " * 8)

    password = form.get_by_label("Password")
    expect(password).to_have_accessible_description(_starts("Choose a longer password"))
    _shown_once(page, "Choose a longer password")
    assert not _signed_up(server, user, " " * 8)

    # Four emoji are four characters, however many UTF-16 units the browser counts.
    password.fill("🙂🙃🙂🙃")
    form.get_by_role("button", name="Create account").click()
    expect(password).to_have_accessible_description(_starts("Choose a longer password"))


def test_a_taken_username_and_a_taken_email_are_each_named(
    new_page: Callable[[], Page], server: Server
) -> None:
    taken = unique("taken")
    with httpx.Client(base_url=server.url) as http:
        created = http.post(
            "/api/auth/signup",
            json={
                "username": taken,
                "email": f"{taken}@example.com",
                "password": "correct horse battery",
                "displayName": "First Comer",
            },
        )
        assert created.status_code == 201, created.text
    page = new_page()

    form = _fill(page, taken, f"other{taken}@example.com", "correct horse battery")
    expect(form.get_by_label("Username")).to_have_accessible_description(
        _starts("That username is taken")
    )
    expect(form.get_by_label("Email")).not_to_have_attribute("aria-invalid", "true")
    _shown_once(page, "That username is taken")
    expect(page.get_by_text("already registered")).to_have_count(0)

    form = _fill(page, f"other{taken}", f"{taken}@example.com", "correct horse battery")
    expect(form.get_by_label("Email")).to_have_accessible_description(
        _starts("That email address is already registered")
    )
    expect(form.get_by_label("Username")).not_to_have_attribute("aria-invalid", "true")
    _shown_once(page, "That email address is already registered")
    expect(page.get_by_text("username", exact=False).filter(has_text="taken")).to_have_count(0)


def test_the_username_hint_states_the_servers_rule(
    new_page: Callable[[], Page], server: Server
) -> None:
    page = new_page()
    page.goto("/signup")
    form = page.get_by_role("form", name="Create account")
    expect(form.get_by_label("Username")).to_have_accessible_description(USERNAME_RULE)

    # The server refuses with the same rule, shown once beside the field.
    form = _fill(page, "ab", f"{unique('ab')}@example.com", "correct horse battery")
    expect(form.get_by_label("Username")).to_have_accessible_description(
        f"Username must be {USERNAME_RULE[0].lower()}{USERNAME_RULE[1:]}"
    )
    _shown_once(page, "Username must be")

    # What the hint allows, the server takes: dots, dashes, capitals (kept in lowercase).
    user = unique("Dot.Dash-")
    _fill(page, user, f"{user.lower()}@example.com", "correct horse battery")
    expect(page.get_by_role("heading", name="Chats")).to_be_visible()


def test_the_reset_form_refuses_weak_passwords_beside_the_field(
    browser: Browser, console_server: Server
) -> None:
    user = unique("weakreset")
    with httpx.Client(base_url=console_server.url) as http:
        created = http.post(
            "/api/auth/signup",
            json={
                "username": user,
                "email": f"{user}@example.com",
                "password": "old pass phrase",
                "displayName": "Weak Reset",
            },
        )
        assert created.status_code == 201, created.text
        code = console_code(console_server, "confirmation", user)
        assert http.post("/api/auth/confirm", json={"username": user, "code": code}).is_success

    ctx = browser.new_context(base_url=console_server.url)
    try:
        page = ctx.new_page()
        page.goto("/forgot-password")
        ask = page.get_by_role("form", name="Reset your password")
        ask.get_by_label("Username or email").fill(user)
        ask.get_by_role("button", name="Send code").click()
        choose = page.get_by_role("form", name="Choose a new password")
        choose.get_by_label("Reset code").fill(console_code(console_server, "password reset", user))
        new_password = choose.get_by_label("New password")

        new_password.fill("Password1")
        choose.get_by_role("button", name="Set new password").click()
        expect(new_password).to_have_accessible_description(_starts("This password is too common"))
        _shown_once(page, "This password is too common")

        new_password.fill(" " * 8)
        choose.get_by_role("button", name="Set new password").click()
        expect(new_password).to_have_accessible_description(_starts("Choose a longer password"))
        _shown_once(page, "Choose a longer password")

        new_password.fill("new pass phrase")
        choose.get_by_role("button", name="Set new password").click()
        expect(page.get_by_role("form", name="Sign in")).to_contain_text(
            "Your password was changed"
        )
    finally:
        ctx.close()
