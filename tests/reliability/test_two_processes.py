"""Two `hubbub serve` processes sharing one PostgreSQL database, with clients on both.

Live delivery across processes is the scale-out issue's; here a client learns what the
other process wrote through `/api/sync`: all of it, nothing twice, in order within each
conversation, while both processes write at once. Retries across the two processes and
a kill -9 of one of them are the retry and crash-safety suites' (`deployment`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.postgres import PostgresServer
from tests.reliability.helpers import sharing_postgres
from tests.support import Account, Api, Reader, ServerProcess

SENDS = 30  # per writer


@pytest.fixture
def processes(postgres: PostgresServer, tmp_path: Path) -> Iterator[list[ServerProcess]]:
    with sharing_postgres(postgres, tmp_path) as started:
        yield started


@pytest.fixture
async def apis(processes: list[ServerProcess]) -> AsyncIterator[tuple[Api, Api]]:
    a, b = Api(processes[0].base_url), Api(processes[1].base_url)
    yield a, b
    await a.close()
    await b.close()


async def test_clients_on_both_processes_get_everything_the_other_wrote_once(
    apis: tuple[Api, Api],
) -> None:
    a, b = apis
    ana = await a.sign_up()
    bob = await b.sign_up()
    cy = await b.sign_up()
    group = await a.group(ana, "two processes", bob, cy)
    direct = await b.direct(bob, ana)
    # Devices that poll /api/sync while both processes write, each from where it is now.
    readers = [await Reader.now(a, ana), await Reader.now(b, cy), await Reader.now(a, bob)]
    stop = asyncio.Event()
    sent: dict[str, set[str]] = {group: set(), direct: set()}

    async def write(api: Api, sender: Account, prefix: str) -> None:
        for n in range(SENDS):
            room = group if n % 3 else direct
            sent[room].add((await api.send(sender, room, f"{prefix} {n}", f"{prefix}-{n}"))["id"])

    following = [asyncio.create_task(r.follow(stop)) for r in readers]
    try:
        await asyncio.gather(write(a, ana, "ana-on-a"), write(b, bob, "bob-on-b"))
    finally:
        stop.set()
        await asyncio.gather(*following)
    # Every user got every message of the conversations they are in, whichever process
    # took it, once, in the conversation's order (as the other process lists it).
    ana_r, cy_r, bob_r = readers
    for reader, rooms in ((ana_r, (group, direct)), (cy_r, (group,)), (bob_r, (group, direct))):
        await reader.catch_up()
        other = b if reader.api is a else a
        for room in rooms:
            history = await other.history_all(reader.account, room)
            assert history is not None and {m["id"] for m in history} == sent[room]
            assert reader.created(room) == [m["id"] for m in history]
    assert cy_r.created(direct) == []
