"""Ended sessions for one process: kept in the store, answered from memory.

Every authenticated request asks whether its session has ended, so the answer must
cost a dict lookup, not a store round trip. The store is the truth (a restart keeps
every sign-out); this process's copy is loaded once and then updated by `end`, which
is the only writer while one process serves. Several processes share what ended through
Redis (adapters/redis_sessions.py), which wraps this.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import datetime

from hubbub.ports import Clock, Store, Transaction


class StoredSessions:
    """A `SessionStore` over the `Store`, with an in-memory copy for O(1) checks."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._ended: dict[str, datetime] = {}
        self._loading: asyncio.Task[None] | None = None

    async def end(self, session_ids: Collection[str], until: datetime) -> None:
        if not session_ids:
            return
        await self._load()
        now = self._clock.now()

        def work(tx: Transaction) -> None:
            tx.sessions.forget_before(now)
            for session_id in session_ids:
                tx.sessions.end(session_id, until)

        await self._store.write(work)
        self._ended = {k: v for k, v in self._ended.items() if v > now}
        for session_id in session_ids:
            self._ended[session_id] = max(until, self._ended.get(session_id, until))

    async def is_ended(self, session_id: str) -> bool:
        await self._load()
        until = self._ended.get(session_id)
        return until is not None and until > self._clock.now()

    async def reload(self) -> None:
        """Reads the store's records again (sessions other processes ended while this
        one could not hear of it)."""
        await self._read()

    async def _load(self) -> None:
        """Reads the store's records the first time only; concurrent first callers
        share one read."""
        if self._loading is None:
            self._loading = asyncio.get_running_loop().create_task(self._read())
        if not self._loading.done():
            await asyncio.shield(self._loading)
        elif self._loading.exception() is not None:
            self._loading = None
            await self._load()

    async def _read(self) -> None:
        now = self._clock.now()
        found = await self._store.read(lambda tx: tx.sessions.live(now))
        self._ended = {**found, **self._ended}
