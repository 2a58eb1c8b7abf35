"""Group changes (issue 13, defects 2 and 4): who may rename, a settings dialog that keeps
up with live renames, timeline notices for group changes, a confirmed removal, and a
removed member who is told why their chat went away."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server
from tests.e2e.helpers import (
    create_group,
    messages,
    open_chat,
    rest,
    send,
    sign_in,
    sign_up,
    unique,
)

pytestmark = pytest.mark.browser

NewPage = Callable[..., Page]
PASSWORD = "correct horse battery"


def _rest(server: Server, method: str, path: str, body: Any = None, token: str = "") -> Any:
    return rest(server.url, method, path, body, token)


def _person(server: Server, username: str, display_name: str) -> str:
    """Signs someone up over the API; returns their access token."""
    _rest(
        server,
        "POST",
        "/api/auth/signup",
        {
            "username": username,
            "email": f"{username}@example.com",
            "password": PASSWORD,
            "displayName": display_name,
        },
    )
    tokens = _rest(server, "POST", "/api/auth/signin", {"username": username, "password": PASSWORD})
    return str(tokens["accessToken"])


def _group_id(server: Server, token: str, title: str) -> str:
    page = _rest(server, "GET", "/api/conversations?limit=100", token=token)
    return next(c["id"] for c in page["conversations"] if c["title"] == title)


def _timeline(page: Page) -> list[str]:
    """Messages and notices in screen order: a message as its text, a notice as `* text`."""
    return [
        t.strip()
        for t in page.locator(
            "[data-testid=message-text], [data-testid=group-notice]"
        ).evaluate_all(
            "els => els.map(e => (e.dataset.testid === 'group-notice' ? '* ' : '') + e.textContent)"
        )
    ]


def test_open_settings_follow_a_rename_made_elsewhere(new_page: NewPage) -> None:
    """The owner renames on one device while the dialog is open on another: the open
    dialog shows the new name and cannot put the old one back by accident."""
    laptop, phone, friend = new_page(), new_page(), new_page()
    a, b = unique("ana"), unique("bob")
    sign_up(laptop, a, "Ana Lima")
    sign_up(friend, b, "Bob Stone")
    create_group(laptop, "Book club", {b: "Bob Stone"})
    sign_in(phone, a)
    open_chat(phone, "Book club")

    laptop.get_by_role("button", name="Group settings").click()
    stale = laptop.get_by_role("dialog")
    expect(stale.get_by_label("Group name")).to_have_value("Book club")

    phone.get_by_role("button", name="Group settings").click()
    phone.get_by_role("dialog").get_by_label("Group name").fill("Book club 2026")
    phone.get_by_role("dialog").get_by_role("button", name="Rename").click()

    # Untouched, the open field follows; nothing to rename back to.
    expect(stale.get_by_label("Group name")).to_have_value("Book club 2026")
    expect(stale.get_by_role("button", name="Rename")).to_be_disabled()

    # Being edited, the field keeps what is typed and says the name changed meanwhile.
    stale.get_by_label("Group name").fill("Reading circle")
    phone.get_by_role("dialog").get_by_label("Group name").fill("Books")
    phone.get_by_role("dialog").get_by_role("button", name="Rename").click()
    expect(stale.get_by_label("Group name")).to_have_value("Reading circle")
    expect(stale.get_by_test_id("rename-conflict")).to_contain_text("Books")
    expect(friend.get_by_role("navigation", name="Conversations")).to_contain_text("Books")


def test_only_the_owner_may_rename(new_page: NewPage, server: Server) -> None:
    owner = new_page()
    a, b = unique("ana"), unique("bob")
    sign_up(owner, a, "Ana Lima")
    bob_token = _person(server, b, "Bob Stone")
    create_group(owner, "Book club", {b: "Bob Stone"})

    member = new_page()
    sign_in(member, b)
    open_chat(member, "Book club")
    member.get_by_role("button", name="Group settings").click()
    settings = member.get_by_role("dialog")
    expect(settings.get_by_role("list", name="Members")).to_contain_text("Ana Lima")
    expect(settings.get_by_label("Group name")).to_have_count(0)
    expect(settings.get_by_role("button", name="Rename")).to_have_count(0)

    group_id = _group_id(server, bob_token, "Book club")
    with pytest.raises(urllib.error.HTTPError) as refused:
        _rest(server, "PATCH", f"/api/conversations/{group_id}", {"title": "Mine"}, bob_token)
    assert refused.value.code == 403
    assert json.loads(refused.value.read())["error"]["code"] == "forbidden"
    expect(owner.get_by_test_id("conversation-title")).to_have_text("Book club")


def test_group_changes_show_in_the_timeline(new_page: NewPage, server: Server) -> None:
    owner, member = new_page(), new_page()
    a, b, c, d = unique("ana"), unique("bob"), unique("cyd"), unique("dee")
    sign_up(owner, a, "Ana Lima")
    sign_up(member, b, "Bob Stone")
    _person(server, c, "Cyd Wolf")
    dee_token = _person(server, d, "Dee Park")
    create_group(owner, "Trip", {b: "Bob Stone", d: "Dee Park"})
    open_chat(member, "Trip")
    expect(member.get_by_test_id("group-notice")).to_have_text(["Ana Lima created the group"])
    expect(owner.get_by_test_id("group-notice")).to_have_text(["You created the group"])

    send(owner, "first")
    expect(messages(member).filter(has_text="first")).to_have_count(1)
    owner.get_by_role("button", name="Group settings").click()
    settings = owner.get_by_role("dialog")
    settings.get_by_label("Group name").fill("Trip 2027")
    settings.get_by_role("button", name="Rename").click()
    settings.get_by_label("Add people").fill(c[:4])
    settings.get_by_role("button", name=f"Cyd Wolf @{c}").click()
    expect(settings.get_by_role("list", name="Members")).to_contain_text("Cyd Wolf")
    settings.get_by_role("button", name="Remove Cyd Wolf").click()
    owner.get_by_role("alertdialog").get_by_role("button", name="Remove").click()
    expect(settings.get_by_role("list", name="Members")).not_to_contain_text("Cyd Wolf")
    owner.keyboard.press("Escape")
    group_id = _group_id(server, dee_token, "Trip 2027")
    _rest(
        server,
        "DELETE",
        f"/api/conversations/{group_id}/members/{_me(server, dee_token)}",
        token=dee_token,
    )
    send(owner, "last")

    expected = [
        "* Ana Lima created the group",
        "first",
        "* Ana Lima renamed the group to Trip 2027",
        "* Ana Lima added Cyd Wolf",
        "* Ana Lima removed Cyd Wolf",
        "* Dee Park left",
        "last",
    ]
    expect(messages(member).filter(has_text="last")).to_have_count(1)
    expect(member.get_by_test_id("group-notice")).to_have_count(5)
    assert _timeline(member) == expected

    member.reload()
    expect(messages(member).filter(has_text="last")).to_have_count(1)
    expect(member.get_by_test_id("group-notice")).to_have_count(5)
    assert _timeline(member) == expected


def _me(server: Server, token: str) -> str:
    return str(_rest(server, "GET", "/api/users/me", token=token)["user"]["id"])


def test_removal_is_confirmed_and_explained(new_page: NewPage) -> None:
    owner, member = new_page(), new_page()
    a, b = unique("ana"), unique("bob")
    sign_up(owner, a, "Ana Lima")
    sign_up(member, b, "Bob Stone")
    create_group(owner, "Book club", {b: "Bob Stone"})
    open_chat(member, "Book club")
    expect(owner.get_by_text("2 members", exact=True)).to_be_visible()

    owner.get_by_role("button", name="Group settings").click()
    settings = owner.get_by_role("dialog")
    settings.get_by_role("button", name="Remove Bob Stone").click()
    confirm = owner.get_by_role("alertdialog")
    expect(confirm).to_contain_text("Remove Bob Stone")
    confirm.get_by_role("button", name="Cancel").click()
    expect(settings.get_by_role("list", name="Members")).to_contain_text("Bob Stone")

    settings.get_by_role("button", name="Remove Bob Stone").click()
    owner.get_by_role("alertdialog").get_by_role("button", name="Remove").click()
    expect(settings.get_by_role("list", name="Members")).not_to_contain_text("Bob Stone")
    owner.keyboard.press("Escape")
    expect(owner.get_by_role("dialog")).to_have_count(0)
    expect(owner.get_by_text("1 member", exact=True)).to_be_visible()

    expect(member.get_by_role("main")).to_contain_text(
        "You were removed from this group by Ana Lima."
    )
    expect(member.get_by_text("This chat is not available.")).to_have_count(0)


def test_a_deleted_group_says_so_in_the_open_chat(new_page: NewPage) -> None:
    owner, member = new_page(), new_page()
    a, b = unique("ana"), unique("bob")
    sign_up(owner, a, "Ana Lima")
    sign_up(member, b, "Bob Stone")
    create_group(owner, "Book club", {b: "Bob Stone"})
    open_chat(member, "Book club")
    owner.get_by_role("button", name="Group settings").click()
    owner.get_by_role("dialog").get_by_role("button", name="Delete group").click()
    owner.get_by_role("alertdialog").get_by_role("button", name="Delete").click()
    expect(member.get_by_role("main")).to_contain_text("This group was deleted.")
