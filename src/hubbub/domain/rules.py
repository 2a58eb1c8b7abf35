"""Input rules shared by every transport, so REST and WebSocket reject the same things."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Container, Iterable
from datetime import datetime

from hubbub.domain.errors import PayloadTooLarge, ValidationFailed
from hubbub.domain.models import MUTED_FOREVER

MAX_BODY_CHARS = 4000
MAX_TITLE_CHARS = 100
MAX_DISPLAY_NAME_CHARS = 64
MAX_MARKS_PER_BASE = 4  # Vietnamese, Thai and Tibetan stacks fit; "Zalgo" text does not
MAX_CLIENT_MESSAGE_ID_CHARS = 64
MAX_GROUP_MEMBERS = 256
# The reactions a message can get, in the order they are shown. A small fixed set keeps
# every message's reactions small (at most six per member) and needs no emoji parsing.
REACTION_EMOJI = ("👍", "❤️", "😂", "😮", "😢", "🙏")
_VARIATION_SELECTOR = "\ufe0f"
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,31}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")
CLIENT_MESSAGE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 256


# Blank lines before the text, up to the line break before its first line: that line's
# own leading spaces are indentation the writer meant (code, verse, lists), so they stay.
_LEADING_BLANK_LINES = re.compile(r"\A\s*\n")


def message_body(raw: str) -> str:
    """Body of 1..4000 characters (code points, so one emoji counts once; the web app
    counts the same way): trailing whitespace and leading blank lines are dropped, the
    first line's indentation is kept. Longer is `payload_too_large`."""
    body = _LEADING_BLANK_LINES.sub("", raw.rstrip(), count=1)
    if not body:
        raise ValidationFailed("Message body must not be empty.")
    _no_nul(body, "Message body")
    if len(body) > MAX_BODY_CHARS:
        raise PayloadTooLarge(f"Message body exceeds {MAX_BODY_CHARS} characters.")
    return body


def client_message_id(raw: str) -> str:
    if not CLIENT_MESSAGE_ID_PATTERN.match(raw):
        raise ValidationFailed(
            "clientMessageId must be 1-64 characters of letters, digits and _ . : -"
        )
    return raw


def reaction_emoji(raw: str) -> str:
    """One of `REACTION_EMOJI`, as written there; with or without the emoji variation
    selector (U+FE0F), which keyboards add or drop."""
    bare = raw.replace(_VARIATION_SELECTOR, "")
    for emoji in REACTION_EMOJI:
        if emoji.replace(_VARIATION_SELECTOR, "") == bare:
            return emoji
    raise ValidationFailed(
        f"Reactions are one of {' '.join(REACTION_EMOJI)}.", details={"field": "emoji"}
    )


# USERNAME_PATTERN in words; the web app's hint says the same (web/src/features/auth).
USERNAME_RULE = (
    "3 to 32 characters: letters a-z, digits, and _ . or -, starting with a letter or digit."
)


def username(raw: str) -> str:
    """Trimmed and lowercased (capitals are accepted and kept in lowercase)."""
    name = raw.strip().lower()
    if not USERNAME_PATTERN.match(name):
        raise ValidationFailed(f"Username must be {USERNAME_RULE}", details={"field": "username"})
    return name


def email(raw: str) -> str:
    address = raw.strip().lower()
    if len(address) > 254 or not EMAIL_PATTERN.match(address) or "\x00" in address:
        raise ValidationFailed("Email address is not valid.", details={"field": "email"})
    return address


def password(raw: str, *, common: Container[str], personal: Iterable[str] = ()) -> str:
    """A password worth having, after NIST SP 800-63B: long enough, not on `common` (a
    list of common or breached passwords, lowercase) and not the account's own username
    or email (`personal`); no composition rules (no demands for digits or symbols).

    Length counts Unicode code points after NFC normalisation, not counting whitespace
    at either end, so a password of only whitespace is refused and spaces cannot pad a
    short one. The comparisons ignore case and surrounding whitespace. The password
    itself is returned unchanged: what is hashed is exactly what was typed, so sign-in
    keeps working for passwords chosen before this rule.
    """
    core = unicodedata.normalize("NFC", raw).strip()
    if len(core) < MIN_PASSWORD_CHARS:
        raise _weak(
            f"Choose a longer password: at least {MIN_PASSWORD_CHARS} characters"
            " (spaces at the start or end do not count). A few unrelated words work well."
        )
    if len(raw) > MAX_PASSWORD_CHARS:
        raise _weak(f"Choose a shorter password: at most {MAX_PASSWORD_CHARS} characters.")
    folded = core.casefold()
    if folded in common:
        raise _weak(
            "This password is too common: it is on a list of passwords attackers try first."
            " Choose another, for example a few unrelated words."
        )
    if _repeated_or_sequential(folded):
        raise _weak(
            "This password is too easy to guess (one character repeated, or a run such as"
            " abcdefgh or 12345678). Choose another, for example a few unrelated words."
        )
    for value in personal:
        own = value.strip().casefold()
        if own and folded in {own, own.partition("@")[0]}:
            raise _weak("Choose a password that is not your username or email address.")
    return raw


def _weak(message: str) -> ValidationFailed:
    return ValidationFailed(message, details={"field": "password"})


def _repeated_or_sequential(text: str) -> bool:
    """One character over and over, or a run of consecutive code points either way."""
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(text)}
    return len(steps) == 1 and steps <= {-1, 0, 1}


