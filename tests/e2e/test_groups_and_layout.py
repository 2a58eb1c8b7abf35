"""Groups, history paging, the phone layout and themes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server
from tests.e2e.helpers import (
    bodies,
    create_group,
    messages,
    open_chat,
    rest,
    send,
    sign_up,
    start_direct_chat,
    unique,
)

pytestmark = pytest.mark.browser

NewPage = Callable[..., Page]


def _rest(server: Server, method: str, path: str, body: Any = None, token: str = "") -> Any:
    return rest(server.url, method, path, body, token)


def test_group_lifecycle(new_page: NewPage) -> None:
    owner, member, extra = new_page(), new_page(), new_page()
    o, m, x = unique("olga"), unique("mia"), unique("xav")
    sign_up(owner, o, "Olga Owner")
    sign_up(member, m, "Mia Member")
    sign_up(extra, x, "Xav Extra")

    create_group(owner, "Book club", {m: "Mia Member"})

    send(owner, "Welcome to the club")
    open_chat(member, "Book club")
    expect(messages(member).filter(has_text="Welcome to the club")).to_have_count(1)
    expect(member.get_by_role("main")).to_contain_text("Olga Owner")  # sender name in groups

    # Rename, add a member: everyone sees it live.
    owner.get_by_role("button", name="Group settings").click()
    settings = owner.get_by_role("dialog")
    settings.get_by_label("Group name").fill("Book club 2026")
    settings.get_by_role("button", name="Rename").click()
    expect(member.get_by_test_id("conversation-title")).to_have_text("Book club 2026")
    settings.get_by_label("Add people").fill(x[:4])
    settings.get_by_role("button", name=f"Xav Extra @{x}").click()
    expect(settings.get_by_role("list", name="Members")).to_contain_text("Xav Extra")
    open_chat(extra, "Book club 2026")
    expect(messages(extra).filter(has_text="Welcome to the club")).to_have_count(1)

    # Remove Xav; then Mia leaves.
    settings.get_by_role("button", name="Remove Xav Extra").click()
    owner.get_by_role("alertdialog").get_by_role("button", name="Remove").click()
    expect(settings.get_by_role("list", name="Members")).not_to_contain_text("Xav Extra")
    expect(
        extra.get_by_role("navigation", name="Conversations").get_by_role(
            "link", name="Book club 2026"
        )
    ).to_have_count(0)
    owner.keyboard.press("Escape")
    expect(owner.get_by_role("dialog")).to_have_count(0)

    member.get_by_role("button", name="Group settings").click()
    member.get_by_role("dialog").get_by_role("button", name="Leave group").click()
    member.get_by_role("alertdialog").get_by_role("button", name="Leave").click()
    expect(
        member.get_by_role("navigation", name="Conversations").get_by_role(
            "link", name="Book club 2026"
        )
    ).to_have_count(0)
    expect(owner.get_by_text("2 members")).to_have_count(0)

    # The owner deletes the group.
    owner.get_by_role("button", name="Group settings").click()
    owner.get_by_role("dialog").get_by_role("button", name="Delete group").click()
    owner.get_by_role("alertdialog").get_by_role("button", name="Delete").click()
    expect(
        owner.get_by_role("navigation", name="Conversations").get_by_role(
            "link", name="Book club 2026"
        )
    ).to_have_count(0)


def test_history_pages_in_as_you_scroll_up(new_page: NewPage, server: Server) -> None:
    page = new_page()
    me, other = unique("hana"), unique("ivo")
    sign_up(page, me, "Hana Hist")
    _rest(
        server,
        "POST",
        "/api/auth/signup",
        {
            "username": other,
            "email": f"{other}@example.com",
            "password": "correct horse battery",
            "displayName": "Ivo Old",
        },
    )
    token = _rest(
        server, "POST", "/api/auth/signin", {"username": other, "password": "correct horse battery"}
    )["accessToken"]
    me_id = _rest(server, "GET", f"/api/users/search?q={me}", token=token)["users"][0]["id"]
    conv = _rest(server, "POST", "/api/conversations/direct", {"userId": me_id}, token=token)[
        "conversation"
    ]
    total = 130
    for i in range(1, total + 1):
        _rest(
            server,
            "POST",
            f"/api/conversations/{conv['id']}/messages",
            {"clientMessageId": f"h-{i}", "body": f"history {i}"},
            token=token,
        )

    open_chat(page, "Ivo Old")
    expect(page.locator(f'[data-testid="message"][data-seq="{total}"]')).to_be_visible()
    scroller = page.get_by_test_id("message-scroller")
    # Each scroll to the top loads an older page; keep scrolling until the first one is in.
    deadline = time.monotonic() + 60
    while not page.get_by_text("This is the beginning of the conversation.").count():
        assert time.monotonic() < deadline, "the oldest page never loaded"
        scroller.evaluate("el => { el.scrollTop = -el.scrollHeight }")
        page.wait_for_timeout(100)
    expect(page.get_by_text("This is the beginning of the conversation.")).to_be_visible()
    expect(messages(page)).to_have_count(total)
    assert bodies(page) == [f"history {i}" for i in range(1, total + 1)]

    # Scrolled up, a button leads back to the newest message.
    page.get_by_role("button", name="Jump to latest").click()
    expect(page.get_by_role("button", name="Jump to latest")).to_have_count(0)
    expect(page.locator(f'[data-testid="message"][data-seq="{total}"]')).to_be_in_viewport()


def test_phone_layout_and_theme(new_page: NewPage) -> None:
    page, friend = new_page(375, 812), new_page()
    me, f = unique("pia"), unique("quin")
    sign_up(friend, f, "Quin Friend")
    sign_up(page, me, "Pia Phone")

    # Phone: the list is its own screen; a chat replaces it and Back returns.
    start_direct_chat(page, f[:4], "Quin Friend")
    expect(page.get_by_role("complementary", name="Chats")).to_be_hidden()
    send(page, "from my phone")
    page.get_by_role("link", name="Back to chats").click()
    expect(page.get_by_role("complementary", name="Chats")).to_be_visible()
    expect(page.get_by_role("navigation", name="Conversations")).to_contain_text(
        "You: from my phone"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    # Theme: toggle to dark, persists across reloads.
    assert not page.evaluate("document.documentElement.classList.contains('dark')")
    page.get_by_role("button", name="Switch to dark theme").click()
    assert page.evaluate("document.documentElement.classList.contains('dark')")
    page.reload()
    expect(page.get_by_role("button", name="Switch to light theme")).to_be_visible()
    assert page.evaluate("document.documentElement.classList.contains('dark')")


def test_dark_scheme_is_followed_and_errors_are_inline(new_page: NewPage) -> None:
    page = new_page(color_scheme="dark")
    page.goto("/signup")
    assert page.evaluate("document.documentElement.classList.contains('dark')")
    user = unique("dup")
    sign_up(page, user, "Dup One")
    page.get_by_role("button", name="Account").click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.goto("/signup")
    form = page.get_by_role("form", name="Create account")
    form.get_by_label("Username").fill(user)
    form.get_by_label("Email").fill(f"{user}@example.com")
    form.get_by_label("Password").fill("correct horse battery")
    form.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_role("form", name="Create account")).to_be_visible()
