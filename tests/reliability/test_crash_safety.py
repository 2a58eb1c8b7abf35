"""Crash safety: traffic from several WebSocket and REST senders, `kill -9` of the
server at a random moment, restart on the same data directory; several rounds.

After each restart: every acknowledged message is there with its id, seq and body;
each conversation's seqs are exactly 1..n; no (sender, clientMessageId) twice; the
event log agrees with the messages; retrying the sends that were in flight with the
same clientMessageId yields exactly one message each."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

from tests.reliability.helpers import own_server, start
from tests.support import Account, Api, ServerProcess, open_socket

ROUNDS = 4
WS_SENDERS = 3
REST_SENDERS = 3


@dataclass
class Ledger:
    """What the clients know: every send they tried, and the acks they got."""

    attempted: dict[str, tuple[Account, str, str]] = field(default_factory=dict)
    acked: dict[str, dict[str, Any]] = field(default_factory=dict)


async def _rest_sender(api: Api, me: Account, rooms: list[str], ledger: Ledger, tag: str) -> None:
    rng = random.Random(tag)
    for n in itertools.count():
        cmid = f"{tag}-{n}"
        room = rng.choice(rooms)
        body = f"{me.username} rest {n}"
        ledger.attempted[cmid] = (me, room, body)
        try:
            reply = await api.call(
                "POST",
                f"/conversations/{room}/messages",
                me,
                json={"clientMessageId": cmid, "body": body},
            )
        except httpx.HTTPError:
            return
        assert reply.status_code == 201, reply.text
        ledger.acked[cmid] = reply.json()["message"]


async def _ws_sender(api: Api, me: Account, rooms: list[str], ledger: Ledger, tag: str) -> None:
    rng = random.Random(tag)
    with contextlib.suppress(OSError, websockets.ConnectionClosed, AssertionError, TimeoutError):
        async with open_socket(api, me) as socket_:
            for n in itertools.count():
                cmid = f"{tag}-{n}"
                room = rng.choice(rooms)
                body = f"{me.username} ws {n}"
                ledger.attempted[cmid] = (me, room, body)
                reply = await socket_.request(
                    "sendMessage", conversationId=room, clientMessageId=cmid, body=body
                )
                if reply["type"] == "error" and reply["error"]["code"] == "rate_limited":
                    await asyncio.sleep(0.5)
                    continue
                assert reply["type"] == "ack", reply
                ledger.acked[cmid] = reply["message"]


async def _all_messages(api: Api, account: Account, room: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        reply = await api.call(
            "GET", f"/conversations/{room}/messages", account, params={"after": after, "limit": 200}
        )
        assert reply.status_code == 200, reply.text
        page = reply.json()
        found += page["messages"]
        if not page["hasMore"]:
            return found
        after = page["messages"][-1]["seq"]


async def _check_store(api: Api, people: list[Account], rooms: list[str], ledger: Ledger) -> int:
    stored: dict[str, dict[str, Any]] = {}
    for room in rooms:
        messages = await _all_messages(api, people[0], room)
        assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1)), room
        keys = [(m["senderId"], m["clientMessageId"]) for m in messages]
        assert len(keys) == len(set(keys)), "a clientMessageId was stored twice"
        for message in messages:
            stored[message["clientMessageId"]] = message
    for cmid, acked in ledger.acked.items():
        assert cmid in stored, f"acknowledged message {cmid} was lost"
        kept = stored[cmid]
        assert (kept["id"], kept["seq"], kept["body"]) == (
            acked["id"],
            acked["seq"],
            acked["body"],
        ), (acked, kept)
    # The event log was written in the same transactions: one message.created for
    # each stored message, for every member, and none for anything else.
    for person in people:
        events, _ = await api.sync_all(person, "0")
        created = [e["message"]["id"] for e in events if e["type"] == "message.created"]
        assert len(created) == len(set(created))
        assert set(created) == {m["id"] for m in stored.values()}
    return len(stored)


async def _retry_in_flight(api: Api, ledger: Ledger) -> tuple[int, int]:
    """Resends every attempted but unacknowledged message with its clientMessageId;
    returns how many, and how many of those had been committed before the kill."""
    retried = committed = 0
    for cmid, (sender, room, body) in list(ledger.attempted.items()):
        if cmid in ledger.acked:
            continue
        reply = await api.call(
            "POST",
            f"/conversations/{room}/messages",
            sender,
            json={"clientMessageId": cmid, "body": body},
        )
        # 200: it had been committed and only the ack was lost; 201: it had not.
        assert reply.status_code in (200, 201), reply.text
        ledger.acked[cmid] = reply.json()["message"]
        retried += 1
        committed += reply.status_code == 200
    return retried, committed


async def test_kill_9_under_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    rng = random.Random(20261125)
    with own_server(tmp_path) as server:
        api = Api(server.base_url)
        people = [await api.sign_up() for _ in range(WS_SENDERS + REST_SENDERS)]
        rooms = [
            await api.group(people[0], "everyone", *people[1:]),
            await api.group(people[1], "also everyone", *people[0:1], *people[2:]),
        ]
        await api.close()
        ledger = Ledger()
        report = []
        for round_ in range(ROUNDS):
            api = Api(server.base_url)
            senders = [
                asyncio.create_task(_ws_sender(api, people[i], rooms, ledger, f"r{round_}w{i}"))
                for i in range(WS_SENDERS)
            ] + [
                asyncio.create_task(
                    _rest_sender(api, people[WS_SENDERS + i], rooms, ledger, f"r{round_}h{i}")
                )
                for i in range(REST_SENDERS)
            ]
            await asyncio.sleep(rng.uniform(0.3, 1.5))
            _kill(server)
            await asyncio.wait_for(asyncio.gather(*senders), 30)
            await api.close()

            start(server)
            api = Api(server.base_url)
            in_flight = await _retry_in_flight(api, ledger)
            total = await _check_store(api, people, rooms, ledger)
            # Retrying what is already stored, after the restart, changes nothing.
            for cmid in rng.sample(sorted(ledger.acked), 10):
                sender, room, body = ledger.attempted[cmid]
                again = await api.call(
                    "POST",
                    f"/conversations/{room}/messages",
                    sender,
                    json={"clientMessageId": cmid, "body": body + " (again)"},
                )
                assert again.status_code == 200
                assert again.json()["message"]["id"] == ledger.acked[cmid]["id"]
            assert await _check_store(api, people, rooms, ledger) == total
            report.append((round_, total, in_flight))
            await api.close()
        print("rounds (round, stored, (in flight at the kill, of which committed)):", report)
        assert report[-1][1] >= ROUNDS * 20, "too little traffic to prove anything"


def _kill(server: ServerProcess) -> None:
    assert server.process is not None
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
