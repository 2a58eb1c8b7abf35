"""Two people chatting in real time, through the built web app and a real server."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server
from tests.e2e.helpers import (
    bodies,
    messages,
    open_chat,
    send,
    sign_in,
    sign_up,
    start_direct_chat,
    unique,
)

pytestmark = pytest.mark.browser

NewPage = Callable[..., Page]


def _pair(new_page: NewPage) -> tuple[Page, Page, str, str]:
    ana, bob = new_page(), new_page()
    ana_user, bob_user = unique("ana"), unique("bob")
    sign_up(ana, ana_user, "Ana Lima")
    sign_up(bob, bob_user, "Bob Stone")
    start_direct_chat(ana, bob_user[:5], "Bob Stone")
    return ana, bob, ana_user, bob_user


def test_live_chat_typing_receipts_edit_delete(new_page: NewPage) -> None:
    ana, bob, _, _ = _pair(new_page)

    send(ana, "Hi Bob!")
    mine = messages(ana).filter(has_text="Hi Bob!")
    expect(mine).to_have_attribute("data-mine", "true")
    expect(mine.get_by_test_id("message-status")).to_have_attribute("data-status", "delivered")

    # Bob sees the chat appear with an unread badge, opens it; Ana sees the read receipt.
    item = bob.get_by_role("navigation", name="Conversations").get_by_role("link", name="Ana Lima")
    expect(item).to_contain_text("Hi Bob!")
    expect(item.get_by_test_id("unread-badge")).to_have_text("1")
    open_chat(bob, "Ana Lima")
    expect(messages(bob).filter(has_text="Hi Bob!")).to_have_attribute("data-mine", "false")
    expect(bob.get_by_test_id("unread-divider")).to_have_text("New messages")
    expect(mine.get_by_test_id("message-status")).to_have_attribute("data-status", "read")
    expect(item.get_by_test_id("unread-badge")).to_have_count(0)

    # Typing shows on the other side and goes away after the message arrives.
    bob.get_by_role("textbox", name="Message").press_sequentially("Hey", delay=30)
    expect(ana.get_by_test_id("typing-indicator")).to_have_text("Bob Stone is typing…")
    ana_list = ana.get_by_role("navigation", name="Conversations")
    expect(ana_list.get_by_role("link", name="Bob Stone")).to_contain_text("typing…")
    bob.get_by_role("textbox", name="Message").press("Enter")
    expect(messages(ana).filter(has_text="Hey")).to_have_count(1)
    expect(ana.get_by_test_id("typing-indicator")).to_have_count(0)

    # Shift+Enter makes a newline; Enter sends.
    box = ana.get_by_role("textbox", name="Message")
    box.fill("line one")
    box.press("Shift+Enter")
    box.press_sequentially("line two")
    box.press("Enter")
    expect(messages(bob).filter(has_text="line one")).to_contain_text("line two")

    # Edit propagates.
    target = messages(ana).filter(has_text="Hi Bob!")
    target.hover()
    target.get_by_role("button", name="Message actions").click()
    ana.get_by_role("menuitem", name="Edit").click()
    editor = ana.get_by_role("textbox", name="Edit message")
    editor.fill("Hi Bob, how are you?")
    editor.press("Enter")
    edited = messages(bob).filter(has_text="Hi Bob, how are you?")
    expect(edited.get_by_test_id("edited-marker")).to_be_visible()

    # Delete propagates after confirmation.
    target = messages(ana).filter(has_text="Hi Bob, how are you?")
    target.hover()
    target.get_by_role("button", name="Message actions").click()
    ana.get_by_role("menuitem", name="Delete").click()
    ana.get_by_role("alertdialog").get_by_role("button", name="Delete").click()
    expect(messages(bob).filter(has_text="This message was deleted")).to_have_count(1)
    expect(messages(bob).filter(has_text="Hi Bob, how are you?")).to_have_count(0)
    expect(messages(ana).filter(has_text="This message was deleted")).to_have_count(1)

    # Links are clickable.
    send(ana, "docs at https://example.com/docs.")
    link = messages(bob).get_by_role("link", name="https://example.com/docs")
    expect(link).to_have_attribute("href", "https://example.com/docs")


def test_session_survives_reload_and_sign_out(new_page: NewPage) -> None:
    page = new_page()
    user = unique("cara")
    sign_up(page, user, "Cara Diaz")
    page.get_by_role("button", name="Account").click()
    page.get_by_role("menuitem", name="Edit profile").click()
    page.get_by_role("dialog").get_by_label("Display name").fill("Cara D.")
    page.get_by_role("dialog").get_by_role("button", name="Save").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    page.reload()
    page.get_by_role("button", name="Account").click()
    expect(page.get_by_test_id("me-name")).to_have_text("Cara D.")
    page.keyboard.press("Escape")
    expect(page.get_by_role("heading", name="Chats")).to_be_visible()
    page.get_by_role("button", name="Account").click()
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page.get_by_role("form", name="Sign in")).to_be_visible()
    page.reload()
    expect(page.get_by_role("form", name="Sign in")).to_be_visible()
    page.get_by_label("Username or email").fill(user)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    sign_in(page, f"{user}@example.com")


def test_network_drop_loses_and_doubles_nothing(new_page: NewPage, server: Server) -> None:
    ana, bob, _, _ = _pair(new_page)
    send(ana, "before 1")
    open_chat(bob, "Ana Lima")
    send(bob, "before 2")
    expect(messages(ana).filter(has_text="before 2")).to_have_count(1)

    server.stop()
    for page in (ana, bob):
        expect(page.get_by_test_id("connection-status")).not_to_have_attribute(
            "data-status", "online"
        )
    # Ana writes while the server is down: it waits (or fails) locally, then goes out.
    send(ana, "during outage")
    pending = messages(ana).filter(has_text="during outage")
    expect(pending.get_by_test_id("message-status")).to_have_attribute("data-status", "failed")
    expect(pending.get_by_role("button", name="Retry")).to_be_visible()
    server.start()
    for page in (ana, bob):
        expect(page.get_by_test_id("connection-status")).to_have_attribute(
            "data-status", "online", timeout=30_000
        )
    # Both are back, so each sees the other online.
    expect(ana.get_by_role("main").get_by_test_id("presence-dot")).to_have_attribute(
        "data-online", "true"
    )
    expect(bob.get_by_role("main").get_by_test_id("presence-dot")).to_have_attribute(
        "data-online", "true"
    )
    # The failed message goes out by itself once the connection is back, exactly once.
    expect(pending.get_by_test_id("message-status")).to_have_attribute(
        "data-status", re.compile("delivered|read")
    )
    send(bob, "after 1")
    send(ana, "after 2")

    expected = ["before 1", "before 2", "during outage", "after 1", "after 2"]
    for page in (ana, bob):
        for text in expected:
            expect(messages(page).filter(has_text=text)).to_have_count(1)
        expect(messages(page)).to_have_count(len(expected))
        assert bodies(page) == expected
    # A reload (fresh state from the server) shows the same thing.
    for page in (ana, bob):
        page.reload()
        expect(messages(page)).to_have_count(len(expected))
        assert bodies(page) == expected
