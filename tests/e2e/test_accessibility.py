"""What a low-vision or screen-reader user gets from the chat, in a real browser: message
times and the other small grey text readable at WCAG's 4.5:1 in both themes, and new
messages from others read out by a polite live region (never history, never your own)."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Locator, Page, expect

from tests.e2e.helpers import ana_and_bob, messages, open_chat, send

NewPage = Callable[..., Page]

# The contrast of an element's text against what is painted behind it, from the colours
# the browser computed: the backgrounds of the element and its ancestors are painted
# outermost first on a canvas (which turns oklch and alpha into the sRGB pixels shown),
# then the text colour on top; the two pixels give WCAG's ratio.
CONTRAST = """
(el) => {
  const ctx = Object.assign(document.createElement('canvas'), { width: 1, height: 1 })
    .getContext('2d', { willReadFrequently: true });
  const pixel = (colour) => {
    ctx.fillStyle = colour; ctx.fillRect(0, 0, 1, 1);
    return [...ctx.getImageData(0, 0, 1, 1).data.slice(0, 3)];
  };
  const backgrounds = [];
  for (let e = el; e; e = e.parentElement) backgrounds.push(getComputedStyle(e).backgroundColor);
  let back = pixel('#fff');
  for (const colour of backgrounds.reverse()) back = pixel(colour);
  const fore = pixel(getComputedStyle(el).color);
  const lum = ([r, g, b]) => [r, g, b].map((v) => {
    const c = v / 255; return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }).reduce((s, c, i) => s + c * [0.2126, 0.7152, 0.0722][i], 0);
  const [hi, lo] = [lum(back), lum(fore)].sort((a, b) => b - a);
  return Math.round(((hi + 0.05) / (lo + 0.05)) * 100) / 100;
}
"""


def _contrasts(found: Locator) -> list[float]:
    expect(found.first).to_be_visible()
    return [found.nth(i).evaluate(CONTRAST) for i in range(found.count())]


def _readable(page: Page, what: str, found: Locator) -> None:
    ratios = _contrasts(found)
    dark = page.evaluate("document.documentElement.classList.contains('dark')")
    theme = "dark" if dark else "light"
    assert ratios and min(ratios) >= 4.5, f"{what} in the {theme} theme: {ratios}"


def test_message_times_and_small_text_are_readable_in_both_themes(new_page: NewPage) -> None:
    ana, bob = new_page(color_scheme="light"), new_page(color_scheme="dark")
    ana_and_bob(ana, bob, first="hello from bob")
    open_chat(ana, "Bob Stone")
    send(ana, "hello from ana")
    expect(messages(bob).filter(has_text="hello from ana")).to_have_count(1)
    for page in (ana, bob):
        # Each page shows one of its own bubbles and one of the other's.
        _readable(page, "message times", messages(page).locator("time"))
        _readable(page, "the start of history", page.get_by_text("This is the beginning"))
        other = "Ana Lima" if page is bob else "Bob Stone"
        item = page.get_by_test_id("conversation-item").filter(has_text=other)
        _readable(page, "chat list times", item.locator("time"))
        _readable(page, "chat list previews", item.get_by_text("hello from ana"))


def _announcements(page: Page) -> Locator:
    return page.locator("[aria-live=polite]").filter(has_text="Bob Stone")


def test_new_messages_from_others_are_announced_but_not_history_or_your_own(
    new_page: NewPage,
) -> None:
    ana, bob = new_page(), new_page()
    ana_and_bob(ana, bob, first="from before")
    open_chat(ana, "Bob Stone")
    expect(messages(ana).filter(has_text="from before")).to_have_count(1)
    # History is not news.
    expect(ana.locator("[aria-live=polite]").filter(has_text="from before")).to_have_count(0)

    send(bob, "are you there?")
    expect(_announcements(ana)).to_contain_text("are you there?")
    send(ana, "yes, here")
    expect(messages(bob).filter(has_text="yes, here")).to_have_count(1)
    expect(messages(ana).filter(has_text="yes, here")).to_have_count(1)
    live = " ".join(ana.locator("[aria-live=polite]").all_text_contents())
    assert "yes, here" not in live and "from before" not in live
    # Bob hears Ana's reply, and not his own message.
    bob_live = " ".join(bob.locator("[aria-live=polite]").all_text_contents())
    assert "are you there?" not in bob_live
    expect(bob.locator("[aria-live=polite]").filter(has_text="Ana Lima")).to_contain_text(
        "yes, here"
    )
