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
from typing import Protocol

from hubbub import protocol
from hubbub.domain.events import Delivery


class FrameSink(Protocol):
    """Where a connection's frames go: the transport's send and close."""

    async def send(self, text: str) -> None: ...
    async def close(self, code: int, reason: str) -> None: ...


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
        self._drain: asyncio.Task[None] | None = None
        self.overflowed = False
        self.closed = False

    def offer(self, text: str) -> None:
        """Queues a frame without blocking; past the bound the connection is marked
        overflowed, its queue dropped and the socket closed with 4008."""
        if self.closed or self.overflowed:
            return
        if len(self._pending) >= self._max_pending:
            self.overflowed = True
            self._pending.clear()
        else:
            self._pending.append(text)
        if self._drain is None:
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
            text = protocol.encode(delivery.frame)
            origin = delivery.origin
            for connection in self._targets(delivery.recipients):
                if origin is not None and connection.id == origin.connection_id:
                    ack = protocol.ack_for_event(delivery.frame, origin.request_id)
                    connection.offer(protocol.encode(ack))
                else:
                    connection.offer(text)

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
