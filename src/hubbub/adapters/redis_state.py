"""Tickets, rate limits and presence in Redis, shared by every `hubbub serve` process.

Keys (`prefix` is "hubbub:" unless the deployment shares its Redis with another one):

- `{prefix}ticket:{sha256(ticket)}`: a string, the ticket's session and expiry as
  JSON, with a Redis TTL one second past the expiry (Redis is the garbage collector).
- `{prefix}limit:{key}`: a string, the moment the key's token bucket is full again
  (GCRA); it expires at that moment, so idle keys cost nothing.
- `{prefix}presence:slots:{user}`: a sorted set of the user's claimed connections
  (opening or live), connection id -> lease expiry.
- `{prefix}presence:live:{user}`: a sorted set of the user's live connections (hello
  sent), connection id -> lease expiry.
- `{prefix}presence:leases`: one sorted set for the deployment, every claimed
  connection -> lease expiry, members `{len(user)}:{user}{connection}` (`len` in UTF-8
  bytes, so any id splits back unambiguously). `expired` pops from its low end.

Presence keys carry no TTL: `expired`, run by every process, is what removes the
connections of a process that died. With `maxmemory`, use `volatile-lru` or
`noeviction`, never an `allkeys-*` policy that could evict them.

Times come from the injected clock (wall-clock seconds), not from Redis: expiries
are compared across processes, so their clocks must agree to within a small fraction
of a lease or a rate-limit window (NTP). Scripts build per-user key names
themselves, so this needs one Redis (a primary, with replicas or Sentinel), not Redis
Cluster.

Without Redis: tickets and presence handshakes raise `Unavailable` (nothing can be
checked across processes); rate limits count per process; the other presence calls
do nothing and leases put things right once Redis returns. Each call reports to the
`RedisLink`, which logs the outage once.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

from hubbub.adapters.memory import MemoryRateLimiter
from hubbub.adapters.redis_link import UNREACHABLE, RedisLink
from hubbub.domain.errors import Unavailable
from hubbub.ports import RateLimiter, Session

# Wall-clock seconds (time.time): expiries are compared across processes.
Seconds = Callable[[], float]


class RedisTicketStore:
    """Single-use tickets any process can redeem, each exactly once (GETDEL).

    The key is the SHA-256 of the ticket, never the ticket itself, so a copy of the
    Redis data (a dump, a replica, MONITOR) holds nothing that opens a WebSocket. The
    expiry is checked against the injected clock; the Redis TTL only frees memory."""

    def __init__(
        self, link: RedisLink, clock: Seconds = time.time, prefix: str = "hubbub:"
    ) -> None:
        self._link = link
        self._clock = clock
        self._prefix = f"{prefix}ticket:"

    async def issue(self, session: Session, ttl_seconds: int) -> str:
        ticket = secrets.token_urlsafe(32)
        value = json.dumps(
            {
                "user_id": session.user_id,
                "session_id": session.session_id,
                "expires_at": self._clock() + ttl_seconds,
            }
        )
        try:
            with self._link.reporting():
                await self._link.client.set(self._key(ticket), value, ex=ttl_seconds + 1)
        except UNREACHABLE as error:
            raise Unavailable("Real-time connections are unavailable; try again soon.") from error
        return ticket

    async def consume(self, ticket: str) -> Session | None:
        try:
            with self._link.reporting():
                stored = await self._link.client.getdel(self._key(ticket))
        except UNREACHABLE as error:
            raise Unavailable("Real-time connections are unavailable; try again soon.") from error
        if stored is None:
            return None
        entry = json.loads(stored)
        if float(entry["expires_at"]) <= self._clock():
            return None
        return Session(user_id=str(entry["user_id"]), session_id=str(entry["session_id"]))

    def _key(self, ticket: str) -> str:
        return self._prefix + hashlib.sha256(ticket.encode()).hexdigest()


# One GCRA step, as MemoryRateLimiter.hit does it, atomically. Returns 0 when the
# attempt passes, else whole seconds to wait (>= 1). %.17g keeps the double exact.
_HIT = """
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local epsilon = tonumber(ARGV[4])
local interval = window / limit
local full_at = now
local stored = redis.call('GET', KEYS[1])
if stored then
  full_at = math.max(tonumber(stored), now)
end
local wait = full_at + interval - window - now
if wait > epsilon then
  return math.max(1, math.ceil(wait - epsilon))
