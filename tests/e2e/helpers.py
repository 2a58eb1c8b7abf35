"""What a person does in the app, as reusable steps (role- and label-based locators)."""

from __future__ import annotations

import itertools
import json
import os
import urllib.request
from typing import Any

from playwright.sync_api import Locator, Page, expect

_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{os.getpid() % 1000}{next(_counter)}"


def sign_up(
    page: Page, username: str, display_name: str, password: str = "correct horse battery"
) -> None:
    page.goto("/signup")
    form = page.get_by_role("form", name="Create account")
    form.get_by_label("Username").fill(username)
    form.get_by_label("Display name").fill(display_name)
    form.get_by_label("Email").fill(f"{username}@example.com")
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Chats")).to_be_visible()
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-status", "online")


def sign_in(page: Page, username: str, password: str = "correct horse battery") -> None:
    page.goto("/signin")
    form = page.get_by_role("form", name="Sign in")
    form.get_by_label("Username or email").fill(username)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Chats")).to_be_visible()


def start_direct_chat(page: Page, query: str, display_name: str) -> None:
    page.get_by_role("button", name="New chat").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Search people").fill(query)
    dialog.get_by_role("button", name=display_name).click()
    expect(page.get_by_test_id("conversation-title")).to_have_text(display_name)


def create_group(page: Page, name: str, members: dict[str, str]) -> None:
    """Create a group `name` with `members` (username: display name) and open it."""
    page.get_by_role("button", name="New chat").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("tab", name="Group").click()
    dialog.get_by_label("Group name").fill(name)
    for username, display_name in members.items():
        dialog.get_by_label("Add members").fill(username[:4])
        dialog.get_by_role("button", name=f"{display_name} @{username}").click()
        expect(dialog.get_by_role("list", name="Members to add")).to_contain_text(display_name)
    dialog.get_by_role("button", name="Create group").click()
    expect(page.get_by_test_id("conversation-title")).to_have_text(name)


def chat_link(page: Page, title: str) -> Locator:
    return page.get_by_role("navigation", name="Conversations").get_by_role("link", name=title)


def open_chat(page: Page, title: str) -> None:
    page.get_by_role("navigation", name="Conversations").get_by_role("link", name=title).click()
    expect(page.get_by_test_id("conversation-title")).to_have_text(title)


def send(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")


def preview(page: Page, name: str, text: str) -> None:
    """The conversation list shows `text` as the chat's last message: the event was applied."""
    item = page.get_by_test_id("conversation-item").filter(has_text=name)
    expect(item).to_contain_text(text)


def ana_and_bob(ana: Page, bob: Page, first: str = "earlier") -> tuple[str, str]:
    """Ana Lima and Bob Stone sign up; Bob starts a direct chat with Ana and sends `first`,
    which Ana's conversation list shows (the chat itself is not opened in her tab).
    Returns their usernames."""
    a, b = unique("ana"), unique("bob")
    sign_up(ana, a, "Ana Lima")
    sign_up(bob, b, "Bob Stone")
    start_direct_chat(bob, a[:5], "Ana Lima")
    send(bob, first)
    expect(messages(bob).filter(has_text=first)).to_have_count(1)
    preview(ana, "Bob Stone", first)
    return a, b


def messages(page: Page) -> Locator:
    return page.get_by_test_id("message")


def bodies(page: Page) -> list[str]:
    """Message texts in screen order, without the time and status that follow them."""
    texts = page.get_by_test_id("message-text").evaluate_all("els => els.map(e => e.textContent)")
    return [t.strip() for t in texts]


def rest(base_url: str, method: str, path: str, body: Any = None, token: str = "") -> Any:
    """One JSON call to the server under test, as a script or another device would make
    it (setting up what a test does not click through)."""
    request = urllib.request.Request(
        f"{base_url}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
    )
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request) as response:
        raw = response.read()
        return json.loads(raw) if raw else None


def dismiss_dialog(page: Page) -> None:
    """Closes the open dialog with Escape once it is ready for the keyboard: focus inside
    it (Radix moves focus in and starts listening for Escape in the same effects, which
    run after the dialog is first painted)."""
    dialog = page.get_by_role("dialog")
    expect(dialog.locator(":focus")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