def display_name(raw: str) -> str:
    """The name as shown to others: NFC, whitespace trimmed and collapsed to single
    spaces, 1-64 characters, and nothing that hides, reorders or piles up.

    Refused (with the offending code point in the message): control characters;
    bidirectional overrides, embeddings, isolates and marks; invisible characters
    (zero-width spaces, word joiners, fillers, blank glyphs, tags, private use,
    surrogates, noncharacters); combining marks with nothing under them, or more than
    MAX_MARKS_PER_BASE on one character. Zero-width joiners are kept only where a script
    or an emoji sequence needs them (after a virama, between Arabic-script letters, or
    joining two emoji), and tag characters only inside a subdivision flag.
    """
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not 1 <= len(name) <= MAX_DISPLAY_NAME_CHARS:
        raise ValidationFailed(
            f"Display name must be 1-{MAX_DISPLAY_NAME_CHARS} characters.",
            details={"field": "displayName"},
        )
    marks = 0
    in_flag_tags = False
    for index, char in enumerate(name):
        point = ord(char)
        previous = name[index - 1] if index else " "
        following = name[index + 1] if index + 1 < len(name) else " "
        if in_flag_tags:
            if _TAG_FIRST <= point <= _TAG_CANCEL:
                in_flag_tags = point != _TAG_CANCEL
                continue
            raise _refuse(name[index - 1], "an unfinished flag")
        if point == _BLACK_FLAG and _TAG_FIRST <= ord(following) < _TAG_CANCEL:
            in_flag_tags = True
        elif char in _JOINERS:
            if not _joiner_fits(char, previous, following):
                raise _refuse(char, "an invisible joiner outside a script or emoji that needs it")
            marks = 0
            continue
        category = unicodedata.category(char)
        if category in _REFUSED_CATEGORIES or _is_invisible(point):
            raise _refuse(char, "a control, formatting or invisible character")
        if category.startswith("M"):
            marks += 1
            if previous == " " or index == 0:
                raise _refuse(char, "a combining mark with no character under it")
            if marks > MAX_MARKS_PER_BASE:
                raise _refuse(
                    char, f"more than {MAX_MARKS_PER_BASE} combining marks on one character"
                )
            continue
        marks = 0
    if in_flag_tags:
        raise _refuse(name[-1], "an unfinished flag")
    return name


_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})
_JOINERS = frozenset({"\u200c", "\u200d"})  # ZWNJ, ZWJ
_BLACK_FLAG = 0x1F3F4
_TAG_FIRST = 0xE0020
_TAG_CANCEL = 0xE007F
# Blank or ignorable characters whose category (Lo, So, Mn...) does not say so: Unicode's
# Default_Ignorable_Code_Point outside Cf, plus glyphs that render as nothing.
_INVISIBLE_RANGES = (
    (0x115F, 0x1160),  # Hangul choseong/jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian variation selectors and vowel separator
    (0x2800, 0x2800),  # Braille pattern blank
    (0x3164, 0x3164),  # Hangul filler
    (0xFFA0, 0xFFA0),  # Halfwidth Hangul filler
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical format controls
    (0xE0000, 0xE0FFF),  # tags and supplementary variation selectors outside a flag
    (0x034F, 0x034F),  # combining grapheme joiner
)


def _is_invisible(point: int) -> bool:
    if point & 0xFFFE == 0xFFFE or 0xFDD0 <= point <= 0xFDEF:  # noncharacters
        return True
    return any(first <= point <= last for first, last in _INVISIBLE_RANGES)


def _joiner_fits(joiner: str, previous: str, following: str) -> bool:
    """ZWJ/ZWNJ only where they change how a script or emoji renders."""
    if following == " " or previous == " ":
        return False
    if unicodedata.combining(previous) == 9:  # a virama: Indic half forms and conjuncts
        return True
    if _is_arabic(previous) and _is_arabic(following):
        return True
    return joiner == "\u200d" and _is_emoji(previous) and _is_emoji(following)


def _is_arabic(char: str) -> bool:
    return unicodedata.name(char, "").startswith("ARABIC")


def _is_emoji(char: str) -> bool:
    point = ord(char)
    return (
        unicodedata.category(char) == "So"
        or 0x1F3FB <= point <= 0x1F3FF  # skin tones
        or point == 0xFE0F  # emoji presentation selector
        or 0x1F000 <= point <= 0x1FAFF
    )


def _refuse(char: str, what: str) -> ValidationFailed:
    return ValidationFailed(
        f"Display name must not contain {what} (U+{ord(char):04X}).",
        details={"field": "displayName"},
    )


def title(raw: str) -> str:
    text = " ".join(raw.split())
    if not 1 <= len(text) <= MAX_TITLE_CHARS:
        raise ValidationFailed(f"Title must be 1-{MAX_TITLE_CHARS} characters.")
    _no_nul(text, "Title")
    return text


def _no_nul(text: str, what: str) -> None:
    """U+0000 is never chat text, and no store keeps it the same way (PostgreSQL's text
    cannot hold it at all): refused everywhere alike."""
    if "\x00" in text:
        raise ValidationFailed(f"{what} must not contain U+0000 (NUL).")


def page_limit(raw: int | None, *, default: int, maximum: int) -> int:
    if raw is None:
        return default
    if not 1 <= raw <= maximum:
        raise ValidationFailed(f"limit must be between 1 and {maximum}.")
    return raw


def mute_until(raw: datetime | None, now: datetime) -> datetime:
    """When a mute asked for at `now` ends: None is "until unmuted" (`MUTED_FOREVER`).
    A moment must carry its offset (a bare local time means a different instant to the
    server and the browser) and lie ahead: a mute that has already ended is a mistake."""
    if raw is None:
        return MUTED_FOREVER
    if raw.tzinfo is None or raw.utcoffset() is None:
        raise ValidationFailed(
            "until must be an ISO-8601 time with an offset (e.g. Z).", details={"field": "until"}
        )
    if raw <= now:
        raise ValidationFailed("until must be in the future.", details={"field": "until"})
    return min(raw, MUTED_FOREVER)
