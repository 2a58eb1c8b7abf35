"""Blocking someone from a direct chat, through the built web app and a real server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import ana_and_bob, messages, open_chat, send
from tests.e2e.network import SocketProxy

pytestmark = pytest.mark.browser

NewPage = Callable[..., Page]
REFUSED = "You can't send messages to this chat."


def test_blocking_stops_the_chat_both_ways_until_unblocked(new_page: NewPage) -> None:
    ana, bob = new_page(), new_page()
    bob_socket = SocketProxy(bob)
    ana_and_bob(ana, bob, "hello Ana")
    open_chat(ana, "Bob Stone")
    expect(messages(ana).filter(has_text="hello Ana")).to_have_count(1)

    # Bob's tab will not hear of the block at once (its event is held on the way), so his
    # next message reaches the server and is refused there.
    bob_socket.hold(lambda f: f.get("type") == "conversation.updated")
    ana.get_by_role("button", name="Chat options").click()
    ana.get_by_role("menuitem", name="Block").click()
    confirm = ana.get_by_role("alertdialog", name="Block Bob Stone?")
    expect(confirm).to_contain_text("Groups you share are not affected.")
    confirm.get_by_role("button", name="Block").click()

    # Ana: the notice with Unblock takes the composer's place; the history stays.
    notice = ana.get_by_role("status").filter(has_text="You blocked Bob Stone.")
    expect(notice).to_be_visible()
    expect(ana.get_by_role("textbox", name="Message")).to_have_count(0)
    expect(messages(ana).filter(has_text="hello Ana")).to_have_count(1)

    bob_socket.wait_until_held()
    send(bob, "are you there?")
    refused = messages(bob).filter(has_text="are you there?")
    expect(refused.get_by_test_id("message-status")).to_have_attribute("data-status", "failed")
    expect(refused).to_contain_text(f"Not sent: {REFUSED}")
    bob_socket.forward_held()
    # Then his tab learns it and says so in the composer's place.
    expect(bob.get_by_role("status").filter(has_text=REFUSED)).to_be_visible()
    expect(bob.get_by_role("textbox", name="Message")).to_have_count(0)
    expect(messages(ana).filter(has_text="are you there?")).to_have_count(0)

    # Ana unblocks from the notice (confirming), and both can write again.
    notice.get_by_role("button", name="Unblock").click()
    ana.get_by_role("alertdialog", name="Unblock Bob Stone?").get_by_role(
        "button", name="Unblock"
    ).click()
    expect(ana.get_by_role("textbox", name="Message")).to_be_visible()
    expect(bob.get_by_role("textbox", name="Message")).to_be_visible()
    send(bob, "back again")
    expect(messages(ana).filter(has_text="back again")).to_have_count(1)
    expect(messages(ana).filter(has_text="are you there?")).to_have_count(0)
    ana.get_by_role("button", name="Chat options").click()
    expect(ana.get_by_role("menuitem", name="Block")).to_be_visible()  # not blocked any more
