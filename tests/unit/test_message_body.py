"""Message bodies: what is kept, what is dropped, and how the length is counted."""

from __future__ import annotations

import pytest

from hubbub.domain import rules
from hubbub.domain.errors import PayloadTooLarge, ValidationFailed


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("hello", "hello"),
        ("    indented", "    indented"),
        ("\n\n  def f():\n      pass\n\n", "  def f():\n      pass"),
        (" \t\r\n  x  \n", "  x"),
        ("a\n\n\nb", "a\n\n\nb"),
    ],
)
def test_body_keeps_indentation_and_drops_blank_edges(raw: str, stored: str) -> None:
    assert rules.message_body(raw) == stored


@pytest.mark.parametrize("raw", ["", "   ", "\n \t\n", "\u3000\u2028"])
def test_blank_body_is_refused(raw: str) -> None:
    with pytest.raises(ValidationFailed):
        rules.message_body(raw)


def test_length_counts_code_points_so_an_emoji_is_one() -> None:
    assert rules.message_body("😀" * rules.MAX_BODY_CHARS) == "😀" * rules.MAX_BODY_CHARS
    with pytest.raises(PayloadTooLarge):
        rules.message_body("😀" * (rules.MAX_BODY_CHARS + 1))
    # Leading spaces are part of the body, so they count.
    with pytest.raises(PayloadTooLarge):
        rules.message_body(" " + "x" * rules.MAX_BODY_CHARS)
