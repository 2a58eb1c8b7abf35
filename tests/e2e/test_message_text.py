"""How a message's text reads: links, indentation, long messages and the length counter."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

from hubbub.domain.rules import MAX_BODY_CHARS
from tests.e2e.helpers import messages, open_chat, send, sign_up, start_direct_chat, unique

pytestmark = pytest.mark.browser

NewPage = Callable[..., Page]


def _pair(new_page: NewPage) -> tuple[Page, Page]:
    ana, bob = new_page(), new_page()
    ana_user, bob_user = unique("ana"), unique("bob")
    sign_up(ana, ana_user, "Ana Lima")
    sign_up(bob, bob_user, "Bob Stone")
    start_direct_chat(ana, bob_user[:5], "Bob Stone")
    return ana, bob


def _text(message: Locator) -> str:
    """The message's text exactly as rendered, leading spaces included."""
    value = message.get_by_test_id("message-text").text_content()
    assert value is not None
    return value


def test_www_links_are_linked(new_page: NewPage) -> None:
    ana, bob = _pair(new_page)
    send(ana, "see www.example.com")
    open_chat(bob, "Ana Lima")
    link = (
        messages(bob)
        .filter(has_text="see www.example.com")
        .get_by_role("link", name="www.example.com")
    )
    expect(link).to_have_attribute("href", "https://www.example.com")
    expect(link).to_have_attribute("target", "_blank")
    assert "noopener" in (link.get_attribute("rel") or "")


def test_leading_indentation_is_kept(new_page: NewPage) -> None:
    ana, bob = _pair(new_page)
    open_chat(bob, "Ana Lima")
    # Indentation survives the trip through the server and shows on the other side.
    send(ana, "    indented\n      more")
    indented = messages(bob).filter(has_text="indented")
    expect(indented).to_have_count(1)
    assert _text(indented) == "    indented\n      more"
    text = indented.get_by_test_id("message-text")
    assert text.evaluate("e => getComputedStyle(e).whiteSpace") in ("pre-wrap", "break-spaces")
    # The first line starts further right than the bubble's edge: the spaces take room.
    indent_x = text.evaluate(
        "e => { const n = document.createTreeWalker(e, NodeFilter.SHOW_TEXT).nextNode();"
        " const at = n.textContent.indexOf('i'); const r = document.createRange();"
        " r.setStart(n, at); r.setEnd(n, at + 1);"
        " return r.getBoundingClientRect().left - e.getBoundingClientRect().left }"
    )
    assert indent_x > 10


def test_long_message_is_collapsed_behind_read_more(new_page: NewPage) -> None:
    ana, bob = _pair(new_page)
    open_chat(bob, "Ana Lima")
    # A long message is collapsed behind "Read more", which expands it (and folds it again).
    long = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 80)[:3999] + "!"
    assert len(long) == 4000
    send(ana, long)
    received = messages(bob).filter(has_text="Lorem ipsum")
    expect(received).to_have_count(1)
    assert len(_text(received)) < 1200
    expect(received.get_by_role("button", name="Read more")).to_be_visible()
    received.get_by_role("button", name="Read more").click()
    assert _text(received) == long
    received.get_by_role("button", name="Show less").click()
    assert len(_text(received)) < 1200


def test_counter_counts_like_the_server(new_page: NewPage) -> None:
    ana, bob = _pair(new_page)
    box = ana.get_by_role("textbox", name="Message")
    # Found by what it reads, "n/limit", so the test shows what it counted on any version.
    counter = ana.locator("form").filter(has=box).get_by_text(re.compile(r"^\d+/\d+$"))
    send_button = ana.get_by_role("button", name="Send")

    # One emoji is one character, as the server counts it: one too many is refused...
    box.fill("😀" * (MAX_BODY_CHARS + 1))
    expect(counter).to_have_text(f"{MAX_BODY_CHARS + 1}/{MAX_BODY_CHARS}")
    expect(send_button).to_be_disabled()
    # ...and exactly the limit goes out and is stored whole.
    full = "😀" * MAX_BODY_CHARS
    box.fill(full)
    expect(counter).to_have_text(f"{MAX_BODY_CHARS}/{MAX_BODY_CHARS}")
    expect(send_button).to_be_enabled()
    box.press("Enter")
    expect(box).to_have_value("")
    sent = messages(ana).filter(has_text="😀😀😀")
    expect(sent.get_by_test_id("message-status")).to_have_attribute("data-status", "delivered")
    open_chat(bob, "Ana Lima")
    bob.reload()
    stored = messages(bob).filter(has_text="😀😀😀")
    stored.get_by_role("button", name="Read more").click()
    assert _text(stored) == full


def test_editing_has_the_same_counter(new_page: NewPage) -> None:
    ana, bob = _pair(new_page)
    open_chat(bob, "Ana Lima")
    # Editing counts the same way and refuses what the server would.
    send(ana, "short one")
    target = messages(ana).filter(has_text="short one")
    # Stored (Bob has the chat open, so it may already be read).
    stored = re.compile("delivered|read")
    expect(target.get_by_test_id("message-status")).to_have_attribute("data-status", stored)
    target.hover()
    target.get_by_role("button", name="Message actions").click()
    ana.get_by_role("menuitem", name="Edit").click()
    editor = ana.get_by_role("textbox", name="Edit message")
    editing = messages(ana).filter(has=editor)
    editor.fill("🎉" * (MAX_BODY_CHARS + 1))
    expect(editing.get_by_test_id("body-counter")).to_have_text(
        f"{MAX_BODY_CHARS + 1}/{MAX_BODY_CHARS}"
    )
    expect(editing.get_by_role("button", name="Save")).to_be_disabled()
    editor.fill("🎉" * MAX_BODY_CHARS)
    expect(editing.get_by_test_id("body-counter")).to_have_text(
        f"{MAX_BODY_CHARS}/{MAX_BODY_CHARS}"
    )
    editing.get_by_role("button", name="Save").click()
    expect(editor).to_have_count(0)
    edited = messages(bob).filter(has_text="🎉🎉🎉")
    expect(edited.get_by_test_id("edited-marker")).to_be_visible()
