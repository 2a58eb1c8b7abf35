"""One client loses its WebSocket while the others carry on; on reconnect it catches up
through /api/sync: nothing missing, nothing twice."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import ana_and_bob, bodies, messages, open_chat, send
from tests.e2e.network import SocketProxy, since_of

pytestmark = pytest.mark.browser

NewPage = Callable[..., Page]


def test_catch_up_after_losing_the_socket(new_page: NewPage) -> None:
    ana, bob = new_page(), new_page()
    switch = SocketProxy(ana)
    syncs: list[tuple[int, str]] = []
    ana.on(
        "response",
        lambda r: (
            syncs.append((r.status, since_of(r.url))) if "/api/sync?since=" in r.url else None
        ),
    )
    ana_and_bob(ana, bob, "one")
    open_chat(ana, "Bob Stone")
    expect(messages(ana).filter(has_text="one")).to_have_count(1)

    switch.cut()
    expect(ana.get_by_test_id("connection-status")).not_to_have_attribute("data-status", "online")

    # While Ana is away: new messages, an edit, a delete, and Ana's own send (over REST).
    send(bob, "two")
    send(bob, "three")
    send(bob, "four")
    expect(messages(bob)).to_have_count(4)
    target = messages(bob).filter(has_text="two")
    target.hover()
    target.get_by_role("button", name="Message actions").click()
    bob.get_by_role("menuitem", name="Edit").click()
    bob.get_by_role("textbox", name="Edit message").fill("two (edited)")
    bob.get_by_role("textbox", name="Edit message").press("Enter")
    target = messages(bob).filter(has_text="three")
    target.hover()
    target.get_by_role("button", name="Message actions").click()
    bob.get_by_role("menuitem", name="Delete").click()
    bob.get_by_role("alertdialog").get_by_role("button", name="Delete").click()
    expect(messages(bob).filter(has_text="This message was deleted")).to_have_count(1)
    send(ana, "sent while offline")
    expect(messages(bob).filter(has_text="sent while offline")).to_have_count(1)
    expect(messages(ana).filter(has_text="two")).to_have_count(0)  # really cut off

    switch.restore()
    expect(ana.get_by_test_id("connection-status")).to_have_attribute(
        "data-status", "online", timeout=30_000
    )
    expected = ["one", "two (edited)", "This message was deleted", "four", "sent while offline"]
    expect(messages(ana)).to_have_count(len(expected))
    expect(
        messages(ana).filter(has_text="two (edited)").get_by_test_id("edited-marker")
    ).to_be_visible()
    assert bodies(ana) == expected
    assert syncs and all(status == 200 for status, _ in syncs), syncs  # caught up via /api/sync
    # ... from a resume cursor (hello's, then each page's), never from an event's id ("…:e12").
    assert all(re.fullmatch(r"s2\.[0-9A-Za-z]+", since) for _, since in syncs), syncs

    # Live again: the next message arrives once.
    send(bob, "five")
    expect(messages(ana).filter(has_text="five")).to_have_count(1)
    assert bodies(ana) == [*expected, "five"]
    assert bodies(bob) == [*expected, "five"]


def test_catch_up_of_one_message_in_a_chat_started_after_the_resume_cursor(
    new_page: NewPage,
) -> None:
    """Bob started the chat after Ana's resume cursor was taken, so her catch-up brings it
    as one whole view (`conversation.created` at the chat's latest eventSeq), not as the
    events she missed. One event past what she has is not a gap in that case: the view
    stands for it, and her open chat still needs the message."""
    ana, bob = new_page(), new_page()
    switch = SocketProxy(ana)
    ana_and_bob(ana, bob, "one")
    open_chat(ana, "Bob Stone")
    expect(messages(ana).filter(has_text="one")).to_have_count(1)
    status = ana.get_by_test_id("connection-status")

    switch.cut()
    expect(status).not_to_have_attribute("data-status", "online")
    send(bob, "two")
    expect(messages(bob).filter(has_text="two")).to_have_count(1)
    switch.restore()

    expect(status).to_have_attribute("data-status", "online")
    expect(messages(ana).filter(has_text="two")).to_have_count(1)
    assert bodies(ana) == ["one", "two"]
