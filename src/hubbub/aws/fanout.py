"""The SNS subscriber's work: fan-out messages (`hubbub.adapters.sns_fanout`) to API
Gateway connections. Blocking code on a bounded thread pool: a Lambda invocation has
nothing else to do while it waits."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from hubbub import protocol
from hubbub.adapters.apigw_connections import ConnectionPoster, ConnectionRegistry, Outcome
from hubbub.adapters.sns_fanout import decode

log = logging.getLogger("hubbub.fanout")


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
