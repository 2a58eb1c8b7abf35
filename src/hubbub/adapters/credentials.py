"""What the two identity adapters (`local_identity`, `cognito_identity`) do alike: keep
refresh tokens as digests, end sessions by revoking the same records, and remember the
access tokens they verified until those expire."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable

from hubbub.domain.errors import Unauthorized
from hubbub.ports import Session, Transaction

BAD_TOKEN = "Access token is missing, invalid or expired."


def digest(secret_text: str) -> str:
    """How a refresh token is stored and looked up: never as itself."""
    return hashlib.sha256(secret_text.encode()).hexdigest()


def signing_out(
    session: Session, refresh_token: str | None, everywhere: bool
) -> Callable[[Transaction], list[str]]:
    """The store's part of a sign-out: every refresh family of the user (`everywhere`),
    or this session's and the presented refresh token's, if it is the user's. The work
    returns the ended session ids, whose sockets are then closed."""

    def work(tx: Transaction) -> list[str]:
        if everywhere:
            ended = tx.credentials.families_of(session.user_id) | {session.session_id}
            tx.credentials.revoke_user(session.user_id)
            return sorted(ended)
        ended = {session.session_id}
        if refresh_token:
            record = tx.credentials.get_refresh(digest(refresh_token))
            if record is not None and record.user_id == session.user_id:
                ended.add(record.family_id)
        for family_id in ended:
            tx.credentials.revoke_family(family_id)
        return sorted(ended)

    return work


class VerifiedTokens:
    """The latest `limit` access tokens verified, with their session and expiry: a dict
    lookup instead of a signature check on every request."""

    def __init__(self, limit: int = 4096) -> None:
        self._limit = limit
        self._tokens: OrderedDict[str, tuple[Session, float]] = OrderedDict()

    def known(self, token: str, now: float) -> Session | None:
        """`token`'s session if it was verified and has not expired; `Unauthorized`
        once it has; None if it was not seen (or was forgotten)."""
        found = self._tokens.get(token)
        if found is None:
            return None
        session, expires = found
        if expires > now:
            return session
        self._tokens.pop(token, None)
        raise Unauthorized(BAD_TOKEN)

    def remember(self, token: str, session: Session, expires: float) -> None:
        self._tokens[token] = (session, expires)
        if len(self._tokens) > self._limit:
            self._tokens.popitem(last=False)
