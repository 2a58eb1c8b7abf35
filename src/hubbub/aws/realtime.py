"""The WebSocket API's Lambda handlers and the SNS subscriber that fans events out.

The protocol is the local one (docs/websocket.md, "On AWS (API Gateway)"): every
client frame runs through `hubbub.commands.handle`, the same code as `/ws`. What API
Gateway changes: a handshake is refused with an HTTP status (401 bad ticket, 403
Origin, 429 too many connections, 503 Redis or SNS down) instead of a close code, and
nothing can be sent during `$connect`, so `$connect` has the fan-out function send the
`hello` once the handshake is over (or, if the client speaks first, the first frame's
handler sends it, before that frame's answer: one `hello` either way).

Every handler returns a response, never None (serverless-offline hangs on None).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from hubbub.aws import platform

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
    TTL, counts as opening for presence until its hello, and the hello is requested."""
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
    """`$default` (and any action route): one client frame, answered by posting to
    the connection; acks of changes travel with the fan-out, as locally."""
    return platform.run(_default(_connection_id(event), _body(event)))


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="Records[0].Sns.MessageId")
def fanout(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SNS subscriber: first the hellos `$connect` asked for, then each delivery to
    every connection (that has had its hello) of
    each recipient, `HUBBUB_FANOUT_CONCURRENCY` connections at a time, each
    connection's frames in order. A connection that answers 410 is deleted and the
    others still get theirs; throttling is retried with backoff."""

    messages = [record["Sns"]["Message"] for record in event.get("Records", [])]
    hellos = platform.hello_requests(messages)
    if hellos:
        sent = platform.run(_send_hellos(hellos))
        metrics.add_metric("Hellos", MetricUnit.Count, sent)
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
        platform.registry().add(connection_id, user_id, session.session_id)
        # Nothing can be posted until this returns: the fan-out sends the hello.
        await platform.request_hello(connection_id, user_id)
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
        return await _run_frame(connection_id, data)
    except Unavailable as error:
        # Redis is down: the frame could not run; the client may send it again.
        reply = protocol.error_frame(protocol.request_id_of(data), error)
        platform.answer(connection_id, protocol.encode(reply))
        return OK


async def _run_frame(connection_id: str, data: str | bytes) -> dict[str, Any]:
    from hubbub import commands, protocol
    from hubbub.domain.errors import RateLimited
    from hubbub.domain.views import JsonObject

    metrics.add_metric("Frames", MetricUnit.Count, 1)
    registry = platform.registry()
    record = registry.get(connection_id)
    if record is None or await platform.sessions().is_ended(record.session_id):
        # Unknown (expired, or its $connect failed half-way) or signed out: close it.
        platform.poster().close(connection_id)
        return OK
    core = platform.core()
    user_id = record.user_id
    if record.hello_at is None and registry.mark_hello(connection_id):
        hello, _ = await core.realtime.connected(user_id, connection_id)
        await _post(connection_id, user_id, protocol.encode(hello))
    else:
        # Every frame renews the connection's presence lease (and ends those whose
        # lease ran out elsewhere: their contacts hear `offline`).
        await core.realtime.keep_alive([(user_id, connection_id)])
    settings = core.settings
    burst = settings.ws_frame_burst
    wait = await platform.frame_limiter().hit(
        f"ws-frames:{connection_id}", burst, burst / settings.ws_frames_per_second
    )
    reply: JsonObject | None
    if wait is not None:
        error = RateLimited("Too many frames; slow down.", retry_after=1)
        reply = protocol.error_frame(protocol.request_id_of(data), error)
    else:
        reply = await commands.handle(core, user_id, connection_id, data)
    if reply is not None:
        await _post(connection_id, user_id, protocol.encode(reply))
    return OK


# How long a hello waits for API Gateway to finish the handshake (its post answers 410
# until then).
HELLO_PATIENCE_SECONDS = 3.0


async def _send_hellos(requests: list[tuple[str, str]]) -> int:
    """Sends each requested connection its `hello`, unless a frame of its own already
    made it send one; returns how many were sent."""
    from hubbub import protocol

    sent = 0
    registry = platform.registry()
    for connection_id, user_id in requests:
        record = registry.get(connection_id)
        if record is None or record.user_id != user_id or not registry.mark_hello(connection_id):
            continue
        hello, _ = await platform.core().realtime.connected(user_id, connection_id)
        text = protocol.encode(hello)
        if platform.answer(connection_id, text, patience=HELLO_PATIENCE_SECONDS):
            sent += 1
        else:
            await platform.core().realtime.disconnected(user_id, connection_id)
    return sent


async def _post(connection_id: str, user_id: str, text: str) -> None:
    """Answers on the connection; one that turns out gone is forgotten at once (its
    `$disconnect` may never come)."""
    if not platform.answer(connection_id, text):
        await platform.core().realtime.disconnected(user_id, connection_id)


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
