"""An unsent message waits in its chat: across switching chats and reloading the page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    create_group,
    messages,
    open_chat,
    sign_up,
    start_direct_chat,
    unique,
)

pytestmark = pytest.mark.browser

NewPage = Callable[..., Page]


def test_draft_survives_switching_chats_and_reload(new_page: NewPage) -> None:
    ana, bob = new_page(), new_page()
    ana_user, bob_user = unique("ana"), unique("bob")
    sign_up(ana, ana_user, "Ana Lima")
    sign_up(bob, bob_user, "Bob Stone")
    create_group(ana, "Trip plans", {bob_user: "Bob Stone"})
    start_direct_chat(ana, bob_user[:5], "Bob Stone")
    box = ana.get_by_role("textbox", name="Message")

    box.fill("  half a thought\nsecond line")
    open_chat(ana, "Trip plans")
    expect(box).to_have_value("")
    box.fill("group draft")
    open_chat(ana, "Bob Stone")
    expect(box).to_have_value("  half a thought\nsecond line")

    ana.reload()
    expect(ana.get_by_test_id("conversation-title")).to_have_text("Bob Stone")
    expect(box).to_have_value("  half a thought\nsecond line")
    open_chat(ana, "Trip plans")
    expect(box).to_have_value("group draft")

    # Sent, the draft is gone, also after a reload; the other chat's draft stays.
    box.press("Enter")
    expect(messages(ana).filter(has_text="group draft")).to_have_count(1)
    expect(box).to_have_value("")
    ana.reload()
    expect(ana.get_by_test_id("conversation-title")).to_have_text("Trip plans")
    expect(messages(ana).filter(has_text="group draft")).to_have_count(1)
    expect(box).to_have_value("")
    open_chat(ana, "Bob Stone")
    expect(box).to_have_value("  half a thought\nsecond line")


def test_sign_out_forgets_drafts(new_page: NewPage) -> None:
    ana, bob = new_page(), new_page()
    ana_user, bob_user = unique("ana"), unique("bob")
    sign_up(ana, ana_user, "Ana Lima")
    sign_up(bob, bob_user, "Bob Stone")
    start_direct_chat(ana, bob_user[:5], "Bob Stone")
    ana.get_by_role("textbox", name="Message").fill("private note")
    ana.get_by_role("button", name="Account").click()
    ana.get_by_role("menuitem", name="Sign out").click()
    expect(ana.get_by_role("form", name="Sign in")).to_be_visible()
    stored = ana.evaluate("() => JSON.stringify(Object.entries(localStorage))")
    assert "private note" not in stored
