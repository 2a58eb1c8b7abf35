"""Per-user budgets for REST writes: what a signed-in user may make the server do.

WebSocket frames have their own per-connection budget (see server/websocket.py); the
unauthenticated edges are limited in `AuthService`.
"""

from __future__ import annotations

from hubbub.domain.errors import RateLimited
from hubbub.ports import RateLimiter


class WriteThrottle:
    """A token bucket per user shared by every REST write (sends, edits, deletes,
    conversation and member changes, read markers, profile changes): `per_second`
    writes a second, in bursts of up to `burst`. The defaults (30/s, bursts of 60) are
    far above what a person typing produces, so only scripts meet them."""

    def __init__(self, limiter: RateLimiter, per_second: int = 30, burst: int = 60) -> None:
        self._limiter = limiter
        self._burst = burst
        self._window = burst / per_second

    async def write(self, user_id: str) -> None:
        """Counts one write by `user_id`; raises `RateLimited` (with the seconds to
        wait) when the user's bucket is empty. A refused write costs nothing."""
        retry_after = await self._limiter.hit(f"write:{user_id}", self._burst, self._window)
        if retry_after is not None:
            raise RateLimited("Too many changes at once; slow down.", retry_after=retry_after)
