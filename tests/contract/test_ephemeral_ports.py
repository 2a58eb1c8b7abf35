"""Contracts of the ports that hold short-lived state (tickets, rate limits, presence).

Each fixture lists every adapter of its port: the memory one (one process) and the
Redis one (many processes, on the throwaway redis-server of tests/redis.py). Both run
on the same fake clock. Tests of what only a shared store can do (two processes,
leases that run out when a process dies) use fixtures named for it, listing only the
adapters that have it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from hubbub.adapters import redis_state
from hubbub.adapters.memory import MemoryPresence, MemoryRateLimiter, MemoryTicketStore
from hubbub.adapters.redis_link import RedisLink
from hubbub.adapters.redis_state import RedisPresence, RedisRateLimiter, RedisTicketStore
from hubbub.ports import PresenceTracker, RateLimiter, Session, TicketStore
from tests.redis import RedisServer

LEASE = 30
ANA = Session("u1", "s1")
ANA_ELSEWHERE = Session("u1", "s2")


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def time_source() -> FakeMonotonic:
    return FakeMonotonic()


@contextlib.asynccontextmanager
async def redis_links(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[], RedisLink]]:
    """A factory of links to one fresh database: each link is one process's client."""
    server: RedisServer = request.getfixturevalue("redis_server")
    url = server.fresh_url()
    links: list[RedisLink] = []

    def new() -> RedisLink:
        links.append(RedisLink(url))
        return links[-1]

    try:
        yield new
    finally:
        for link in links:
            await link.close()


@pytest.fixture(params=["memory", "redis"])
async def tickets(
    request: pytest.FixtureRequest, time_source: FakeMonotonic
) -> AsyncIterator[TicketStore]:
    if request.param == "memory":
        yield MemoryTicketStore(monotonic=time_source)
        return
    async with redis_links(request) as new_link:
        yield RedisTicketStore(new_link(), clock=time_source)


@pytest.fixture(params=["memory", "redis"])
async def limiter(
    request: pytest.FixtureRequest, time_source: FakeMonotonic
) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        yield MemoryRateLimiter(monotonic=time_source)
        return
    async with redis_links(request) as new_link:
        yield RedisRateLimiter(new_link(), clock=time_source)


@pytest.fixture(params=["memory", "redis"])
async def presence(
    request: pytest.FixtureRequest, time_source: FakeMonotonic
) -> AsyncIterator[PresenceTracker]:
    if request.param == "memory":
        yield MemoryPresence()
        return
    async with redis_links(request) as new_link:
        yield RedisPresence(new_link(), lease_seconds=LEASE, clock=time_source)


@pytest.fixture(params=["redis"])
async def shared_tickets(
    request: pytest.FixtureRequest, time_source: FakeMonotonic
) -> AsyncIterator[Callable[[], TicketStore]]:
    """Ticket stores of separate processes sharing one deployment (shared stores only)."""
    async with redis_links(request) as new_link:
        yield lambda: RedisTicketStore(new_link(), clock=time_source)


@pytest.fixture(params=["redis"])
async def shared_limiters(
    request: pytest.FixtureRequest, time_source: FakeMonotonic
) -> AsyncIterator[Callable[[], RateLimiter]]:
    """Rate limiters of separate processes sharing one deployment (shared stores only)."""
    async with redis_links(request) as new_link:
        yield lambda: RedisRateLimiter(new_link(), clock=time_source)


@pytest.fixture(params=["redis"])
async def processes(
    request: pytest.FixtureRequest, time_source: FakeMonotonic
) -> AsyncIterator[Callable[[], PresenceTracker]]:
    """Presence trackers of separate processes sharing one deployment, with leases of
    `LEASE` seconds on `time_source` (adapters with leases only)."""
    async with redis_links(request) as new_link:
        yield lambda: RedisPresence(new_link(), lease_seconds=LEASE, clock=time_source)


# Tickets


async def test_a_ticket_works_once(tickets: TicketStore) -> None:
    ticket = await tickets.issue(ANA, 30)
    other = await tickets.issue(ANA_ELSEWHERE, 30)
    assert ticket != other and len(ticket) >= 32
    assert await tickets.consume(ticket) == ANA
    assert await tickets.consume(ticket) is None
    assert await tickets.consume("never-issued") is None
    assert await tickets.consume(other) == ANA_ELSEWHERE


async def test_a_ticket_expires(tickets: TicketStore, time_source: FakeMonotonic) -> None:
    ticket = await tickets.issue(ANA, 30)
    time_source.now += 31
    assert await tickets.consume(ticket) is None


