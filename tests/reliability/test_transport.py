"""Transport limits (issue 8, findings 1, 2 and part of 9): what a client without an
account can make one process hold. Raw sockets against a real `hubbub serve`, because
these findings live below the ASGI app: WebSocket control frames, HTTP request heads,
connection counts."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import orjson
import pytest
import websockets
from websockets.frames import Frame, Opcode

from tests.reliability.helpers import own_server, server_rss_kib
from tests.support import Api, ServerProcess, open_socket

SOAK = os.environ.get("HUBBUB_SOAK") == "1"
# A flood is bounded in bytes and in time, whichever comes first.
FLOOD_MIB = 256 if SOAK else 24
FLOOD_SECONDS = 120.0 if SOAK else 20.0
FLOOD_SOCKETS = 8 if SOAK else 4
# Once the server stops reading, our writes stall: that is the defence working.
STALL_SECONDS = 2.0
PING = Frame(Opcode.PING, b"p" * 125).serialize(mask=True, extensions=[])
PINGS = PING * 500  # ~64 KiB of masked PING frames


def _upgrade(port: int, ticket: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /ws?ticket={ticket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


async def _ping_flood(port: int, ticket: str, deadline: float) -> asyncio.StreamWriter:
    """Opens /ws, reads the 101 and then sends PING frames without ever reading again,
    until FLOOD_MIB are sent, the server stops reading (writes stall) or closes, or the
    deadline. Returns the writer, still open, so whatever the server holds for it stays
    held. With HUBBUB_SOAK=1, a socket the server cut off is replaced by a new one until
    the deadline, so what is left behind by each one would add up."""
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_upgrade(port, ticket))
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 101 "), head
    sent = 0
    with contextlib.suppress(ConnectionError, TimeoutError):
        while sent < FLOOD_MIB * 2**20 and loop.time() < deadline:
            writer.write(PINGS)
            await asyncio.wait_for(writer.drain(), STALL_SECONDS)
            sent += len(PINGS)
    if SOAK and ticket == "bogus" and loop.time() < deadline:
        writer.close()
        return await _ping_flood(port, ticket, deadline)
    return writer


@contextlib.asynccontextmanager
async def _peak_rss(server: ServerProcess) -> AsyncIterator[list[int]]:
    """Samples the server's RSS (KiB) while the block runs; yields [baseline, peak]."""
    found = [server_rss_kib(server)] * 2
    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            found[1] = max(found[1], server_rss_kib(server))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)

    sampler = asyncio.create_task(sample())
    try:
        yield found
    finally:
        stop.set()
        await sampler
        found[1] = max(found[1], server_rss_kib(server))


async def _still_serves(api: Api) -> None:
    """A newcomer signs up, opens a socket and chats: the process still serves."""
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    async with open_socket(api, ana) as socket_:
        reply = await socket_.request(
            "sendMessage", conversationId=conversation, clientMessageId="after", body="still here"
        )
        assert reply["type"] == "ack"
        assert (await socket_.request("ping"))["type"] == "pong"


# ---------------------------------------------------------------- finding 1: PING floods


async def test_a_ping_flood_with_a_bogus_ticket_does_not_grow_server_memory(
    tmp_path: Path,
) -> None:
    """Before: the server closed with 4401 but kept answering PINGs into a send buffer the
    client never drained, and held it until the client went away (+200 MiB in 10 s)."""
    with own_server(tmp_path) as server:
        await _flood_stays_small(server, lambda api: _bogus_tickets())


async def test_a_ping_flood_on_an_open_socket_is_cut_off(tmp_path: Path) -> None:
    """A signed-in client flooding PINGs without reading: the server stops answering
    and closes it; memory stays flat and everyone else is served."""

    async def real_tickets(api: Api) -> list[str]:
        attacker = await api.sign_up()
        return [await api.ticket(attacker) for _ in range(FLOOD_SOCKETS)]

    with own_server(tmp_path) as server:
        await _flood_stays_small(server, real_tickets)


async def _bogus_tickets() -> list[str]:
    return ["bogus"] * FLOOD_SOCKETS


