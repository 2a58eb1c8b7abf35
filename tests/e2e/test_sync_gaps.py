"""Live frames that go missing or arrive out of order, and catch-ups the server refuses:
the web client fills a conversation's eventSeq gap from its /events log, drops what it
already has, reloads when its resume cursor has expired, and lets go of a group it was
removed from while offline. Ana's socket runs through a `SocketProxy`, so single frames from
the server can be held back, dropped or delivered late."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.helpers import (
    ana_and_bob,
    bodies,
    chat_link,
    create_group,
    messages,
    open_chat,
    preview,
    send,
)
from tests.e2e.network import HeldRequests, SocketProxy, message_created, requests_to

pytestmark = pytest.mark.browser

NewPage = Callable[..., Page]


def _chatting(new_page: NewPage) -> tuple[Page, Page, SocketProxy, str]:
    """Ana (socket proxied) has Bob's chat open and has seen his "one" live; returns Ana's
    username too."""
    ana, bob = new_page(), new_page()
    proxy = SocketProxy(ana)
    a, _ = ana_and_bob(ana, bob, "one")
    open_chat(ana, "Bob Stone")
    expect(messages(ana).filter(has_text="one")).to_have_count(1)
    return ana, bob, proxy, a


def test_a_dropped_message_is_fetched_from_the_conversation_log(new_page: NewPage) -> None:
    ana, bob, proxy, _ = _chatting(new_page)
    gap_fetches = requests_to(ana, "/events?after=")

    proxy.hold(message_created("two"))
    send(bob, "two")
    proxy.wait_until_held()
    proxy.drop_held()  # lost on the way: Ana learns of it only from the next frame's eventSeq
    send(bob, "three")

    expect(messages(ana).filter(has_text="three")).to_have_count(1)
    expect(messages(ana).filter(has_text="two")).to_have_count(1)
    assert bodies(ana) == ["one", "two", "three"]
    assert len(gap_fetches) == 1, gap_fetches
    assert re.search(r"/api/conversations/[^/]+/events\?after=\d+", gap_fetches[0])
    expect(ana.get_by_test_id("connection-status")).to_have_attribute("data-status", "online")
    assert proxy.connections == 1  # filled in place, not by reconnecting


def test_messages_delivered_out_of_order_show_once_in_order(new_page: NewPage) -> None:
    ana, bob, proxy, _ = _chatting(new_page)
    gap_fetches = requests_to(ana, "/events?after=")

    proxy.hold(message_created("two"))
    proxy.hold(message_created("three"))
    send(bob, "two")
    send(bob, "three")
    proxy.wait_until_held(2)
    proxy.forward_held(last_first=True)  # "three", then "two"

    expect(messages(ana).filter(has_text="two")).to_have_count(1)
    expect(messages(ana).filter(has_text="three")).to_have_count(1)
    assert bodies(ana) == ["one", "two", "three"]
    send(bob, "four")  # and the next one is simply applied
    expect(messages(ana).filter(has_text="four")).to_have_count(1)
    assert bodies(ana) == ["one", "two", "three", "four"]
    # "three" came first, past a gap: one fetch fills it; the late "two" is then a duplicate.
    assert len(gap_fetches) == 1, gap_fetches
    expect(ana.get_by_test_id("connection-status")).to_have_attribute("data-status", "online")
    assert proxy.connections == 1


def test_own_sends_take_their_place_in_the_sequence_without_gap_fetches(new_page: NewPage) -> None:
    """Ana's own sends are acked on her socket: each ack stands for its event, so Bob's
    reply after them is the next in the sequence, not a gap."""
    ana, bob, proxy, _ = _chatting(new_page)
    gap_fetches = requests_to(ana, "/events")

    send(ana, "mine 1")
    send(ana, "mine 2")
    preview(ana, "Bob Stone", "You: mine 2")  # acked
    expect(messages(bob).filter(has_text="mine 2")).to_have_count(1)
    send(bob, "reply")

    expect(messages(ana).filter(has_text="reply")).to_have_count(1)
    assert bodies(ana) == ["one", "mine 1", "mine 2", "reply"]
    assert gap_fetches == []
    assert proxy.connections == 1


def _expire_resume_cursors(page: Page) -> list[str]:
    """Every /api/sync?since= of the page is answered 410 cursor_expired; returns the
    addresses asked."""
    refused: list[str] = []

    def expired(route: Route) -> None:
        refused.append(route.request.url)
        route.fulfill(
            status=410,
            json={"error": {"code": "cursor_expired", "message": "Sync cursor expired"}},
        )

    page.route(re.compile(r"/api/sync\?since="), expired)
    return refused


def _rename(page: Page, title: str) -> None:
    page.get_by_role("button", name="Group settings").click()
    settings = page.get_by_role("dialog")
    settings.get_by_label("Group name").fill(title)
    settings.get_by_role("button", name="Rename").click()
    expect(page.get_by_test_id("conversation-title")).to_have_text(title)
    page.keyboard.press("Escape")
    expect(settings).to_have_count(0)


def test_an_expired_resume_cursor_reloads_everything(new_page: NewPage) -> None:
    ana, bob, proxy, a = _chatting(new_page)
    refused = _expire_resume_cursors(ana)
    proxy.cut()
    status = ana.get_by_test_id("connection-status")
    expect(status).not_to_have_attribute("data-status", "online")

    # While Ana is away: a message in the open chat, and a group she is added to.
    send(bob, "two")
    expect(messages(bob).filter(has_text="two")).to_have_count(1)
    create_group(bob, "Night owls", {a: "Ana Lima"})
    send(bob, "hoot")
    expect(messages(bob).filter(has_text="hoot")).to_have_count(1)
    lists = requests_to(ana, "/api/conversations?")
    histories = requests_to(ana, "/messages?")

    proxy.restore()
    expect(status).to_have_attribute("data-status", "online")
    expect(messages(ana).filter(has_text="two")).to_have_count(1)
    assert bodies(ana) == ["one", "two"]
    preview(ana, "Night owls", "hoot")
    assert len(refused) == 1, refused  # asked once, then reloaded: no loop on a dead cursor
    assert lists and histories, (lists, histories)  # reloaded over REST

    send(bob, "three")  # live again, in the group
    open_chat(ana, "Night owls")
    expect(messages(ana).filter(has_text="three")).to_have_count(1)
    assert bodies(ana) == ["hoot", "three"]
    assert proxy.connections == 2


@pytest.mark.parametrize("change", ["removed", "deleted"])
@pytest.mark.parametrize(
    "cursor_knows_group", [True, False], ids=["group-in-resume-cursor", "group-joined-after-it"]
)
def test_a_group_lost_while_offline_disappears_without_gap_fetches(
    new_page: NewPage, change: str, cursor_knows_group: bool
) -> None:
    """Bob removes Ana from a group (or deletes it) while she is offline. When her resume
    cursor knows the group, the catch-up tells her she left; when she joined it live after
    her cursor was taken, the catch-up cannot, and the client must ask again."""
    ana, bob, proxy, a = _chatting(new_page)
    create_group(bob, "Book club", {a: "Ana Lima"})
    send(bob, "welcome")
    preview(ana, "Book club", "welcome")
    status = ana.get_by_test_id("connection-status")
    if cursor_knows_group:  # a catch-up moves her resume cursor past the group's creation
        proxy.cut()
        expect(status).not_to_have_attribute("data-status", "online")
        proxy.restore()
        expect(status).to_have_attribute("data-status", "online")
    connections = proxy.connections
    gap_fetches = requests_to(ana, "/events")
    syncs = requests_to(ana, "/api/sync?since=")

    proxy.cut()
    expect(status).not_to_have_attribute("data-status", "online")
    send(bob, "before you go")
    expect(messages(bob).filter(has_text="before you go")).to_have_count(1)
    bob.get_by_role("button", name="Group settings").click()
    settings = bob.get_by_role("dialog")
    if change == "removed":
        settings.get_by_role("button", name="Remove Ana Lima").click()
        bob.get_by_role("alertdialog").get_by_role("button", name="Remove").click()
        expect(settings.get_by_role("list", name="Members")).not_to_contain_text("Ana Lima")
        bob.keyboard.press("Escape")
    else:
        settings.get_by_role("button", name="Delete group").click()
        bob.get_by_role("alertdialog").get_by_role("button", name="Delete").click()
    expect(chat_link(bob, "Book club")).to_have_count(1 if change == "removed" else 0)

    proxy.restore()
    expect(status).to_have_attribute("data-status", "online")
    expect(chat_link(ana, "Book club")).to_have_count(0)
    open_chat(bob, "Ana Lima")
    send(bob, "still friends")  # a live frame after the catch-up: the connection holds
    expect(messages(ana).filter(has_text="still friends")).to_have_count(1)
    expect(status).to_have_attribute("data-status", "online")
    assert gap_fetches == []  # /events of a group she is not in would answer 404
    assert len(syncs) == 1, syncs
    assert proxy.connections == connections + 1  # no reconnect loop


def test_renames_arriving_while_the_list_reloads_win_over_its_older_answer(
    new_page: NewPage,
) -> None:
    """After a refused cursor Ana's list is loaded again. Its answer is taken at once and
    handed to the page only after Bob has renamed a group twice (live): the newer title
    must stay, while the answer's other news (a group made while she was away) is shown."""
    ana, bob, proxy, a = _chatting(new_page)
    create_group(bob, "Title 1", {a: "Ana Lima"})
    expect(chat_link(ana, "Title 1")).to_have_count(1)
    _expire_resume_cursors(ana)
    proxy.cut()
    status = ana.get_by_test_id("connection-status")
    expect(status).not_to_have_attribute("data-status", "online")
    create_group(bob, "Made while away", {a: "Ana Lima"})
    open_chat(bob, "Title 1")
    listing = HeldRequests(ana, "**/api/conversations?*", "GET", answer_now=True)

    proxy.restore()
    listing.wait_until_held()
    expect(status).to_have_attribute("data-status", "online")
    _rename(bob, "Title 2")
    expect(chat_link(ana, "Title 2")).to_have_count(1)
    _rename(bob, "Title 3")
    expect(chat_link(ana, "Title 3")).to_have_count(1)

    listing.release()  # the list as it was before the renames
    expect(chat_link(ana, "Made while away")).to_have_count(1)  # the answer landed
    expect(chat_link(ana, "Title 3")).to_have_count(1)
    expect(chat_link(ana, "Title 1")).to_have_count(0)
