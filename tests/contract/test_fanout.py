"""The cross-process fan-out (adapters/redis_fanout.py) against a real Redis: two
`RedisFanout`s in one test are two processes, each with its own hub of connections.

What it promises: a delivery reaches every connection of its recipients on every
process, once, in the order each process published; a process's own connections are
served directly (so they keep working while Redis is down); a process subscribes only
to the users it holds connections for; a sign-out closes the session's connections
everywhere; and after losing its subscription a process asks its connections to resync.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import redis.asyncio as aioredis

from hubbub import protocol
from hubbub.adapters.local_hub import Connection, LocalHub
from hubbub.adapters.redis_fanout import RedisFanout
from hubbub.adapters.redis_link import RedisLink
from hubbub.domain.events import Delivery, Origin
from tests.redis import RedisServer


@dataclass
class Screen:
    """What one connection's client saw: frames, and how it was closed."""

    frames: list[str] = field(default_factory=list)
    closed: tuple[int, str] | None = None

    async def send(self, text: str) -> None:
        self.frames.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


@dataclass
class Process:
    hub: LocalHub
    fanout: RedisFanout
    link: RedisLink
    resubscribed: int = 0

    async def connect(self, user_id: str, connection_id: str, session_id: str = "s") -> Screen:
        screen = Screen()
        await self.fanout.listen(user_id)
        self.hub.attach(Connection(connection_id, user_id, 1000, screen, session_id))
        return screen

    async def disconnect(self, user_id: str, connection_id: str) -> None:
        for connection in self.hub.connections_of(user_id):
            if connection.id == connection_id:
                self.hub.detach(connection)
                connection.close()
        await self.fanout.unlisten(user_id)


async def start_process(url: str, name: str) -> Process:
    link = RedisLink(url, timeout=1.0)
    hub = LocalHub()
    process: Process

    async def resubscribed() -> None:
        process.resubscribed += 1

    fanout = RedisFanout(link, hub, name, on_resubscribed=resubscribed)
    process = Process(hub, fanout, link)
    await fanout.start()
    await until(lambda: fanout._subscribed.is_set())
    return process


async def until(condition: object, within: float = 10.0) -> None:
    """Polls `condition()` until it holds (events cross a real socket and Redis)."""
    assert callable(condition)
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.fixture
async def two(redis_server: RedisServer) -> AsyncIterator[tuple[Process, Process]]:
    url = redis_server.fresh_url()
    a, b = await start_process(url, "A"), await start_process(url, "B")
    yield a, b
    for process in (a, b):
        await process.fanout.stop()
        await process.link.close()


def frame(n: int) -> dict[str, object]:
    return {"type": "message.created", "n": n}


async def test_a_delivery_reaches_every_process_once_in_publish_order(
    two: tuple[Process, Process],
) -> None:
    a, b = two
    bob_on_b = await b.connect("bob", "b1")
    bob_on_a = await a.connect("bob", "a1")
    ann_on_b = await b.connect("ann", "b2")
    for n in range(200):
        a.fanout.publish([Delivery(frozenset({"bob"}), frame(n))])
    await a.fanout.publish([Delivery(frozenset({"bob", "ann"}), frame(200))])
    await until(lambda: len(bob_on_b.frames) == 201 and len(ann_on_b.frames) == 1)
    expected = [protocol.encode(frame(n)) for n in range(201)]
    assert bob_on_b.frames == expected
    assert bob_on_a.frames == expected  # served directly, and not again through Redis
    await asyncio.sleep(0.2)  # nothing more arrives: the echo of A's own messages is dropped
    assert len(bob_on_a.frames) == 201 and len(bob_on_b.frames) == 201


async def test_the_sender_gets_its_ack_and_other_processes_the_event(
    two: tuple[Process, Process],
) -> None:
    a, b = two
    sender = await a.connect("ann", "a1")
    other_device = await b.connect("ann", "b1")
    event = {"type": "message.created", "cursor": "c:e1", "conversationId": "c", "eventSeq": 1}
    await a.fanout.publish([Delivery(frozenset({"ann"}), event, Origin("a1", "req-7"))])
    await until(lambda: bool(other_device.frames))
    assert other_device.frames == [protocol.encode(event)]
    assert '"requestId":"req-7"' in sender.frames[0] and '"type":"ack"' in sender.frames[0]