async def _flood_stays_small(
    server: ServerProcess, tickets_of: Callable[[Api], Awaitable[list[str]]]
) -> None:
    """FLOOD_SOCKETS sockets flood PINGs and never read: the server's RSS grows less than
    16 MiB, and afterwards it still serves a chat."""
    api = Api(server.base_url)
    writers: list[asyncio.StreamWriter] = []
    try:
        tickets = await tickets_of(api)
        deadline = asyncio.get_running_loop().time() + FLOOD_SECONDS
        async with _peak_rss(server) as rss:
            writers = await asyncio.gather(
                *[_ping_flood(server.port, ticket, deadline) for ticket in tickets]
            )
        grown_mib = (rss[1] - rss[0]) / 1024
        assert grown_mib < 16, f"server RSS grew by {grown_mib:.0f} MiB"
        await _still_serves(api)
    finally:
        for writer in writers:
            writer.close()
        await api.close()


async def test_a_flooding_client_that_reads_is_closed_with_1008(api: Api) -> None:
    """PINGs beyond a small budget end the connection (1008): control frames cannot be
    used to make the server work without limit even by a client that reads."""
    account = await api.sign_up()
    ticket = await api.ticket(account)
    async with websockets.connect(f"{api.ws_url}?ticket={ticket}") as connection:
        assert '"hello"' in str(await connection.recv())
        with pytest.raises(websockets.ConnectionClosed) as closed:
            for i in range(10_000):
                await connection.ping(str(i))
            await asyncio.wait_for(connection.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_occasional_pings_are_answered(api: Api) -> None:
    account = await api.sign_up()
    ticket = await api.ticket(account)
    async with websockets.connect(f"{api.ws_url}?ticket={ticket}") as connection:
        assert '"hello"' in str(await connection.recv())
        for _ in range(5):
            latency = await asyncio.wait_for(await connection.ping(), 5)
            assert latency >= 0


# ---------------------------------------------------------------- finding 2: request heads


async def _status_and_body(reader: asyncio.StreamReader, within: float = 10) -> tuple[int, bytes]:
    """Reads one response (status line, headers, Content-Length body)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), within)
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), within)
    return int(lines[0].split()[1]), body


async def test_an_oversized_request_head_gets_431_after_a_few_kib(tmp_path: Path) -> None:
    """Before: no limit at all; one 128 MiB header cost 15 s of CPU and stalled /healthz."""
    with own_server(tmp_path) as server:
        api = Api(server.base_url)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
            answer = asyncio.create_task(_status_and_body(reader, within=60))
            sent = 0
            # Until the server answers, stops reading or closes (our writes then fail).
            with contextlib.suppress(ConnectionError, TimeoutError):
                while sent < 64 * 2**20 and not answer.done():
                    writer.write(b"a" * 2**20)
                    await asyncio.wait_for(writer.drain(), STALL_SECONDS)
                    sent += 2**20
                    assert (await api.http.get("/healthz")).status_code == 200
            status, body = await answer
            assert sent < 16 * 2**20, f"the server read {sent >> 20} MiB of one head"
            assert status == 431
            assert orjson.loads(body)["error"]["code"] == "headers_too_large"
            writer.close()
            # One head just under the limit is fine, one just over it is not, even
            # when it arrives in one piece.
            for size, expected in [(12 * 1024, 200), (20 * 1024, 431)]:
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                filler = "a" * (size - 60)
                writer.write(f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-F: {filler}\r\n\r\n".encode())
                status, _ = await _status_and_body(reader)
                assert status == expected, size
                writer.close()
        finally:
            await api.close()


async def _closed_by_server(reader: asyncio.StreamReader, within: float = 30) -> bytes:
    """Everything the server sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), within)


