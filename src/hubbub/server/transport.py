"""What one TCP connection may cost the process before the app has a say.

uvicorn's protocol classes are where bytes become requests and frames; the limits that
must hold before any ASGI code runs live here, as two small subclasses handed to
`uvicorn.Config(http=..., ws=...)` by `hubbub serve`:

- `HttpProtocol` (httptools): a request head is at most `max_header_bytes` (431), must
  arrive within `head_timeout` of its first byte, or of the connection opening (408, or a
  silent close if nothing was sent: bytes trickling in do not restart the clock); its
  body must follow within `body_timeout` (408; the app sees a disconnect); and the
  process holds at most `max_connections` sockets (503 at once, before reading).
  WebSocket upgrades stop `headroom` short of that, so when sockets fill the process,
  sign-in, tickets and `/healthz` still get through.
- `WebSocketProtocol` (websockets, Sans-I/O): uvicorn answers every PING straight into
  the transport's buffer, so a client that sends PINGs and never reads grows it without
  bound. Here reading stops while the transport's buffer is over its high-water mark;
  PINGs past a small budget close the connection (1008); nothing is answered before the
  handshake is accepted or after a close is sent; the request is not read further until
  the app has accepted or refused it; and a closing handshake that does not finish in
  `CLOSE_TIMEOUT` aborts the socket, dropping whatever the peer never read.

Subclassing rather than wrapping: these are the only places that see control frames and
partial heads, and uvicorn has no settings for them (its `limit_concurrency` counts idle
WebSockets and would turn every REST call into a 503 once they fill it). Every override
calls uvicorn's own method and adds a check, except `HttpProtocol.data_received`, which
repeats uvicorn's few lines to count head bytes and to tell its own refusals from parse
errors; so a uvicorn upgrade changes little here, and the transport tests
(`tests/reliability/test_transport.py`) pin the behaviour.
"""

from __future__ import annotations

import asyncio
import resource
import time
from asyncio import TimerHandle
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
import orjson
from uvicorn._types import ASGIReceiveEvent, ASGISendEvent
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

from hubbub.config import Settings
from hubbub.server.limits import is_upload

