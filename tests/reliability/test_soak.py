"""Soak (only with HUBBUB_SOAK=1): N clients chatting in groups of 10 for M minutes.

Every client holds a WebSocket and sends a message every few seconds; at the end,
every member of every group has received every message of its group exactly once
(live, or through /api/sync after a 4008 disconnect), every acknowledged message is
stored once with seqs 1..n, and the server's RSS, printed over time, stays flat.

    HUBBUB_SOAK=1 [HUBBUB_SOAK_CLIENTS=2000] [HUBBUB_SOAK_MINUTES=10] \\
    [HUBBUB_SOAK_INTERVAL=10] pytest -s tests/reliability/test_soak.py
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import websockets

from tests.reliability.helpers import own_server, server_rss_kib
from tests.support import Account, Api, ServerProcess

pytestmark = pytest.mark.skipif(
    os.environ.get("HUBBUB_SOAK") != "1", reason="soak runs only with HUBBUB_SOAK=1"
)

CLIENTS = int(os.environ.get("HUBBUB_SOAK_CLIENTS", "2000"))
MINUTES = float(os.environ.get("HUBBUB_SOAK_MINUTES", "10"))
INTERVAL = float(os.environ.get("HUBBUB_SOAK_INTERVAL", "10"))
GROUP = 10


@dataclass
class Client:
    """A light WebSocket client: keeps message ids, not frames, so 2,000 of them fit."""

    account: Account
    room: str
    received: dict[str, int] = field(default_factory=dict)  # message id -> times
    acked: dict[str, str] = field(default_factory=dict)  # clientMessageId -> message id
    cursor: str = "0"  # the resume cursor: the first hello's, then each sync's
    seen: set[str] = field(default_factory=set)
    attempted: set[str] = field(default_factory=set)  # clientMessageIds sent
    reconnects: int = 0
    _waiting: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    connection: Any = None

    def take(self, raw: str | bytes, *, replayed: bool = False) -> None:
        frame = orjson.loads(raw)
        kind = frame.get("type")
        cursor = frame.get("cursor")
        if kind == "hello":
            self.cursor = self.cursor if self.cursor != "0" else cursor
            return
        if cursor:
            if cursor in self.seen:
                # Normal for a replay overlapping live delivery; never on one connection.
                assert replayed, f"cursor {cursor} delivered twice on one connection"
            else:
                self.seen.add(cursor)
                if kind == "message.created":
                    message_id = frame["message"]["id"]
                    self.received[message_id] = self.received.get(message_id, 0) + 1
        waiter = self._waiting.pop(frame.get("requestId") or "", None)
        if waiter is not None and not waiter.done():
            waiter.set_result(frame)


async def _connect(api: Api, client: Client) -> None:
    ticket = await api.ticket(client.account)
    client.connection = await websockets.connect(
        f"{api.ws_url}?ticket={ticket}", max_queue=None, ping_interval=None
    )


async def _reader(client: Client) -> None:
    try:
        async for raw in client.connection:
            client.take(raw)
    except websockets.ConnectionClosed:
        pass
    finally:
        for waiter in client._waiting.values():
            if not waiter.done():
                waiter.set_exception(ConnectionError("closed before the ack"))
        client._waiting.clear()


async def _run_client(api: Api, client: Client, until: float, rng: random.Random) -> None:
    n = 0
    await asyncio.sleep(rng.uniform(0, INTERVAL))
    while time.monotonic() < until:
        reader = asyncio.create_task(_reader(client))
        try:
            while time.monotonic() < until and not reader.done():
                cmid = f"{client.account.username}-{n}"
                waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
                client._waiting[cmid] = waiter
                client.attempted.add(cmid)
                await client.connection.send(
                    orjson.dumps(
                        {
                            "action": "sendMessage",
                            "requestId": cmid,
                            "conversationId": client.room,
                            "clientMessageId": cmid,
                            "body": f"soak {n}",
                        }
                    ).decode()
                )
                reply = await asyncio.wait_for(waiter, 60)
                assert reply["type"] == "ack", reply
                client.acked[cmid] = reply["message"]["id"]
                n += 1
                await asyncio.sleep(rng.uniform(0.5, 1.5) * INTERVAL)
        except (websockets.ConnectionClosed, ConnectionError):
            pass  # the same clientMessageId is sent again after the reconnect
        if reader.done() and time.monotonic() < until:
            # Dropped (e.g. 4008, too slow): reconnect and catch up like a real client.
            client.reconnects += 1
            await _catch_up(api, client)
            await _connect(api, client)
        else:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def _catch_up(api: Api, client: Client) -> None:
    events, client.cursor = await api.sync_all(client.account, client.cursor)
    for event in events:
        client.take(orjson.dumps(event), replayed=True)


async def _rss_sampler(server: ServerProcess, samples: list[tuple[float, int]], t0: float) -> None:
    while True:
        samples.append((time.monotonic() - t0, server_rss_kib(server)))
        print(f"soak t={samples[-1][0]:6.0f}s server RSS {samples[-1][1] / 1024:7.1f} MiB")
        await asyncio.sleep(30)


async def test_soak(tmp_path: Path) -> None:
    with own_server(tmp_path, HUBBUB_MAX_PENDING_FRAMES="5000") as server:
        api = Api(server.base_url)
        gate = asyncio.Semaphore(32)

        async def sign_up() -> Account:
            async with gate:
                return await api.sign_up()

        accounts = await asyncio.gather(*[sign_up() for _ in range(CLIENTS)])
        clients: list[Client] = []
        for start in range(0, CLIENTS, GROUP):
            members = accounts[start : start + GROUP]
            if len(members) < 2:
                members = accounts[start - 1 : start + 1]
            room = await api.group(members[0], f"soak {start}", *members[1:])
            clients += [Client(a, room) for a in accounts[start : start + GROUP]]

        async def connect(client: Client) -> None:
            async with gate:
                await _connect(api, client)

        await asyncio.gather(*[connect(c) for c in clients])
        print(f"soak: {len(clients)} clients connected; chatting for {MINUTES} min")
        t0 = time.monotonic()
        samples: list[tuple[float, int]] = []
        sampler = asyncio.create_task(_rss_sampler(server, samples, t0))
        until = t0 + MINUTES * 60
        await asyncio.gather(
            *[_run_client(api, c, until, random.Random(i)) for i, c in enumerate(clients)]
        )
        sampler.cancel()
        samples.append((time.monotonic() - t0, server_rss_kib(server)))
        for client in clients:
            with contextlib.suppress(Exception):
                await client.connection.close()
            await _catch_up(api, client)  # whatever the closed connection had not brought

        # Every room, paged through to the end: what the server stored is the truth the
        # clients are held to.
        stored: dict[str, list[dict[str, Any]]] = {}
        for client in clients:
            if client.room not in stored:
                messages = await api.history_all(client.account, client.room)
                assert messages is not None
                stored[client.room] = messages
        sent = sum(len(c.acked) for c in clients)
        for room, messages in stored.items():
            assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1)), room
            members = [c for c in clients if c.room == room]
            ids = {m["id"] for m in messages}
            acked = {i for c in members for i in c.acked.values()}
            assert acked <= ids, f"{len(acked - ids)} acknowledged messages not stored"
            # Anything stored beyond the acks is a send the end of the run cut short.
            attempted = {cmid for c in members for cmid in c.attempted}
            unacked = [m for m in messages if m["id"] not in acked]
            assert all(m["clientMessageId"] in attempted for m in unacked), unacked[:5]
            assert len(unacked) <= len(members), unacked[:5]
            for client in members:
                own = {m["id"] for m in messages if m["senderId"] == client.account.id}
                expected, got = ids - own, set(client.received) - own
                assert got == expected, (
                    f"{client.account.username} missed {len(expected - got)},"
                    f" got {len(got - expected)} not in the room"
                )
                twice = [m for m, n in client.received.items() if n > 1]
                assert not twice, twice[:5]
        reconnects = sum(c.reconnects for c in clients)
        print(
            f"soak: {sent} messages acked, {sent * (GROUP - 1)} deliveries checked, "
            f"{reconnects} reconnects; RSS MiB over time: "
            + ", ".join(f"{t:.0f}s={kib / 1024:.0f}" for t, kib in samples)
        )
        assert sent >= len(clients), "too little traffic to prove anything"
        # Flat memory: after warm-up (the first quarter), RSS grows by at most 25% + 32 MiB.
        warm = (
            next(kib for t, kib in samples if t >= MINUTES * 60 / 4) if len(samples) > 2 else None
        )
        if warm is not None:
            assert samples[-1][1] <= warm * 1.25 + 32 * 1024, samples
        await api.close()