async def test_a_process_subscribes_only_to_the_users_it_holds(
    two: tuple[Process, Process], redis_server: RedisServer
) -> None:
    a, b = two
    async with aioredis.Redis(port=redis_server.port) as client:

        async def channels() -> set[bytes]:
            return set(await client.pubsub_channels("hubbub:u:*"))

        await b.connect("bob", "b1")
        await b.connect("bob", "b2")
        await a.connect("ann", "a1")
        assert await channels() == {b"hubbub:u:bob", b"hubbub:u:ann"}
        await b.disconnect("bob", "b1")
        assert await channels() == {b"hubbub:u:bob", b"hubbub:u:ann"}  # b2 still holds bob
        await b.disconnect("bob", "b2")
        # UNSUBSCRIBE is written without waiting for its reply, so Redis may answer this
        # client's PUBSUB CHANNELS first: poll until B has let go of bob.
        deadline = asyncio.get_running_loop().time() + 10
        while (held := await channels()) != {b"hubbub:u:ann"}:
            assert asyncio.get_running_loop().time() < deadline, f"still subscribed: {held}"
            await asyncio.sleep(0.01)


async def test_signing_out_closes_the_sessions_connections_on_every_process(
    two: tuple[Process, Process],
) -> None:
    a, b = two
    ended_on_a = await a.connect("ann", "a1", session_id="s1")
    ended_on_b = await b.connect("ann", "b1", session_id="s1")
    other_session = await b.connect("ann", "b2", session_id="s2")
    await a.fanout.close_sessions(["s1"])
    await until(lambda: ended_on_a.closed is not None and ended_on_b.closed is not None)
    assert ended_on_a.closed == ended_on_b.closed == (protocol.CLOSE_SESSION_ENDED, "session ended")
    await asyncio.sleep(0.1)
    assert other_session.closed is None


async def test_after_redis_returns_each_process_resubscribes_and_asks_for_a_resync(
    redis_server: RedisServer,
) -> None:
    own = RedisServer()
    own.start()
    a, b = await start_process(own.url(), "A"), await start_process(own.url(), "B")
    try:
        bob = await b.connect("bob", "b1")
        ann = await a.connect("ann", "a1")
        own.stop(kill=True)
        # While Redis is down, a process still serves its own connections, and a
        # publish completes (it does not hang or raise).
        await asyncio.wait_for(a.fanout.publish([Delivery(frozenset({"ann"}), frame(1))]), 5)
        await until(lambda: len(ann.frames) == 1)
        await until(lambda: not a.link.up and not b.link.up)
        own.start()
        # Nobody restarts anything: both subscribe again, and their clients resync.
        await until(lambda: a.link.up and b.link.up and b.resubscribed == 1, within=15)
        await until(lambda: bob.closed is not None and ann.closed is not None)
        assert bob.closed == (protocol.CLOSE_TOO_SLOW, "resync")
        # A client that reconnects after the resync hears the other process again.
        await b.disconnect("bob", "b1")
        again = await b.connect("bob", "b9")
        await a.fanout.publish([Delivery(frozenset({"bob"}), frame(2))])
        await until(lambda: again.frames == [protocol.encode(frame(2))])
    finally:
        for process in (a, b):
            await process.fanout.stop()
            await process.link.close()
        own.stop()


async def test_events_that_could_not_be_published_make_their_recipients_resync(
    two: tuple[Process, Process], redis_server: RedisServer
) -> None:
    a, b = two
    bob = await b.connect("bob", "b1")
    ann = await b.connect("ann", "b2")
    await a.fanout.publish([Delivery(frozenset({"ann"}), frame(0))])  # A's link is open
    await until(lambda: len(ann.frames) == 1)
    # Redis holds A's publishes past A's timeout (1 s, and 1 s more for the one retry)
    # while B's subscription stays up, so nothing tells B it missed anything, except A.
    async with aioredis.Redis(port=redis_server.port) as client:
        await client.execute_command("CLIENT", "PAUSE", "2500", "ALL")
    await asyncio.wait_for(a.fanout.publish([Delivery(frozenset({"bob"}), frame(1))]), 10)
    assert not a.link.up
    await asyncio.sleep(0.8)  # the pause ends
    await a.fanout.publish([Delivery(frozenset({"ann"}), frame(2))])
    await until(lambda: bob.closed is not None and len(ann.frames) == 2)
    assert bob.closed == (protocol.CLOSE_TOO_SLOW, "resync")
    assert ann.closed is None  # ann missed nothing
