"""Scale-out (issue 10): two `hubbub serve` processes sharing PostgreSQL and Redis behave
as one platform. Real processes, real Redis, real PostgreSQL, real WebSocket clients.

Alice is on process A, Bob on process B (one `Api` per process, so each request goes
where the test says). What they must notice: messages, presence and typing cross the
processes; a sign-out, a ticket, the connection cap and the sign-in limit hold for the
whole platform; Redis going away degrades each process to its own connections and
nothing acknowledged is lost once it is back; a process killed with kill -9 takes its
users offline for their contacts within the presence lease; a client that does not
read on one process slows nobody else and is closed with 4008.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.cluster import LEASE_SECONDS, Cluster, running_cluster
from tests.postgres import PostgresServer
from tests.redis import RedisServer
from tests.support import Account, Api, Socket, free_port, open_socket

CAP = 2  # connections per user, on the whole platform
BURST = 50
# The flood: 1000 messages of 4 kB, past what the kernel buffers for a deaf client
# (~700 of them on this machine) and the process queues for it (10 frames, below).
CHAT, FLOOD = 30, 1000
# How long a killed process's users may still show online: the lease, plus the time
# the survivor takes to notice it lapsed (a renewal period), plus slack for a busy box.
OFFLINE_WITHIN = 2 * LEASE_SECONDS + 4
RESYNC = {4008}  # close codes docs/websocket.md answers with "reconnect and catch up"


# --- deployments -------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared(
    postgres: PostgresServer,
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    """The module's cluster of two (the kill -9 test restarts what it killed)."""
    root = Path(tmp_path_factory.mktemp("scale-out"))
    env = {"HUBBUB_MAX_CONNECTIONS_PER_USER": str(CAP)}
    with running_cluster(root, postgres, redis_server.fresh_url(), env=env) as cluster:
        yield cluster


@pytest.fixture
async def ab(shared: Cluster) -> AsyncIterator[tuple[Api, Api]]:
    """A client of process A and one of process B, both processes running."""
    shared.start()
    a, b = (Api(url) for url in shared.base_urls)
    yield a, b
    await a.close()
    await b.close()


@contextlib.asynccontextmanager
async def _clients(cluster: Cluster) -> AsyncIterator[tuple[Api, Api]]:
    a, b = (Api(url) for url in cluster.base_urls)
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def _pair(a: Api, b: Api) -> tuple[Account, Account, str]:
    """Alice (signed up on A) and Bob (on B) in a direct conversation."""
    alice, bob = await a.sign_up(), await b.sign_up()
    return alice, bob, await a.direct(alice, bob)


def _created(socket_: Socket, room: str) -> list[dict[str, Any]]:
    return [
        f
        for f in socket_.of_type("message.created")
        if f["conversationId"] == room and f["message"]["conversationId"] == room
    ]


async def _send_all(socket_: Socket, room: str, bodies: list[str], tag: str) -> list[Any]:
    """Sends every body at once (frames in this order), then waits for every ack."""
    ids = [f"{tag}-{n}" for n in range(len(bodies))]
    for n, body in enumerate(bodies):
        await socket_.send(
            {
                "action": "sendMessage",
                "requestId": ids[n],
                "conversationId": room,
                "clientMessageId": ids[n],
                "body": body,
            }
        )
    acks = [await socket_.wait_for(15, requestId=i) for i in ids]
    assert all(ack["type"] == "ack" for ack in acks), acks
    return acks


async def _closed_with(socket_: Socket, within: float = 10) -> int | None:
    await asyncio.wait_for(socket_.connection.wait_closed(), within)
    return socket_.connection.close_code


async def _refused_with(url: str) -> int:
    """The close code a handshake at `url` is refused with."""
    async with websockets.connect(url) as refused:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(refused.recv(), 10)
    assert closed.value.rcvd is not None, "closed without a close frame"
    return closed.value.rcvd.code


# --- a. cross-process basics ---------------------------------------------------------