async def test_unfinished_heads_are_closed_after_the_head_timeout(tmp_path: Path) -> None:
    """Before: 1,000 partial heads were all still open after 95 s (slowloris)."""
    with own_server(tmp_path, HUBBUB_HEAD_TIMEOUT_SECONDS="1") as server:
        api = Api(server.base_url)
        try:
            silent = await asyncio.open_connection("127.0.0.1", server.port)
            partial = await asyncio.open_connection("127.0.0.1", server.port)
            partial[1].write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            dribble = await asyncio.open_connection("127.0.0.1", server.port)

            async def drip() -> None:
                # One header byte at a time: bytes arriving do not restart the clock.
                with contextlib.suppress(ConnectionError):
                    for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000:
                        dribble[1].write(bytes([byte]))
                        await dribble[1].drain()
                        await asyncio.sleep(0.05)

            dripping = asyncio.create_task(drip())
            assert await _closed_by_server(silent[0]) == b""  # nothing asked, nothing said
            timed_out = await _closed_by_server(partial[0])
            assert timed_out.startswith(b"HTTP/1.1 408 ")
            assert b'"request_timeout"' in timed_out
            assert (await _closed_by_server(dribble[0])).startswith(b"HTTP/1.1 408 ")
            assert not dripping.done() or dripping.exception() is None
            dripping.cancel()
            for _, writer in (silent, partial, dribble):
                writer.close()
            assert (await api.http.get("/healthz")).status_code == 200
        finally:
            await api.close()


async def test_a_request_body_that_stops_arriving_is_timed_out(tmp_path: Path) -> None:
    """A head that promises a body, then too little of it (slow POST): 408, closed."""
    with own_server(tmp_path, HUBBUB_BODY_TIMEOUT_SECONDS="1") as server:
        api = Api(server.base_url)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            try:
                writer.write(
                    b"POST /api/auth/signin HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                    b'{"username": '
                )
                timed_out = await _closed_by_server(reader)
                assert timed_out.startswith(b"HTTP/1.1 408 "), timed_out
                assert b'"request_timeout"' in timed_out
            finally:
                writer.close()
            # A body that does arrive in time is served as before.
            reply = await api.call(
                "POST", "/auth/signin", json={"username": "nobody", "password": "wrong one"}
            )
            assert reply.status_code == 401
        finally:
            await api.close()


async def test_an_attachment_upload_may_take_longer_than_other_bodies(tmp_path: Path) -> None:
    """The upload route's body has HUBBUB_UPLOAD_TIMEOUT_SECONDS, not the short body
    deadline: a large file on a slow link is not cut off (other routes still are)."""
    with own_server(
        tmp_path, HUBBUB_BODY_TIMEOUT_SECONDS="1", HUBBUB_UPLOAD_TIMEOUT_SECONDS="60"
    ) as server:
        api = Api(server.base_url)
        try:
            ana, bob = await api.sign_up(), await api.sign_up()
            chat = await api.direct(ana, bob)
            body = b"slowly typed notes\n" * 100
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            try:
                writer.write(
                    f"POST /api/conversations/{chat}/attachments?fileName=slow.txt HTTP/1.1\r\n"
                    f"Host: x\r\nAuthorization: Bearer {ana.access_token}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body[:100]
                )
                await writer.drain()
                await asyncio.sleep(2.5)  # well past the 1 s deadline of other bodies
                writer.write(body[100:])
                await writer.drain()
                status, reply = await _status_and_body(reader)
                assert status == 201, reply
                assert b'"fileName":"slow.txt"' in reply
            finally:
                writer.close()
        finally:
            await api.close()


async def test_idle_keep_alive_connections_are_closed(tmp_path: Path) -> None:
    with own_server(tmp_path, HUBBUB_KEEP_ALIVE_SECONDS="1") as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _ = await _status_and_body(reader)
        assert status == 200
        assert await _closed_by_server(reader) == b""
        writer.close()


