"""The headline scenarios: two users chat live, a third is refused, retries do not
duplicate, a reconnecting client catches up, a restart loses nothing."""

from __future__ import annotations

import asyncio
import signal

from tests.support import Api, ServerProcess, open_socket


async def test_two_users_chat_live_on_every_device(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    async with (
        open_socket(api, ana) as ana_phone,
        open_socket(api, ana) as ana_laptop,
        open_socket(api, bob) as bob_phone,
    ):
        ack = await ana_phone.request(
            "sendMessage", conversationId=conversation, clientMessageId="c-1", body=" hello bob "
        )
        assert ack["type"] == "ack"
        message = ack["message"]
        assert (message["seq"], message["body"], message["senderId"]) == (1, " hello bob", ana.id)
        assert ack["cursor"] is not None

        received = await bob_phone.wait_for(type="message.created")
        assert received["message"] == message
        assert received["cursor"] == ack["cursor"]
        other_device = await ana_laptop.wait_for(type="message.created")
        assert other_device["message"]["id"] == message["id"]

        reply = await bob_phone.request(
            "sendMessage", conversationId=conversation, clientMessageId="c-2", body="hi ana"
        )
        assert reply["message"]["seq"] == 2
        await ana_phone.wait_for(type="message.created", cursor=reply["cursor"])

        await ana_phone.settle()
        # The sending screen gets the ack, never a second copy as an event.
        assert [f["message"]["id"] for f in ana_phone.of_type("message.created")] == [
            reply["message"]["id"]
        ]


async def test_a_third_user_sees_nothing_and_can_do_nothing(api: Api) -> None:
    ana, bob, eve = await api.sign_up(), await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    sent = await api.send(ana, conversation, "private", "p-1")
    base = f"/conversations/{conversation}"
    async with open_socket(api, eve) as eve_socket:
        for method, path, body in [
            ("GET", base, None),
            ("GET", f"{base}/messages", None),
            ("GET", f"{base}/messages/{sent['id']}", None),
            ("GET", f"{base}/members", None),
            ("POST", f"{base}/messages", {"clientMessageId": "e-1", "body": "let me in"}),
            ("PATCH", f"{base}/messages/{sent['id']}", {"body": "edited"}),
            ("DELETE", f"{base}/messages/{sent['id']}", None),
            ("POST", f"{base}/read", {"seq": 1}),
            ("PATCH", base, {"title": "mine"}),
            ("DELETE", base, None),
            ("POST", f"{base}/members", {"userId": eve.id}),
            ("DELETE", f"{base}/members/{ana.id}", None),
        ]:
            reply = await api.call(method, path, eve, json=body)
            assert reply.status_code == 404, (method, path, reply.text)
            assert reply.json()["error"]["code"] == "not_found"
            assert "private" not in reply.text

        refused = await eve_socket.request(
            "sendMessage", conversationId=conversation, clientMessageId="e-2", body="hi"
        )
        assert refused["error"]["code"] == "not_found"
        typing = await eve_socket.request("markRead", conversationId=conversation, seq=1)
        assert typing["error"]["code"] == "not_found"

        async with open_socket(api, bob) as bob_socket:
            await api.send(ana, conversation, "still private", "p-2")
            await bob_socket.wait_for(type="message.created")
        await eve_socket.settle()
        assert not [f for f in eve_socket.frames if f.get("type") not in {"hello", "error", "pong"}]
    events, _ = await api.sync_all(eve, "0")
    assert events == []
    history = await api.call("GET", f"{base}/messages", ana)
    assert [m["body"] for m in history.json()["messages"]] == ["private", "still private"]


async def test_retries_never_duplicate_a_message(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    path = f"/conversations/{conversation}/messages"
    first = await api.call("POST", path, ana, json={"clientMessageId": "r-1", "body": "once"})
    again = await api.call("POST", path, ana, json={"clientMessageId": "r-1", "body": "once"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["message"] == first.json()["message"]

    async with open_socket(api, ana) as socket_, open_socket(api, bob) as bob_socket:
        over_ws = await socket_.request(
            "sendMessage", conversationId=conversation, clientMessageId="r-1", body="once"
        )
        assert over_ws["message"] == first.json()["message"]
        assert over_ws["cursor"] is None
        burst = await asyncio.gather(
            *(
                socket_.request(
                    "sendMessage", conversationId=conversation, clientMessageId="r-2", body="twice?"
                )
                for _ in range(5)
            )
        )
        assert len({ack["message"]["id"] for ack in burst}) == 1
        await bob_socket.wait_for(type="message.created")
        await bob_socket.settle()
        assert len(bob_socket.of_type("message.created")) == 1

    # Bob may use the same clientMessageId: it is scoped to its sender.
    bobs = await api.call("POST", path, bob, json={"clientMessageId": "r-1", "body": "mine"})
    assert bobs.status_code == 201
    history = (await api.call("GET", path, ana)).json()["messages"]
    assert [m["body"] for m in history] == ["once", "twice?", "mine"]
    assert [m["seq"] for m in history] == [1, 2, 3]


async def test_a_reconnecting_client_catches_up_on_exactly_what_it_missed(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    async with open_socket(api, bob) as bob_socket:
        resume = bob_socket.of_type("hello")[0]["cursor"]
        seen = await api.send(ana, conversation, "while online", "s-1")
        live = await bob_socket.wait_for(type="message.created")
        assert live["message"]["id"] == seen["id"]

    missed = [await api.send(ana, conversation, f"missed {i}", f"s-{i + 2}") for i in range(3)]
    path = f"/conversations/{conversation}/messages"
    await api.call("PATCH", f"{path}/{missed[0]['id']}", ana, json={"body": "missed 0, edited"})
    await api.call("DELETE", f"{path}/{missed[1]['id']}", ana)

    # Everything after the hello: what came live (same id: the client drops it), then
    # what was missed, each message as it is now.
    events, new_cursor = await api.sync_all(bob, resume)
    assert [(e["type"], e["message"]["id"]) for e in events] == [
        ("message.created", seen["id"]),
        ("message.created", missed[0]["id"]),
        ("message.created", missed[1]["id"]),
        ("message.created", missed[2]["id"]),
        ("message.updated", missed[0]["id"]),
        ("message.deleted", missed[1]["id"]),
    ]
    assert events[0]["cursor"] == live["cursor"]
    assert {e["conversationId"] for e in events} == {conversation}
    positions = [e["eventSeq"] for e in events]
    assert positions == list(range(live["eventSeq"], live["eventSeq"] + 6))
    assert [e["message"]["body"] for e in events[1:4]] == ["missed 0, edited", "", "missed 2"]
    assert (await api.sync_all(bob, new_cursor))[0] == []

    fresh = await api.call("GET", "/sync", bob)
    assert fresh.json()["events"] == []
    assert (await api.sync_all(bob, fresh.json()["cursor"]))[0] == []


async def test_a_restart_loses_nothing(api: Api, local_server: ServerProcess) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    cursor = await api.sync_cursor(bob)
    sent = [await api.send(ana, conversation, f"durable {i}", f"d-{i}") for i in range(5)]

    local_server.restart(signal.SIGKILL)

    path = f"/conversations/{conversation}/messages"
    history = await api.call("GET", path, bob)
    assert history.status_code == 200, "tokens must survive a restart"
    assert history.json()["messages"] == sent
    retry = await api.send(ana, conversation, "durable 0", "d-0")
    assert retry == sent[0]
    after = await api.send(ana, conversation, "after restart", "d-after")
    assert after["seq"] == 6
    events, _ = await api.sync_all(bob, cursor)  # saved before the crash, still known
    assert [e["message"]["seq"] for e in events if e["type"] == "message.created"] == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]
    again = await api.sign_in(ana.username, ana.password)
    assert again.id == ana.id
