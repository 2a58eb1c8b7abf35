"""The WebSocket API's Lambda handlers and the SNS subscriber that fans events out.

The protocol is the local one (docs/websocket.md, "On AWS (API Gateway)"): every
client frame runs through `hubbub.commands.handle`, the same code as `/ws`. What API
Gateway changes: a handshake is refused with an HTTP status (401 bad ticket, 403
Origin, 429 too many connections, 503 Redis or SNS down) instead of a close code, and
nothing can be sent during `$connect`.

Where they run decides how they reach a client (no NAT gateway: see `hubbub.aws`):
`connect`, `disconnect` and `default` are in the VPC, with Redis but without the
Management API. `default` answers through the route response (its return value's
`body`); whatever else a connection must be sent (its `hello`, a close) is published
to SNS as a `ConnectionRequest`, which `fanout`, outside the VPC, carries out with
the Management API, needing only the connections table.

Every handler returns a response, never None (serverless-offline hangs on None).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from hubbub.aws import platform

if TYPE_CHECKING:
    from hubbub.domain.views import JsonObject

# Named after the package's logger: every `hubbub.*` line comes out as Powertools' JSON
# with the Lambda context and the correlation id (API Gateway's request id).
logger = Logger(service="hubbub")
metrics = Metrics(namespace="Hubbub", service="realtime")
log = logging.getLogger("hubbub.ws")

OK: dict[str, Any] = {"statusCode": 200}


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def connect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """`$connect`: Origin checked (403), the ticket from `?ticket=` redeemed once
    (401), a connection slot claimed (429); then the connection is registered with a
    TTL, goes online, and its `hello`, built here (cursor, online, muted), is handed to
    the fan-out over SNS to send once the handshake is over."""
    return platform.run(_connect(event))


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def disconnect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """`$disconnect` (best effort: API Gateway may not call it; the row's TTL and the
    presence lease cover that): unregisters the connection and gives its slot back."""
    return platform.run(_disconnect(_connection_id(event)))


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def default(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """`$default` (and any action route): one client frame, answered through the route
    response (API Gateway sends the returned `body` to the client; no body, no reply);
    acks of changes travel with the fan-out, as locally. Never posts itself."""
    return platform.run(_default(_connection_id(event), _body(event)))


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="Records[0].Sns.MessageId")
def fanout(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SNS subscriber, outside the VPC (DynamoDB and the Management API only): first
    the hellos and closes the VPC functions asked for, then each delivery to every
    connection (that has had its hello) of each recipient,
    `HUBBUB_FANOUT_CONCURRENCY` connections at a time, each connection's frames in
    order. A connection that answers 410 is deleted and the others still get theirs;
    throttling is retried with backoff. A hello that could not be sent (not a gone
    connection) fails the invocation, so Lambda tries it again (SNS invokes with one
    record at a time: nothing else is repeated)."""

    messages = [record["Sns"]["Message"] for record in event.get("Records", [])]
    requests = platform.connection_requests(messages)
    if requests:
        done = platform.carry_out(requests)
        metrics.add_metric("Hellos", MetricUnit.Count, done.hellos)
        metrics.add_metric("HellosGone", MetricUnit.Count, done.gone)
        metrics.add_metric("Closes", MetricUnit.Count, done.closed)
        if done.failed:
            raise RuntimeError(f"{done.failed} hello(s) could not be sent; Lambda retries")
    report = platform.fan_out(messages)
    metrics.add_metric("FanoutPosts", MetricUnit.Count, report.sent)
    metrics.add_metric("FanoutGone", MetricUnit.Count, report.gone)
    metrics.add_metric("FanoutFailed", MetricUnit.Count, report.failed)
    metrics.add_metric("FanoutThrottled", MetricUnit.Count, report.throttled)
    return {"statusCode": 200, "body": report.summary()}


async def _connect(event: dict[str, Any]) -> dict[str, Any]:
    from hubbub.domain.errors import Unavailable

    connection_id = _connection_id(event)
    core = platform.core()
    settings = core.settings
    if not origin_allowed(event.get("headers") or {}, settings.allowed_origins):
        return _refuse(403, "origin not allowed")
    ticket = (event.get("queryStringParameters") or {}).get("ticket", "")
    try:
        session = await core.auth.redeem_ticket(ticket)
        if session is None:
            return _refuse(401, "invalid or used ticket")
        user_id = session.user_id
        limit = settings.max_connections_per_user
        if not await core.realtime.claim(user_id, connection_id, limit):
            return _refuse(429, "too many connections")
    except Unavailable:
        return _refuse(503, "try again later")
    try:
        # The row first: events published from here on reach the connection once its
        # hello is sent; those before the hello's cursor is read are behind it.
        platform.registry().add(connection_id, user_id, session.session_id)
        hello, _ = await core.realtime.connected(user_id, connection_id)
        # Nothing can be posted until this returns (nor from the VPC at all): the
        # fan-out sends the hello built here.
        await platform.publisher().request_hello(connection_id, user_id, hello)
    except Exception:
        log.exception("registering connection %s failed", connection_id)
        platform.registry().remove(connection_id)
        await core.realtime.disconnected(user_id, connection_id)
        return _refuse(503, "try again later")
    metrics.add_metric("Connections", MetricUnit.Count, 1)
    return OK


