"""Measuring wrappers around any `Store` and `EventPublisher`: the adapters under them
never know they are watched, and each is measured the same way on every backend."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from hubbub.adapters import prometheus
from hubbub.adapters.local_hub import DONE
from hubbub.domain.events import Delivery, EventType
from hubbub.ports import EventPublisher, Store, Transaction

T = TypeVar("T")

_READ = prometheus.STORE_SECONDS.labels(op="read")
_WRITE = prometheus.STORE_SECONDS.labels(op="write")
_CREATED = EventType.MESSAGE_CREATED.value


class InstrumentedStore:
    """A `Store` that times every transaction (failed ones too) in
    `hubbub_store_seconds{op}`; otherwise the wrapped store, unchanged."""

    def __init__(self, store: Store) -> None:
        self.inner = store
        self.commits_in_call_order = store.commits_in_call_order

    async def read(self, work: Callable[[Transaction], T], *, quick: bool = False) -> T:
        started = time.perf_counter()
        try:
            return await self.inner.read(work, quick=quick)
        finally:
            _READ.observe(time.perf_counter() - started)

    async def write(
        self, work: Callable[[Transaction], T], on_commit: Callable[[T], None] | None = None
    ) -> T:
        started = time.perf_counter()
        try:
            return await self.inner.write(work, on_commit)
        finally:
            _WRITE.observe(time.perf_counter() - started)

    async def close(self) -> None:
        await self.inner.close()


class InstrumentedPublisher:
    """An `EventPublisher` that counts committed messages (`hubbub_messages_sent`) and
    times each publish until its awaitable completes (`hubbub_fanout_seconds`): for this
    process's connections, until their frames are queued; across processes, until the
    deliveries have left this one. Timed whether or not the caller awaits it."""

    def __init__(self, publisher: EventPublisher) -> None:
        self.inner = publisher

    def publish(self, deliveries: Sequence[Delivery]) -> Awaitable[None]:
        started = time.perf_counter()
        created = sum(1 for d in deliveries if d.frame.get("type") == _CREATED)
        if created:
            prometheus.MESSAGES_SENT.inc(created)
        pending = self.inner.publish(deliveries)
        if pending is DONE:  # finished on the spot (this process only): no task to watch
            prometheus.FANOUT_SECONDS.observe(time.perf_counter() - started)
            return DONE
        future = asyncio.ensure_future(pending)
        future.add_done_callback(
            lambda _: prometheus.FANOUT_SECONDS.observe(time.perf_counter() - started)
        )
        return future
