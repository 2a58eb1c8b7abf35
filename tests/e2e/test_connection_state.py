"""The connection state is truthful and a message sent during an outage is reconciled when
the network returns: shown as sent, stored once (issue 13, defect 1)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.helpers import ana_and_bob, bodies, messages, open_chat, send
from tests.e2e.network import SocketProxy

pytestmark = pytest.mark.browser

NewPage = Callable[..., Page]
SENT = re.compile("delivered|read")  # Bob has the chat open, so it may be read at once


def status(page: Page) -> Locator:
    return page.get_by_test_id("connection-status")


def test_a_message_sent_offline_is_sent_once_when_the_network_returns(
    new_page: NewPage,
) -> None:
    ana, bob = new_page(), new_page()
    ana_and_bob(ana, bob, "before")
    open_chat(ana, "Bob Stone")
    open_chat(bob, "Ana Lima")
    # Both are online: Bob's dot is green in Ana's list and header.
    expect(ana.get_by_test_id("presence-dot").first).to_have_attribute("data-online", "true")

    ana.context.set_offline(True)
    # The header tells the truth at once, and nobody shows as online any more.
    expect(status(ana)).to_have_text("Waiting for network…", timeout=5_000)
    expect(status(ana)).not_to_have_attribute("data-status", "online")
    for dot in ana.get_by_test_id("presence-dot").all():
        expect(dot).not_to_have_attribute("data-online", "true")

    send(ana, "sent while offline")
    mine = messages(ana).filter(has_text="sent while offline")
    expect(mine.get_by_test_id("message-status")).to_have_attribute(
        "data-status", "failed", timeout=30_000
    )
    expect(mine).to_contain_text("Not sent")
    ana.wait_for_timeout(15_000)  # a while offline, as a person on a train would be
    expect(status(ana)).to_have_text("Waiting for network…")
    expect(messages(bob).filter(has_text="sent while offline")).to_have_count(0)

    ana.context.set_offline(False)
    expect(status(ana)).to_have_attribute("data-status", "online", timeout=10_000)
    expect(mine.get_by_test_id("message-status")).to_have_attribute(
        "data-status", SENT, timeout=10_000
    )
    expect(mine).not_to_contain_text("Not sent")
    expect(messages(bob).filter(has_text="sent while offline")).to_have_count(1)
    assert bodies(ana) == ["before", "sent while offline"]
    assert bodies(bob) == ["before", "sent while offline"]
    expect(ana.get_by_test_id("presence-dot").first).to_have_attribute("data-online", "true")

    # Stored once: a fresh load of the history has it once.
    ana.reload()
    expect(messages(ana).filter(has_text="sent while offline")).to_have_count(1)
    assert bodies(ana) == ["before", "sent while offline"]


def test_a_message_whose_ack_was_lost_offline_is_sent_once(new_page: NewPage) -> None:
    """The server stored the message but its ack never came back before the network went:
    the retry on the next connection reuses the clientMessageId and gets the stored one."""
    ana, bob = new_page(), new_page()
    proxy = SocketProxy(ana)
    ana_and_bob(ana, bob, "before")
    open_chat(ana, "Bob Stone")
    open_chat(bob, "Ana Lima")

    proxy.hold(lambda f: f.get("type") == "ack" and "message" in f)
    send(ana, "ack lost")
    proxy.wait_until_held()
    ana.context.set_offline(True)
    proxy.drop_held()
    expect(messages(bob).filter(has_text="ack lost")).to_have_count(1)
    mine = messages(ana).filter(has_text="ack lost")
    expect(mine.get_by_test_id("message-status")).to_have_attribute(
        "data-status", "failed", timeout=30_000
    )

    ana.context.set_offline(False)
    expect(mine.get_by_test_id("message-status")).to_have_attribute(
        "data-status", SENT, timeout=15_000
    )
    assert bodies(ana) == ["before", "ack lost"]
    assert bodies(bob) == ["before", "ack lost"]
    ana.reload()
    expect(messages(ana)).to_have_count(2)
    assert bodies(ana) == ["before", "ack lost"]


def test_a_stalled_socket_is_noticed_within_seconds(new_page: NewPage) -> None:
    """The socket neither answers nor closes (a network path died silently): the heartbeat
    notices within seconds, presence stops claiming anyone is online, and a new socket
    goes online again."""
    ana, bob = new_page(), new_page()
    proxy = SocketProxy(ana)
    ana_and_bob(ana, bob, "before")
    open_chat(ana, "Bob Stone")
    expect(ana.get_by_test_id("presence-dot").first).to_have_attribute("data-online", "true")
    connections = proxy.connections

    proxy.stall()
    # New sockets are refused for now: otherwise a quick reconnect can be back online (with
    # Bob rightly shown online) before the dots are looked at.
    proxy.blocked = True
    expect(status(ana)).not_to_have_attribute("data-status", "online", timeout=15_000)
    for dot in ana.get_by_test_id("presence-dot").all():
        expect(dot).not_to_have_attribute("data-online", "true")
    proxy.restore()
    expect(status(ana)).to_have_attribute("data-status", "online", timeout=30_000)
    assert proxy.connections > connections
    expect(ana.get_by_test_id("presence-dot").first).to_have_attribute("data-online", "true")
