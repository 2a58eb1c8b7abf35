"""Input rules shared by every transport, so REST and WebSocket reject the same things."""

from __future__ import annotations

import re

from hubbub.domain.errors import PayloadTooLarge, ValidationFailed

MAX_BODY_CHARS = 4000
MAX_TITLE_CHARS = 100
MAX_DISPLAY_NAME_CHARS = 64
MAX_CLIENT_MESSAGE_ID_CHARS = 64
MAX_GROUP_MEMBERS = 256
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,31}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")
CLIENT_MESSAGE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 256


def message_body(raw: str) -> str:
    """Trimmed body of 1..4000 characters; longer is `payload_too_large`."""
    body = raw.strip()
    if not body:
        raise ValidationFailed("Message body must not be empty.")
    if len(body) > MAX_BODY_CHARS:
        raise PayloadTooLarge(f"Message body exceeds {MAX_BODY_CHARS} characters.")
    return body


def client_message_id(raw: str) -> str:
    if not CLIENT_MESSAGE_ID_PATTERN.match(raw):
        raise ValidationFailed(
            "clientMessageId must be 1-64 characters of letters, digits and _ . : -"
        )
    return raw


def username(raw: str) -> str:
    name = raw.strip().lower()
    if not USERNAME_PATTERN.match(name):
        raise ValidationFailed(
            "Username must be 3-32 characters: lowercase letters, digits, _ . -, "
            "starting with a letter or digit."
        )
    return name


def email(raw: str) -> str:
    address = raw.strip().lower()
    if len(address) > 254 or not EMAIL_PATTERN.match(address):
        raise ValidationFailed("Email address is not valid.")
    return address


def password(raw: str) -> str:
    if not MIN_PASSWORD_CHARS <= len(raw) <= MAX_PASSWORD_CHARS:
        raise ValidationFailed(
            f"Password must be {MIN_PASSWORD_CHARS}-{MAX_PASSWORD_CHARS} characters."
        )
    return raw


def display_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not 1 <= len(name) <= MAX_DISPLAY_NAME_CHARS:
        raise ValidationFailed(f"Display name must be 1-{MAX_DISPLAY_NAME_CHARS} characters.")
    return name


def title(raw: str) -> str:
    text = " ".join(raw.split())
    if not 1 <= len(text) <= MAX_TITLE_CHARS:
        raise ValidationFailed(f"Title must be 1-{MAX_TITLE_CHARS} characters.")
    return text


def page_limit(raw: int | None, *, default: int, maximum: int) -> int:
    if raw is None:
        return default
    if not 1 <= raw <= maximum:
        raise ValidationFailed(f"limit must be between 1 and {maximum}.")
    return raw
