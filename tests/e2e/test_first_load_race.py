"""A chat opened for the first time fetches its history; whatever arrives while that fetch is
in flight (our own message's ack, a message someone else sends) must still be on screen once
the older history response lands, not replaced by it ("No messages yet" while the list says
"You: ...").

The history response is held in the browser (Playwright routes it: the server's answer is
taken at once, so it is older than what follows, and handed to the page only when the test
says so), which makes the race happen every time instead of once under load. The same holds
at start-up for the conversation list and the socket's hello.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import ana_and_bob, messages, preview, send
from tests.e2e.network import HeldRequests

pytestmark = pytest.mark.browser

NewPage = Callable[..., Page]


def _ana_and_bob(new_page: NewPage) -> tuple[Page, Page]:
    ana, bob = new_page(), new_page()
    ana_and_bob(ana, bob)
    return ana, bob


def _open_with_history_held(page: Page, title: str) -> HeldRequests:
    held = HeldRequests(page, "**/api/conversations/*/messages?*", "GET", answer_now=True)
    page.get_by_role("navigation", name="Conversations").get_by_role("link", name=title).click()
    expect(page.get_by_test_id("conversation-title")).to_have_text(title)
    held.wait_until_held()
    return held


def test_own_message_sent_while_history_loads_stays_visible(new_page: NewPage) -> None:
    ana, bob = _ana_and_bob(new_page)
    held = _open_with_history_held(ana, "Bob Stone")

    send(ana, "sent while loading")
    expect(messages(bob).filter(has_text="sent while loading")).to_have_count(1)  # stored
    preview(ana, "Bob Stone", "You: sent while loading")  # and acked in Ana's tab

    held.release()
    expect(messages(ana).filter(has_text="earlier")).to_have_count(1)  # the history landed
    expect(messages(ana).filter(has_text="sent while loading")).to_have_count(1)
    expect(ana.get_by_text("No messages yet")).to_have_count(0)


def test_message_received_while_history_loads_stays_visible(new_page: NewPage) -> None:
    ana, bob = _ana_and_bob(new_page)
    held = _open_with_history_held(ana, "Bob Stone")

    send(bob, "arrived while loading")
    preview(ana, "Bob Stone", "arrived while loading")  # the live event reached Ana's tab

    held.release()
    expect(messages(ana).filter(has_text="earlier")).to_have_count(1)
    expect(messages(ana).filter(has_text="arrived while loading")).to_have_count(1)


def test_message_sent_between_the_list_answer_and_the_socket_hello_is_shown(
    new_page: NewPage,
) -> None:
    """On start-up the list may be answered before the socket's hello: what happened between
    the two is in neither, so the list must be loaded again after hello."""
    ana, bob = _ana_and_bob(new_page)
    listing = HeldRequests(ana, "**/api/conversations?*", "GET", answer_now=True)
    ticket = HeldRequests(ana, "**/api/auth/ws-ticket", "POST", answer_now=False)
    ana.reload()
    listing.wait_until_held()
    ticket.wait_until_held()

    send(bob, "in the gap")
    expect(messages(bob).filter(has_text="in the gap")).to_have_count(1)

    ticket.release()
    expect(ana.get_by_test_id("connection-status")).to_have_attribute("data-status", "online")
    listing.release()
    preview(ana, "Bob Stone", "in the gap")


def test_message_sent_between_the_history_answer_and_the_socket_hello_is_shown(
    new_page: NewPage,
) -> None:
    """The same at start-up on a chat's own address: its history is loaded again after hello."""
    ana, bob = _ana_and_bob(new_page)
    ana.get_by_role("navigation", name="Conversations").get_by_role(
        "link", name="Bob Stone"
    ).click()
    expect(messages(ana).filter(has_text="earlier")).to_have_count(1)
    history = HeldRequests(ana, "**/api/conversations/*/messages?*", "GET", answer_now=True)
    ticket = HeldRequests(ana, "**/api/auth/ws-ticket", "POST", answer_now=False)
    ana.reload()
    history.wait_until_held()
    ticket.wait_until_held()

    send(bob, "in the gap")
    expect(messages(bob).filter(has_text="in the gap")).to_have_count(1)

    ticket.release()
    expect(ana.get_by_test_id("connection-status")).to_have_attribute("data-status", "online")
    history.release()
    expect(messages(ana).filter(has_text="earlier")).to_have_count(1)
    expect(messages(ana).filter(has_text="in the gap")).to_have_count(1)
