"""Contracts of the ports that hold short-lived state (tickets, rate limits, presence).

Each fixture lists every adapter of its port; a Redis adapter joins the list when the
scale-out mode lands, and must pass the same tests.
"""

from __future__ import annotations

import pytest

from hubbub.adapters.memory import MemoryPresence, MemoryRateLimiter, MemoryTicketStore
from hubbub.ports import PresenceTracker, RateLimiter, TicketStore


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def time_source() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture(params=["memory"])
def tickets(time_source: FakeMonotonic) -> TicketStore:
    return MemoryTicketStore(monotonic=time_source)


@pytest.fixture(params=["memory"])
def limiter(time_source: FakeMonotonic) -> RateLimiter:
    return MemoryRateLimiter(monotonic=time_source)


@pytest.fixture(params=["memory"])
def presence() -> PresenceTracker:
    return MemoryPresence()


async def test_a_ticket_works_once(tickets: TicketStore) -> None:
    ticket = await tickets.issue("u1", 30)
    other = await tickets.issue("u1", 30)
    assert ticket != other and len(ticket) >= 32
    assert await tickets.consume(ticket) == "u1"
    assert await tickets.consume(ticket) is None
    assert await tickets.consume("never-issued") is None
    assert await tickets.consume(other) == "u1"


async def test_a_ticket_expires(tickets: TicketStore, time_source: FakeMonotonic) -> None:
    ticket = await tickets.issue("u1", 30)
    time_source.now += 31
    assert await tickets.consume(ticket) is None


async def test_limits_hold_per_key_and_reset_with_the_window(
    limiter: RateLimiter, time_source: FakeMonotonic
) -> None:
    results = [await limiter.hit("a", 3, 60) for _ in range(5)]
    assert results[:3] == [None, None, None]
    assert all(r is not None and 1 <= r <= 60 for r in results[3:])
    assert await limiter.hit("b", 3, 60) is None
    time_source.now += 61
    assert await limiter.hit("a", 3, 60) is None


async def test_presence_counts_connections_per_user(presence: PresenceTracker) -> None:
    assert await presence.connected("ana", "c1") is True
    assert await presence.connected("ana", "c2") is False
    assert await presence.online(["ana", "bob"]) == {"ana"}
    assert await presence.disconnected("ana", "c1") is False
    assert await presence.disconnected("ana", "c1") is False
    assert await presence.disconnected("ana", "c2") is True
    assert await presence.online(["ana"]) == set()
