"""The first load over the wire, in a real browser: script and style travel compressed and
are cached by their hashed names, a reload costs almost nothing, and a slow script shows
the app's loading shell instead of a blank white page."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, Response, Route, expect

NewPage = Callable[..., Page]

# What the browser says it fetched: bytes on the wire (transferSize, 0 from its cache)
# and the body before and after decoding, per script and stylesheet of the app.
ASSET_SIZES = """
performance.getEntriesByType('resource')
  .filter((e) => new URL(e.name).pathname.startsWith('/assets/'))
  .map((e) => ({ url: e.name, transfer: e.transferSize, encoded: e.encodedBodySize,
                 decoded: e.decodedBodySize }))
"""
FIRST_LOAD_BYTES = """
[...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
  .reduce((sum, e) => sum + e.transferSize, 0)
"""
RELOADED_PAGE = """
(() => {
  const e = performance.getEntriesByType('navigation')[0];
  return { delivery: e.deliveryType, transfer: e.transferSize, encoded: e.encodedBodySize };
})()
"""


def _app_is_up(page: Page) -> None:
    expect(page.get_by_role("form", name="Sign in")).to_be_visible()


def test_scripts_and_styles_arrive_compressed_and_cached_by_name(new_page: NewPage) -> None:
    page = new_page()
    responses: list[Response] = []
    page.on("response", lambda r: responses.append(r))
    first = page.goto("/signin")
    assert first is not None
    _app_is_up(page)

    assets = [r for r in responses if "/assets/" in r.url]
    assert {r.url.rsplit(".", 1)[-1] for r in assets} == {"js", "css"}
    for response in assets:
        headers = response.headers
        assert headers.get("content-encoding") in {"br", "gzip"}, response.url
        assert headers.get("cache-control") == "public, max-age=31536000, immutable"
        assert "accept-encoding" in headers.get("vary", "").lower()
    sizes = page.evaluate(ASSET_SIZES)
    assert len(sizes) == len(assets)
    for size in sizes:
        assert 0 < size["encoded"] < size["decoded"] / 3, size  # ~430 KB travel as ~115 KB
    total = page.evaluate(FIRST_LOAD_BYTES)
    print(f"first load: {total} bytes transferred; assets: {sizes}")
    assert total < 200_000  # was ~440,000 uncompressed
    assert first.headers.get("cache-control") == "no-cache"
    assert first.headers.get("etag")

    # A reload asks only whether the page changed (304); script and style come from cache.
    page.reload()
    _app_is_up(page)
    # Chromium reports a revalidated page as delivered from its cache, with only the 304's
    # headers on the wire (transferSize 300 by the Resource Timing spec, below the body).
    page_entry = page.evaluate(RELOADED_PAGE)
    assert page_entry["delivery"] == "cache", page_entry
    assert page_entry["transfer"] < page_entry["encoded"], page_entry
    again = page.evaluate(ASSET_SIZES)
    assert again and all(size["transfer"] == 0 for size in again), again


def test_a_slow_script_shows_the_loading_shell_not_a_blank_page(new_page: NewPage) -> None:
    page = new_page(color_scheme="dark")
    held: list[Route] = []
    # The script hangs, as on a slow link.
    page.route("**/assets/*.js", lambda route: held.append(route))
    page.goto("/signin", wait_until="commit")
    shell = page.get_by_test_id("app-shell")
    expect(shell).to_be_visible()
    expect(shell).to_contain_text("Hubbub")
    expect(shell.get_by_role("status")).to_have_text("Loading…")
    # Styled by the app's stylesheet (no inline style under the CSP), in the chosen theme.
    assert shell.evaluate("e => getComputedStyle(e).display") == "flex"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert held, "the app's script was requested"

    for route in held:
        route.continue_()
    _app_is_up(page)
    expect(shell).to_have_count(0)
