"""Retries: the same clientMessageId sent again, over REST and WebSocket, concurrently,
across reconnects and across restarts (graceful and kill -9), always yields exactly one
message, one event per member, and the same id everywhere.

Every scenario runs on one process and on two processes sharing one PostgreSQL database
(`deployment`), with clients spread over both: there a retry reaches another process
than the first try did, and a device on the process that did not take the write learns
of it through /api/sync (live delivery across processes is the scale-out issue's). Each
member's device on each process ends with every message once, whichever way it came."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import websockets

from tests.reliability.helpers import Deployment
from tests.support import Account, Api, Reader, Socket, open_socket


async def _history(api: Api, account: Account, room: str) -> list[dict[str, Any]]:
    reply = await api.call("GET", f"/conversations/{room}/messages", account)
    assert reply.status_code == 200
    messages: list[dict[str, Any]] = reply.json()["messages"]
    return messages


async def _readers(deployment: Deployment, *accounts: Account) -> list[Reader]:
    """A sync-only device of each account on each process, from now on."""
    return [await Reader.now(api, account) for account in accounts for api in deployment.apis]


async def _each_device_has_each_message_once(
    deployment: Deployment, readers: list[Reader], *rooms: str
) -> None:
    """Each reader, caught up, has had a message.created for exactly the messages of each
    of its conversations (as another process lists them), in their order, and for none
    of them twice. The readers must have started before the first message there."""
    for reader in readers:
        await reader.catch_up()
        other = deployment.api(deployment.apis.index(reader.api) + 1)
        for room in rooms:
            history = await other.history_all(reader.account, room)
            if history is None:  # no longer a member
                continue
            assert reader.created(room) == [m["id"] for m in history], room


async def test_a_storm_of_concurrent_duplicates_over_rest_and_ws(deployment: Deployment) -> None:
    d = deployment
    ana, bob = await d.api(0).sign_up(), await d.api(1).sign_up()
    room = await d.api(0).direct(ana, bob)
    frame: dict[str, Any] = {"conversationId": room, "clientMessageId": "storm-1", "body": "once"}
    async with (
        open_socket(d.api(0), ana) as phone,
        open_socket(d.api(1), ana) as laptop,
        open_socket(d.api(0), bob) as bob_0,
        open_socket(d.api(1), bob) as bob_1,
    ):
        rest = [
            d.api(n).call(
                "POST",
                f"/conversations/{room}/messages",
                ana,
                json={"clientMessageId": "storm-1", "body": "once"},
            )
            for n in range(20)
        ]
        ws = [s.request("sendMessage", **frame) for s in (phone, laptop) for _ in range(5)]
        rest_replies, ws_replies = await asyncio.gather(asyncio.gather(*rest), asyncio.gather(*ws))
        statuses = [r.status_code for r in rest_replies]
        ids = {r.json()["message"]["id"] for r in rest_replies}
        ids |= {r["message"]["id"] for r in ws_replies}
        assert len(ids) == 1
        created_by_ws = [n for n, r in enumerate(ws_replies) if r["cursor"] is not None]
        assert statuses.count(201) + len(created_by_ws) == 1
        # The process that created it: the one that answered 201, or the socket whose
        # ack has a cursor (phone's replies come first).
        creator = d.index(statuses.index(201) if 201 in statuses else created_by_ws[0] // 5)
        devices = [(bob_0, d.api(0)), (bob_1, d.api(1))]
        for socket_, api in devices:
            await socket_.settle()
            live = socket_.of_type("message.created")
            if api is d.apis[creator]:
                assert len(live) == 1  # live on the process that took the write
            assert len(live) <= 1
            reader = Reader.on(api, bob, socket_)
            await reader.catch_up()
            assert reader.created(room) == list(ids)
    assert [m["body"] for m in await _history(d.api(1), ana, room)] == ["once"]


async def test_retry_over_the_other_transport_and_after_a_reconnect(
    deployment: Deployment,
) -> None:
    d = deployment
    ana, bob = await d.api(0).sign_up(), await d.api(1).sign_up()
    room = await d.api(0).direct(ana, bob)
    readers = await _readers(d, ana, bob)
    first = await d.api(0).send(ana, room, "via rest", "mixed-1")
    async with open_socket(d.api(1), ana) as socket_:
        again = await socket_.request(
            "sendMessage", conversationId=room, clientMessageId="mixed-1", body="via ws"
        )
        assert again["type"] == "ack" and again["cursor"] is None
        assert again["message"] == first
        # A send whose ack is never read: the client hangs up right after sending.
        await socket_.send(
            {
                "action": "sendMessage",
                "requestId": "lost",
                "conversationId": room,
                "clientMessageId": "mixed-2",
                "body": "ack lost",
            }
        )
    # The retry may reach the other process while the first try is still in flight.
    async with open_socket(d.api(0), ana) as socket_:
        retried = await socket_.request(
            "sendMessage", conversationId=room, clientMessageId="mixed-2", body="ack lost"
        )
        assert retried["type"] == "ack"
    rest_retry = await d.api(1).call(
        "POST",
        f"/conversations/{room}/messages",
        ana,
        json={"clientMessageId": "mixed-2", "body": "ack lost"},
    )
    assert rest_retry.status_code == 200
    assert rest_retry.json()["message"]["id"] == retried["message"]["id"]
    bodies = [m["body"] for m in await _history(d.api(0), ana, room)]
    assert bodies == ["via rest", "ack lost"]
    await _each_device_has_each_message_once(d, readers, room)


async def test_retry_semantics_at_the_edges(deployment: Deployment) -> None:
    d = deployment
    a, b = d.api(0), d.api(1)
    ana, bob, carl = await a.sign_up(), await b.sign_up(), await a.sign_up()
    room = await a.direct(ana, bob)
    group = await b.group(carl, "edges", ana, bob)
    readers = await _readers(d, ana, bob, carl)
    original = await a.send(ana, room, "first write", "edge-1")
    # The first write wins, even with another body, through another process.
    changed = await b.send(ana, room, "second write", "edge-1")
    assert changed == original
    # The same id from another sender is another message.
    bobs = await a.send(bob, room, "bob's", "edge-1")
    assert bobs["id"] != original["id"] and bobs["seq"] == 2
    # The same id in another conversation is a conflict, not a second message.
    elsewhere = await b.call(
        "POST",
        f"/conversations/{group}/messages",
        ana,
        json={"clientMessageId": "edge-1", "body": "x"},
    )
    assert elsewhere.status_code == 409
    # A retry after the message was deleted returns it, deleted; nothing is resent.
    await a.call("DELETE", f"/conversations/{room}/messages/{original['id']}", ana)
    after_delete = await b.call(
        "POST",
        f"/conversations/{room}/messages",
        ana,
        json={"clientMessageId": "edge-1", "body": "first write"},
    )
    assert after_delete.status_code == 200
    assert after_delete.json()["message"]["deleted"] is True
    # A retry after leaving the group is refused like any outsider's send.
    sent = await a.send(ana, group, "before leaving", "edge-2")
    await b.call("DELETE", f"/conversations/{group}/members/{ana.id}", ana)
    gone = await a.call(
        "POST",
        f"/conversations/{group}/messages",
        ana,
        json={"clientMessageId": "edge-2", "body": "before leaving"},
    )
    assert gone.status_code == 404
    assert [m["id"] for m in await _history(b, carl, group)] == [sent["id"]]
    assert [m["seq"] for m in await _history(a, bob, room)] == [1, 2]
    await _each_device_has_each_message_once(d, readers, room, group)


async def _send_and_hang_up(api: Api, account: Account, room: str, cmid: str) -> str | None:
    """Sends over a fresh socket; returns the message id if the ack made it."""
    async with open_socket(api, account) as socket_:
        reply = await socket_.request(
            "sendMessage", conversationId=room, clientMessageId=cmid, body=cmid
        )
        message_id: str = reply["message"]["id"]
        return message_id


async def test_retries_across_restarts_graceful_and_kill_9(deployment: Deployment) -> None:
    d = deployment
    ana, bob = await d.api(0).sign_up(), await d.api(1).sign_up()
    room = await d.api(0).direct(ana, bob)
    readers = await _readers(d, bob)
    sent: dict[str, str | None] = {}
    # Round n stops process n; the retries go to the next process, which on two is
    # the one still up (the client fails over), on one the same process restarted.
    for n, how in enumerate((signal.SIGTERM, signal.SIGKILL, signal.SIGKILL)):
        api = d.api(n)
        cmid = f"restart-{n}-{how.name}"
        sent[cmid] = await _send_and_hang_up(api, ana, room, cmid)
        # Also one in flight at the moment of the stop: sent, never acked.
        ticket = await api.ticket(ana)
        raw = await websockets.connect(f"{api.ws_url}?ticket={ticket}")
        socket_ = Socket(raw)
        await socket_.wait_for(type="hello")
        await socket_.send(
            {
                "action": "sendMessage",
                "conversationId": room,
                "clientMessageId": f"flight-{n}",
                "body": "in flight",
            }
        )
        d.stop(n, how)
        await socket_.close()
        if d.single:
            d.start(n)
        for retry_cmid in (cmid, f"flight-{n}"):
            async with open_socket(d.api(n + 1), ana) as retry:
                reply = await retry.request(
                    "sendMessage", conversationId=room, clientMessageId=retry_cmid, body="r"
                )
            assert reply["type"] == "ack"
            if retry_cmid == cmid:
                assert reply["cursor"] is None and reply["message"]["id"] == sent[cmid]
        d.start(n)
    messages = await _history(d.api(0), bob, room)
    assert [m["seq"] for m in messages] == list(range(1, 7)), [
        (m["clientMessageId"], m["body"]) for m in messages
    ]
    assert len({m["clientMessageId"] for m in messages}) == 6
    await _each_device_has_each_message_once(d, readers, room)
