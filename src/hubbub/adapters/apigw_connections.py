"""API Gateway WebSocket connections: who holds which connection (the
`websocket-connections` DynamoDB table) and how frames reach them (the Management
API's `@connections`).

The table is the truth about open connections, since API Gateway holds the sockets
and every Lambda invocation is a stranger to the last one. `$disconnect` is best
effort, so every row carries a TTL (`expiresAt`, past API Gateway's two-hour
connection life): a row whose connection vanished without a `$disconnect` is ignored
once expired and then deleted by DynamoDB; a post that answers 410 deletes it at once.

Posting is blocking boto3 under a bounded thread pool: each connection's frames go
out in order, one at a time, while up to `concurrency` connections are posted to at
once. `@connections` calls count against the account's API request quota (10,000/s
shared with every other API call), so throttling (429) is retried with exponential
backoff and jitter, not hammered.

Only the fan-out function (outside the VPC) reaches the Management API: `deliver` posts
events, `carry_out` the hellos and closes the VPC functions ask for over SNS. A
connection's `hello` is claimed (`helloClaimedAt`, one sender) before it is posted,
and the connection gets events (`helloAt`) only once API Gateway took it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import Any

from hubbub import protocol
from hubbub.adapters.sns_fanout import ConnectionRequest, connection_request, decode

log = logging.getLogger("hubbub.apigw")

# Error codes API Gateway (and botocore) give a throttled call; serverless-offline
# and a bare HTTP error give the status code as the code.
_THROTTLED = frozenset(
    {"TooManyRequestsException", "LimitExceededException", "ThrottlingException", "429"}
)
_GONE = frozenset({"GoneException", "410"})


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    """One open (or not yet expired) API Gateway connection. `hello_at` is when its
    `hello` was sent (None before: the connection gets no events yet, and its frames
    wait for the hello)."""

    connection_id: str
    user_id: str
    session_id: str
    connected_at: int
    expires_at: int
    hello_at: int | None = None


class ConnectionRegistry:
    """The `websocket-connections` table: hash key `connectionId`, GSI `byUser`
    (`userId`, `connectionId`), TTL attribute `expiresAt` (epoch seconds).

    Blocking calls: a Lambda invocation does one thing at a time, and the fan-out
    calls it from its worker threads (boto3 clients are thread-safe)."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        ttl_seconds: int,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self.table_name = table_name
        self._ttl = ttl_seconds
        self._now = now

    def add(self, connection_id: str, user_id: str, session_id: str) -> ConnectionRecord:
        """Registers a connection at `$connect`; it expires after the TTL even if its
        `$disconnect` never comes."""
        now = int(self._now())
        record = ConnectionRecord(connection_id, user_id, session_id, now, now + self._ttl)
        self._client.put_item(
            TableName=self.table_name,
            Item={
                "connectionId": {"S": connection_id},
                "userId": {"S": user_id},
                "sessionId": {"S": session_id},
                "connectedAt": {"N": str(now)},
                "expiresAt": {"N": str(record.expires_at)},
            },
        )
        return record

    def get(self, connection_id: str) -> ConnectionRecord | None:
        """The live record (consistent read), or None if unknown or expired."""
        found = self._client.get_item(
            TableName=self.table_name,
            Key={"connectionId": {"S": connection_id}},
            ConsistentRead=True,
        ).get("Item")
        record = _record(found) if found else None
        return record if record is not None and record.expires_at > self._now() else None

    def claim_hello(self, connection_id: str, user_id: str) -> bool:
        """Takes the right to send the connection its one `hello`; False if it was
        taken already (SNS may deliver a request twice), or the connection is gone
        (its `$disconnect` came first) or is not `user_id`'s."""
        return self._update(
            connection_id,
            "SET helloClaimedAt = :now",
            "attribute_exists(connectionId) AND userId = :user"
            " AND attribute_not_exists(helloClaimedAt)",
            {":now": {"N": str(int(self._now()))}, ":user": {"S": user_id}},
        )

    def hello_sent(self, connection_id: str) -> bool:
        """Records that API Gateway took the connection's `hello`: from now on it gets
        events (never before its hello). False if the connection is gone."""
        return self._update(
            connection_id,
            "SET helloAt = :now",
            "attribute_exists(connectionId)",
            {":now": {"N": str(int(self._now()))}},
        )

    def release_hello(self, connection_id: str) -> None:
        """Gives the claim back after a hello that could not be sent, so a retry of the
        request may send it."""
        self._update(
            connection_id,
            "REMOVE helloClaimedAt",
            "attribute_exists(connectionId) AND attribute_not_exists(helloAt)",
            None,
        )

    def _update(
        self,
        connection_id: str,
        update: str,
        condition: str,
        values: dict[str, Any] | None,
    ) -> bool:
        """A conditional update of an existing row (never creates one); False when the
        condition does not hold."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": {"connectionId": {"S": connection_id}},
            "UpdateExpression": update,
            "ConditionExpression": condition,
        }
        if values:
            request["ExpressionAttributeValues"] = values
        try:
            self._client.update_item(**request)
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def remove(self, connection_id: str) -> ConnectionRecord | None:
        """Deletes the connection's row; returns what it held (None if there was none),
        so `$disconnect` learns whose connection it was."""
        old = self._client.delete_item(
            TableName=self.table_name,
            Key={"connectionId": {"S": connection_id}},
            ReturnValues="ALL_OLD",
        ).get("Attributes")
        return _record(old) if old else None

    def of_user(self, user_id: str) -> list[ConnectionRecord]:
        """The user's unexpired connections (from the `byUser` index: eventually
        consistent, so a connection made a moment ago may be missing)."""
        return self._by("byUser", "userId", user_id)

    def of_session(self, session_id: str) -> list[ConnectionRecord]:
        """The sign-in's unexpired connections (from the `bySession` index, eventually
        consistent like `of_user`)."""
        return self._by("bySession", "sessionId", session_id)

    def _by(self, index: str, attribute: str, value: str) -> list[ConnectionRecord]:
        records: list[ConnectionRecord] = []
        start: dict[str, Any] | None = None
        now = self._now()
        while True:
            query: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": index,
                "KeyConditionExpression": f"{attribute} = :v",
                "ExpressionAttributeValues": {":v": {"S": value}},
            }
            if start is not None:
                query["ExclusiveStartKey"] = start
            page = self._client.query(**query)
            for item in page.get("Items", []):
                record = _record(item)
                if record.expires_at > now:
                    records.append(record)
            # Real DynamoDB may end with an empty page after a full one; moto may not.
            start = page.get("LastEvaluatedKey")
            if not start:
                return records

    def of_users(
        self, user_ids: Iterable[str], pool: ThreadPoolExecutor
    ) -> dict[str, list[ConnectionRecord]]:
        """`of_user` for many users, queried in parallel on `pool`."""
        ids = list(dict.fromkeys(user_ids))
        return dict(zip(ids, pool.map(self.of_user, ids), strict=True))


class SessionSockets:
    """`SessionConnections` on API Gateway: a sign-out closes the sign-in's sockets at
    once. Their ids come from the registry's `bySession` index, and the closes are asked
    of the fan-out (`request_close`, through SNS), the one function that reaches the
    Management API. The index is eventually consistent: a socket opened a moment before
    the sign-out may be missed, and is closed at its next frame, which finds its session
    ended (`hubbub.aws.realtime`)."""

    def __init__(
        self,
        registry: ConnectionRegistry,
        request_close: Callable[[str], Awaitable[None]],
    ) -> None:
        self._registry = registry
        self._request_close = request_close

    async def close_sessions(self, session_ids: Collection[str]) -> None:
        """Never raises: the sessions have ended whatever happens here, and a socket not
        closed now is closed at its next frame."""
        for session_id in session_ids:
            try:
                found = await asyncio.to_thread(self._registry.of_session, session_id)
                for record in found:
                    await self._request_close(record.connection_id)
            except Exception:
                log.warning("could not close the sockets of an ended session", exc_info=True)


def _record(item: Mapping[str, Any]) -> ConnectionRecord:
    hello = item.get("helloAt")
    return ConnectionRecord(
        connection_id=item["connectionId"]["S"],
        user_id=item["userId"]["S"],
        session_id=item.get("sessionId", {}).get("S", ""),
        connected_at=int(item.get("connectedAt", {}).get("N", "0")),
        expires_at=int(item["expiresAt"]["N"]),
        hello_at=int(hello["N"]) if hello else None,
    )


class Outcome(Enum):
    SENT = "sent"
    GONE = "gone"  # the connection is closed: its row is deleted
    FAILED = "failed"  # still throttled after every retry, or another error


class ConnectionPoster:
    """Posts frames to connections through the Management API endpoint
    (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`, or serverless-offline's
    `http://localhost:3001`, from configuration, never from the event).

    `client` is a boto3 `apigatewaymanagementapi` client with its own retries off
    (`client_config()`), so throttling is retried here, visibly and boundedly."""

    def __init__(
        self,
        client: Any,
        *,
        attempts: int = 6,
        first_backoff: float = 0.05,
        most_backoff: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._attempts = attempts
        self._first = first_backoff
        self._most = most_backoff
        self._sleep = sleep
        self.throttled = 0  # retries made because of throttling, for metrics
        self._counting = threading.Lock()  # posts run on many threads

    def post(self, connection_id: str, data: bytes) -> Outcome:
        """One frame to one connection: GONE for a closed connection (410, whether
        API Gateway names it `GoneException` or serverless-offline answers a bare
        410), throttling and a dropped or refused connection retried with backoff (a
        retried frame may arrive twice: clients drop duplicates by `cursor`), anything
        else FAILED (and logged)."""
        delay = self._first
        for attempt in range(1, self._attempts + 1):
            try:
                self._client.post_to_connection(ConnectionId=connection_id, Data=data)
                return Outcome.SENT
            except Exception as error:
                code, status = _error_of(error)
                if code in _GONE or status == 410:
                    return Outcome.GONE
                retry = code in _THROTTLED or status == 429 or _transient(error)
                if retry and attempt < self._attempts:
                    if not _transient(error):
                        with self._counting:
                            self.throttled += 1
                    self._sleep(delay * (0.5 + random.random() / 2))
                    delay = min(delay * 2, self._most)
                    continue
                log.warning(
                    "posting to connection %s failed: %s",
                    connection_id,
                    code or error.__class__.__name__,
                )
                return Outcome.FAILED
        return Outcome.FAILED  # pragma: no cover (the loop always returns)

    def post_all(self, connection_id: str, frames: Sequence[bytes]) -> Outcome:
        """The connection's frames in order; stops at the first that does not go."""
        for data in frames:
            outcome = self.post(connection_id, data)
            if outcome is not Outcome.SENT:
                return outcome
        return Outcome.SENT

    def close(self, connection_id: str) -> None:
        """Closes the connection from our side (API Gateway sends close code 1000: no
        other can be chosen); nothing if it is already gone."""
        try:
            self._client.delete_connection(ConnectionId=connection_id)
        except Exception as error:
            code, status = _error_of(error)
            if not (code in _GONE or status == 410):
                log.warning("closing connection %s failed: %s", connection_id, code)


def client_config() -> Any:
    """botocore settings for the Management API client: no hidden retries (ours are
    counted and bounded), short timeouts, a pool as large as the fan-out's."""
    from botocore.config import Config

    return Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=2,
        read_timeout=5,
        max_pool_connections=64,
    )


