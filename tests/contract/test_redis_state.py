"""What the Redis adapters leave in Redis: what an operator sees with redis-cli, and
why memory stays bounded (every ticket and limit key carries a TTL; presence keys
go when their last connection ends)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hubbub.adapters.redis_link import RedisLink
from hubbub.adapters.redis_state import RedisPresence, RedisRateLimiter, RedisTicketStore
from hubbub.ports import Session
from tests.contract.test_ephemeral_ports import FakeMonotonic
from tests.redis import RedisServer


@pytest.fixture
async def link(redis_server: RedisServer) -> AsyncIterator[RedisLink]:
    link = RedisLink(redis_server.fresh_url())
    try:
        yield link
    finally:
        await link.close()


async def keys(link: RedisLink) -> list[str]:
    return sorted(key.decode() for key in await link.client.keys("*"))


async def test_tickets_are_stored_under_their_hash_and_expire_in_redis_too(
    link: RedisLink,
) -> None:
    tickets = RedisTicketStore(link, clock=FakeMonotonic())
    ticket = await tickets.issue(Session("ana", "s1"), 30)
    [key] = await keys(link)
    assert key.startswith("hubbub:ticket:") and ticket not in key
    assert ticket.encode() not in (await link.client.get(key) or b"")
    assert 26_000 < await link.client.pttl(key) <= 31_000
    await tickets.consume(ticket)
    assert await keys(link) == []


async def test_a_limit_key_lives_until_its_bucket_is_full_again(link: RedisLink) -> None:
    limiter = RedisRateLimiter(link, clock=FakeMonotonic())
    await limiter.hit("signin:ana", 5, 60)
    assert await keys(link) == ["hubbub:limit:signin:ana"]
    assert 8_000 < await link.client.pttl("hubbub:limit:signin:ana") <= 12_000
    for _ in range(6):  # the sixth is refused and changes nothing
        await limiter.hit("signin:ana", 5, 60)
    assert 49_000 < await link.client.pttl("hubbub:limit:signin:ana") <= 60_000


async def test_presence_keys_go_with_the_last_connection(link: RedisLink) -> None:
    clock = FakeMonotonic()
    presence = RedisPresence(link, lease_seconds=30, clock=clock, prefix="chat1:")
    await presence.claim("ana", "c1", 5)
    await presence.connected("ana", "c1")
    await presence.claim("ana", "c2", 5)
    assert await keys(link) == [
        "chat1:presence:leases",
        "chat1:presence:live:ana",
        "chat1:presence:slots:ana",
    ]
    await presence.disconnected("ana", "c2")
    await presence.disconnected("ana", "c1")
    assert await keys(link) == []
    await presence.connected("bob", "c3")
    clock.now += 31
    assert await presence.expired() == ["bob"]
    assert await keys(link) == []
