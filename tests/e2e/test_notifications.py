"""Browser notifications, per-chat mute and the unread count in the tab title (issue 13).

Ana's browser context has notifications granted; an init script puts a recorder in place of
the Notification constructor, so the test sees each notification the app shows (and can click
it) without depending on the desktop's notification centre."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import Server
from tests.e2e.helpers import (
    ana_and_bob,
    chat_link,
    create_group,
    messages,
    open_chat,
    preview,
    send,
)

pytestmark = pytest.mark.browser

NewPage = Callable[..., Page]

RECORD_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  const shown = [];
  window.__notifications = shown;
  function Recorded(title, options) {
    const { body = '', tag = '' } = options || {};
    const note = { title, body, tag, onclick: null, close() {} };
    shown.push(note);
    // On the page too, where expect() can wait for it (the page's CSP forbids the eval
    // that wait_for_function would need).
    document.documentElement.dataset.notifications = String(shown.length);
    return note;
  }
  Object.defineProperty(Recorded, 'permission', { get: () => Real.permission });
  Recorded.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Recorded;
})();
"""


@pytest.fixture
def granted_page(browser: Browser, server: Server) -> Iterator[Page]:
    """A user whose browser has said yes to notifications, with the recorder installed."""
    context: BrowserContext = browser.new_context(
        base_url=server.url, viewport={"width": 1280, "height": 800}, permissions=["notifications"]
    )
    context.set_default_timeout(10_000)
    context.add_init_script(RECORD_NOTIFICATIONS)
    yield context.new_page()
    context.close()


def shown(page: Page) -> list[dict[str, Any]]:
    notes: list[dict[str, Any]] = page.evaluate(
        "window.__notifications.map(n => ({title: n.title, body: n.body}))"
    )
    return notes


def wait_for_count(page: Page, count: int) -> None:
    expect(page.locator("html")).to_have_attribute("data-notifications", str(count))


def test_notifies_only_for_chats_off_screen_and_not_muted_and_titles_the_tab(
    granted_page: Page, new_page: NewPage
) -> None:
    ana, bob = granted_page, new_page()
    ana_user, _ = ana_and_bob(ana, bob, first="earlier")

    # No chat open in Ana's tab: the direct chat's first message notifies; the tab counts it.
    wait_for_count(ana, 1)
    assert shown(ana)[0] == {"title": "Bob Stone", "body": "earlier"}
    expect(ana).to_have_title("(1) Hubbub")

    create_group(bob, "Book club", {ana_user: "Ana Lima"})
    open_chat(ana, "Bob Stone")
    expect(ana).to_have_title("Hubbub")  # read by opening it

    # A message in a chat that is not on screen (the group, while the direct chat is open).
    send(bob, "club news")
    wait_for_count(ana, 2)
    assert shown(ana)[1] == {"title": "Bob Stone in Book club", "body": "club news"}
    expect(ana).to_have_title("(1) Hubbub")

    # A message in the chat on screen does not notify (it shows, and that is all).
    open_chat(bob, "Ana Lima")
    send(bob, "in the open chat")
    expect(messages(ana).filter(has_text="in the open chat")).to_have_count(1)
    assert len(shown(ana)) == 2
    expect(ana).to_have_title("(1) Hubbub")

    # Clicking the notification opens its chat, which reads it: the title clears.
    ana.evaluate("window.__notifications[1].onclick()")
    expect(ana.get_by_test_id("conversation-title")).to_have_text("Book club")
    expect(ana).to_have_title("Hubbub")

    # Muted from the chat's header menu: marked in the list, no notification, not in the title.
    ana.get_by_role("button", name="Chat menu").click()
    ana.get_by_role("menuitem", name="Mute until I unmute").click()
    expect(chat_link(ana, "Book club").get_by_role("img", name="Muted")).to_be_visible()
    open_chat(ana, "Bob Stone")
    open_chat(bob, "Book club")
    send(bob, "while muted")
    preview(ana, "Book club", "while muted")
    expect(chat_link(ana, "Book club").get_by_test_id("unread-badge")).to_have_text("1")
    assert len(shown(ana)) == 2
    expect(ana).to_have_title("Hubbub")

    # Unmuted, the group notifies again (the mute, not anything else, kept it quiet).
    open_chat(ana, "Book club")
    ana.get_by_role("button", name="Chat menu").click()
    ana.get_by_role("menuitem", name="Unmute").click()
    expect(chat_link(ana, "Book club").get_by_role("img", name="Muted")).to_have_count(0)
    open_chat(ana, "Bob Stone")
    send(bob, "after the mute")
    wait_for_count(ana, 3)
    assert shown(ana)[2]["body"] == "after the mute"
    expect(ana).to_have_title("(1) Hubbub")


def test_notifications_are_offered_after_a_first_message_never_on_load(
    new_page: NewPage,
) -> None:
    ana, bob = new_page(), new_page()
    offer = bob.get_by_role("region", name="Notifications")
    ana_and_bob(ana, bob, first="hello")  # Bob's first message
    expect(offer).to_be_visible()
    expect(ana.get_by_role("region", name="Notifications")).to_have_count(0)  # Ana sent none
    offer.get_by_role("button", name="Not now").click()
    expect(offer).to_have_count(0)
    send(bob, "and again")
    expect(messages(bob).filter(has_text="and again")).to_have_count(1)
    expect(offer).to_have_count(0)  # dismissed stays dismissed
    # The account menu still has it.
    bob.get_by_role("button", name="Account").click()
    expect(bob.get_by_role("menuitem", name="Turn on notifications")).to_be_visible()