async def test_a_burst_reaches_the_other_process_once_and_in_order(ab: tuple[Api, Api]) -> None:
    a, b = ab
    alice, bob, room = await _pair(a, b)
    async with open_socket(a, alice) as alice_socket, open_socket(b, bob) as bob_socket:
        bodies = [f"burst {n}" for n in range(BURST)]
        acks = await _send_all(alice_socket, room, bodies, "burst")
        await bob_socket.until(lambda: len(_created(bob_socket, room)) >= BURST, within=15)
        await bob_socket.settle()  # anything extra (a duplicate) would be here by now
        got = _created(bob_socket, room)
        # Once each, in the conversation's order: the order the acks gave them. (That
        # it is also the order sent is the API suite's test_websocket.py.)
        seqs = [f["eventSeq"] for f in got]
        assert seqs == sorted(set(seqs)), "eventSeq must strictly increase, once each"
        in_log_order = sorted(acks, key=lambda ack: ack["eventSeq"])
        assert [f["message"]["id"] for f in got] == [x["message"]["id"] for x in in_log_order]
        assert seqs == [x["eventSeq"] for x in in_log_order]
        assert sorted(f["message"]["body"] for f in got) == sorted(bodies)


async def test_presence_and_typing_cross_the_processes(ab: tuple[Api, Api]) -> None:
    a, b = ab
    alice, bob, room = await _pair(a, b)
    async with open_socket(b, bob) as bob_socket:
        async with open_socket(a, alice) as alice_socket:
            assert alice_socket.of_type("hello")[0]["online"] == [bob.id]
            await bob_socket.wait_for(type="presence", userId=alice.id, online=True)
            await alice_socket.send({"action": "typing", "conversationId": room, "isTyping": True})
            typing = await bob_socket.wait_for(type="typing", userId=alice.id)
            assert typing == {
                "type": "typing",
                "conversationId": room,
                "userId": alice.id,
                "isTyping": True,
            }
        await bob_socket.wait_for(type="presence", userId=alice.id, online=False)


async def test_a_user_on_both_processes_stays_online_until_the_last_connection_goes(
    ab: tuple[Api, Api],
) -> None:
    a, b = ab
    alice, bob, _ = await _pair(a, b)
    async with open_socket(b, bob) as bob_socket:
        async with open_socket(b, alice) as alice_on_b:
            async with open_socket(a, alice):
                await bob_socket.wait_for(type="presence", userId=alice.id, online=True)
            # Her phone on A went away; her laptop on B is still there.
            await alice_on_b.request("ping")
            await bob_socket.settle()
            assert {"type": "presence", "userId": alice.id, "online": False} not in (
                bob_socket.frames
            )
        await bob_socket.wait_for(type="presence", userId=alice.id, online=False)


async def test_signing_out_on_one_process_ends_the_session_on_the_other(
    ab: tuple[Api, Api],
) -> None:
    a, b = ab
    laptop = await a.sign_up()
    phone = await a.sign_in(laptop.username, laptop.password)
    async with open_socket(b, laptop) as laptop_on_b, open_socket(b, phone) as phone_on_b:
        spare_ticket = await b.ticket(laptop)
        reply = await a.call("POST", "/auth/signout", laptop)
        assert reply.status_code == 204
        # Right after sign-out returns, B refuses the session's token and ticket too.
        assert (await b.call("GET", "/users/me", laptop)).status_code == 401
        assert (await b.call("POST", "/auth/ws-ticket", laptop)).status_code == 401
        assert await _closed_with(laptop_on_b) == 4401
        assert await _refused_with(f"{b.ws_url}?ticket={spare_ticket}") == 4401
        # The user's other session is untouched, on either process.
        assert (await a.call("GET", "/users/me", phone)).status_code == 200
        assert (await phone_on_b.request("ping"))["type"] == "pong"


async def test_signing_out_everywhere_closes_every_session_on_every_process(
    ab: tuple[Api, Api],
) -> None:
    a, b = ab
    laptop = await a.sign_up()
    phone = await b.sign_in(laptop.username, laptop.password)
    async with (
        open_socket(a, laptop) as laptop_on_a,
        open_socket(b, phone) as phone_on_b,
    ):
        reply = await b.call("POST", "/auth/signout", phone, json={"everywhere": True})
        assert reply.status_code == 204
        for api, account in ((a, laptop), (b, laptop), (a, phone), (b, phone)):
            assert (await api.call("GET", "/users/me", account)).status_code == 401
        assert await _closed_with(laptop_on_a) == 4401
        assert await _closed_with(phone_on_b) == 4401


