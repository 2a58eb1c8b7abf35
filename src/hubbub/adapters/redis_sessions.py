"""Ended sessions for many processes: the store keeps them (a restart keeps every
sign-out), Redis makes them known to every process at once.

`end` writes the store first, then one key per session in Redis that expires when the
session's last access token does. `is_ended` answers from this process's copy when it
already knows, and otherwise asks Redis (one EXISTS): so once `end` returns, every
process refuses the session, not only the one that ended it. While Redis is down, the
copy answers alone; it is reloaded from the store when this process's subscription is
back, and what this process ended meanwhile is written to Redis as soon as it answers.
"""

from __future__ import annotations

import asyncio
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
        self._unshared: dict[str, datetime] = {}  # ended while Redis did not answer
        self._sharing: asyncio.Task[None] | None = None
        link.on_change(self._link_changed)

    async def end(self, session_ids: Collection[str], until: datetime) -> None:
        if not session_ids:
            return
        await self._stored.end(session_ids, until)
        await self._share(dict.fromkeys(session_ids, until))

    async def _share(self, ended: dict[str, datetime]) -> None:
        """Writes the ended sessions to Redis; those it cannot are written as soon as
        Redis answers again (the store has them meanwhile)."""
        try:
            with self._link.reporting():
                async with self._link.client.pipeline(transaction=False) as pipe:
                    for session_id, until in ended.items():
                        pipe.set(
                            self._prefix + session_id, b"1", pxat=int(until.timestamp() * 1000)
                        )
                    await pipe.execute()
        except UNREACHABLE:
            self._unshared.update(ended)
            return
        for session_id in ended:
            self._unshared.pop(session_id, None)

    def _link_changed(self, up: bool) -> None:
        if up and self._unshared and self._sharing is None:
            self._sharing = asyncio.get_running_loop().create_task(self._share_unshared())

    async def _share_unshared(self) -> None:
        try:
            await self._share(dict(self._unshared))
        finally:
            self._sharing = None

    async def is_ended(self, session_id: str) -> bool:
        if await self._stored.is_ended(session_id):
            return True
        if not self._link.up:
            return False
        try:
            with self._link.reporting():
                found = bool(await self._link.client.exists(self._prefix + session_id))
        except UNREACHABLE:
            return False
        return found

    async def reload(self) -> None:
        """Reads every ended session from the store again: those ended while this
        process could not hear of them."""
        await self._stored.reload()
