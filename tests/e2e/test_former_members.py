"""Issue 13, defect 3: messages keep their author after the author leaves or is removed.

Bob writes in a group and then leaves it (or Ana, the owner, removes him). Ana must still
see Bob's name, @username and initials on his messages: live, right after the change, and
after a reload (when the history page is all the app has).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server
from tests.e2e.helpers import create_group, messages, open_chat, rest, send, sign_up, unique

pytestmark = pytest.mark.browser

NewPage = Callable[..., Page]
PASSWORD = "correct horse battery"


def _rest(server: Server, method: str, path: str, token: str, body: Any = None) -> Any:
    return rest(server.url, method, path, body, token)


def _token(server: Server, username: str) -> str:
    body = {"username": username, "password": PASSWORD}
    return str(_rest(server, "POST", "/api/auth/signin", "", body)["accessToken"])


def _expect_bob_on_his_message(ana: Page, bob_username: str) -> None:
    message = messages(ana).filter(has_text="hello from Bob")
    expect(message).to_have_count(1)
    # The group of bubbles around Bob's message: his avatar, name line and messages.
    group = ana.locator("li", has=ana.get_by_test_id("sender-name")).filter(has=message)
    name = group.get_by_test_id("sender-name")
    expect(name).to_contain_text("Bob Stone")
    expect(name).to_contain_text(f"@{bob_username}")
    expect(name).not_to_contain_text("Former member")
    expect(group.get_by_test_id("sender-avatar")).to_have_text("BS")


def _bob_writes_in_anas_group(ana: Page, bob: Page) -> tuple[str, str, str]:
    """Returns Ana's and Bob's usernames and the group's id."""
    a, b = unique("ana"), unique("bob")
    sign_up(ana, a, "Ana Lima")
    sign_up(bob, b, "Bob Stone")
    create_group(ana, "Leavers", {b: "Bob Stone"})
    conversation_id = ana.url.rstrip("/").rsplit("/", 1)[-1]
    open_chat(bob, "Leavers")
    send(bob, "hello from Bob")
    _expect_bob_on_his_message(ana, b)
    return a, b, conversation_id


def _after_bob_is_gone(ana: Page, bob_username: str) -> None:
    # Ana's app has applied the membership change: Bob is no longer counted.
    expect(ana.get_by_text(re.compile(r"^1 members?$"))).to_be_visible()
    _expect_bob_on_his_message(ana, bob_username)
    ana.reload()
    expect(ana.get_by_test_id("conversation-title")).to_have_text("Leavers")
    _expect_bob_on_his_message(ana, bob_username)


# Leaving and removing go through the API: what matters here is what Ana sees, and the
# group settings dialog that offers both is reworked elsewhere (issue 13, defect 4).


def test_author_who_left_keeps_his_name(new_page: NewPage, server: Server) -> None:
    ana, bob = new_page(), new_page()
    _, b, conversation_id = _bob_writes_in_anas_group(ana, bob)
    bob_id = _rest(server, "GET", "/api/users/me", _token(server, b))["user"]["id"]

    _rest(
        server,
        "DELETE",
        f"/api/conversations/{conversation_id}/members/{bob_id}",
        _token(server, b),
    )

    _after_bob_is_gone(ana, b)


def test_author_who_was_removed_keeps_his_name(new_page: NewPage, server: Server) -> None:
    ana, bob = new_page(), new_page()
    a, b, conversation_id = _bob_writes_in_anas_group(ana, bob)
    bob_id = _rest(server, "GET", "/api/users/me", _token(server, b))["user"]["id"]

    _rest(
        server,
        "DELETE",
        f"/api/conversations/{conversation_id}/members/{bob_id}",
        _token(server, a),
    )

    _after_bob_is_gone(ana, b)