def _transient(error: Exception) -> bool:
    """A connection refused, reset or timed out on the way (botocore's own names):
    worth another try, like throttling."""
    return type(error).__name__ in {
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
    }


def _error_of(error: Exception) -> tuple[str, int]:
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return "", 0
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


# -- the SNS subscriber's work ------------------------------------------------------


@dataclass(slots=True)
class Report:
    connections: int = 0
    sent: int = 0  # connections that got all their frames
    gone: int = 0
    failed: int = 0
    throttled: int = 0
    rejected: int = 0  # messages that were not ours

    def summary(self) -> str:
        return (
            f"connections={self.connections} sent={self.sent} gone={self.gone}"
            f" failed={self.failed} throttled={self.throttled} rejected={self.rejected}"
        )


def deliver(
    messages: Sequence[str],
    registry: ConnectionRegistry,
    poster: ConnectionPoster,
    pool: ThreadPoolExecutor,
) -> Report:
    """Posts each delivery to every connection of its recipients that has had its
    `hello` (before it, a connection gets nothing: what it misses is after the hello's
    cursor, so `/api/sync` returns it). The origin connection of a change gets the ack
    in the event's place, as `LocalHub` does. Each connection's frames go in message
    order; connections are posted to in parallel on `pool`. A connection that answers
    410 is unregistered; a failure of one connection never stops the others."""
    report = Report()
    deliveries = []
    for message in messages:
        if connection_request(message) is not None:
            continue  # not a delivery: `carry_out` does these
        try:
            deliveries.extend(decode(message))
        except ValueError as error:
            report.rejected += 1
            log.warning("ignoring an SNS message: %s", error)
    recipients = {user_id for delivery in deliveries for user_id in delivery.recipients}
    connections = registry.of_users(recipients, pool) if recipients else {}
    frames: dict[str, list[bytes]] = {}
    for delivery in deliveries:
        text = protocol.encode(delivery.frame).encode()
        origin = delivery.origin
        for user_id in delivery.recipients:
            for record in connections.get(user_id, ()):
                if record.hello_at is None:
                    continue
                if origin is not None and record.connection_id == origin.connection_id:
                    ack = protocol.ack_for_event(delivery.frame, origin.request_id)
                    frames.setdefault(record.connection_id, []).append(
                        protocol.encode(ack).encode()
                    )
                else:
                    frames.setdefault(record.connection_id, []).append(text)
    report.connections = len(frames)
    throttled_before = poster.throttled
    outcomes = pool.map(lambda item: poster.post_all(item[0], item[1]), frames.items())
    gone: list[str] = []
    for connection_id, outcome in zip(frames, outcomes, strict=True):
        if outcome is Outcome.SENT:
            report.sent += 1
        elif outcome is Outcome.GONE:
            report.gone += 1
            gone.append(connection_id)
        else:
            report.failed += 1
    for _ in pool.map(registry.remove, gone):
        pass
    report.throttled = poster.throttled - throttled_before
    if report.gone or report.failed:
        log.info("fan-out: %s", report.summary())
    return report


