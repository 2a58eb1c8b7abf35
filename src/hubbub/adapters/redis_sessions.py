"""Ended sessions for many processes: the store keeps them (a restart keeps every
sign-out), Redis makes them known to every process at once.

`end` writes the store first, then one key per session in Redis that expires when the
session's last access token does. `is_ended` answers from this process's copy when it
already knows, and otherwise asks Redis (one EXISTS): so once `end` returns, every
process refuses the session, not only the one that ended it. While Redis is down, the
copy answers alone; it is reloaded from the store when Redis is back.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from hubbub.adapters.local_sessions import StoredSessions
from hubbub.adapters.redis_link import UNREACHABLE, RedisLink
from hubbub.ports import Clock, Store


class SharedSessions:
    """A `SessionStore` for processes that share a store and a Redis."""

    def __init__(
        self, store: Store, clock: Clock, link: RedisLink, prefix: str = "hubbub:"
    ) -> None:
        self._stored = StoredSessions(store, clock)
        self._link = link
        self._prefix = f"{prefix}ended:"

    async def end(self, session_ids: Collection[str], until: datetime) -> None:
        if not session_ids:
            return
        await self._stored.end(session_ids, until)
        expires_ms = int(until.timestamp() * 1000)
        try:
            async with self._link.client.pipeline(transaction=False) as pipe:
                for session_id in session_ids:
                    pipe.set(self._prefix + session_id, b"1", pxat=expires_ms)
                await pipe.execute()
            self._link.succeeded()
        except UNREACHABLE as error:
            # Other processes learn it from the store when Redis is back (`reload`).
            self._link.failed(error)

    async def is_ended(self, session_id: str) -> bool:
        if await self._stored.is_ended(session_id):
            return True
        if not self._link.up:
            return False
        try:
            found = bool(await self._link.client.exists(self._prefix + session_id))
        except UNREACHABLE as error:
            self._link.failed(error)
            return False
        self._link.succeeded()
        return found

    async def reload(self) -> None:
        """Reads every ended session from the store again: those ended while this
        process could not hear of them."""
        await self._stored.reload()