async def _disconnect(connection_id: str) -> dict[str, Any]:
    record = platform.registry().remove(connection_id)
    if record is not None:
        await platform.core().realtime.disconnected(record.user_id, connection_id)
    metrics.add_metric("Disconnections", MetricUnit.Count, 1)
    return OK


async def _default(connection_id: str, data: str | bytes) -> dict[str, Any]:
    from hubbub import protocol
    from hubbub.domain.errors import Unavailable

    try:
        reply = await _run_frame(connection_id, data)
    except Unavailable as error:
        # Redis is down: the frame could not run; the client may send it again.
        reply = protocol.error_frame(protocol.request_id_of(data), error)
    if reply is None:
        return OK
    return {"statusCode": 200, "body": protocol.encode(reply)}


# How long a frame that came before its connection's hello waits for it (the fan-out
# sends it a moment after the handshake: SNS and one invocation away). The function's
# timeout must leave room for it and the frame's own work (6 s, the default, does).
HELLO_WAIT_SECONDS = 3.0


async def _run_frame(connection_id: str, data: str | bytes) -> JsonObject | None:
    from hubbub import commands, protocol
    from hubbub.domain.errors import RateLimited, Unavailable

    metrics.add_metric("Frames", MetricUnit.Count, 1)
    record = platform.registry().get(connection_id)
    if record is None or await platform.sessions().is_ended(record.session_id):
        # Unknown (expired, or its $connect failed half-way) or signed out: close it
        # (by the fan-out: only it reaches the Management API). No reply.
        await platform.publisher().request_close(connection_id)
        return None
    if record.hello_at is None and not await _hello_sent(connection_id):
        # Still no hello: answering now would put this reply before it.
        return protocol.error_frame(
            protocol.request_id_of(data),
            Unavailable("The connection is not ready yet; send the frame again."),
        )
    core = platform.core()
    user_id = record.user_id
    # Every frame renews the connection's presence lease (and ends those whose lease
    # ran out elsewhere: their contacts hear `offline`).
    await core.realtime.keep_alive([(user_id, connection_id)])
    settings = core.settings
    burst = settings.ws_frame_burst
    wait = await platform.frame_limiter().hit(
        f"ws-frames:{connection_id}", burst, burst / settings.ws_frames_per_second
    )
    if wait is not None:
        error = RateLimited("Too many frames; slow down.", retry_after=1)
        return protocol.error_frame(protocol.request_id_of(data), error)
    return await commands.handle(core, user_id, connection_id, data)


async def _hello_sent(connection_id: str) -> bool:
    """Waits (up to `HELLO_WAIT_SECONDS`) until the fan-out has sent the connection its
    hello, so the reply (and an ack, which needs the hello to be routed) comes after
    it, as locally."""
    registry = platform.registry()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HELLO_WAIT_SECONDS
    delay = 0.05
    while loop.time() < deadline:
        await asyncio.sleep(delay)
        record = registry.get(connection_id)
        if record is None:
            return False
        if record.hello_at is not None:
            return True
        delay = min(delay * 2, 0.25)
    return False


def origin_allowed(headers: Mapping[str, str], allowed: tuple[str, ...]) -> bool:
    """Non-browser clients send no Origin; a browser's must be in the allowlist
    (HUBBUB_ALLOWED_ORIGINS: the web app's CloudFront origin). The API Gateway host is
    never the page's, so there is no same-host rule here."""
    origin = next((v for k, v in headers.items() if k.lower() == "origin"), None)
    if origin is None:
        return True
    return "*" in allowed or origin.rstrip("/") in allowed


def _refuse(status: int, reason: str) -> dict[str, Any]:
    log.info("WebSocket handshake refused: %s", reason)
    metrics.add_metric("HandshakesRefused", MetricUnit.Count, 1)
    return {"statusCode": status, "body": reason}


def _connection_id(event: Mapping[str, Any]) -> str:
    return str(event["requestContext"]["connectionId"])


def _body(event: Mapping[str, Any]) -> str | bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return str(body)
