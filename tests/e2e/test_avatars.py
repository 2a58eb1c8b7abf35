"""Profile pictures (issue 13): a photo set in the profile dialog shows for a contact at
once, in the chat list and the open chat's header, and goes again when it is removed."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, expect

from tests.e2e.helpers import ana_and_bob, chat_link, create_group, messages, open_chat, send

pytestmark = pytest.mark.browser

NewPage = Callable[..., Page]
PICTURE = 'img[src*="/api/avatars/"]'


def photo(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "crimson").save(out, format="JPEG")
    return out.getvalue()


def header(page: Page) -> Locator:
    return page.locator("header").filter(has=page.get_by_test_id("conversation-title"))


def pick_photo(page: Page) -> None:
    """Opens the profile dialog, picks a photo and waits until it is saved."""
    page.get_by_role("button", name="Account").click()
    page.get_by_role("menuitem", name="Edit profile").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Choose a photo").set_input_files(
        {"name": "me.jpg", "mimeType": "image/jpeg", "buffer": photo(640, 640)}
    )
    expect(dialog.get_by_role("button", name="Remove photo")).to_be_visible()


def test_a_group_shows_the_senders_new_photo_beside_their_messages(new_page: NewPage) -> None:
    ana, bob = new_page(), new_page()
    _, b = ana_and_bob(ana, bob)
    create_group(ana, "Crew", {b: "Bob Stone"})
    send(ana, "hello crew")
    open_chat(bob, "Crew")
    expect(messages(bob).filter(has_text="hello crew")).to_have_count(1)
    beside = bob.get_by_test_id("sender-avatar")
    expect(beside).to_have_count(1)
    expect(beside.locator(PICTURE)).to_have_count(0)
    pick_photo(ana)
    expect(beside.locator(PICTURE)).to_have_count(1)


def test_a_new_photo_reaches_a_contact_live_and_removing_it_restores_initials(
    new_page: NewPage,
) -> None:
    ana, bob = new_page(), new_page()
    ana_and_bob(ana, bob)  # Bob has his direct chat with Ana open
    in_list, in_header = chat_link(bob, "Ana Lima"), header(bob)
    expect(in_list).to_contain_text("AL")  # initials while she has no picture
    expect(in_list.locator(PICTURE)).to_have_count(0)

    ana.get_by_role("button", name="Account").click()
    ana.get_by_role("menuitem", name="Edit profile").click()
    dialog = ana.get_by_role("dialog")
    expect(dialog.get_by_role("button", name="Remove photo")).to_have_count(0)
    dialog.get_by_label("Choose a photo").set_input_files(
        {"name": "me.jpg", "mimeType": "image/jpeg", "buffer": photo(800, 500)}
    )
    expect(dialog.get_by_role("button", name="Remove photo")).to_be_visible()
    expect(dialog.locator(PICTURE)).to_have_count(1)

    # Bob reloads nothing: his chat list and the open chat's header show her picture.
    expect(in_list.locator(PICTURE)).to_have_count(1)
    expect(in_header.locator(PICTURE)).to_have_count(1)
    shown = in_list.locator(PICTURE)
    expect(shown).to_have_js_property("naturalWidth", 256)

    # Her own account button shows it too.
    ana.keyboard.press("Escape")
    account = ana.get_by_role("button", name="Account")
    expect(account.locator(PICTURE)).to_have_count(1)

    account.click()
    ana.get_by_role("menuitem", name="Edit profile").click()
    dialog.get_by_role("button", name="Remove photo").click()
    expect(dialog.get_by_role("button", name="Remove photo")).to_have_count(0)
    expect(in_list.locator(PICTURE)).to_have_count(0)
    expect(in_header.locator(PICTURE)).to_have_count(0)
    expect(in_list).to_contain_text("AL")