async def test_a_ticket_from_one_process_opens_one_socket_on_any(ab: tuple[Api, Api]) -> None:
    a, b = ab
    alice = await a.sign_up()
    ticket = await a.ticket(alice)
    connection = await websockets.connect(f"{b.ws_url}?ticket={ticket}")
    on_b = Socket(connection)
    try:
        hello = await on_b.wait_for(type="hello")
        assert hello["userId"] == alice.id
        for api in (a, b):  # used once: no process takes it again
            assert await _refused_with(f"{api.ws_url}?ticket={ticket}") == 4401
    finally:
        await on_b.close()


async def test_the_connection_cap_counts_both_processes(ab: tuple[Api, Api]) -> None:
    a, b = ab
    alice = await a.sign_up()
    async with open_socket(a, alice), open_socket(b, alice):
        for api in (a, b):
            ticket = await api.ticket(alice)
            assert await _refused_with(f"{api.ws_url}?ticket={ticket}") == 4429
    # Closing them frees the slots on the whole platform at once.
    async with open_socket(b, alice), open_socket(b, alice) as second:
        assert second.of_type("hello")


async def test_handshakes_racing_on_both_processes_never_pass_the_cap(
    ab: tuple[Api, Api],
) -> None:
    a, b = ab
    alice = await a.sign_up()
    tickets = [(api, await api.ticket(alice)) for api in (a, b, a, b, a, b)]

    async def attempt(api: Api, ticket: str) -> tuple[int | None, ClientConnection]:
        connection = await websockets.connect(f"{api.ws_url}?ticket={ticket}")
        try:
            frame = orjson.loads(await asyncio.wait_for(connection.recv(), 10))
            return (None if frame["type"] == "hello" else -1), connection
        except websockets.ConnectionClosed as closed:
            return (closed.rcvd.code if closed.rcvd else -2), connection

    results = await asyncio.gather(*(attempt(api, t) for api, t in tickets))
    try:
        codes = sorted((code or 0) for code, _ in results)
        assert codes == [0] * CAP + [4429] * (len(tickets) - CAP), codes
    finally:
        for _, connection in results:
            await connection.close()


async def test_the_sign_in_limit_per_account_counts_both_processes(ab: tuple[Api, Api]) -> None:
    a, b = ab
    account = await a.sign_up()  # its sign-in is the first of the ten allowed per window
    statuses = []
    for n in range(12):
        api = (a, b)[n % 2]
        reply = await api.call(
            "POST", "/auth/signin", json={"username": account.username, "password": "guess 123"}
        )
        statuses.append(reply.status_code)
    assert statuses == [401] * 9 + [429] * 3


# --- b. Redis goes away during traffic, and comes back ------------------------------


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop(kill=True)


@pytest.fixture
def outage_cluster(
    postgres: PostgresServer, own_redis: RedisServer, tmp_path: Path
) -> Iterator[Cluster]:
    with running_cluster(tmp_path, postgres, own_redis.url()) as cluster:
        yield cluster


class _Device:
    """One client of `account` that follows docs/websocket.md: it keeps the resume
    cursor of its first hello; closed with a resync code it reconnects (with a fresh
    ticket) and, to catch up, syncs from that cursor; never closed, it fills a gap in a
    conversation's `eventSeq` from the conversation's log."""

    def __init__(self, api: Api, account: Account) -> None:
        self.api, self.account = api, account
        self.sockets: list[Socket] = []
        self._open: list[contextlib.AbstractAsyncContextManager[Socket]] = []

    async def connect(self) -> Socket:
        opener = open_socket(self.api, self.account)
        self.sockets.append(await opener.__aenter__())
        self._open.append(opener)
        return self.sockets[-1]

    async def live(self) -> Socket:
        """The open socket, reconnecting if the server closed the last one to resync."""
        last = self.sockets[-1]
        if last.closed:
            assert last.closed_code in RESYNC, f"closed with {last.closed_code}"
            return await self.connect()
        return last

    async def close(self) -> None:
        for opener in reversed(self._open):
            await opener.__aexit__(None, None, None)

    def created(self, room: str) -> set[str]:
        return {f["message"]["id"] for s in self.sockets for f in _created(s, room)}

    async def caught_up(self, room: str) -> set[str]:
        """The ids of the messages of `room` this client holds once it has caught up."""
        seen = self.created(room)
        if len(self.sockets) > 1:  # it reconnected: sync from the resume cursor
            hello = self.sockets[0].of_type("hello")[0]
            events, _ = await self.api.sync_all(self.account, hello["cursor"])
            return seen | {
                e["message"]["id"]
                for e in events
                if e["type"] == "message.created" and e["conversationId"] == room
            }
        reached = 0
        for frame in self.sockets[0].frames:  # in arrival order, up to the first gap
            if frame.get("conversationId") == room and "eventSeq" in frame:
                if frame["eventSeq"] > reached + 1:
                    break
                reached = max(reached, frame["eventSeq"])
        log = await self.api.log_all(self.account, room, after=reached)
        return seen | {e["message"]["id"] for e in log if e["type"] == "message.created"}


