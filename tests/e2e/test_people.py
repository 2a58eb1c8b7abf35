"""People as their contacts see them (issue 13): a rename shows everywhere at once, and a
direct chat says when the other person was last seen."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    chat_link,
    create_group,
    messages,
    open_chat,
    send,
    sign_up,
    start_direct_chat,
    unique,
)

pytestmark = pytest.mark.browser

NewPage = Callable[..., Page]


def test_a_rename_reaches_a_contact_live_and_closing_the_page_shows_last_seen(
    new_page: NewPage,
) -> None:
    ana, bob = new_page(), new_page()
    a, b = unique("ana"), unique("bob")
    sign_up(ana, a, "Ana Lima")
    sign_up(bob, b, "Bob Stone")
    start_direct_chat(ana, b[:5], "Bob Stone")
    send(ana, "hi Bob")
    create_group(ana, "Book club", {b: "Bob Stone"})
    send(ana, "welcome to the club")
    open_chat(bob, "Book club")
    expect(messages(bob).filter(has_text="welcome to the club")).to_have_count(1)
    sender = bob.get_by_test_id("sender-name")
    expect(sender).to_have_text(f"Ana Lima @{a}")
    expect(chat_link(bob, "Ana Lima")).to_have_count(1)

    ana.get_by_role("button", name="Account").click()
    ana.get_by_role("menuitem", name="Edit profile").click()
    ana.get_by_role("dialog").get_by_label("Display name").fill("Ana Renamed")
    ana.get_by_role("dialog").get_by_role("button", name="Save").click()
    expect(ana.get_by_role("dialog")).to_have_count(0)

    # Bob reloads nothing: the open group's sender names and his chat list follow at once.
    expect(sender).to_have_text(f"Ana Renamed @{a}")
    expect(chat_link(bob, "Ana Renamed")).to_have_count(1)
    expect(chat_link(bob, "Ana Lima")).to_have_count(0)
    open_chat(bob, "Ana Renamed")
    expect(messages(bob).filter(has_text="hi Bob")).to_have_count(1)
    status = bob.get_by_test_id("conversation-status")
    expect(status).to_have_text(f"@{a} · online")

    ana.close()
    expect(status).to_have_text(f"@{a} · last seen just now")
    expect(bob.get_by_test_id("conversation-title")).to_have_text("Ana Renamed")