# Sockets the process keeps for itself (database, WAL, static files, logs) when the
# connection cap is derived from the open-file limit.
FD_RESERVE = 100
# PINGs a connection may send: bursts of PING_BURST, then PING_RATE per second.
# Browsers never send them; libraries send one every few seconds at most.
PING_BURST = 20
PING_RATE = 2.0
# How long a WebSocket closing handshake may take before the socket is dropped.
CLOSE_TIMEOUT = 3.0
CLOSE_POLICY_VIOLATION = 1008
# After a 431 or 503 the client is probably still sending: its bytes are read and
# dropped for a moment, so closing (with bytes unread, which sends a reset) does not
# destroy the answer before the client has read it. Up to LINGER_BYTES or
# LINGER_SECONDS, whichever comes first.
LINGER_BYTES = 1 << 20
LINGER_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Limits:
    max_header_bytes: int
    head_timeout: float
    body_timeout: float
    max_connections: int
    headroom: int
    # The upload routes' body deadline (`limits.is_upload`): large files.
    upload_timeout: float = 600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        cap = settings.max_open_connections or _open_file_limit() - FD_RESERVE
        cap = max(cap, 10)
        return cls(
            max_header_bytes=settings.max_header_bytes,
            head_timeout=float(settings.head_timeout_seconds),
            body_timeout=float(settings.body_timeout_seconds),
            max_connections=cap,
            headroom=max(1, min(64, cap // 10)),
            upload_timeout=float(settings.upload_timeout_seconds),
        )


def _open_file_limit() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 1 << 20 if soft == resource.RLIM_INFINITY else int(soft)


def protocols(limits: Limits) -> tuple[type[HttpProtocol], type[WebSocketProtocol]]:
    """The two protocol classes for `uvicorn.Config(http=..., ws=...)` with these limits."""

    class ConfiguredHttp(HttpProtocol):
        LIMITS = limits

    return ConfiguredHttp, WebSocketProtocol


class _Refused(Exception):
    """Raised from a parser callback to stop parsing: the response is already written."""


def _error_response(
    status: int, code: str, message: str, default_headers: list[tuple[bytes, bytes]]
) -> bytes:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    head = [STATUS_LINE[status]]
    for name, value in default_headers:
        head += [name, b": ", value, b"\r\n"]
    head.append(
        b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n" % len(body)
    )
    if status == 503:
        head.append(b"retry-after: 1\r\n")
    return b"".join([*head, b"\r\n", body])


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head size limit, a head timeout and a cap on
    open connections (see the module docstring)."""

    LIMITS: ClassVar[Limits]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_open = True  # bytes arriving now belong to a request head
        self._head_bytes = 0
        self._timer: TimerHandle | None = None  # the head's deadline, then the linger's
        self._linger_bytes: int | None = None  # set once answered: bytes still to drop

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        over = len(self.connections) - self.LIMITS.max_connections
        if over > 0:
            # Lingering (so the 503 is read, not reset away) while few are refused at
            # once; past that, sockets are simply closed, so the process holds at most
            # max_connections + headroom of them.
            message = "The server is at its connection limit; retry."
            self._answer(503, "server_busy", message, linger=over <= self.LIMITS.headroom)
            return
        self._arm_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's own data_received, plus the byte count of an unfinished head.
        if self._linger_bytes is not None:
            self._linger_bytes -= len(data)
            if self._linger_bytes < 0:
                self.transport.close()
            return
        self._unset_keepalive_if_required()
        if self._head_open:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as error:
            if not isinstance(error.__context__, _Refused):
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        # A head still open after this chunk is made only of bytes counted above.
        if self._head_open and self._head_bytes > self.LIMITS.max_header_bytes:
            self._refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_open = True
        self._arm_timer()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._cancel_timer()  # the body's deadline
        self._head_open = True  # what comes next is the next request's head
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._head_bytes = 0
        self._cancel_timer()
        # The head arrived whole (perhaps in one read): measure what was parsed.
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.LIMITS.max_header_bytes:
            self._refuse_head()
            raise _Refused
        super().on_headers_complete()
        if self.cycle is not None and self.cycle.scope is self.scope:  # not an upgrade
            method, path = self.scope["method"], self.scope["path"]
            upload = is_upload(method, path)
            deadline = self.LIMITS.upload_timeout if upload else self.LIMITS.body_timeout
            self._timer = self.loop.call_later(deadline, self._body_late)

    def handle_websocket_upgrade(self) -> None:
        if len(self.connections) > self.LIMITS.max_connections - self.LIMITS.headroom:
            self._answer(503, "server_busy", "The server is at its connection limit; retry.")
            return
        super().handle_websocket_upgrade()

    def _refuse_head(self) -> None:
        limit = self.LIMITS.max_header_bytes
        message = f"Request heads are limited to {limit} bytes."
        self._answer(431, "headers_too_large", message, linger=True)

    def _arm_timer(self) -> None:
        if self._timer is None and not self.transport.is_closing():
            self._timer = self.loop.call_later(self.LIMITS.head_timeout, self._head_late)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _head_late(self) -> None:
        self._timer = None
        if not self._head_open or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined head is late while the previous response is being written:
            # finish that response, then close.
            self.cycle.keep_alive = False
            self.flow.pause_reading()
            return
        if self._head_bytes == 0:
            self.transport.close()  # nothing was asked: nothing to answer
            return
        self._answer(408, "request_timeout", "The request head took too long to arrive.")

    def _body_late(self) -> None:
        self._timer = None
        cycle = self.cycle
        if cycle is None or not cycle.more_body or self.transport.is_closing():
            return
        if cycle.response_started:
            # Answered without reading the body (413, 404...): no keep-alive, since the
            # rest of the body would be read as the next request.
            cycle.keep_alive = False
            if cycle.response_complete:
                self.transport.close()
            return
        cycle.disconnected = True  # the app's receive() returns http.disconnect
        cycle.message_event.set()
        self._answer(408, "request_timeout", "The request body took too long to arrive.")

    def _answer(self, status: int, code: str, message: str, *, linger: bool = False) -> None:
        """Writes a JSON error response and closes the connection (after a linger)."""
        self._cancel_timer()
        self._head_open = False
        if self.transport.is_closing():
            return
        default_headers = self.server_state.default_headers
        self.transport.write(_error_response(status, code, message, default_headers))
        if linger and self.transport.can_write_eof():
            self.transport.write_eof()
            self._linger_bytes = LINGER_BYTES
            self._timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's Sans-I/O websockets protocol with backpressure on reading, a PING
    budget, and bounded closing (see the module docstring)."""

    # Instance values appear with the first PING or close: an idle connection pays nothing.
    _ping_tokens: float = PING_BURST
    _ping_stamp: float = 0.0
    _aborts: bool = False
    _deaf: bool = False  # stopped reading for good: the close timer ends the socket

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.close_timeout = CLOSE_TIMEOUT

    # Flow control: read only while the peer reads what we write.

    def pause_writing(self) -> None:
        super().pause_writing()
        if not self.transport.is_closing():
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        super().resume_writing()
        if not self.read_paused and not self._deaf and not self.transport.is_closing():
            self.transport.resume_reading()

    async def receive(self) -> ASGIReceiveEvent:
        message = await super().receive()  # may resume reading
        self._hold_if_backed_up()
        return message

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)  # a close resumes reading (to see the peer's close)
        self._hold_if_backed_up()
        self._bound_closing()

    def send_text_now(self, text: str) -> bool:
        """Writes a text frame into the transport at once, without a task or an await:
        what `send` does for `websocket.send` when it would not wait. False (nothing
        written) when it would: the peer is not reading (backpressure), or the socket
        is not open for data; the caller then goes through `send`."""
        if (
            self.disconnected
            or self.close_sent
            or not self.handshake_complete
            or self.initial_response is not None
            or not self.writable.is_set()
            or self.conn.state is not State.OPEN
        ):
            return False
        self.conn.send_text(text.encode())
        self.transport.write(b"".join(self.conn.data_to_send()))
        self._hold_if_backed_up()
        return True

    def _hold_if_backed_up(self) -> None:
        if not self.writable.is_set() and not self.transport.is_closing():
            self.transport.pause_reading()

    # The app decides on the handshake before anything more is read.

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if not self.handshake_complete and not self.read_paused:
            # uvicorn resumes reading when the app takes the connect event (accept()).
            self.read_paused = True
            self.transport.pause_reading()

    # PINGs.

    def handle_ping(self) -> None:
        # websockets has already queued a PONG for every PING it parsed.
        pongs = self.conn.data_to_send()
        if not self.handshake_complete or self.transport.is_closing():
            return
        if self.close_sent:
            # Not answered. A peer that keeps pinging instead of answering our close is
            # not read any more until the close timer aborts it. (Closing the socket
            # now, with its bytes unread, would send a reset that can destroy the close
            # frame on its way.)
            if not self._take_pings(1):
                self._deaf = True
                self.transport.pause_reading()
            return
        if not self._take_pings(len(pongs)):
            self._fail(CLOSE_POLICY_VIOLATION, "too many pings")
            return
        self.transport.write(b"".join(pongs))

    def _take_pings(self, count: int) -> bool:
        now = time.monotonic()
        if self._ping_stamp:
            tokens = min(PING_BURST, self._ping_tokens + (now - self._ping_stamp) * PING_RATE)
        else:
            tokens = float(PING_BURST)
        self._ping_stamp = now
        self._ping_tokens = tokens - count
        return self._ping_tokens >= 0

    def _fail(self, code: int, reason: str) -> None:
        """Sends a close frame and tells the app; the peer has CLOSE_TIMEOUT to answer."""
        if self.conn.state is not State.OPEN:
            self.transport.close()  # the peer's close is in: uvicorn finishes it
            return
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self._hold_if_backed_up()
        self._bound_closing()

    # Closing that cannot hang on a peer that never reads.

    def keepalive_timeout(self) -> None:
        super().keepalive_timeout()
        self._bound_closing()

    def handle_parser_exception(self) -> None:
        super().handle_parser_exception()
        self._bound_closing()

    def _bound_closing(self) -> None:
        """Once a close is sent, the socket is gone within CLOSE_TIMEOUT: uvicorn's own
        timer calls `transport.close()`, which waits for the peer to read everything
        still buffered, possibly forever; this one aborts."""
        if not self.close_sent or self.disconnected:
            return
        if self._aborts:
            return
        if self.close_timer is not None:
            self.close_timer.cancel()
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.abort)
        self._aborts = True
