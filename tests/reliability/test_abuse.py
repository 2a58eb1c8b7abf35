"""Abuse: brute force, connection and message floods, oversized input. The limits hold
with 429 / close codes / error frames, and the server stays healthy throughout."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import orjson
import pytest
import websockets

from tests.reliability.helpers import own_server
from tests.support import Account, Api, Socket, open_socket


async def _healthy(api: Api) -> None:
    reply = await api.http.get("/healthz")
    assert reply.status_code == 200 and reply.json()["status"] == "ok"


async def test_sign_in_is_limited_per_ip_across_accounts_even_for_the_right_password(
    tmp_path: Path,
) -> None:
    with own_server(tmp_path, HUBBUB_SIGN_IN_PER_IP="8") as server:
        api = Api(server.base_url)
        try:
            victims = [await api.sign_up() for _ in range(3)]  # 3 sign-ins spent
            statuses = []
            for i in range(8):
                victim = victims[i % 3]
                reply = await api.call(
                    "POST", "/auth/signin", json={"username": victim.username, "password": "x" * 9}
                )
                statuses.append(reply.status_code)
            assert statuses == [401] * 5 + [429] * 3
            assert int(reply.headers["Retry-After"]) >= 1
            assert reply.json()["error"]["code"] == "rate_limited"
            right = await api.call(
                "POST",
                "/auth/signin",
                json={"username": victims[0].username, "password": victims[0].password},
            )
            assert right.status_code == 429, "the limit must not tell a right guess apart"
            await _healthy(api)
        finally:
            await api.close()


async def test_sign_in_limit_per_account_ignores_case_and_padding(api: Api) -> None:
    account = await api.sign_up()  # 1 of the 10 attempts per account
    spellings = [account.username, account.username.upper(), f"  {account.username} "]
    statuses = []
    for i in range(12):
        reply = await api.call(
            "POST", "/auth/signin", json={"username": spellings[i % 3], "password": "guess 1234"}
        )
        statuses.append(reply.status_code)
    assert statuses[:9] == [401] * 9 and set(statuses[9:]) == {429}


async def test_sign_in_limit_per_account_counts_username_and_email_together(api: Api) -> None:
    account = await api.sign_up()  # 1 of the 10 attempts per account
    email = f"{account.username}@example.test"
    statuses = []
    for i in range(12):
        login = account.username if i % 2 else email.upper()
        reply = await api.call(
            "POST", "/auth/signin", json={"username": login, "password": "guess 1234"}
        )
        statuses.append(reply.status_code)
    assert statuses[:9] == [401] * 9 and set(statuses[9:]) == {429}, statuses


async def test_confirmation_codes_cannot_be_brute_forced_by_respelling_the_name(
    tmp_path: Path,
) -> None:
    """Five tries per account and window, whatever the spelling of the username."""
    with own_server(tmp_path, HUBBUB_CONFIRMATION="console") as server:
        api = Api(server.base_url)
        try:
            reply = await api.call(
                "POST",
                "/auth/signup",
                json={
                    "username": "pending1",
                    "email": "pending1@example.test",
                    "password": "long enough 1",
                    "displayName": "Pending",
                },
            )
            assert reply.json()["confirmationRequired"] is True
            statuses = []
            for name in [
                "pending1",
                " pending1",
                "pending1@example.test",
                "PENDING1",
                "\tpending1",
                " PENDING1@example.test ",
            ]:
                guess = await api.call(
                    "POST", "/auth/confirm", json={"username": name, "code": "000000"}
                )
                statuses.append(guess.status_code)
            assert statuses == [422] * 5 + [429], statuses
            resends = []
            for name in [
                "pending1",
                " pending1",
                "pending1 ",
                "PENDING1",
                "\tpending1",
                " pending1 ",
            ]:
                resend = await api.call("POST", "/auth/resend-code", json={"username": name})
                resends.append(resend.status_code)
            assert resends == [202] * 5 + [429], resends
        finally:
            await api.close()


async def test_concurrent_connection_flood_from_one_user_is_capped(tmp_path: Path) -> None:
    # Tickets are not what is tested here: the retries below may mint many.
    with own_server(
        tmp_path, HUBBUB_MAX_CONNECTIONS_PER_USER="3", HUBBUB_TICKETS_PER_MINUTE="100000"
    ) as server:
        api = Api(server.base_url)
        try:
            account = await api.sign_up()
            tickets = [await api.ticket(account) for _ in range(15)]
            connections = await asyncio.gather(
                *[websockets.connect(f"{api.ws_url}?ticket={t}") for t in tickets]
            )
            outcomes: list[int | None] = []
            for connection in connections:
                try:
                    await asyncio.wait_for(connection.recv(), 5)
                    outcomes.append(None)
                except websockets.ConnectionClosed as closed:
                    outcomes.append(closed.rcvd.code if closed.rcvd else -1)
            assert outcomes.count(None) == 3, outcomes
            assert outcomes.count(4429) == 12, outcomes
            health = (await api.http.get("/healthz")).json()
            assert health == {"status": "ok"}
            for connection in connections:
                await connection.close()
            # Slots come back once the connections close: all three can be taken again.
            # The server frees a slot when it has handled the close, so retry until then.
            async with asyncio.timeout(30):
                while (freed := await _open_all(api, account, 3)) is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            assert len(freed) == 3
            for connection in freed:
                await connection.close()
        finally:
            await api.close()


async def _open_all(
    api: Api, account: Account, count: int
) -> list[websockets.ClientConnection] | None:
    """`count` connections that all got their hello, or None (and none left open) if the
    server refused any of them."""
    opened = [
        await websockets.connect(f"{api.ws_url}?ticket={await api.ticket(account)}")
        for _ in range(count)
    ]
    try:
        for connection in opened:
            hello = orjson.loads(await asyncio.wait_for(connection.recv(), 5))
            assert hello["type"] == "hello", hello
    except websockets.ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 4429, closed
        for connection in opened:
            await connection.close()
        return None
    return opened


async def test_message_flood_is_throttled_without_losing_or_doubling_anything(api: Api) -> None:
    spammer, bystander = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(spammer, bystander)
    async with open_socket(api, spammer) as flood, open_socket(api, bystander) as calm:
        for i in range(300):
            await flood.send(
                {
                    "action": "sendMessage",
                    "requestId": f"f{i}",
                    "conversationId": conversation,
                    "clientMessageId": f"flood-{i}",
                    "body": f"spam {i}",
                }
            )
        # The bystander still chats while the flood is processed.
        reply = await calm.request(
            "sendMessage", conversationId=conversation, clientMessageId="calm-1", body="hi"
        )
        assert reply["type"] == "ack"
        # Replies to different requests may arrive in any order; every one arrives.
        for i in range(300):
            await flood.wait_for(within=15, requestId=f"f{i}")
        acked = {f["requestId"] for f in flood.of_type("ack")}
        limited = {
            f["requestId"] for f in flood.of_type("error") if f["error"]["code"] == "rate_limited"
        }
        assert limited and acked and not acked & limited
        assert acked | limited == {f"f{i}" for i in range(300)}
        messages = await _all_messages(api, spammer, conversation)
        flood_bodies = sorted(m["body"] for m in messages if m["senderId"] == spammer.id)
        assert flood_bodies == sorted(f"spam {r[1:]}" for r in acked)
        assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
    await _healthy(api)


async def test_a_client_that_stops_reading_is_dropped_and_nobody_else_waits(
    tmp_path: Path,
) -> None:
    """A client that does not read (tiny receive buffer, never calls recv) while its
    group is flooded: once the kernel buffers and its queue are full it is closed with
    4008 (or aborted, if it cannot read up to that close frame in time); a reading
    member gets every message meanwhile; the dropped client reconnects and /api/sync
    gives it exactly the rest."""
    with own_server(tmp_path, HUBBUB_MAX_PENDING_FRAMES="300") as server:
        api = Api(server.base_url)
        try:
            ana, lazy, quick = await api.sign_up(), await api.sign_up(), await api.sign_up()
            room = await api.group(ana, "firehose", lazy, quick)
            raw = socket.socket()
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            raw.setblocking(False)
            await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", server.port))
            ticket = await api.ticket(lazy)
            # No client keepalive: a client that stops reading cannot answer its own pings
            # either, and on a slow machine its 20 s timeout could close first. The server
            # is what must drop it.
            stalled = await websockets.connect(
                f"{api.ws_url}?ticket={ticket}", sock=raw, max_queue=1, ping_interval=None
            )
            total = 2000  # ~8 MB: past the kernel buffers (tcp_wmem max is 4 MB by default)
            async with open_socket(api, quick) as reader:
                gate = asyncio.Semaphore(16)

                async def send(i: int) -> None:
                    async with gate:
                        await api.send(ana, room, "x" * 3990 + str(i), f"fire-{i}")

                await asyncio.gather(*[send(i) for i in range(total)])
                async with asyncio.timeout(30):  # generous: CI machines are busy
                    while len(reader.of_type("message.created")) < total:  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
                assert reader.closed_code is None
            await _healthy(api)
            received: list[dict[str, Any]] = []
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    received.append(orjson.loads(await asyncio.wait_for(stalled.recv(), 10)))
            # The close frame (4008) waits behind everything the client never read. On a
            # loaded machine the client may not drain all that within the server's close
            # timeout (3 s), and the server then aborts the socket: dropped either way.
            code = closed.value.rcvd.code if closed.value.rcvd else None
            assert code in (4008, None), code
            live = [f for f in received if f["type"] == "message.created"]
            assert 0 < len(live) < total
            # What it missed is the room's log after the last position it applied.
            events = await api.log_all(lazy, room, after=live[-1]["eventSeq"])
            rest = [e["message"]["id"] for e in events if e["type"] == "message.created"]
            ids = [f["message"]["id"] for f in live] + rest
            assert len(ids) == len(set(ids)) == total
        finally:
            await api.close()


async def test_oversized_rest_bodies_are_refused_early(api: Api) -> None:
    account = await api.sign_up()
    friend = await api.sign_up()
    conversation = await api.direct(account, friend)
    path = f"/conversations/{conversation}/messages"
    huge = b'{"clientMessageId":"big-1","body":"' + b"x" * 2_000_000 + b'"}'
    declared = await api.call(
        "POST", path, account, content=huge, headers={"content-type": "application/json"}
    )
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "payload_too_large"

    async def chunks():  # type: ignore[no-untyped-def]
        for start in range(0, len(huge), 65536):
            yield huge[start : start + 65536]

    streamed = await api.call(
        "POST", path, account, content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    # A declared length over the limit is refused before a byte of the body is read.
    host, port = api.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        f"POST /api{path} HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {account.access_token}\r\n"
        "Content-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n".encode()
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 5)
    assert status_line.split()[1] == b"413"
    writer.close()
    over_limit = await api.call(
        "POST", path, account, json={"clientMessageId": "big-2", "body": "y" * 4001}
    )
    assert over_limit.status_code == 413
    assert over_limit.json()["error"]["code"] == "payload_too_large"
    assert await _all_messages(api, account, conversation) == []
    await _healthy(api)


async def test_oversized_frames(api: Api) -> None:
    account, friend = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(account, friend)
    async with open_socket(api, account) as socket_:
        frame = {
            "action": "sendMessage",
            "conversationId": conversation,
            "clientMessageId": "f-1",
            "body": "b" * 20_000,
        }
        await socket_.send({**frame, "requestId": "big"})
        # Too big to be parsed, so the requestId cannot be echoed.
        reply = await socket_.wait_for(type="error")
        assert reply["error"]["code"] == "payload_too_large"
        assert (await socket_.request("ping"))["type"] == "pong"
    # Past the transport's limit (64 KiB) the frame is never buffered: close 1009.
    async with open_socket(api, account, max_size=None) as socket_:
        await socket_.send("x" * 200_000)
        await _closed(socket_)
        assert socket_.closed_code == 1009
    await _healthy(api)


async def _closed(socket_: Socket, within: float = 5) -> None:
    await asyncio.wait_for(asyncio.shield(socket_._reader), within)


async def _all_messages(api: Api, account: Account, conversation: str) -> list[Any]:
    messages = await api.history_all(account, conversation)
    assert messages is not None
    return messages
