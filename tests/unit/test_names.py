"""Display names: what may be in one, so that a name cannot hide, reorder or pose."""

from __future__ import annotations

import unicodedata

import pytest

from hubbub.domain import rules
from hubbub.domain.errors import ValidationFailed

ATTACKS = {
    "right-to-left override": "Alice\u202egnp.exe",
    "left-to-right override": "\u202dAlice",
    "right-to-left embedding": "Al\u202bice",
    "pop directional formatting": "Alice\u202c",
    "right-to-left isolate": "\u2067Alice\u2069",
    "first strong isolate": "\u2068Alice",
    "right-to-left mark": "Alice\u200f",
    "arabic letter mark": "Alice\u061c",
    "zero-width space": "Al\u200bice",
    "zero-width joiner between latin letters": "Al\u200dice",
    "zero-width non-joiner between latin letters": "Al\u200cice",
    "word joiner": "Alice\u2060",
    "byte order mark": "\ufeffAlice",
    "soft hyphen": "Ali\u00adce",
    "combining grapheme joiner": "Ali\u034fce",
    "NUL": "Alice\x00",
    "escape": "Alice\x1b[31m",
    "delete": "Alice\x7f",
    "C1 control": "Alice\x9b",
    "64 combining marks": "A" + "\u0301" * 64 + "lice",
    "5 combining marks on one letter": "B\u0300\u0301\u0302\u0303\u0304lice",
    "a combining mark with nothing under it": "\u0301Alice",
    "hangul filler": "\u3164",
    "hangul filler beside a name": "Alice\u3164",
    "braille blank": "Alice\u2800",
    "private use": "Alice\ue000",
    "lone surrogate": "Alice\ud800",
    "noncharacter": "Alice\ufffe",
    "tag characters outside a flag": "Alice\U000e0041",
    "variation selector with nothing under it": "\ufe0fAlice",
    "flag tags never cancelled": "Ian \U0001f3f4\U000e0067\U000e0062",
    "flag tags then a letter": "Ian \U0001f3f4\U000e0067\U000e0062x",
    "only invisible": "\u200b\u200b",
    "too long": "A" * 65,
}


@pytest.mark.parametrize("raw", ATTACKS.values(), ids=ATTACKS.keys())
def test_names_that_hide_reorder_or_pile_up_are_refused(raw: str) -> None:
    with pytest.raises(ValidationFailed):
        rules.display_name(raw)


def test_the_refusal_names_the_offending_character() -> None:
    with pytest.raises(ValidationFailed) as refused:
        rules.display_name("Alice\u202egnp.exe")
    assert "U+202E" in refused.value.message


KEPT = {
    "plain": ("Alice Smith", "Alice Smith"),
    "whitespace trimmed and collapsed": ("  Carla \t\n  Diaz  ", "Carla Diaz"),
    "unicode spaces become one space": ("Carla\u00a0\u3000Diaz\u2028", "Carla Diaz"),
    "decomposed accents are composed (NFC)": ("Jose\u0301 Nun\u0303ez", "José Nuñez"),
    "vietnamese stacked marks": ("Nguye\u0302\u0303n", "Nguyễn"),
    "arabic": ("محمد", "محمد"),
    "hebrew": ("דוד", "דוד"),
    "persian with a non-joiner": ("می\u200cخواهم", "می\u200cخواهم"),  # noqa: RUF001
    "devanagari": ("अनुष्का", "अनुष्का"),
    "devanagari half form with a joiner": ("क्\u200dष", "क्\u200dष"),
    "thai": ("สมชาย", "สมชาย"),
    "tibetan stack": ("བསྒྲུབས", "བསྒྲུབས"),
    "chinese": ("王小明", "王小明"),
    "emoji": ("Ana 🎉", "Ana 🎉"),
    "emoji with a variation selector": ("I \u2764\ufe0f tea", "I \u2764\ufe0f tea"),
    "emoji with a skin tone": ("👍🏽 Bo", "👍🏽 Bo"),
    "emoji zwj sequence": ("👩\u200d💻 Dev", "👩\u200d💻 Dev"),
    "keycap": ("Team 1\ufe0f\u20e3", "Team 1\ufe0f\u20e3"),
    "flag": ("Ana 🇵🇹", "Ana 🇵🇹"),
    "subdivision flag": (
        "Ian \U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
        "Ian \U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    ),
    "64 characters": ("A" * 64, "A" * 64),
}


@pytest.mark.parametrize(("raw", "expected"), KEPT.values(), ids=KEPT.keys())
def test_real_names_in_every_script_and_emoji_are_kept(raw: str, expected: str) -> None:
    name = rules.display_name(raw)
    assert name == expected
    assert unicodedata.is_normalized("NFC", name)


def test_a_name_is_stable_under_the_rule() -> None:
    for raw, _ in KEPT.values():
        once = rules.display_name(raw)
        assert rules.display_name(once) == once
