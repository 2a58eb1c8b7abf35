"""Two `hubbub serve` processes sharing one PostgreSQL database, with clients on both.

Live delivery across processes is the scale-out issue's; here a client learns what the
other process wrote through `/api/sync`: all of it, nothing twice, in cursor order, even
while both processes write at once and one of them is killed mid-way. Retries of one
clientMessageId sent to both processes yield one message.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.postgres import PostgresServer
from tests.reliability.helpers import sharing_postgres
from tests.support import Account, Api, ServerProcess

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


def _key(event: dict[str, Any]) -> str:
    """What one event is about, to tell a duplicate (the cursor alone would not)."""
    message = event.get("message") or {}
    return f"{event['type']}:{message.get('id', '')}:{event['cursor']}"


class Follower:
    """A client that syncs incrementally, as a real one does between reconnects."""

    def __init__(self, api: Api, account: Account) -> None:
        self.api, self.account = api, account
        self.cursor = "0"
        self.events: list[dict[str, Any]] = []

    async def sync(self) -> None:
        events, self.cursor = await self.api.sync_all(self.account, self.cursor)
        self.events += events

    async def follow(self, done: asyncio.Event) -> None:
        while not done.is_set():
            await self.sync()
            await asyncio.sleep(0)  # let the writers run between polls
        await self.sync()

    async def check_complete(self) -> list[dict[str, Any]]:
        """Incremental syncing got exactly what one sync from the start gets, once each,
        in cursor order."""
        everything, _ = await self.api.sync_all(self.account, "0")
        assert [_key(e) for e in self.events] == [_key(e) for e in everything]
        cursors = [int(e["cursor"]) for e in self.events]
        assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
        return self.events


def _created(events: list[dict[str, Any]]) -> list[str]:
    return [e["message"]["id"] for e in events if e["type"] == "message.created"]


async def test_clients_on_both_processes_get_everything_the_other_wrote_once(
    apis: tuple[Api, Api],
) -> None:
    a, b = apis
    ana = await a.sign_up()
    bob = await b.sign_up()
    cy = await b.sign_up()
    group = await a.group(ana, "two processes", bob, cy)
    direct = await b.direct(bob, ana)
    followers = [Follower(a, ana), Follower(b, cy), Follower(a, bob)]
    done = asyncio.Event()

    async def write(api: Api, sender: Account, prefix: str) -> list[str]:
        ids = []
        for n in range(SENDS):
            room = group if n % 3 else direct
            sent = await api.send(sender, room, f"{prefix} {n}", f"{prefix}-{n}")
            ids.append(sent["id"])
        return ids

    following = [asyncio.create_task(f.follow(done)) for f in followers]
    try:
        written = await asyncio.gather(write(a, ana, "ana-on-a"), write(b, bob, "bob-on-b"))
    finally:
        done.set()
        await asyncio.gather(*following)
    ana_ids, bob_ids = written
    for follower in followers:
        created = _created(await follower.check_complete())
        assert len(created) == len(set(created)), "a message arrived twice"
    # Every user got every message of the conversations they are in, whichever process
    # took it.
    everyone = set(ana_ids) | set(bob_ids)
    in_group = {i for n, i in enumerate(ana_ids) if n % 3} | {
        i for n, i in enumerate(bob_ids) if n % 3
    }
    assert set(_created(followers[0].events)) == everyone  # ana: the group and the direct
    assert set(_created(followers[2].events)) == everyone  # bob too
    assert set(_created(followers[1].events)) == in_group  # cy: the group only


async def test_one_client_message_id_sent_to_both_processes_is_one_message(
    apis: tuple[Api, Api],
) -> None:
    a, b = apis
    ana = await a.sign_up()
    bob = await b.sign_up()
    room = await a.direct(ana, bob)
    payload = {"clientMessageId": "both-1", "body": "once"}
    replies = await asyncio.gather(
        *(
            api.call("POST", f"/conversations/{room}/messages", ana, json=payload)
            for api in (a, b)
            for _ in range(8)
        )
    )
    assert {r.status_code for r in replies} <= {200, 201}
    assert [r.status_code for r in replies].count(201) == 1
    assert len({r.json()["message"]["id"] for r in replies}) == 1
    for api, account in ((a, bob), (b, bob), (b, ana)):
        events, _ = await api.sync_all(account, "0")
        assert len(_created(events)) == 1


async def test_a_process_killed_mid_load_loses_nothing_acked_and_duplicates_nothing(
    processes: list[ServerProcess], apis: tuple[Api, Api]
) -> None:
    a, b = apis
    ana = await a.sign_up()
    bob = await b.sign_up()
    room = await b.direct(bob, ana)
    acked: dict[str, str] = {}  # clientMessageId -> message id
    killed = asyncio.Event()

    async def write(api: Api, sender: Account, prefix: str) -> None:
        for n in range(SENDS):
            cmid = f"{prefix}-{n}"
            with contextlib.suppress(httpx.HTTPError):
                reply = await api.call(
                    "POST",
                    f"/conversations/{room}/messages",
                    sender,
                    json={"clientMessageId": cmid, "body": cmid},
                )
                if reply.status_code in (200, 201):
                    acked[cmid] = reply.json()["message"]["id"]
            if prefix == "a" and n == SENDS // 3:
                processes[0].stop(signal.SIGKILL)  # process a dies under load
                killed.set()

    await asyncio.gather(write(a, ana, "a"), write(b, bob, "b"))
    assert killed.is_set()
    processes[0].start()  # back, on the same database
    # Every send is retried once more through process b (a client that never heard back
    # retries): acked ones answer the same message, the rest are created once.
    for n in range(SENDS):
        cmid = f"a-{n}"
        sent = await b.send(ana, room, cmid, cmid)
        if cmid in acked:
            assert sent["id"] == acked[cmid]
        acked[cmid] = sent["id"]
    for api, account in ((a, bob), (b, bob), (a, ana)):
        events, _ = await api.sync_all(account, "0")
        created = _created(events)
        assert len(created) == len(set(created)) == 2 * SENDS
        assert set(created) == set(acked.values())