async def _until_delivered(a: Api, alice: Account, bob: _Device, room: str) -> list[Any]:
    """Alice sends (over REST, on A) every half second until Bob's device on B gets one
    live, reconnecting when told to resync; the messages she sent."""
    sent: list[Any] = []
    deadline = asyncio.get_running_loop().time() + 15
    for n in itertools.count():
        sent.append(await a.send(alice, room, f"after {n}", f"after-{n}"))
        socket_ = await bob.live()
        if await _arrives(socket_, room, sent[-1]["id"], within=0.5):
            return sent
        assert asyncio.get_running_loop().time() < deadline, (
            "cross-process delivery never came back"
        )
    raise AssertionError("unreachable")


async def _arrives(socket_: Socket, room: str, message_id: str, within: float) -> bool:
    def there() -> bool:
        return message_id in {f["message"]["id"] for f in _created(socket_, room)}

    with contextlib.suppress(TimeoutError, AssertionError):
        await socket_.until(there, within=within)
    return there()


async def test_a_redis_outage_degrades_each_process_to_its_own_and_loses_nothing(
    outage_cluster: Cluster, own_redis: RedisServer
) -> None:
    async with _clients(outage_cluster) as (a, b):
        alice, carol, bob = await a.sign_up(), await a.sign_up(), await b.sign_up()
        room = await a.group(alice, "outage", carol, bob)
        bob_device = _Device(b, bob)
        try:
            async with open_socket(a, alice) as alice_socket, open_socket(a, carol) as carol_socket:
                bob_socket = await bob_device.connect()
                acks = await _send_all(alice_socket, room, ["before"], "before")
                await bob_socket.wait_for(type="message.created", cursor=acks[0]["cursor"])
                spare_ticket = await a.ticket(carol)

                own_redis.stop()
                # Each process serves its own connections: sends are stored and acked,
                # and the member on the same process gets them live.
                during = await _send_all(
                    alice_socket, room, [f"during {n}" for n in range(5)], "during"
                )
                for ack in during:
                    await carol_socket.wait_for(10, type="message.created", cursor=ack["cursor"])
                acked = {ack["message"]["id"] for ack in acks + during}
                assert (await a.http.get("/healthz")).status_code == 200
                ready = await a.http.get("/readyz")
                assert ready.status_code == 503, ("/readyz during a Redis outage", ready.text)
                # New connections need Redis (tickets, the connection cap): "try again".
                assert (await a.call("POST", "/auth/ws-ticket", carol)).status_code == 503
                assert await _refused_with(f"{a.ws_url}?ticket={spare_ticket}") == 1013

            own_redis.start()  # same port, empty: what Redis held is gone
            acked |= {m["id"] for m in await _until_delivered(a, alice, bob_device, room)}
            assert (await a.http.get("/readyz")).status_code == 200
            # Bob, following docs/websocket.md, misses nothing that was acknowledged.
            assert acked <= await bob_device.caught_up(room)
        finally:
            await bob_device.close()

    for log in outage_cluster.logs():
        assert log.count("is unreachable") == 1, log[-3000:]


# --- b2. one process cut off from Redis while the others keep it -------------------


