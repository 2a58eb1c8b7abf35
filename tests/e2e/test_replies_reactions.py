"""Replies and reactions between two people, through the built web app and a real server:
the quote follows the original's edit and deletion, reactions show up live and toggle."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.helpers import messages, open_chat, send, sign_up, start_direct_chat, unique

pytestmark = pytest.mark.browser

NewPage = Callable[..., Page]


def act_on(page: Page, message: Locator, action: str) -> None:
    """Opens the message's actions menu and picks `action`."""
    message.hover()
    message.get_by_role("button", name="Message actions").click()
    page.get_by_role("menuitem", name=action).click()


def test_a_reply_quotes_the_original_as_it_changes_and_reactions_are_live(
    new_page: NewPage,
) -> None:
    ana, bob = new_page(), new_page()
    bob_user = unique("bob")
    sign_up(ana, unique("ana"), "Ana Lima")
    sign_up(bob, bob_user, "Bob Stone")
    start_direct_chat(ana, bob_user[:5], "Bob Stone")
    send(ana, "Lunch at noon?")
    open_chat(bob, "Ana Lima")
    original = messages(bob).filter(has_text="Lunch at noon?")
    expect(original).to_have_count(1)

    # Bob starts a reply with a long press (as on a phone), thinks better of it (Escape),
    # then replies after all.
    original.get_by_test_id("message-body").dispatch_event("touchstart")
    bob.get_by_role("menuitem", name="Reply").click()
    draft = bob.get_by_role("group", name="Replying to")
    expect(draft).to_contain_text("Replying to Ana Lima")
    expect(draft.get_by_test_id("reply-draft-text")).to_have_text("Lunch at noon?")
    box = bob.get_by_role("textbox", name="Message")
    expect(box).to_be_focused()
    box.press("Escape")
    expect(draft).to_have_count(0)
    act_on(bob, original, "Reply")
    expect(draft).to_be_visible()
    send(bob, "Yes, see you there")
    expect(draft).to_have_count(0)

    # Ana sees the quote above Bob's answer.
    answer = messages(ana).filter(has=ana.get_by_test_id("reply-quote"))
    expect(answer).to_contain_text("Yes, see you there")
    expect(answer.get_by_test_id("reply-quote-text")).to_have_text("Lunch at noon?")
    bobs_answer = messages(bob).filter(has=bob.get_by_test_id("reply-quote"))
    expect(bobs_answer.get_by_test_id("reply-quote-text")).to_have_text("Lunch at noon?")
    # The quote leads to the original: it is brought into view and flashes.
    answer.get_by_test_id("reply-quote").click()
    anas_original = (
        messages(ana)
        .filter(has_not=ana.get_by_test_id("reply-quote"))
        .filter(has_text="Lunch at noon?")
    )
    expect(anas_original).to_have_attribute("data-highlight", "true")

    # Ana edits the original: Bob's quote follows.
    act_on(ana, messages(ana).filter(has_text="Lunch at noon?").first, "Edit")
    editor = ana.get_by_role("textbox", name="Edit message")
    editor.fill("Lunch at one?")
    editor.press("Enter")
    expect(bobs_answer.get_by_test_id("reply-quote-text")).to_have_text("Lunch at one?")

    # Ana deletes it: the quote says so, with none of its text.
    mine = (
        messages(ana)
        .filter(has_text="Lunch at one?")
        .filter(has_not=ana.get_by_test_id("reply-quote"))
    )
    act_on(ana, mine, "Delete")
    ana.get_by_role("alertdialog").get_by_role("button", name="Delete").click()
    expect(bobs_answer.get_by_test_id("reply-quote-text")).to_have_text("Deleted message")
    expect(bobs_answer).not_to_contain_text("Lunch")
    expect(answer.get_by_test_id("reply-quote-text")).to_have_text("Deleted message")

    # Ana reacts to the answer; Bob sees it live, adds the same, then takes it back.
    answer.hover()
    answer.get_by_role("button", name="Add reaction").click()
    ana.get_by_role("menuitem", name="React with 👍").click()
    chip = bobs_answer.get_by_role("button", name=re.compile("^👍"))
    expect(chip).to_have_accessible_name("👍 1: Ana Lima")
    expect(chip).to_have_attribute("title", "Ana Lima")
    expect(chip).to_have_attribute("aria-pressed", "false")
    chip.click()
    expect(chip).to_have_accessible_name("👍 2: Ana Lima, You")
    expect(chip).to_have_attribute("aria-pressed", "true")
    anas_chip = answer.get_by_role("button", name=re.compile("^👍"))
    expect(anas_chip).to_have_accessible_name("👍 2: You, Bob Stone")
    chip.click()
    expect(anas_chip).to_have_accessible_name("👍 1: You")
    expect(chip).to_have_accessible_name("👍 1: Ana Lima")