async def test_a_ticket_issued_on_one_process_works_once_on_any(
    shared_tickets: Callable[[], TicketStore],
) -> None:
    issuer, first, second = shared_tickets(), shared_tickets(), shared_tickets()
    ticket = await issuer.issue(ANA, 30)
    results = await asyncio.gather(first.consume(ticket), second.consume(ticket))
    assert results.count(ANA) == 1 and results.count(None) == 1


# Rate limits


async def test_limits_hold_per_key_and_reset_with_the_window(
    limiter: RateLimiter, time_source: FakeMonotonic
) -> None:
    results = [await limiter.hit("a", 3, 60) for _ in range(5)]
    assert results[:3] == [None, None, None]
    assert all(r is not None and 1 <= r <= 60 for r in results[3:])
    assert await limiter.hit("b", 3, 60) is None
    time_source.now += 61
    assert await limiter.hit("a", 3, 60) is None


async def test_a_bucket_refills_evenly_and_refusals_cost_nothing(
    limiter: RateLimiter, time_source: FakeMonotonic
) -> None:
    assert [await limiter.hit("k", 10, 300) for _ in range(10)] == [None] * 10
    assert [await limiter.hit("k", 10, 300) for _ in range(3)] == [30, 30, 30]
    time_source.now += 29
    assert await limiter.hit("k", 10, 300) == 1
    time_source.now += 1
    assert await limiter.hit("k", 10, 300) is None
    assert await limiter.hit("k", 10, 300) == 30
    for limit in (3, 7, 9, 11, 13):
        results = [await limiter.hit(f"odd{limit}", limit, 300) for _ in range(limit + 1)]
        assert results[:limit] == [None] * limit and results[limit] is not None


async def test_limits_count_attempts_on_every_process(
    shared_limiters: Callable[[], RateLimiter], time_source: FakeMonotonic
) -> None:
    processes = [shared_limiters() for _ in range(3)]
    results = [await processes[i % 3].hit("signin:ana", 5, 60) for i in range(9)]
    assert results[:5] == [None] * 5
    assert all(r is not None for r in results[5:])
    time_source.now += 12  # one attempt back, wherever it is made
    assert await processes[2].hit("signin:ana", 5, 60) is None
    assert await processes[0].hit("signin:ana", 5, 60) is not None


async def test_concurrent_attempts_on_many_processes_never_pass_the_limit(
    shared_limiters: Callable[[], RateLimiter],
) -> None:
    processes = [shared_limiters() for _ in range(4)]
    results = await asyncio.gather(*(processes[i % 4].hit("k", 10, 60) for i in range(40)))
    assert results.count(None) == 10


# Presence


async def test_presence_counts_connections_per_user(presence: PresenceTracker) -> None:
    assert await presence.connected("ana", "c1") is True
    assert await presence.connected("ana", "c2") is False
    assert await presence.online(["ana", "bob"]) == {"ana"}
    assert await presence.disconnected("ana", "c1") is False
    assert await presence.disconnected("ana", "c1") is False
    assert await presence.disconnected("ana", "c2") is True
    assert await presence.online(["ana"]) == set()
    assert await presence.online([]) == set()


async def test_claims_are_limited_per_user_and_freed_by_disconnected(
    presence: PresenceTracker,
) -> None:
    assert await presence.claim("ana", "c1", 2) is True
    assert await presence.claim("ana", "c2", 2) is True
    assert await presence.claim("ana", "c3", 2) is False
    assert await presence.claim("ana", "c1", 2) is True  # claiming again takes nothing more
    assert await presence.claim("bob", "c4", 2) is True
    # A claimed connection whose handshake never completed gives its slot back.
    assert await presence.disconnected("ana", "c2") is False
    assert await presence.claim("ana", "c3", 2) is True
    assert await presence.connected("ana", "c3") is True
    assert await presence.online(["ana", "bob"]) == {"ana"}
    assert await presence.claim("ana", "c5", 2) is False


async def test_a_renewed_connection_stays_online_and_never_expires(
    presence: PresenceTracker, time_source: FakeMonotonic
) -> None:
    assert await presence.claim("ana", "c1", 3)
    assert await presence.connected("ana", "c1") is True
    assert await presence.claim("ana", "c2", 3)  # opening, renewed too
    for _ in range(5):
        time_source.now += LEASE * 2 / 3
        await presence.renew([("ana", "c1"), ("ana", "c2")])
        assert await presence.expired() == []
        assert await presence.online(["ana"]) == {"ana"}
    assert await presence.claim("ana", "c3", 3) is True
    assert await presence.claim("ana", "c4", 3) is False
    assert await presence.disconnected("ana", "c1") is True


