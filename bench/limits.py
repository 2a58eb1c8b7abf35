"""Cost of one rate-limit hit and one ticket issue as live state grows.

    python -m bench.limits

The baseline is the same adapter with little state. Work per call does not grow with
the state, so both stay at a few microseconds; a bigger dict misses the CPU cache more,
which makes the large case a few times slower, not thousands. Before the bounded
adapters, a hit past 100,000 keys cost ~12 ms and an issue at 30,000 tickets ~2 ms
(one run on 2 shared cores: 1.3 µs → 4.3 µs per hit, 3.0 µs → 7.8 µs per issue).
"""

from __future__ import annotations

import asyncio
import time

from hubbub.adapters.memory import MemoryRateLimiter, MemoryTicketStore

HITS = 20_000


async def _per_hit(live_keys: int) -> float:
    limiter = MemoryRateLimiter(max_keys=max(live_keys, 1000))
    for i in range(live_keys):
        await limiter.hit(f"name:{i}", 5, 300)
    started = time.perf_counter()
    for i in range(HITS):
        await limiter.hit(f"fresh:{i}", 5, 300)
    return (time.perf_counter() - started) / HITS


async def _per_issue(live_tickets: int) -> float:
    tickets = MemoryTicketStore(max_tickets=max(live_tickets, 1000) + HITS)
    for i in range(live_tickets):
        await tickets.issue(f"u{i}", 30)
    started = time.perf_counter()
    for i in range(HITS):
        await tickets.issue(f"v{i}", 30)
    return (time.perf_counter() - started) / HITS


async def _main() -> None:
    small, large = await _per_hit(1000), await _per_hit(200_000)
    print(
        f"limiter hit: {small * 1e6:.2f} µs at 1,000 keys, {large * 1e6:.2f} µs at "
        f"200,000 keys (ratio {large / small:.2f})"
    )
    small, large = await _per_issue(100), await _per_issue(30_000)
    print(
        f"ticket issue: {small * 1e6:.2f} µs at 100 live, {large * 1e6:.2f} µs at "
        f"30,000 live (ratio {large / small:.2f})"
    )


if __name__ == "__main__":
    asyncio.run(_main())