class _Partition:
    """A TCP relay between one process and Redis that the test can cut (every relayed
    connection reset, new ones refused) and heal (on the same port): a network split
    between that process and Redis, while the other processes still reach it."""

    def __init__(self, redis_port: int) -> None:
        self.redis_port = redis_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def heal(self) -> None:
        self._server = await asyncio.start_server(
            self._relay, "127.0.0.1", self.port, reuse_address=True
        )

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()
        self._server = None

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.redis_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


@pytest.fixture
async def split_cluster(
    postgres: PostgresServer, own_redis: RedisServer, tmp_path: Path
) -> AsyncIterator[tuple[Cluster, _Partition]]:
    """Two processes; A reaches Redis through a relay the test can cut, B directly."""
    partition = _Partition(own_redis.port)
    await partition.heal()
    with running_cluster(tmp_path, postgres, own_redis.url()) as cluster:
        a = cluster.processes[0]
        a.env = {**a.env, "HUBBUB_REDIS_URL": partition.url()}
        await asyncio.to_thread(a.restart)  # the relay runs on this loop meanwhile
        yield cluster, partition
        with contextlib.suppress(AssertionError):
            await partition.cut()


async def test_messages_a_cut_off_process_could_not_publish_reach_the_other_after_the_split(
    split_cluster: tuple[Cluster, _Partition],
) -> None:
    """Alice sends over REST and holds no socket on A, so nothing else happens on A
    after the split heals: no presence change, no other traffic to carry a resync."""
    cluster, partition = split_cluster
    async with _clients(cluster) as (a, b):
        alice, bob, room = await _pair(a, b)
        bob_device = _Device(b, bob)
        try:
            bob_socket = await bob_device.connect()
            sent = [await a.send(alice, room, "before", "before")]
            await bob_socket.until(lambda: sent[0]["id"] in bob_device.created(room))

            await partition.cut()
            sent += [await a.send(alice, room, f"split {n}", f"split-{n}") for n in range(2)]
            await partition.heal()
            # Nobody sends anything more: Bob must still learn of what he missed,
            # live or by being told to resync, within a few seconds.
            missed = {m["id"] for m in sent[1:]}
            deadline = asyncio.get_running_loop().time() + 10
            while not (missed <= bob_device.created(room) or bob_socket.closed):
                assert asyncio.get_running_loop().time() < deadline, (
                    "Bob never got the messages sent during the split, nor a resync"
                )
                await asyncio.sleep(0.05)
            await bob_device.live()
            assert {m["id"] for m in sent} <= await bob_device.caught_up(room)
        finally:
            await bob_device.close()


async def test_a_sign_out_on_a_cut_off_process_holds_everywhere_after_the_split(
    split_cluster: tuple[Cluster, _Partition],
) -> None:
    cluster, partition = split_cluster
    async with _clients(cluster) as (a, b):
        laptop = await a.sign_up()
        async with open_socket(b, laptop) as laptop_on_b:
            await partition.cut()
            reply = await a.call("POST", "/auth/signout", laptop)
            assert reply.status_code == 204
            assert (await a.call("GET", "/users/me", laptop)).status_code == 401
            await partition.heal()
            # Once A reaches Redis again, B learns of the sign-out within a few seconds:
            # it refuses the session's token and closes its socket.
            deadline = asyncio.get_running_loop().time() + 10
            while (await b.call("GET", "/users/me", laptop)).status_code != 401:
                assert asyncio.get_running_loop().time() < deadline, (
                    "B still takes the token of a session signed out on A"
                )
                await asyncio.sleep(0.2)
            assert await _closed_with(laptop_on_b, within=10) in {4401, *RESYNC}


# --- c. kill -9 of a process with users connected ------------------------------------


async def test_a_killed_process_takes_its_users_offline_and_loses_no_ack(
    shared: Cluster, ab: tuple[Api, Api]
) -> None:
    a, b = ab
    alice, bob, room = await _pair(a, b)
    async with open_socket(b, bob) as bob_socket:
        ticket = await a.ticket(alice)
        alice_socket = Socket(await websockets.connect(f"{a.ws_url}?ticket={ticket}"))
        await alice_socket.wait_for(type="hello")
        await bob_socket.wait_for(type="presence", userId=alice.id, online=True)
        acks: list[Any] = []

        async def keep_sending() -> None:
            with contextlib.suppress(AssertionError, websockets.ConnectionClosed, TimeoutError):
                for n in itertools.count():
                    acks.extend(await _send_all(alice_socket, room, [f"k {n}"], f"k{n}"))

        sending = asyncio.create_task(keep_sending())
        await bob_socket.until(lambda: len(_created(bob_socket, room)) >= 10, within=15)
        shared.processes[0].stop(signal.SIGKILL)
        await asyncio.wait_for(sending, 30)
        await bob_socket.wait_for(OFFLINE_WITHIN, type="presence", userId=alice.id, online=False)
        await alice_socket.close()

    history = await b.history_all(bob, room)
    assert history is not None
    assert {ack["message"]["id"] for ack in acks} <= {m["id"] for m in history}
    assert len(acks) >= 10


