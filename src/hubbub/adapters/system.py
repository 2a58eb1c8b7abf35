"""The real clock and id generator."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class UlidGenerator:
    """26-character ids: 48 bits of milliseconds then 80 random bits, base32.

    Time-ordered so that SQLite and DynamoDB keys cluster by age; random enough that
    processes never collide without coordinating.
    """

    def new_id(self) -> str:
        value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
        chars = []
        for _ in range(26):
            value, index = divmod(value, 32)
            chars.append(_ALPHABET[index])
        return "".join(reversed(chars))
