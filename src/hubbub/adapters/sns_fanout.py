"""The `EventPublisher` of the Lambda deployment: committed deliveries go to an SNS
topic, whose subscriber (`hubbub.aws.realtime.fanout`) posts them to every API Gateway
connection of their recipients.

A Lambda process holds no connections, so nothing is delivered here: every delivery
leaves through SNS, in one message or, for a big fan-out, several, each under SNS's
256 KB limit (a delivery's recipients are split across messages; its frame is repeated
in each). Publishes leave in the order `publish` was called (one chain of SNS calls), so
a subscriber sees one invocation's events in commit order as far as SNS keeps it; a
standard topic does not promise order or exactly-once, which the sync log covers (a
client sees `eventSeq` skip and fetches the gap; duplicates share a `cursor`).

The message format (`encode`/`decode`) is shared with the subscriber:
`{"deliveries": [{"recipients": [...], "frame": {...}, "origin": {"connectionId",
"requestId"} | null}]}`. The origin connection gets an ack built from the frame instead
of the frame, as `LocalHub` does.

Two other kinds of message travel the same way (`ConnectionRequest`): what a function
inside the VPC, which cannot reach API Gateway's Management API, needs done to one
connection. `{"hello": {"connectionId", "userId", "frame": {...}}}` is sent by
`$connect` with the complete `hello` (it cannot post to its own connection, and the
subscriber has no Redis to build it); `{"close": {"connectionId"}}` by `$default` for a
connection that is unknown or signed out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from hubbub.domain.events import Delivery, Origin
from hubbub.domain.views import JsonObject

log = logging.getLogger("hubbub.sns")

# SNS allows 256 KiB per message, attributes included; what we send stays under this.
MAX_MESSAGE_BYTES = 240 * 1024


class SnsPublisher:
    """`EventPublisher` through SNS. `client` is a boto3 SNS client (blocking: calls
    run on a worker thread, one at a time, in call order)."""

    def __init__(
        self, client: Any, topic_arn: str, *, max_message_bytes: int = MAX_MESSAGE_BYTES
    ) -> None:
        self._client = client
        self._topic = topic_arn
        self._max = max_message_bytes
        self._last: asyncio.Future[None] | None = None

    def publish(self, deliveries: Sequence[Delivery]) -> Awaitable[None]:
        """Starts publishing at once; the awaitable completes when SNS has accepted
        every message (or it failed: logged, never raised)."""
        messages = encode(deliveries, self._max)
        if not messages:
            return _done()
        before = self._last
        task = asyncio.ensure_future(self._send(before, messages))
        self._last = task
        return task

    async def request_hello(self, connection_id: str, user_id: str, frame: JsonObject) -> None:
        """Asks the subscriber to send the connection its `hello` (raises if SNS refuses:
        the handshake then fails and the client retries)."""
        request = ConnectionRequest("hello", connection_id, user_id, frame)
        await self._publish(encode_request(request))

    async def request_close(self, connection_id: str) -> None:
        """Asks the subscriber to close the connection (raises if SNS refuses)."""
        await self._publish(encode_request(ConnectionRequest("close", connection_id)))

    async def _publish(self, message: bytes) -> None:
        """One SNS Publish, on a worker thread; raises what boto3 raises."""
        await asyncio.to_thread(
            self._client.publish, TopicArn=self._topic, Message=message.decode()
        )

    async def _send(self, before: asyncio.Future[None] | None, messages: list[bytes]) -> None:
        if before is not None and not before.done():
            await asyncio.wait([before])  # order: the previous publish leaves first
        for message in messages:
            try:
                await self._publish(message)
            except Exception:
                log.exception("publishing %d bytes to SNS failed", len(message))


async def _nothing() -> None:
    return None


def _done() -> Awaitable[None]:
    return _nothing()


def encode(deliveries: Sequence[Delivery], max_bytes: int = MAX_MESSAGE_BYTES) -> list[bytes]:
    """The deliveries as SNS messages of at most `max_bytes` each, in order: small
    deliveries share a message; one with many recipients is split across several."""
    pieces: list[bytes] = []
    for delivery in deliveries:
        if delivery.recipients:
            pieces.extend(_pieces(delivery, max_bytes))
    messages: list[bytes] = []
    batch: list[bytes] = []
    size = len(_HEAD) + len(_TAIL)
    for piece in pieces:
        if batch and size + len(piece) + 1 > max_bytes:
            messages.append(_HEAD + b",".join(batch) + _TAIL)
            batch, size = [], len(_HEAD) + len(_TAIL)
        batch.append(piece)
        size += len(piece) + 1
    if batch:
        messages.append(_HEAD + b",".join(batch) + _TAIL)
    return messages


_HEAD = b'{"deliveries":['
_TAIL = b"]}"


def _pieces(delivery: Delivery, max_bytes: int) -> list[bytes]:
    """One delivery as JSON objects of at most `max_bytes` less the envelope, each
    with a share of the recipients."""
    origin = delivery.origin
    rest = orjson.dumps(
        {
            "frame": delivery.frame,
            "origin": None
            if origin is None
            else {"connectionId": origin.connection_id, "requestId": origin.request_id},
        }
    )
    room = max_bytes - len(_HEAD) - len(_TAIL) - len(rest) - len(b'{"recipients":[],}') - 1
    if room < 100:
        raise ValueError(f"a frame of {len(rest)} bytes does not fit in an SNS message")
    pieces: list[bytes] = []
    ids: list[bytes] = []
    used = 0
    for user_id in sorted(delivery.recipients):
        encoded = orjson.dumps(user_id)
        if ids and used + len(encoded) + 1 > room:
            pieces.append(_piece(ids, rest))
            ids, used = [], 0
        ids.append(encoded)
        used += len(encoded) + 1
    if ids:
        pieces.append(_piece(ids, rest))
    return pieces


def _piece(ids: list[bytes], rest: bytes) -> bytes:
    return b'{"recipients":[' + b",".join(ids) + b"]," + rest[1:]


@dataclass(frozen=True, slots=True)
class ConnectionRequest:
    """Something to do to one connection on behalf of a function that cannot reach the
    Management API: send it its `hello` (`frame`, for `user_id`'s connection only) or
    close it."""

    kind: Literal["hello", "close"]
    connection_id: str
    user_id: str = ""
    frame: JsonObject | None = None


def encode_request(request: ConnectionRequest) -> bytes:
    if request.kind == "hello":
        body: JsonObject = {
            "connectionId": request.connection_id,
            "userId": request.user_id,
            "frame": request.frame,
        }
    else:
        body = {"connectionId": request.connection_id}
    return orjson.dumps({request.kind: body})


def connection_request(message: str | bytes) -> ConnectionRequest | None:
    """The `ConnectionRequest` a message holds, or None for any other message (a
    malformed request is None too: it is logged by `decode`'s caller as not ours)."""
    raw = message.encode() if isinstance(message, str) else message
    if not raw.startswith((b'{"hello":', b'{"close":')):
        return None
    try:
        body = orjson.loads(raw)
        if "hello" in body:
            hello = body["hello"]
            frame = hello["frame"]
            if not isinstance(frame, dict) or frame.get("type") != "hello":
                return None
            return ConnectionRequest(
                "hello", str(hello["connectionId"]), str(hello["userId"]), frame
            )
        return ConnectionRequest("close", str(body["close"]["connectionId"]))
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None


def decode(message: str | bytes) -> list[Delivery]:
    """The deliveries of one SNS message made by `encode`; raises `ValueError` on
    anything else."""
    try:
        body = orjson.loads(message)
        deliveries: list[Delivery] = []
        for item in body["deliveries"]:
            frame: JsonObject = item["frame"]
            origin = item.get("origin")
            deliveries.append(
                Delivery(
                    frozenset(str(r) for r in item["recipients"]),
                    frame,
                    None
                    if origin is None
                    else Origin(str(origin["connectionId"]), origin.get("requestId")),
                )
            )
    except (orjson.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"not a Hubbub fan-out message: {error}") from None
    return deliveries
