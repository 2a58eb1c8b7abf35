"""In-process fan-out: the `EventPublisher` for connections held by this process.

Each connection has its own bounded queue drained by its own writer task, so one slow
or dead client never stalls the others (python-websockets' broadcasting advice). A
connection whose queue overflows is closed; the client reconnects and catches up
through /api/sync.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Collection, Generator, Iterable, Sequence
from typing import Protocol, runtime_checkable

from hubbub import protocol
from hubbub.domain.events import Delivery
from hubbub.domain.views import JsonObject


class FrameSink(Protocol):
    """Where a connection's frames go: the transport's send and close."""

    async def send(self, text: str) -> None: ...
    async def close(self, code: int, reason: str) -> None: ...


@runtime_checkable
class DirectSink(FrameSink, Protocol):
    """A sink that can also write a frame on the spot, when the transport would not
    make `send` wait (the peer is reading): no task, no await. A fan-out to a hundred
    connections is then a hundred writes, not a hundred task wake-ups."""

    def send_now(self, text: str) -> bool:
        """Writes `text` at once and returns True, or writes nothing and returns False
        (the caller queues it for `send`)."""
        ...


class Connection:
    """One WebSocket's outgoing side: frames waiting to be written, in order.

    A task drains the queue only while it holds frames, so an idle connection costs
    no task at all (it is most of what a chat server holds).
    """

    def __init__(
        self,
        connection_id: str,
        user_id: str,
        max_pending: int,
        sink: FrameSink,
        session_id: str = "",
    ) -> None:
        self.id = connection_id
        self.user_id = user_id
        self.session_id = session_id
        self._pending: deque[str] = deque()
        self._max_pending = max_pending
        self._sink = sink
        self._direct = sink if isinstance(sink, DirectSink) else None
        self._drain: asyncio.Task[None] | None = None
        self.overflowed = False
        self.closed = False
        # Set by a handshake until its hello is sent: frames queue, nothing is written.
        self.waiting_for_hello = False
        # Per conversation: the last eventSeq passed on, and frames held back until the
        # ones before them arrive (other processes' events can be overtaken by this
        # process's own). None until needed: most connections sit idle.
        self._positions: dict[str, int] | None = None
        self._held: dict[str, dict[int, str]] | None = None

    def offer_positioned(self, text: str, conversation_id: str, event_seq: int) -> None:
        """`offer_event` for a frame with a position, else `offer`."""
        if event_seq > 0 and conversation_id:
            self.offer_event(text, conversation_id, event_seq)
        else:
            self.offer(text)

    def start_at(self, positions: dict[str, int]) -> None:
        """Where each of the user's conversations stood when the hello's cursor was
        read: live events continue from there."""
        self._positions = dict(positions) if positions else None

    def offer_event(self, text: str, conversation_id: str, event_seq: int) -> None:
        """Queues a durable event (or its ack) in its conversation's order: one that
        comes before an earlier position has arrived is held back until it does, or for
        `HOLD_SECONDS` at most (then the client sees the gap and fetches it)."""
        positions = self._positions
        if positions is None:
            positions = self._positions = {}
        last = positions.get(conversation_id)
        if last is None or event_seq <= last + 1:
            if last is None or event_seq > last:
                positions[conversation_id] = event_seq
            self.offer(text)
            self._release_consecutive(conversation_id)
            return
        held = self._held
        if held is None:
            held = self._held = {}
        waiting = held.setdefault(conversation_id, {})
        if not waiting:
            loop = asyncio.get_running_loop()
            loop.call_later(HOLD_SECONDS, self._release_all, conversation_id)
        waiting[event_seq] = text

    def _release_consecutive(self, conversation_id: str) -> None:
        waiting = self._held.get(conversation_id) if self._held else None
        if not waiting or self._positions is None:
            return
        last = self._positions[conversation_id]
        while last + 1 in waiting:
            last += 1
            self.offer(waiting.pop(last))
        self._positions[conversation_id] = last
        if not waiting:
            self._drop_held(conversation_id)

    def _release_all(self, conversation_id: str) -> None:
        """The wait is over: what is held goes out in order, past the gap."""
        waiting = self._held.get(conversation_id) if self._held else None
        if not waiting or self._positions is None:
            return
        for event_seq in sorted(waiting):
            self.offer(waiting[event_seq])
            self._positions[conversation_id] = max(
                event_seq, self._positions.get(conversation_id, 0)
            )
        self._drop_held(conversation_id)

    def _drop_held(self, conversation_id: str) -> None:
        if self._held is not None:
            self._held.pop(conversation_id, None)
            if not self._held:
                self._held = None

    def offer(self, text: str) -> None:
        """Queues a frame without blocking; past the bound the connection is marked
        overflowed, its queue dropped and the socket closed with 4008."""
        if self.closed or self.overflowed:
            return
        if (
            self._direct is not None
            and self._drain is None
            and not self._pending
            and not self.waiting_for_hello
        ):
            # Nothing is queued before it: writing it now keeps the order.
            try:
                if self._direct.send_now(text):
                    return
            except Exception:
                self.closed = True  # the peer is gone; the reading side cleans up
                return
        if len(self._pending) >= self._max_pending:
            self.overflowed = True
            self._pending.clear()
        else:
            self._pending.append(text)
        if self._drain is None and not self.waiting_for_hello:
            self._drain = asyncio.get_running_loop().create_task(self._run())

    def hello(self, text: str, positions: dict[str, int]) -> None:
        """Sends `hello` first, then what was queued while it was being read: a
        connection joins the hub before its hello's cursor is read, so no event
        published meanwhile is lost (one from before the cursor may come twice)."""
        self.waiting_for_hello = False
        self._pending.appendleft(text)
        self.start_at(positions)
        if self._drain is None and not self.closed:
            self._drain = asyncio.get_running_loop().create_task(self._run())

    def close(self) -> None:
        self.closed = True
        self._pending.clear()
        if self._drain is not None:
            self._drain.cancel()

    def end(self, code: int, reason: str) -> None:
        """Drops what is queued and closes the socket with `code`, without blocking;
        the reading side then sees the disconnect and cleans up."""
        if self.closed:
            return
        self.close()
        task = asyncio.get_running_loop().create_task(self._sink.close(code, reason))
        _closing.add(task)
        task.add_done_callback(_closing.discard)

    async def _run(self) -> None:
        try:
            while self._pending and not self.closed:
                batch = list(self._pending)
                self._pending.clear()
                for text in batch:
                    await self._sink.send(text)
            if self.overflowed and not self.closed:
                await self._sink.close(protocol.CLOSE_TOO_SLOW, "too slow; resync")
        except Exception:
            # The peer is gone; the reading side notices and cleans up.
            self.closed = True
        finally:
            self._drain = None


class _Done:
    """An awaitable that is already complete: what a publish that finished on the spot
    returns (no loop, no future, no allocation)."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        return
        yield  # a generator that ends at once