end
full_at = full_at + interval
local ttl = math.max(1, math.ceil((full_at - now) * 1000))
redis.call('SET', KEYS[1], string.format('%.17g', full_at), 'PX', ttl)
return 0
"""

# Float slack, as in MemoryRateLimiter: the last allowed attempt is never refused by rounding.
_EPSILON = 1e-6


class RedisRateLimiter:
    """`MemoryRateLimiter`'s token buckets (GCRA), counted across every process: one
    Lua script reads and moves a key's full-again moment atomically. The moment comes
    from this process's clock, so the processes' clocks must agree to within a small
    fraction of the shortest window (NTP). A key expires when its bucket is full again.

    Without Redis it counts in `fallback`, this process's own buckets: limits then hold
    per process (N processes allow up to N times as much) until Redis returns. It never
    raises for an outage: refusing every sign-in because Redis is down would be worse."""

    def __init__(
        self,
        link: RedisLink,
        clock: Seconds = time.time,
        fallback: RateLimiter | None = None,
        prefix: str = "hubbub:",
    ) -> None:
        self._link = link
        self._clock = clock
        self._fallback = fallback or MemoryRateLimiter(monotonic=clock)
        self._prefix = f"{prefix}limit:"
        self._script = link.client.register_script(_HIT)

    async def hit(self, key: str, limit: int, window_seconds: float) -> int | None:
        now = self._clock()
        try:
            with self._link.reporting():
                wait = await self._script(
                    keys=[self._prefix + key],
                    args=[repr(now), limit, repr(float(window_seconds)), repr(_EPSILON)],
                )
        except UNREACHABLE:
            return await self._fallback.hit(key, limit, window_seconds)
        return int(wait) or None


# Presence scripts. Leases are wall-clock expiries; a lease holds while expiry > now.

# KEYS: slots, leases. ARGV: now, expiry, limit, connection, lease member.
# Claims whose lease ran out stop counting here; `expired` still ends them.
_CLAIM = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if not redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
    return 0
  end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[5])
return 1
"""

# KEYS: slots, live, leases. ARGV: now, expiry, connection, lease member.
# Came online iff this is the user's only live connection whose lease holds.
_CONNECTED = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[4])
if redis.call('ZCOUNT', KEYS[2], '(' .. ARGV[1], '+inf') == 1 then
  return 1
end
return 0
"""

# KEYS: slots, live, leases. ARGV: now, connection, lease member, the user's lease
# member prefix. The user's connections whose lease ran out (their process died) end
# with this one, so that `expired` cannot report the user offline a second time.
_DISCONNECTED = """
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[3])
if redis.call('ZREM', KEYS[2], ARGV[2]) == 0 then
  return 0
end
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])) do
  redis.call('ZREM', KEYS[1], dead)
  redis.call('ZREM', KEYS[3], ARGV[4] .. dead)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[2]) == 0 then
  return 1
