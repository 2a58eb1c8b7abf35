"""The /ws endpoint: a thin shell that pumps frames through `hubbub.protocol`.

Reading and writing are separate tasks. Commands from one connection start in the
order they arrive and up to `MAX_IN_FLIGHT` (32) run at once; their writes commit in
arrival order (see `_read`). Events reach it through its own bounded queue (see
`LocalHub`). Limits below the app (heads, PINGs, backpressure) are in `transport`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from hubbub import commands, protocol
from hubbub.adapters import prometheus
from hubbub.adapters.local_hub import Connection
from hubbub.bootstrap import Platform
from hubbub.domain.errors import RateLimited, Unavailable
from hubbub.server.logs import request_id
from hubbub.server.transport import WebSocketProtocol

log = logging.getLogger("hubbub.ws")
_OPEN = prometheus.WEBSOCKET_CONNECTIONS
_RECEIVED = prometheus.FRAMES_RECEIVED
_SENT = prometheus.FRAMES_SENT


def origin_allowed(websocket: WebSocket, allowed: tuple[str, ...]) -> bool:
    """Non-browser clients send no Origin; browsers must come from our own page (same
    host, and `http` for `ws` or `https` for `wss`) or from an origin in the allowlist
    (HUBBUB_ALLOWED_ORIGINS).

    Behind a TLS-terminating proxy the request reaches us as `ws`; the proxy's
    `X-Forwarded-Proto` then gives the scheme the browser used. It is believed from any
    peer because it can only loosen the check for a client that could forge `Origin`
    anyway: a page cannot make a browser send that header on a WebSocket handshake."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    if "*" in allowed or origin.rstrip("/") in allowed:
        return True
    parts = urlsplit(origin)
    host = websocket.headers.get("host", "")
    return (
        parts.scheme == _page_scheme(websocket)
        and bool(host)
        and parts.netloc.lower() == host.lower()
    )


def _page_scheme(websocket: WebSocket) -> str:
    forwarded = websocket.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    if forwarded in ("http", "https"):
        return forwarded
    return "https" if websocket.scope.get("scheme") == "wss" else "http"


class _FrameBudget:
    """Token bucket: `rate` frames per second, bursts up to `burst`."""

    def __init__(self, rate: int, burst: int) -> None:
        self._rate, self._burst = rate, burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


async def serve(platform: Platform, websocket: WebSocket) -> None:
    """Runs one /ws connection from handshake to close."""
    try:
        await _serve(platform, websocket)
    except Unavailable:
        # Redis is down (scaled out): no ticket can be checked, no slot claimed.
        if websocket.client_state is WebSocketState.CONNECTING:
            await _refuse(websocket, protocol.CLOSE_TRY_AGAIN, "try again later")
        elif websocket.client_state is WebSocketState.CONNECTED:
            await websocket.close(code=protocol.CLOSE_TRY_AGAIN, reason="try again later")


async def _serve(platform: Platform, websocket: WebSocket) -> None:
    settings = platform.settings
    if not origin_allowed(websocket, settings.allowed_origins):
        await _refuse(websocket, protocol.CLOSE_ORIGIN_REFUSED, "origin not allowed")
        return
    session = await platform.auth.redeem_ticket(websocket.query_params.get("ticket", ""))
    if session is None:
        await _refuse(websocket, protocol.CLOSE_BAD_TICKET, "invalid or used ticket")
        return
    user_id = session.user_id
    connection_id = _connection_id()
    if not await platform.realtime.claim(user_id, connection_id, settings.max_connections_per_user):
        await _refuse(websocket, protocol.CLOSE_TOO_MANY_CONNECTIONS, "too many connections")
        return
    listening = attached = False
    try:
        await websocket.accept()
        connection = Connection(
            connection_id,
            user_id,
            settings.max_pending_frames,
            _Sink(websocket),
            session.session_id,
        )
        # Events published for the user reach this process, and queue on the connection,
        # before the hello's cursor is read: every event after the cursor arrives live
        # here, after the hello (or, if lost on the way, is returned by /api/sync).
        connection.waiting_for_hello = True
        platform.hub.attach(connection)
        attached = True
        await platform.subscriptions.listen(user_id)
        listening = True
        hello, positions = await platform.realtime.connected(user_id, connection.id)
        connection.hello(protocol.encode(hello), positions)
        await _read(websocket, connection, platform)
    finally:
        if attached:
            platform.hub.detach(connection)
            connection.close()
        if listening:
            await platform.subscriptions.unlisten(user_id)
        await platform.realtime.disconnected(user_id, connection_id)


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    await websocket.accept()
    await websocket.close(code=code, reason=reason)


