"""The deployment's Redis as every Redis adapter sees it: one client, and whether Redis
answers.

Redis holds only what can be rebuilt (leases, tickets, limits, the fan-out in flight),
so an outage degrades the platform instead of stopping it: each adapter says what it
does without Redis. What the outage looks like to an operator is said here, once: one
warning when Redis stops answering and one line when it answers again, never one per
request, and `/readyz` reports it down in between.

Commands finish out of order: when Redis comes back, a command that was sent while it
was away can fail just after another one succeeded. Such a failure is old news, not a
new outage, so each command is reported with the moment it started (`reporting()`), and
a failure counts only if Redis has not been seen answering since that command started.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

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
        # How many times Redis has been seen answering again after an outage.
        self._recoveries = 0
        self._listeners: list[Callable[[bool], None]] = []

    def on_change(self, listener: Callable[[bool], None]) -> None:
        """Calls `listener(up)` when Redis stops or starts answering."""
        self._listeners.append(listener)

    @contextlib.contextmanager
    def reporting(self) -> Iterator[None]:
        """Reports whether the Redis commands run inside reached Redis; the exception,
        if any, goes on to the caller."""
        started = self._recoveries
        try:
            yield
        except UNREACHABLE as error:
            self._failed(error, started)
            raise
        self._succeeded()

    def _failed(self, error: BaseException, started: int) -> None:
        if self.up and started == self._recoveries:
            self.up = False
            log.warning(
                "Redis at %s is unreachable (%s); degraded until it returns",
                _without_password(self.url),
                error.__class__.__name__,
            )
            for listener in self._listeners:
                listener(False)

    def _succeeded(self) -> None:
        if not self.up:
            self.up = True
            self._recoveries += 1
            log.warning("Redis at %s answers again", _without_password(self.url))
            for listener in self._listeners:
                listener(True)

    async def ping(self) -> bool:
        """Whether Redis answers now (for /readyz), updating the outage state."""
        try:
            with self.reporting():
                await self.client.execute_command("PING")  # type: ignore[no-untyped-call]
        except UNREACHABLE:
            return False
        return True

    async def close(self) -> None:
        await self.client.aclose()


def _without_password(url: str) -> str:
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"
