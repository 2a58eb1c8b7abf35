"""The web app under its Content Security Policy, in a real browser: nothing it does is
blocked, the refresh token is out of reach of page scripts, and signing out in one tab
ends the session in the others."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.e2e.helpers import dismiss_dialog, send, sign_up, start_direct_chat, unique

NewPage = Callable[..., Page]

# Recorded from the first script on: every CSP violation the page hits.
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


def _violations(page: Page) -> list[str]:
    found: list[str] = page.evaluate("window.__csp")
    return found


def test_the_app_works_under_its_csp_and_keeps_the_refresh_token_from_scripts(
    new_page: NewPage,
) -> None:
    other = new_page()
    other_name = unique("dee")
    sign_up(other, other_name, "Dee Ellis")

    page = new_page(color_scheme="dark")
    page.add_init_script(WATCH_CSP)
    csp = page.goto("/signup")
    assert csp is not None
    policy = csp.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    sign_up(page, unique("eve"), "Eve Fox")
    assert page.evaluate("document.documentElement.classList.contains('dark')")  # theme.js ran
    start_direct_chat(page, other_name, "Dee Ellis")  # a dialog, a search, a new chat
    send(page, "under a strict policy")
    expect(page.get_by_test_id("message-text").last).to_have_text("under a strict policy")
    page.get_by_role("button", name="Account").click()  # a dropdown menu
    page.get_by_role("menuitem", name="Edit profile").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    dismiss_dialog(page)

    # Page scripts see no refresh token anywhere; the session still survives a reload.
    assert "hubbub_refresh" not in page.evaluate("document.cookie")
    stored = page.evaluate("JSON.stringify(Object.entries(localStorage))")
    assert "refresh" not in stored.lower()
    page.reload()
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-status", "online")
    assert _violations(page) == []

    # And the policy does bite: a script injected into the page does not run.
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__ran = true'; document.body.appendChild(s); }"
    )
    page.wait_for_function("window.__csp.length > 0")
    assert page.evaluate("window.__ran === undefined")
    assert all(v.startswith("script-src") for v in _violations(page))


def test_signing_out_in_one_tab_signs_out_the_others(new_page: NewPage) -> None:
    first = new_page()
    sign_up(first, unique("gil"), "Gil Hart")
    second = first.context.new_page()
    second.goto("/")
    expect(second.get_by_test_id("connection-status")).to_have_attribute("data-status", "online")

    first.get_by_role("button", name="Account").click()
    first.get_by_role("menuitem", name="Sign out").click()
    expect(first.get_by_role("form", name="Sign in")).to_be_visible()
    # The other tab's socket is closed by the server; it cannot get back in.
    expect(second.get_by_role("form", name="Sign in")).to_be_visible()


def test_the_api_docs_render_under_their_policy(new_page: NewPage) -> None:
    page = new_page()
    page.add_init_script(WATCH_CSP)
    page.goto("/api/docs")
    expect(page.get_by_role("heading", name=re.compile("Hubbub"))).to_be_visible()
    expect(page.get_by_text("/api/auth/signin").first).to_be_visible()
    assert _violations(page) == []