end
return 0
"""

# KEYS: leases, then slots and live of each pair. ARGV: expiry, then lease member and
# connection of each pair. Only connections still in the lease index are renewed: one
# that `expired` or `disconnected` ended stays ended.
_RENEW = """
for n = 1, (#KEYS - 1) / 2 do
  local member, connection = ARGV[2 * n], ARGV[2 * n + 1]
  if redis.call('ZSCORE', KEYS[1], member) then
    redis.call('ZADD', KEYS[1], ARGV[1], member)
    redis.call('ZADD', KEYS[2 * n], ARGV[1], connection)
    redis.call('ZADD', KEYS[2 * n + 1], 'XX', ARGV[1], connection)
  end
end
return 0
"""

# KEYS: leases. ARGV: now, batch size, presence key prefix. Pops up to a batch of
# lapsed leases, ends those connections and returns the users left with no live one.
# One script, so each lapsed lease is popped, and its user reported, by one caller.
_EXPIRED = """
local gone = {}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local colon = string.find(member, ':', 1, true)
  local size = tonumber(string.sub(member, 1, colon - 1))
  local user = string.sub(member, colon + 1, colon + size)
  local connection = string.sub(member, colon + size + 1)
  redis.call('ZREM', ARGV[3] .. 'slots:' .. user, connection)
  local live = ARGV[3] .. 'live:' .. user
  if redis.call('ZREM', live, connection) == 1 and redis.call('ZCARD', live) == 0 then
    table.insert(gone, user)
  end
end
return gone
"""

# Lapsed leases one `expired` call ends at most, and pairs per `renew` script call:
# each script blocks Redis while it runs, so its work is bounded.
EXPIRED_BATCH = 1000
_RENEW_BATCH = 500


class RedisPresence:
    """`PresenceTracker` across processes. Every claimed connection holds a lease of
    `lease_seconds`, renewed by its process (`renew`); a lapsed lease stops counting
    at once (`online`, `claim`) and `expired` ends it for good, reporting each user left
    offline to exactly one caller. Each change is one atomic Lua script.

    Without Redis, `claim` and `connected` raise `Unavailable` (a handshake must not
    pass a limit it cannot count); `disconnected`, `renew` and `expired` do nothing
    (False, None, []) and the leases end what they missed; `online` is empty."""

    def __init__(
        self,
        link: RedisLink,
        lease_seconds: float = 30,
        clock: Seconds = time.time,
        prefix: str = "hubbub:",
    ) -> None:
        self._link = link
        self._lease = lease_seconds
        self._clock = clock
        self._prefix = f"{prefix}presence:"
        self._leases = f"{self._prefix}leases"
        client = link.client
        self._claim = client.register_script(_CLAIM)
        self._connected = client.register_script(_CONNECTED)
        self._disconnected = client.register_script(_DISCONNECTED)
        self._renew = client.register_script(_RENEW)
        self._expired = client.register_script(_EXPIRED)

    async def claim(self, user_id: str, connection_id: str, limit: int) -> bool:
        now = self._clock()
        keys = [self._slots(user_id), self._leases]
        member = _member(user_id, connection_id)
        args: list[str | int] = [repr(now), repr(now + self._lease), limit, connection_id, member]
        return bool(await self._handshake(self._claim(keys=keys, args=args)))

    async def connected(self, user_id: str, connection_id: str) -> bool:
        now = self._clock()
        keys = [self._slots(user_id), self._live(user_id), self._leases]
        args = [repr(now), repr(now + self._lease), connection_id, _member(user_id, connection_id)]
        return bool(await self._handshake(self._connected(keys=keys, args=args)))

    async def disconnected(self, user_id: str, connection_id: str) -> bool:
        keys = [self._slots(user_id), self._live(user_id), self._leases]
        member = _member(user_id, connection_id)
        args = [repr(self._clock()), connection_id, member, _member(user_id, "")]
        try:
            with self._link.reporting():
                ended = await self._disconnected(keys=keys, args=args)
        except UNREACHABLE:
            return False
        return bool(ended)

    async def online(self, user_ids: Sequence[str]) -> set[str]:
        if not user_ids:
            return set()
        since = f"({self._clock()!r}"
        try:
            with self._link.reporting():
                async with self._link.client.pipeline(transaction=False) as pipe:
                    for user_id in user_ids:
                        pipe.zcount(self._live(user_id), since, "+inf")
                    counts: list[Any] = await pipe.execute()
        except UNREACHABLE:
            return set()
        return {u for u, count in zip(user_ids, counts, strict=True) if count}

    async def renew(self, connections: Collection[tuple[str, str]]) -> None:
        expiry = repr(self._clock() + self._lease)
        pairs = list(connections)
        try:
            with self._link.reporting():
                for start in range(0, len(pairs), _RENEW_BATCH):
                    keys = [self._leases]
                    args = [expiry]
                    for user_id, connection_id in pairs[start : start + _RENEW_BATCH]:
                        keys += [self._slots(user_id), self._live(user_id)]
                        args += [_member(user_id, connection_id), connection_id]
                    await self._renew(keys=keys, args=args)
        except UNREACHABLE:
            return

    async def expired(self) -> list[str]:
        args: list[str | int] = [repr(self._clock()), EXPIRED_BATCH, self._prefix]
        try:
            with self._link.reporting():
                gone: list[bytes] = await self._expired(keys=[self._leases], args=args)
        except UNREACHABLE:
            return []
        return [user.decode() for user in gone]

    async def _handshake(self, call: Any) -> Any:
        try:
            with self._link.reporting():
                result = await call
        except UNREACHABLE as error:
            raise Unavailable("Real-time connections are unavailable; try again soon.") from error
        return result

    def _slots(self, user_id: str) -> str:
        return f"{self._prefix}slots:{user_id}"

    def _live(self, user_id: str) -> str:
        return f"{self._prefix}live:{user_id}"


def _member(user_id: str, connection_id: str) -> str:
    """A connection's entry in the lease index: the user id's length in UTF-8 bytes
    first, so the pair splits back whatever characters the ids hold."""
    return f"{len(user_id.encode())}:{user_id}{connection_id}"
