"""Search: find a message by a word, see it in context, and land on it in the history."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server
from tests.e2e.helpers import messages, preview, rest, sign_up, unique

pytestmark = pytest.mark.browser

NewPage = Callable[..., Page]
PASSWORD = "correct horse battery"


def _talker(server: Server, username: str, display_name: str) -> str:
    """An account made through the API (as another device would), signed in: its token."""
    rest(
        server.url,
        "POST",
        "/api/auth/signup",
        {
            "username": username,
            "email": f"{username}@example.com",
            "password": PASSWORD,
            "displayName": display_name,
        },
    )
    tokens = rest(
        server.url, "POST", "/api/auth/signin", {"username": username, "password": PASSWORD}
    )
    return str(tokens["accessToken"])


def test_a_result_opens_the_chat_at_that_message_with_history_both_ways(
    new_page: NewPage, server: Server
) -> None:
    page = new_page()
    me, other = unique("sara"), unique("theo")
    sign_up(page, me, "Sara Seek")
    token = _talker(server, other, "Theo Talk")
    # Theo writes from another device while Sara's app shows only her chat list: 120
    # messages, the one to find far above the newest page (50), so the jump must load
    # older pages to reach it.
    sara = rest(server.url, "GET", f"/api/users/search?q={me}", token=token)["users"][0]
    conversation = rest(
        server.url, "POST", "/api/conversations/direct", {"userId": sara["id"]}, token=token
    )["conversation"]["id"]
    target = 20
    for seq in range(1, 121):
        body = f"the narwhal meeting moved to Friday {seq}" if seq == target else f"filler {seq}"
        rest(
            server.url,
            "POST",
            f"/api/conversations/{conversation}/messages",
            {"clientMessageId": f"s-{seq}", "body": body},
            token=token,
        )
    preview(page, "Theo Talk", "filler 120")

    page.get_by_role("button", name="Search").click()
    dialog = page.get_by_role("dialog", name="Search")
    expect(dialog.get_by_role("tab", name="Messages")).to_have_attribute("aria-selected", "true")
    dialog.get_by_label("Search messages").fill("NARWH fri")
    result = dialog.get_by_test_id("message-result")
    expect(result).to_have_count(1)
    expect(result).to_contain_text("Theo Talk")
    snippet = result.get_by_test_id("search-snippet")
    expect(snippet).to_have_text(f"the narwhal meeting moved to Friday {target}")
    expect(snippet.locator("mark")).to_have_text(["narwh", "Fri"])

    result.click()
    expect(dialog).to_have_count(0)
    expect(page).to_have_url(re.compile(rf"/c/{conversation}\?seq={target}$"))
    found = page.locator(f'[data-testid="message"][data-seq="{target}"]')
    expect(found).to_have_attribute("data-highlighted", "true")
    expect(found).to_be_in_viewport()
    expect(found).to_be_focused()
    # Older messages are loaded above it, and the newest still below: scroll either way.
    expect(page.locator(f'[data-testid="message"][data-seq="{target - 1}"]')).to_have_count(1)
    expect(messages(page).filter(has_text="filler 120")).to_have_count(1)
    expect(page.get_by_role("button", name="Jump to latest")).to_be_visible()
    page.get_by_role("button", name="Jump to latest").click()
    expect(messages(page).filter(has_text="filler 120")).to_be_in_viewport()


def test_people_are_found_by_any_word_of_their_name_and_open_a_chat(
    new_page: NewPage, server: Server
) -> None:
    page = new_page()
    me, other = unique("pia"), unique("amlee")
    sign_up(page, me, "Pia Find")
    _talker(server, other, "Ann Marie Lee")
    page.keyboard.press("Control+k")
    dialog = page.get_by_role("dialog", name="Search")
    dialog.get_by_role("tab", name="People").click()
    dialog.get_by_label("Search people").fill("marie")
    dialog.get_by_role("button", name=f"Ann Marie Lee @{other}").click()
    expect(page.get_by_test_id("conversation-title")).to_have_text("Ann Marie Lee")