DONE = _Done()


def position_of(frame: JsonObject) -> tuple[str, int]:
    """A frame's conversation and `eventSeq`, or ("", 0) when it has none (presence,
    typing, read receipts, which have their own `receiptSeq`)."""
    event_seq = frame.get("eventSeq")
    conversation_id = frame.get("conversationId")
    if isinstance(event_seq, int) and isinstance(conversation_id, str):
        return conversation_id, event_seq
    return "", 0


# How long a frame waits for the ones before it (from another process, through Redis,
# in about a millisecond) before it goes out anyway.
HOLD_SECONDS = 0.25
# Close handshakes under way (a strong reference, so they are not collected mid-way).
_closing: set[asyncio.Task[None]] = set()
# How long an ended session is remembered for handshakes that were past the ticket
# check when it ended: far longer than any handshake takes.
ENDED_MEMORY_SECONDS = 120.0


class LocalHub:
    """Routes deliveries to the connections of their recipients in this process."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._by_user: dict[str, dict[str, Connection]] = {}
        self._by_session: dict[str, dict[str, Connection]] = {}
        self._ended: OrderedDict[str, float] = OrderedDict()
        self._monotonic = monotonic

    def attach(self, connection: Connection) -> None:
        self._by_user.setdefault(connection.user_id, {})[connection.id] = connection
        if connection.session_id:
            self._by_session.setdefault(connection.session_id, {})[connection.id] = connection
            if connection.session_id in self._ended:
                connection.end(protocol.CLOSE_SESSION_ENDED, "session ended")

    def detach(self, connection: Connection) -> None:
        mine = self._by_user.get(connection.user_id)
        if mine is not None:
            mine.pop(connection.id, None)
            if not mine:
                del self._by_user[connection.user_id]
        same = self._by_session.get(connection.session_id)
        if same is not None:
            same.pop(connection.id, None)
            if not same:
                del self._by_session[connection.session_id]

    async def close_sessions(self, session_ids: Collection[str]) -> None:
        """`SessionConnections` for one process."""
        self.end_sessions(session_ids)

    def end_sessions(self, session_ids: Collection[str]) -> None:
        """Closes the sessions' connections in this process with 4401, now and (for
        handshakes already past the ticket check) when they attach."""
        now = self._monotonic()
        while self._ended and next(iter(self._ended.values())) <= now:
            self._ended.popitem(last=False)
        for session_id in session_ids:
            self._ended.pop(session_id, None)
            self._ended[session_id] = now + ENDED_MEMORY_SECONDS
            for connection in list(self._by_session.get(session_id, {}).values()):
                connection.end(protocol.CLOSE_SESSION_ENDED, "session ended")

    def all_connections(self) -> list[Connection]:
        return [c for mine in self._by_user.values() for c in mine.values()]

    def pairs(self) -> list[tuple[str, str]]:
        """(user_id, connection_id) of every connection here: what presence leases."""
        return [(user_id, c) for user_id, mine in self._by_user.items() for c in mine]

    def connections_of(self, user_id: str) -> list[Connection]:
        return list(self._by_user.get(user_id, {}).values())

    def publish(self, deliveries: Sequence[Delivery]) -> Awaitable[None]:
        """`EventPublisher` for one process: every frame is queued before it returns."""
        self.deliver(deliveries)
        return DONE

    def deliver(self, deliveries: Sequence[Delivery]) -> None:
        """Queues each delivery on this process's connections of its recipients (the
        sender's own connection gets the ack instead)."""
        for delivery in deliveries:
            self.deliver_one(delivery, protocol.encode(delivery.frame))

    def deliver_one(self, delivery: Delivery, text: str) -> None:
        """`deliver` for one delivery whose frame the caller has encoded (once, for
        every recipient here and elsewhere)."""
        origin = delivery.origin
        conversation_id, event_seq = position_of(delivery.frame)
        for connection in self._targets(delivery.recipients):
            if origin is not None and connection.id == origin.connection_id:
                ack = protocol.encode(protocol.ack_for_event(delivery.frame, origin.request_id))
                connection.offer_positioned(ack, conversation_id, event_seq)
            else:
                connection.offer_positioned(text, conversation_id, event_seq)

    def deliver_text(self, user_id: str, text: str, conversation_id: str, event_seq: int) -> None:
        """Queues an already encoded frame from another process on the user's
        connections here (`event_seq` 0: a frame with no position)."""
        for connection in self._by_user.get(user_id, {}).values():
            connection.offer_positioned(text, conversation_id, event_seq)

    def _targets(self, user_ids: Iterable[str]) -> Iterable[Connection]:
        for user_id in user_ids:
            mine = self._by_user.get(user_id)
            if mine:
                yield from mine.values()


class LocalOnly:
    """`Subscriptions` of a process that is the whole platform: every event is
    published here, so there is nothing to listen to."""

    async def listen(self, user_id: str) -> None:
        return None

    async def unlisten(self, user_id: str) -> None:
        return None
