"""The deployment's Redis as every Redis adapter sees it: one client, and whether Redis
answers.

Redis holds only what can be rebuilt (leases, tickets, limits, the fan-out in flight),
so an outage degrades the platform instead of stopping it: each adapter says what it
does without Redis. What the outage looks like to an operator is said here, once: one
warning when Redis stops answering and one line when it answers again, never one per
request, and `/readyz` reports it down in between.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

log = logging.getLogger("hubbub.redis")

# What "Redis cannot be reached" looks like to the client library (a refused or dropped
# connection, a timeout, a server still loading its data or refusing writes).
UNREACHABLE: tuple[type[BaseException], ...] = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.BusyLoadingError,
    redis_errors.ReadOnlyError,
    ConnectionError,
    TimeoutError,
    OSError,
)


class RedisLink:
    """One client per process, shared by the adapters, with the outage state they
    report to. Commands time out after `timeout` seconds, so an unreachable Redis costs
    a request at most that long, not forever."""

    def __init__(self, url: str, *, timeout: float = 2.0) -> None:
        self.url = url
        self.client: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=15,
            # A pooled connection opened before Redis restarted fails on first use: try
            # once more on a fresh one rather than fail the request.
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[redis_errors.ConnectionError],
        )
        self.up = True
        self._listeners: list[Callable[[bool], None]] = []

    def on_change(self, listener: Callable[[bool], None]) -> None:
        """Calls `listener(up)` when Redis stops or starts answering."""
        self._listeners.append(listener)

    def failed(self, error: BaseException) -> None:
        """An adapter's command could not reach Redis."""
        if self.up:
            self.up = False
            log.warning(
                "Redis at %s is unreachable (%s); degraded until it returns",
                _without_password(self.url),
                error.__class__.__name__,
            )
            for listener in self._listeners:
                listener(False)

    def succeeded(self) -> None:
        """An adapter's command reached Redis."""
        if not self.up:
            self.up = True
            log.warning("Redis at %s answers again", _without_password(self.url))
            for listener in self._listeners:
                listener(True)

    async def ping(self) -> bool:
        """Whether Redis answers now (for /readyz), updating the outage state."""
        try:
            await self.client.execute_command("PING")  # type: ignore[no-untyped-call]
        except UNREACHABLE as error:
            self.failed(error)
            return False
        self.succeeded()
        return True

    async def close(self) -> None:
        await self.client.aclose()


def _without_password(url: str) -> str:
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"