async def test_open_connections_are_capped_with_headroom_for_http(tmp_path: Path) -> None:
    """Past HUBBUB_MAX_OPEN_CONNECTIONS new connections get 503 at once; WebSockets stop a
    little earlier, so sign-in, tickets and /healthz still work when sockets fill it."""
    with own_server(
        tmp_path, HUBBUB_MAX_OPEN_CONNECTIONS="20", HUBBUB_HEAD_TIMEOUT_SECONDS="60"
    ) as server:
        api = Api(server.base_url)
        sockets: list[websockets.ClientConnection] = []
        idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        try:
            account = await api.sign_up()
            await api.http.get("/healthz")  # the client's own keep-alive connection
            refusal: websockets.InvalidStatus | None = None
            for _ in range(25):
                ticket = await api.ticket(account)
                try:
                    sockets.append(await websockets.connect(f"{api.ws_url}?ticket={ticket}"))
                except websockets.InvalidStatus as error:
                    refusal = error
                    break
            assert refusal is not None, "no WebSocket was ever refused"
            assert refusal.response.status_code == 503
            assert orjson.loads(refusal.response.body)["error"]["code"] == "server_busy"
            assert 10 <= len(sockets) < 19, len(sockets)
            # HTTP still gets through in the headroom...
            assert (await api.http.get("/healthz")).status_code == 200
            # ...until raw connections fill the rest.
            busy = None
            for _ in range(25):
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                idle.append((reader, writer))
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                status, body = await _status_and_body(reader)
                if status == 503:
                    busy = body
                    break
            assert busy is not None and orjson.loads(busy)["error"]["code"] == "server_busy"
            assert len(sockets) + len(idle) <= 21
            for connection in sockets:
                await connection.close()
            for _, writer in idle:
                writer.close()
            async with asyncio.timeout(30):
                while (await _status(server)) != 200:  # noqa: ASYNC110 (polls the server)
                    await asyncio.sleep(0.05)
            async with open_socket(api, account) as again:
                assert again.of_type("hello")
        finally:
            await api.close()


async def _status(server: ServerProcess) -> int:
    """/healthz over a fresh connection (not the client's pool)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, _ = await _status_and_body(reader)
        return status
    finally:
        writer.close()


# ---------------------------------------------------------------- finding 9 (parts)


async def test_same_host_origins_must_match_the_scheme(api: Api) -> None:
    account = await api.sign_up()
    host = api.base_url.split("//", 1)[1]
    behind_tls = {"X-Forwarded-Proto": "https"}  # what a TLS-terminating proxy adds
    for origin, headers, expected in [
        (f"http://{host}", {}, None),
        (f"https://{host}", {}, 4403),  # not this plain-HTTP server's page
        (f"ftp://{host}", {}, 4403),
        (f"ws://{host}", {}, 4403),
        (f"//{host}", {}, 4403),
        (f"https://{host}", behind_tls, None),
        (f"http://{host}", behind_tls, 4403),
    ]:
        url = f"{api.ws_url}?ticket={await api.ticket(account)}"
        async with websockets.connect(
            url,
            origin=origin,  # type: ignore[arg-type]
            additional_headers=headers,
        ) as connection:
            try:
                frame = await asyncio.wait_for(connection.recv(), 5)
                code = None
                assert '"hello"' in str(frame)
            except websockets.ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
        assert code == expected, (origin, headers)


async def test_health_does_not_tell_the_connection_count(api: Api) -> None:
    account = await api.sign_up()
    async with open_socket(api, account):
        reply = await api.http.get("/healthz")
    assert reply.json() == {"status": "ok"}


async def test_responses_do_not_name_the_server_software(api: Api) -> None:
    reply = await api.http.get("/healthz")
    assert "server" not in reply.headers
    account = await api.sign_up()
    ticket = await api.ticket(account)
    async with websockets.connect(f"{api.ws_url}?ticket={ticket}") as connection:
        assert connection.response is not None
        assert "Server" not in connection.response.headers


async def test_forwarded_for_from_loopback_is_not_trusted_by_the_asgi_server(
    tmp_path: Path,
) -> None:
    """uvicorn trusted X-Forwarded-For from 127.0.0.1 by default, so any local client chose
    its own rate-limit key. With no trusted proxy configured the header changes nothing."""
    with own_server(tmp_path, HUBBUB_SIGN_IN_PER_IP="3") as server:
        api = Api(server.base_url)
        try:
            statuses = []
            for i in range(5):
                reply = await api.call(
                    "POST",
                    "/auth/signin",
                    json={"username": "nobody", "password": "wrong password"},
                    headers={"X-Forwarded-For": f"203.0.113.{i}"},
                )
                statuses.append(reply.status_code)
            assert statuses[-1] == 429, statuses
        finally:
            await api.close()