async def test_claims_count_connections_on_every_process(
    processes: Callable[[], PresenceTracker],
) -> None:
    a, b = processes(), processes()
    assert await a.claim("ana", "c1", 2) is True
    assert await b.claim("ana", "c2", 2) is True
    assert await a.claim("ana", "c3", 2) is False
    assert await b.claim("ana", "c3", 2) is False
    assert await b.disconnected("ana", "c2") is False
    assert await a.claim("ana", "c3", 2) is True


async def test_concurrent_claims_on_many_processes_never_pass_the_limit(
    processes: Callable[[], PresenceTracker],
) -> None:
    trackers = [processes() for _ in range(4)]
    taken = await asyncio.gather(*(trackers[i % 4].claim("ana", f"c{i}", 5) for i in range(20)))
    assert taken.count(True) == 5


async def test_a_user_is_online_while_any_process_holds_a_live_connection(
    processes: Callable[[], PresenceTracker],
) -> None:
    a, b = processes(), processes()
    assert await a.connected("ana", "c1") is True
    assert await b.connected("ana", "c2") is False
    assert await b.online(["ana", "bob"]) == {"ana"}
    assert await b.disconnected("ana", "c2") is False
    assert await b.online(["ana"]) == {"ana"}
    assert await a.disconnected("ana", "c1") is True
    assert await b.online(["ana"]) == set()


async def test_a_dead_process_s_users_go_offline_once_when_its_leases_run_out(
    processes: Callable[[], PresenceTracker], time_source: FakeMonotonic
) -> None:
    dead, b, c = processes(), processes(), processes()
    users = [f"user{i}" for i in range(40)]
    for user in users:
        assert await dead.claim(user, f"{user}-dead", 5)
        assert await dead.connected(user, f"{user}-dead") is True
    # bob is also connected to a live process; carol only got as far as a claim.
    assert await b.connected("bob", "bob-b") is True
    assert await dead.connected("bob", "bob-dead") is False
    assert await dead.claim("carol", "carol-dead", 1) is True

    time_source.now += LEASE - 5
    await b.renew([("bob", "bob-b")])
    assert await c.expired() == []
    time_source.now += 6  # the dead process's leases have run out, b's have not

    assert await c.online([*users, "bob"]) == {"bob"}
    reports = await asyncio.gather(b.expired(), c.expired(), b.expired(), c.expired())
    reported = [user for report in reports for user in report]
    assert sorted(reported) == sorted(users)  # each one once, bob not at all
    assert await b.expired() == []
    assert await c.online(["bob"]) == {"bob"}
    assert await c.claim("carol", "carol-new", 1) is True  # the dead claim was freed
    assert await b.disconnected("bob", "bob-b") is True


async def test_ending_the_last_connection_also_ends_lapsed_ones_so_offline_is_said_once(
    processes: Callable[[], PresenceTracker], time_source: FakeMonotonic
) -> None:
    dead, alive = processes(), processes()
    assert await dead.connected("ana", "c-dead") is True
    assert await alive.connected("ana", "c-alive") is False
    time_source.now += LEASE - 1
    await alive.renew([("ana", "c-alive")])
    time_source.now += 2
    assert await alive.disconnected("ana", "c-alive") is True
    assert await alive.expired() == []
    assert await alive.online(["ana"]) == set()


async def test_a_connection_ended_by_its_lease_is_not_renewed_back(
    processes: Callable[[], PresenceTracker], time_source: FakeMonotonic
) -> None:
    slow, other = processes(), processes()
    assert await slow.connected("ana", "c1") is True
    time_source.now += LEASE + 1
    assert await other.expired() == ["ana"]
    await slow.renew([("ana", "c1")])
    assert await other.online(["ana"]) == set()
    assert await slow.disconnected("ana", "c1") is False  # offline was already said


async def test_expired_ends_a_bounded_batch_per_call(
    processes: Callable[[], PresenceTracker],
    time_source: FakeMonotonic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(redis_state, "EXPIRED_BATCH", 3)
    tracker = processes()
    for i in range(7):
        await tracker.connected(f"user{i}", f"c{i}")
    time_source.now += LEASE + 1
    batches = [await tracker.expired() for _ in range(4)]
    assert [len(batch) for batch in batches] == [3, 3, 1, 0]
    assert sorted(u for batch in batches for u in batch) == [f"user{i}" for i in range(7)]


async def test_odd_ids_split_back_exactly(
    processes: Callable[[], PresenceTracker], time_source: FakeMonotonic
) -> None:
    tracker = processes()
    user = "ünï:cödé 1"
    assert await tracker.connected(user, ":c:1") is True
    time_source.now += LEASE + 1
    assert await tracker.expired() == [user]
    assert await tracker.online([user]) == set()