async def _read(websocket: WebSocket, connection: Connection, platform: Platform) -> None:
    """Reads frames and runs them concurrently, at most `MAX_IN_FLIGHT` at a time.

    Running them one by one would make every send wait for its own commit before the next
    frame is even read, so a connection could never share a group commit with itself.
    Order still holds: each frame's write is queued to the store before the next frame
    starts, the store commits in queue order, and acks travel with the published events.
    A store whose writers run in parallel (PostgreSQL) does not commit in queue order,
    so there a connection's frames run one at a time.
    """
    # Lines logged for the connection carry its id; each frame's, `<connection id>/<n>`.
    request_id.set(connection.id)
    log.info("WebSocket %s open", connection.id, extra={"connection_id": connection.id})
    _OPEN.inc()
    try:
        await _pump(websocket, connection, platform)
    finally:
        _OPEN.dec()
        log.info("WebSocket %s closed", connection.id, extra={"connection_id": connection.id})


async def _pump(websocket: WebSocket, connection: Connection, platform: Platform) -> None:
    budget = _FrameBudget(platform.settings.ws_frames_per_second, platform.settings.ws_frame_burst)
    in_flight: set[asyncio.Task[None]] = set()
    most = MAX_IN_FLIGHT if platform.store.commits_in_call_order else 1
    frames = 0
    while True:
        try:
            message = await websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return
        if message["type"] == "websocket.disconnect":
            return
        _RECEIVED.inc()
        frames += 1
        data = message.get("text")
        if data is None:
            data = message.get("bytes") or b""
        if not budget.take():
            error = RateLimited("Too many frames; slow down.", retry_after=1)
            prometheus.ERRORS.labels(code=error.code, transport="ws").inc()
            their_id = protocol.request_id_of(data)
            connection.offer(protocol.encode(protocol.error_frame(their_id, error)))
            continue
        if len(in_flight) >= most:
            await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
        frame_id = f"{connection.id}/{frames}"
        task = asyncio.create_task(_run(data, connection, platform, frame_id))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)


async def _run(
    data: str | bytes, connection: Connection, platform: Platform, frame_id: str = ""
) -> None:
    if frame_id:
        request_id.set(frame_id)  # this task's own context: the frame's lines only
    reply = await commands.handle(platform, connection.user_id, connection.id, data)
    if reply is not None:
        error = reply.get("error")
        if reply.get("type") == "error" and isinstance(error, dict):
            prometheus.ERRORS.labels(code=str(error.get("code")), transport="ws").inc()
        connection.offer(protocol.encode(reply))


class _Sink:
    """The transport side of a `Connection`."""

    __slots__ = ("_protocol", "_websocket")

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket
        # Under `hubbub serve` the ASGI send is our uvicorn protocol's own method: frames
        # can then be written without a task (`send_now`). Elsewhere (tests' transports,
        # other servers) every frame goes through `send`.
        owner = getattr(getattr(websocket, "_send", None), "__self__", None)
        self._protocol = owner if isinstance(owner, WebSocketProtocol) else None

    def send_now(self, text: str) -> bool:
        protocol = self._protocol
        if protocol is None or self._websocket.application_state is not WebSocketState.CONNECTED:
            return False
        if not protocol.send_text_now(text):
            return False
        _SENT.inc()
        return True

    async def send(self, text: str) -> None:
        await self._websocket.send_text(text)
        _SENT.inc()

    async def close(self, code: int, reason: str) -> None:
        await self._websocket.close(code=code, reason=reason)


_counter = iter(range(1, 2**63))
# Per user: handshakes past the connection limit check that are not in the hub yet.
MAX_IN_FLIGHT = 32


def _connection_id() -> str:
    return f"{time.time_ns():x}-{next(_counter)}"