# -- what functions without the Management API ask of the subscriber ---------------


@dataclass(slots=True)
class RequestReport:
    hellos: int = 0  # hellos sent
    closed: int = 0
    skipped: int = 0  # hello already sent (a duplicate request), or connection gone first
    gone: int = 0  # still 410 after the handshake's patience
    failed: int = 0  # could not be sent (throttled after every retry, or another error)


def carry_out(
    requests: Sequence[ConnectionRequest],
    registry: ConnectionRegistry,
    poster: ConnectionPoster,
    *,
    patience: float,
    sleep: Callable[[float], None] = time.sleep,
) -> RequestReport:
    """Does what `$connect` and `$default` asked: closes connections, and sends each
    requested `hello` exactly once (a conditional write claims it) and before anything
    else (the connection gets events only once its hello was taken, `hello_sent`).

    Right after `$connect` API Gateway answers 410 until it has finished the handshake,
    so a hello's 410 is tried again for up to `patience` seconds. A hello still refused
    then leaves the row as it is: the connection gets no events, and its `$disconnect`
    (or the row's TTL) forgets it, with its presence, which this function cannot reach."""
    report = RequestReport()
    for request in requests:
        connection_id = request.connection_id
        if request.kind == "close":
            poster.close(connection_id)
            report.closed += 1
            continue
        if request.frame is None or not registry.claim_hello(connection_id, request.user_id):
            report.skipped += 1
            continue
        outcome = _post_patiently(
            poster, connection_id, protocol.encode(request.frame), patience, sleep
        )
        if outcome is Outcome.SENT:
            registry.hello_sent(connection_id)
            report.hellos += 1
        elif outcome is Outcome.GONE:
            report.gone += 1
        else:
            registry.release_hello(connection_id)
            report.failed += 1
    return report


def _post_patiently(
    poster: ConnectionPoster,
    connection_id: str,
    text: str,
    patience: float,
    sleep: Callable[[float], None],
) -> Outcome:
    waited, delay = 0.0, 0.05
    while True:
        outcome = poster.post(connection_id, text.encode())
        if outcome is not Outcome.GONE or waited >= patience:
            return outcome
        sleep(delay)
        waited += delay
        delay = min(delay * 2, 0.5)
