"""What the Redis adapters do while Redis is down, and that they recover by themselves.

Each test runs its own redis-server, stops it, and starts it again on the same port
(with nothing kept: a restarted Redis has lost everything, as it would in production
without persistence).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from hubbub.adapters.redis_link import RedisLink
from hubbub.adapters.redis_state import RedisPresence, RedisRateLimiter, RedisTicketStore
from hubbub.domain.errors import Unavailable
from hubbub.ports import Session
from tests.contract.test_ephemeral_ports import FakeMonotonic
from tests.redis import RedisServer

ANA = Session("ana", "s1")


@pytest.fixture
async def server() -> AsyncIterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def link(server: RedisServer) -> AsyncIterator[RedisLink]:
    link = RedisLink(server.url(0))
    try:
        yield link
    finally:
        await link.close()


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "hubbub.redis"]


async def test_without_redis_the_adapters_degrade_and_then_recover(
    server: RedisServer, link: RedisLink, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeMonotonic()
    tickets = RedisTicketStore(link, clock=clock)
    limiter = RedisRateLimiter(link, clock=clock)
    presence = RedisPresence(link, lease_seconds=30, clock=clock)
    ticket = await tickets.issue(ANA, 30)
    assert await presence.claim("ana", "c1", 5)
    assert await presence.connected("ana", "c1") is True
    assert await limiter.hit("signin:ana", 3, 60) is None
    assert link.up is True

    server.stop()
    caplog.set_level(logging.WARNING, logger="hubbub.redis")
    for _ in range(5):
        with pytest.raises(Unavailable):
            await tickets.issue(ANA, 30)
        with pytest.raises(Unavailable):
            await tickets.consume(ticket)
        with pytest.raises(Unavailable):
            await presence.claim("ana", "c2", 5)
        with pytest.raises(Unavailable):
            await presence.connected("ana", "c2")
        assert await presence.disconnected("ana", "c1") is False
        assert await presence.online(["ana"]) == set()
        await presence.renew([("ana", "c1")])
        assert await presence.expired() == []
    # Limits keep holding, counted by this process alone.
    results = [await limiter.hit("signin:bob", 3, 60) for _ in range(5)]
    assert results[:3] == [None] * 3 and all(r is not None for r in results[3:])
    assert link.up is False
    lines = outage_lines(caplog)
    assert len(lines) == 1 and "unreachable" in lines[0]

    server.start()
    ticket = await tickets.issue(ANA, 30)
    assert link.up is True
    assert await tickets.consume(ticket) == ANA
    assert await tickets.consume(ticket) is None
    assert await presence.claim("ana", "c3", 1) is True
    assert await presence.claim("ana", "c4", 1) is False
    assert await presence.connected("ana", "c3") is True
    assert await presence.online(["ana"]) == {"ana"}
    assert await presence.disconnected("ana", "c3") is True
    # Limits count in Redis again, shared with every other process.
    other_process = RedisLink(server.url(0))
    try:
        elsewhere = RedisRateLimiter(other_process, clock=clock)
        assert [await limiter.hit("signin:cem", 2, 60) for _ in range(2)] == [None, None]
        assert await elsewhere.hit("signin:cem", 2, 60) is not None
    finally:
        await other_process.close()
    assert link.up is True
    lines = outage_lines(caplog)
    assert len(lines) == 2 and "answers again" in lines[1]


async def test_a_limiter_that_fell_back_never_raises_even_on_first_use(
    server: RedisServer, link: RedisLink
) -> None:
    server.stop()
    limiter = RedisRateLimiter(link)
    assert [await limiter.hit("k", 1, 60) for _ in range(2)][1] is not None
    assert link.up is False