async def test_a_killed_process_leaves_online_a_user_still_connected_elsewhere(
    shared: Cluster, ab: tuple[Api, Api]
) -> None:
    a, b = ab
    alice, bob, _ = await _pair(a, b)
    async with open_socket(b, bob) as bob_socket, open_socket(b, alice) as alice_on_b:
        ticket = await a.ticket(alice)
        alice_on_a = Socket(await websockets.connect(f"{a.ws_url}?ticket={ticket}"))
        await alice_on_a.wait_for(type="hello")
        shared.processes[0].stop(signal.SIGKILL)
        await alice_on_a.close()
        # Past the time her connection on A would have been taken offline...
        await asyncio.sleep(OFFLINE_WITHIN)
        await bob_socket.settle()
        offline = {"type": "presence", "userId": alice.id, "online": False}
        assert offline not in bob_socket.frames, "Alice is still connected on B"
        # ...and a contact connecting now is told she is online.
        async with open_socket(b, bob) as later:
            assert alice.id in later.of_type("hello")[0]["online"]
        assert (await alice_on_b.request("ping"))["type"] == "pong"


# --- d. a client that does not read ---------------------------------------------------


@pytest.fixture
def slow_cluster(
    postgres: PostgresServer, redis_server: RedisServer, tmp_path: Path
) -> Iterator[Cluster]:
    env = {"HUBBUB_MAX_PENDING_FRAMES": "10"}
    with running_cluster(tmp_path, postgres, redis_server.fresh_url(), env=env) as cluster:
        yield cluster


async def _deaf_socket(api: Api, account: Account) -> ClientConnection:
    """A WebSocket that reads almost nothing: a tiny receive buffer, and the client
    stops reading as soon as one frame waits (until `resume_reading`)."""
    port = int(api.base_url.rsplit(":", 1)[1])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    ticket = await api.ticket(account)
    return await websockets.connect(
        f"{api.ws_url}?ticket={ticket}",
        sock=sock,
        max_queue=1,
        max_size=2**20,
        ping_interval=None,
    )


async def test_a_client_that_does_not_read_slows_nobody_and_is_closed_4008(
    slow_cluster: Cluster,
) -> None:
    async with _clients(slow_cluster) as (a, b):
        alice, bob, room = await _pair(a, b)
        deaf, flooder = await a.sign_up(), await b.sign_up()
        flooded = await b.direct(flooder, deaf)
        deaf_socket = await _deaf_socket(a, deaf)
        try:
            async with open_socket(a, alice) as alice_socket, open_socket(b, bob) as bob_socket:

                async def flood(first: int) -> None:
                    for n in range(first, FLOOD, 4):
                        await b.send(flooder, flooded, f"{n} {'x' * 3990}", f"flood-{n}")

                flooding = asyncio.gather(*(flood(n) for n in range(4)))
                chatted = 0  # Alice and Bob chat for as long as the flood lasts
                while chatted < CHAT or not flooding.done():
                    await _send_all(alice_socket, room, [f"chat {chatted}"], f"c{chatted}")
                    chatted += 1
                    await asyncio.sleep(0.02)
                await flooding
                # Bob, on the other process, got every one while the flood backed up.
                await bob_socket.until(lambda: len(_created(bob_socket, room)) >= chatted, 20)
            # Now it reads: what it gets ends with the 4008 that tells it to resync.
            with contextlib.suppress(websockets.ConnectionClosed):
                async for _ in deaf_socket:
                    pass
            assert deaf_socket.close_code == 4008, deaf_socket.close_code
        finally:
            await deaf_socket.close()
