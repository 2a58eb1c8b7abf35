"""Retries: the same clientMessageId sent again, over REST and WebSocket, concurrently,
across reconnects and across restarts (graceful and kill -9), always yields exactly one
message, one event per member, and the same id everywhere."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import websockets

from tests.reliability.helpers import own_server
from tests.support import Account, Api, Socket, open_socket


async def _history(api: Api, account: Account, room: str) -> list[dict[str, Any]]:
    reply = await api.call("GET", f"/conversations/{room}/messages", account)
    assert reply.status_code == 200
    messages: list[dict[str, Any]] = reply.json()["messages"]
    return messages


async def _created_events(api: Api, account: Account, room: str, message_id: str) -> int:
    events = await api.log_all(account, room)
    return sum(
        1 for e in events if e["type"] == "message.created" and e["message"]["id"] == message_id
    )


async def test_a_storm_of_concurrent_duplicates_over_rest_and_ws(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    room = await api.direct(ana, bob)
    frame = {"conversationId": room, "clientMessageId": "storm-1", "body": "once"}
    async with (
        open_socket(api, ana) as phone,
        open_socket(api, ana) as laptop,
        open_socket(api, bob) as bob_ws,
    ):
        rest = [
            api.call(
                "POST",
                f"/conversations/{room}/messages",
                ana,
                json={"clientMessageId": "storm-1", "body": "once"},
            )
            for _ in range(20)
        ]
        ws = [s.request("sendMessage", **frame) for s in (phone, laptop) for _ in range(5)]
        results = await asyncio.gather(*rest, *ws)
        rest_replies, ws_replies = results[:20], results[20:]
        statuses = sorted(r.status_code for r in rest_replies)  # type: ignore[union-attr]
        ids = {r.json()["message"]["id"] for r in rest_replies}  # type: ignore[union-attr]
        ids |= {r["message"]["id"] for r in ws_replies}  # type: ignore[index]
        assert len(ids) == 1
        created_by_ws = [r for r in ws_replies if r["cursor"] is not None]  # type: ignore[index]
        assert statuses.count(201) + len(created_by_ws) == 1
        await bob_ws.request("ping")
        assert len(bob_ws.of_type("message.created")) == 1
    assert [m["body"] for m in await _history(api, ana, room)] == ["once"]
    assert await _created_events(api, bob, room, ids.pop()) == 1


async def test_retry_over_the_other_transport_and_after_a_reconnect(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    room = await api.direct(ana, bob)
    first = await api.send(ana, room, "via rest", "mixed-1")
    async with open_socket(api, ana) as socket_:
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
    async with open_socket(api, ana) as socket_:
        retried = await socket_.request(
            "sendMessage", conversationId=room, clientMessageId="mixed-2", body="ack lost"
        )
        assert retried["type"] == "ack"
    rest_retry = await api.call(
        "POST",
        f"/conversations/{room}/messages",
        ana,
        json={"clientMessageId": "mixed-2", "body": "ack lost"},
    )
    assert rest_retry.status_code == 200
    assert rest_retry.json()["message"]["id"] == retried["message"]["id"]
    bodies = [m["body"] for m in await _history(api, ana, room)]
    assert bodies == ["via rest", "ack lost"]


async def test_retry_semantics_at_the_edges(api: Api) -> None:
    ana, bob, carl = await api.sign_up(), await api.sign_up(), await api.sign_up()
    room = await api.direct(ana, bob)
    group = await api.group(carl, "edges", ana, bob)
    original = await api.send(ana, room, "first write", "edge-1")
    # The first write wins, even with another body.
    changed = await api.send(ana, room, "second write", "edge-1")
    assert changed == original
    # The same id from another sender is another message.
    bobs = await api.send(bob, room, "bob's", "edge-1")
    assert bobs["id"] != original["id"] and bobs["seq"] == 2
    # The same id in another conversation is a conflict, not a second message.
    elsewhere = await api.call(
        "POST",
        f"/conversations/{group}/messages",
        ana,
        json={"clientMessageId": "edge-1", "body": "x"},
    )
    assert elsewhere.status_code == 409
    # A retry after the message was deleted returns it, deleted; nothing is resent.
    await api.call("DELETE", f"/conversations/{room}/messages/{original['id']}", ana)
    after_delete = await api.call(
        "POST",
        f"/conversations/{room}/messages",
        ana,
        json={"clientMessageId": "edge-1", "body": "first write"},
    )
    assert after_delete.status_code == 200
    assert after_delete.json()["message"]["deleted"] is True
    # A retry after leaving the group is refused like any outsider's send.
    sent = await api.send(ana, group, "before leaving", "edge-2")
    await api.call("DELETE", f"/conversations/{group}/members/{ana.id}", ana)
    gone = await api.call(
        "POST",
        f"/conversations/{group}/messages",
        ana,
        json={"clientMessageId": "edge-2", "body": "before leaving"},
    )
    assert gone.status_code == 404
    assert [m["id"] for m in await _history(api, carl, group)] == [sent["id"]]
    assert [m["seq"] for m in await _history(api, bob, room)] == [1, 2]


async def _send_and_hang_up(api: Api, account: Account, room: str, cmid: str) -> str | None:
    """Sends over a fresh socket; returns the message id if the ack made it."""
    async with open_socket(api, account) as socket_:
        reply = await socket_.request(
            "sendMessage", conversationId=room, clientMessageId=cmid, body=cmid
        )
        message_id: str = reply["message"]["id"]
        return message_id


async def test_retries_across_restarts_graceful_and_kill_9(tmp_path: Path) -> None:
    with own_server(tmp_path) as server:
        api = Api(server.base_url)
        ana, bob = await api.sign_up(), await api.sign_up()
        room = await api.direct(ana, bob)
        sent: dict[str, str | None] = {}
        for n, how in enumerate((signal.SIGTERM, signal.SIGKILL, signal.SIGKILL)):
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
            await api.close()
            server.stop(how)
            await socket_.close()
            server.start()
            api = Api(server.base_url)
            for retry_cmid in (cmid, f"flight-{n}"):
                async with open_socket(api, ana) as retry:
                    reply = await retry.request(
                        "sendMessage", conversationId=room, clientMessageId=retry_cmid, body="r"
                    )
                assert reply["type"] == "ack"
                if retry_cmid == cmid:
                    assert reply["cursor"] is None and reply["message"]["id"] == sent[cmid]
        messages = await _history(api, bob, room)
        assert [m["seq"] for m in messages] == list(range(1, 7)), [
            (m["clientMessageId"], m["body"]) for m in messages
        ]
        assert len({m["clientMessageId"] for m in messages}) == 6
        for message in messages:
            assert await _created_events(api, bob, room, message["id"]) == 1
        await api.close()
