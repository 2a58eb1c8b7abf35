"""Contracts of the rate limiter and ticket store beyond the basics: token-bucket
arithmetic, bounded state and constant work per call, whatever the number of keys.

Each fixture lists every adapter with a way to count what it holds; a Redis adapter
joins with its own count (e.g. DBSIZE on a private database).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from hubbub.adapters.memory import MemoryRateLimiter, MemoryTicketStore
from hubbub.ports import RateLimiter, TicketStore
from tests.contract.test_ephemeral_ports import FakeMonotonic

CAP = 1000


@dataclass
class Bounded:
    limiter: RateLimiter
    size: Callable[[], int]


@dataclass
class BoundedTickets:
    tickets: TicketStore
    size: Callable[[], int]


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture(params=["memory"])
def bounded(clock: FakeMonotonic) -> Bounded:
    limiter = MemoryRateLimiter(monotonic=clock, max_keys=CAP)
    return Bounded(limiter, lambda: len(limiter))


@pytest.fixture(params=["memory"])
def bounded_tickets(clock: FakeMonotonic) -> BoundedTickets:
    tickets = MemoryTicketStore(monotonic=clock, max_tickets=CAP)
    return BoundedTickets(tickets, lambda: len(tickets))


async def test_a_bucket_allows_the_burst_then_refills_evenly(
    bounded: Bounded, clock: FakeMonotonic
) -> None:
    """60 per 2 s: 60 at once, then one every 1/30 s; a refusal costs nothing."""
    limiter = bounded.limiter
    assert [await limiter.hit("k", 60, 2) for _ in range(60)] == [None] * 60
    assert await limiter.hit("k", 60, 2) == 1
    assert await limiter.hit("k", 60, 2) == 1
    clock.now += 1
    allowed = [await limiter.hit("k", 60, 2) for _ in range(40)]
    assert allowed.count(None) == 30 and allowed[:30] == [None] * 30


async def test_retry_after_says_when_the_next_attempt_passes(
    bounded: Bounded, clock: FakeMonotonic
) -> None:
    limiter = bounded.limiter
    for _ in range(10):
        assert await limiter.hit("acct", 10, 300) is None
    wait = await limiter.hit("acct", 10, 300)
    assert wait == 30  # one attempt comes back every 300/10 s
    clock.now += wait - 1
    assert await limiter.hit("acct", 10, 300) is not None
    clock.now += 1
    assert await limiter.hit("acct", 10, 300) is None


async def test_odd_windows_never_refuse_the_last_allowed_attempt(bounded: Bounded) -> None:
    for limit in (3, 7, 9, 11, 13):
        key = f"odd{limit}"
        results = [await bounded.limiter.hit(key, limit, 300) for _ in range(limit + 1)]
        assert results[:limit] == [None] * limit and results[limit] is not None


async def test_the_limiter_keeps_at_most_its_cap_however_many_keys_come(
    bounded: Bounded,
) -> None:
    for i in range(200_000):
        await bounded.limiter.hit(f"name:{i}", 5, 300)
        if i % 10_000 == 0:
            assert bounded.size() <= CAP
    assert bounded.size() <= CAP


async def test_a_key_in_use_survives_a_flood_of_new_keys(bounded: Bounded) -> None:
    """Eviction takes the least recently used key, so a key hit between the flood's
    requests (an attacker's own address, say) keeps its count."""
    limiter = bounded.limiter
    for _ in range(5):
        await limiter.hit("ip:attacker", 5, 300)
    for i in range(5 * CAP):
        assert await limiter.hit("ip:attacker", 5, 300) is not None
        await limiter.hit(f"name:{i}", 5, 300)


async def test_keys_whose_bucket_is_full_again_are_forgotten(
    bounded: Bounded, clock: FakeMonotonic
) -> None:
    for i in range(500):
        await bounded.limiter.hit(f"old:{i}", 5, 60)
    assert bounded.size() == 500
    clock.now += 61
    for i in range(300):
        await bounded.limiter.hit(f"new:{i}", 5, 60)
    # Each hit forgets stale keys as it goes: no sweep, and none left behind.
    assert bounded.size() == 300


async def test_forgetting_a_full_bucket_changes_nothing_for_its_key(
    bounded: Bounded, clock: FakeMonotonic
) -> None:
    limiter = bounded.limiter
    for _ in range(3):
        await limiter.hit("k", 3, 60)
    clock.now += 60
    for i in range(10):
        await limiter.hit(f"other:{i}", 3, 60)
    assert [await limiter.hit("k", 3, 60) for _ in range(4)][3] is not None


async def test_the_ticket_store_keeps_at_most_its_cap_and_the_newest_work(
    bounded_tickets: BoundedTickets,
) -> None:
    store = bounded_tickets.tickets
    issued = [await store.issue(f"u{i % 50}", 30) for i in range(20 * CAP)]
    assert bounded_tickets.size() <= CAP
    assert await store.consume(issued[-1]) == f"u{(20 * CAP - 1) % 50}"
    assert await store.consume(issued[0]) is None


async def test_expired_and_spent_tickets_are_dropped_as_new_ones_come(
    bounded_tickets: BoundedTickets, clock: FakeMonotonic
) -> None:
    store = bounded_tickets.tickets
    old = [await store.issue("u", 30) for _ in range(200)]
    await store.consume(old[0])
    assert bounded_tickets.size() == 199
    clock.now += 31
    fresh = await store.issue("u", 30)
    assert bounded_tickets.size() == 1
    assert await store.consume(old[1]) is None
    assert await store.consume(fresh) == "u"
    assert bounded_tickets.size() == 0
