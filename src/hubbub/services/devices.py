"""Proof that a sign-in comes from a browser that signed in to the account before.

A device token is `<user id>.<issued, unix s>.<nonce>.<HMAC-SHA256 of the rest>`, handed
to the browser at each successful sign-in (as an HttpOnly cookie scoped to the sign-in
endpoint) and shown back at the next one. It grants nothing by itself: it only lets that
sign-in skip the account's shared budget of guesses, so that attackers spending that
budget from many addresses cannot keep the owner's usual browser out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta

from hubbub.ports import Clock

DEVICE_TOKEN_LIFETIME = timedelta(days=365)


class KnownDevices:
    def __init__(self, key: bytes, clock: Clock) -> None:
        self._key = key
        self._clock = clock

    def issue(self, user_id: str) -> str:
        issued = int(self._clock.now().timestamp())
        body = f"{user_id}.{issued}.{secrets.token_urlsafe(9)}"
        return f"{body}.{self._mac(body)}"

    def user_of(self, token: str | None) -> str | None:
        """The user a genuine, unexpired token was issued to; None for anything else."""
        if not token or len(token) > 256:
            return None
        body, _, mac = token.rpartition(".")
        if not body or not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            return None
        user_id, issued, _ = body.rsplit(".", 2)
        age = self._clock.now().timestamp() - int(issued)
        return user_id if 0 <= age < DEVICE_TOKEN_LIFETIME.total_seconds() else None

    def _mac(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
