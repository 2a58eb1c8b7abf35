"""Fan-out across processes through Redis pub/sub: one channel per user.

Each process subscribes to the channels of the users it holds connections for, and
only those, so it receives only what its own connections need. Publishing a delivery
puts one message on the channel of each recipient (a pipeline per batch, on one
connection, so a process's events leave in commit order and Redis hands them on in
that order). Per-user channels cost a PUBLISH per recipient, but no lookup of where a
user is connected before publishing and no routing table to keep right as connections
come and go; Redis drops a message for a channel nobody listens to in microseconds.

This process's own connections are served directly, before Redis is involved, so they
keep working while Redis is down; the copy of its own messages Redis sends back is
recognised by the process id it carries and dropped.

What Redis does not guarantee is covered by the sync log: a client sees the
per-conversation `eventSeq` skip and fetches the gap. And when this process loses its
subscription (Redis restarted or unreachable), it cannot know what it missed: once it
has subscribed again it closes its connections with 4008 ("resync"), and each client
reconnects and catches up from its cursor, as after falling behind.

Sign-outs travel on a control channel every process listens to: each closes the
ended sessions' connections (which sessions have ended is kept in Redis and the store:
adapters/redis_sessions.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Sequence

import orjson
from redis.asyncio.client import PubSub

from hubbub import protocol
from hubbub.adapters.local_hub import DONE, LocalHub, position_of
from hubbub.adapters.redis_link import UNREACHABLE, RedisLink
from hubbub.domain.events import Delivery

log = logging.getLogger("hubbub.fanout")

# Past this many users missing events, every process resyncs all its connections.
MAX_RESYNC_USERS = 10_000
# Seconds between attempts to subscribe again while Redis is unreachable (doubling).
RETRY_FIRST, RETRY_MOST = 0.1, 2.0


class RedisFanout:
    """`EventPublisher`, `Subscriptions` and `SessionConnections` for one process of
    many. `on_resubscribed()` runs when a lost subscription is back, before this
    process's connections are asked to resync (the caller reloads what it may have
    missed meanwhile, such as sign-outs)."""

    def __init__(
        self,
        link: RedisLink,
        hub: LocalHub,
        process_id: str,
        *,
        on_resubscribed: Callable[[], Awaitable[None]],
        prefix: str = "hubbub:",
    ) -> None:
        self._link = link
        self._hub = hub
        self._id = process_id.encode()
        self._prefix = prefix
        self._control = f"{prefix}control"
        self._on_resubscribed = on_resubscribed
        self._outbox: list[tuple[str, bytes]] = []
        self._missed: set[str] = set()  # channels whose events could not be published
        self._unsent_closes: set[str] = set()  # sign-outs the others have not heard of
        self._flushed: asyncio.Future[None] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._listeners: Counter[str] = Counter()
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()  # set while the subscription is live
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._lock = asyncio.Lock()  # subscribe/unsubscribe commands, one at a time
        link.on_change(self._link_changed)

    # -- publishing ----------------------------------------------------------------

    def publish(self, deliveries: Sequence[Delivery]) -> Awaitable[None]:
        for delivery in deliveries:
            text = protocol.encode(delivery.frame)  # once, for every recipient everywhere
            self._hub.deliver_one(delivery, text)
            if not delivery.recipients:
                continue
            conversation_id, event_seq = position_of(delivery.frame)
            head = f"{conversation_id}\n{event_seq}\n".encode()
            payload = self._id + b"\n" + head + text.encode()
            for user_id in delivery.recipients:
                self._outbox.append((self._channel(user_id), payload))
        if not self._outbox:
            return DONE
        if self._flushed is None:
            self._flushed = asyncio.get_running_loop().create_future()
        self._start_sender()
        return asyncio.shield(self._flushed)

    def _start_sender(self) -> None:
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send())

    def _link_changed(self, up: bool) -> None:
        """Redis answers again: what could not be said while it did not (who missed
        events, which sessions ended) is said now, not at the next publish."""
        if up and (self._missed or self._unsent_closes):
            self._start_sender()

    async def _send(self) -> None:
        """Publishes what is queued, in order, one pipeline per round trip; what is
        queued meanwhile goes in the next one. The recipients of a batch that could not
        be published are asked to resync, first thing, once publishing works again."""
        try:
            while self._outbox or self._missed or self._unsent_closes:
                batch, self._outbox = self._outbox, []
                done, self._flushed = self._flushed, None
                closes = sorted(self._unsent_closes)
                try:
                    with self._link.reporting():
                        async with self._link.client.pipeline(transaction=False) as pipe:
                            if closes:
                                pipe.publish(self._control, self._close_message(closes))
                            if self._missed:
                                pipe.publish(self._control, self._resync_message())
                            for channel, payload in batch:
                                pipe.publish(channel, payload)
                            await pipe.execute()
                    self._missed.clear()
                    self._unsent_closes.difference_update(closes)
                except UNREACHABLE:
                    self._missed.update(channel for channel, _ in batch)
                    if not batch:
                        return  # nothing new to send: wait for the link to come back
                finally:
                    if done is not None and not done.done():
                        done.set_result(None)
        finally:
            self._sender = None

    def _resync_message(self) -> bytes:
        if len(self._missed) > MAX_RESYNC_USERS:
            return orjson.dumps({"from": self._id.decode(), "resync": "*"})
        prefix = len(self._prefix) + 2
        users = sorted(channel[prefix:] for channel in self._missed)
        return orjson.dumps({"from": self._id.decode(), "resync": users})

    def _close_message(self, session_ids: list[str]) -> bytes:
        return orjson.dumps({"from": self._id.decode(), "close": session_ids})

    async def close_sessions(self, session_ids: Collection[str]) -> None:
        """Closes the sessions' connections here at once, then tells the others (as
        soon as Redis answers, if it does not now)."""
        self._hub.end_sessions(session_ids)
        try:
            with self._link.reporting():
                await self._link.client.publish(
                    self._control, self._close_message(sorted(session_ids))
                )
        except UNREACHABLE:
            self._unsent_closes.update(session_ids)

    # -- receiving -----------------------------------------------------------------

    async def listen(self, user_id: str) -> None:
        self._listeners[user_id] += 1
        if self._listeners[user_id] == 1:
            await self._subscribe(self._channel(user_id))

    async def unlisten(self, user_id: str) -> None:
        self._listeners[user_id] -= 1
        if self._listeners[user_id] <= 0:
            del self._listeners[user_id]
            channel = self._channel(user_id)
            async with self._lock:
                if user_id in self._listeners or self._pubsub is None:
                    return
                with contextlib.suppress(*UNREACHABLE):
                    await self._pubsub.unsubscribe(channel)

    async def start(self) -> None:
        """Subscribes to the control channel and starts reading (retrying until Redis
        answers, in the background)."""
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read_forever())

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._sender is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender

    async def _subscribe(self, channel: str) -> None:
        """Returns once Redis confirms the subscription; while Redis is down, at once
        (the connection then resyncs when the subscription is back)."""
        if not self._subscribed.is_set():
            return
        async with self._lock:
            pubsub = self._pubsub
            if pubsub is None or not self._subscribed.is_set():
                return
            confirmed = asyncio.get_running_loop().create_future()
            self._confirmations[channel] = confirmed
            try:
                with self._link.reporting():
                    await pubsub.subscribe(channel)
            except UNREACHABLE:
                self._confirmations.pop(channel, None)
                return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(confirmed), timeout=5)

    async def _read_forever(self) -> None:
        delay = RETRY_FIRST
        lost = False
        while True:
            pubsub = self._link.client.pubsub()
            try:
                async with self._lock:
                    channels = [self._control, *map(self._channel, self._listeners)]
                    with self._link.reporting():
                        await pubsub.subscribe(*channels)
                    self._pubsub = pubsub
                    self._subscribed.set()
                delay = RETRY_FIRST
                if lost:
                    await self._resync()
                with self._link.reporting():
                    await self._read(pubsub)
            except UNREACHABLE:
                pass  # reported; subscribe again after a pause
            finally:
                self._subscribed.clear()
                self._pubsub = None
                for confirmed in self._confirmations.values():
                    if not confirmed.done():
                        confirmed.set_result(None)
                self._confirmations.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            lost = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MOST)

    async def _read(self, pubsub: PubSub) -> None:
        while True:
            # A bounded wait: an unbounded one would meet the client's socket timeout on
            # a quiet channel; the client also pings the server every 15 s from here.
            message = await pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            kind = message["type"]
            channel = _text(message["channel"])
            if kind == "subscribe":
                confirmed = self._confirmations.pop(channel, None)
                if confirmed is not None and not confirmed.done():
                    confirmed.set_result(None)
            elif kind == "message":
                self._receive(channel, message["data"])

    def _receive(self, channel: str, data: bytes) -> None:
        if channel == self._control:
            self._control_message(data)
            return
        sender, _, rest = data.partition(b"\n")
        if sender == self._id:
            return  # served directly when it was published
        conversation_id, event_seq, text = rest.split(b"\n", 2)
        user_id = channel[len(self._prefix) + 2 :]
        self._hub.deliver_text(user_id, text.decode(), conversation_id.decode(), int(event_seq))

    def _control_message(self, data: bytes) -> None:
        try:
            message = orjson.loads(data)
            if message.get("from") == self._id.decode():
                return
            if "resync" in message:
                users = message["resync"]
                targets = (
                    self._hub.all_connections()
                    if users == "*"
                    else [c for u in users for c in self._hub.connections_of(str(u))]
                )
                for connection in targets:
                    connection.end(protocol.CLOSE_TOO_SLOW, "resync")
                return
            ended = [str(s) for s in message["close"]]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("ignored a malformed control message")
            return
        self._hub.end_sessions(ended)

    async def _resync(self) -> None:
        """After a lost subscription: what was published meanwhile never reached this
        process, so every connection here catches up from its cursor."""
        await self._on_resubscribed()
        closed = 0
        for connection in self._hub.all_connections():
            connection.end(protocol.CLOSE_TOO_SLOW, "resync")
            closed += 1
        log.warning("subscription to Redis restored; %d connections asked to resync", closed)

    def _channel(self, user_id: str) -> str:
        return f"{self._prefix}u:{user_id}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
