"""A chat opened for the first time fetches its history; whatever arrives while that fetch is
in flight (our own message's ack, a message someone else sends) must still be on screen once
the older history response lands, not replaced by it ("No messages yet" while the list says
"You: ...").

The history response is held in the browser (Playwright routes it: the server's answer is
taken at once, so it is older than what follows, and handed to the page only when the test
says so), which makes the race happen every time instead of once under load.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from playwright.sync_api import APIResponse, Page, Route, expect

from tests.e2e.helpers import messages, send, sign_up, start_direct_chat, unique

pytestmark = pytest.mark.browser

NewPage = Callable[..., Page]


class HeldHistory:
    """Holds the page's first request for a conversation's history: the server answers it at
    once, the page gets that (by then older) answer only on `release`. Later requests pass."""

    def __init__(self, page: Page) -> None:
        self.held: list[tuple[Route, APIResponse]] = []
        self.released = False
        page.route("**/api/conversations/*/messages?*", self._route)

    def _route(self, route: Route) -> None:
        if route.request.method != "GET" or self.released or self.held:
            route.fallback()
            return
        self.held.append((route, route.fetch()))

    def wait_until_held(self, page: Page) -> None:
        """Until the server has answered the held request (so its answer predates what follows)."""
        deadline = time.monotonic() + 30
        while not self.held:
            assert time.monotonic() < deadline, "the history request was never made"
            page.wait_for_timeout(20)  # lets Playwright run the route handler meanwhile

    def release(self) -> None:
        self.released = True
        for route, response in self.held:
            route.fulfill(response=response)
        self.held.clear()


def _preview(page: Page, name: str, text: str) -> None:
    """The conversation list shows `text` as the chat's last message: the event was applied."""
    item = page.get_by_test_id("conversation-item").filter(has_text=name)
    expect(item).to_contain_text(text)


def _ana_and_bob(new_page: NewPage) -> tuple[Page, Page]:
    ana, bob = new_page(), new_page()
    a, b = unique("ana"), unique("bob")
    sign_up(ana, a, "Ana Lima")
    sign_up(bob, b, "Bob Stone")
    start_direct_chat(bob, a[:5], "Ana Lima")
    send(bob, "earlier")
    expect(messages(bob).filter(has_text="earlier")).to_have_count(1)
    _preview(ana, "Bob Stone", "earlier")  # Ana's list has the chat; its history is not loaded
    return ana, bob


def _open_with_history_held(page: Page, title: str) -> HeldHistory:
    held = HeldHistory(page)
    page.get_by_role("navigation", name="Conversations").get_by_role("link", name=title).click()
    expect(page.get_by_test_id("conversation-title")).to_have_text(title)
    held.wait_until_held(page)
    return held


def test_own_message_sent_while_history_loads_stays_visible(new_page: NewPage) -> None:
    ana, bob = _ana_and_bob(new_page)
    held = _open_with_history_held(ana, "Bob Stone")

    send(ana, "sent while loading")
    expect(messages(bob).filter(has_text="sent while loading")).to_have_count(1)  # stored
    _preview(ana, "Bob Stone", "You: sent while loading")  # and acked in Ana's tab

    held.release()
    expect(messages(ana).filter(has_text="earlier")).to_have_count(1)  # the history landed
    expect(messages(ana).filter(has_text="sent while loading")).to_have_count(1)
    expect(ana.get_by_text("No messages yet")).to_have_count(0)


def test_message_received_while_history_loads_stays_visible(new_page: NewPage) -> None:
    ana, bob = _ana_and_bob(new_page)
    held = _open_with_history_held(ana, "Bob Stone")

    send(bob, "arrived while loading")
    _preview(ana, "Bob Stone", "arrived while loading")  # the live event reached Ana's tab

    held.release()
    expect(messages(ana).filter(has_text="earlier")).to_have_count(1)
    expect(messages(ana).filter(has_text="arrived while loading")).to_have_count(1)
