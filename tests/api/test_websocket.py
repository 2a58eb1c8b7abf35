"""The WebSocket protocol: validation, typing, presence, read receipts, limits."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support import Api, Socket, assert_refused, open_socket


async def test_malformed_frames_get_error_frames_and_the_connection_stays_open(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    async with open_socket(api, ana) as socket_:
        for frame in [
            "not json",
            "[1, 2]",
            b"\x00\x01binary",
            '{"action": "fly"}',
            '{"action": "sendMessage", "requestId": 5}',
            {"action": "sendMessage", "conversationId": conversation, "body": "no id"},
            {
                "action": "sendMessage",
                "conversationId": conversation,
                "clientMessageId": "x",
                "body": 42,
            },
            {"action": "markRead", "conversationId": conversation, "seq": "1"},
            {"action": "typing", "conversationId": conversation, "isTyping": "yes"},
            {
                "action": "sendMessage",
                "conversationId": conversation,
                "clientMessageId": "big",
                "body": "z" * 5000,
            },
            "x" * 20_000,
        ]:
            await socket_.send(frame)
        await socket_.until(lambda: len(socket_.of_type("error")) >= 11)
        await socket_.settle()
        errors = socket_.of_type("error")
        assert len(errors) == 11, errors
        codes = [e["error"]["code"] for e in errors]
        assert codes.count("payload_too_large") == 2
        assert set(codes) == {"validation_error", "payload_too_large"}
        pong = await socket_.request("ping")
        assert pong["type"] == "pong"
        ok = await socket_.request(
            "sendMessage", conversationId=conversation, clientMessageId="ok-1", body="still here"
        )
        assert ok["message"]["seq"] == 1


async def test_typing_reaches_the_other_members_only(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    async with open_socket(api, ana) as ana_socket, open_socket(api, bob) as bob_socket:
        await ana_socket.send(
            {"action": "typing", "conversationId": conversation, "isTyping": True}
        )
        typing = await bob_socket.wait_for(type="typing")
        assert typing == {
            "type": "typing",
            "conversationId": conversation,
            "userId": ana.id,
            "isTyping": True,
        }
        await ana_socket.send(
            {"action": "typing", "conversationId": conversation, "isTyping": False}
        )
        stopped = await bob_socket.wait_for(type="typing", isTyping=False)
        assert stopped == {**typing, "isTyping": False}
        await ana_socket.settle()
        assert not ana_socket.of_type("typing")
    events, _ = await api.sync_all(bob, "0")
    assert not [e for e in events if e["type"] == "typing"]


async def test_presence_is_told_to_contacts(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    await api.direct(ana, bob)
    async with open_socket(api, ana) as ana_socket:
        async with open_socket(api, bob) as bob_socket:
            assert bob_socket.of_type("hello")[0]["online"] == [ana.id]
            online = await ana_socket.wait_for(type="presence", userId=bob.id)
            assert online["online"] is True
        offline = await ana_socket.wait_for(type="presence", userId=bob.id, online=False)
        assert offline["online"] is False


async def test_edit_delete_and_mark_read_over_the_socket(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    async with open_socket(api, ana) as ana_socket, open_socket(api, bob) as bob_socket:
        sent = await ana_socket.request(
            "sendMessage", conversationId=conversation, clientMessageId="w-1", body="draft"
        )
        message_id = sent["message"]["id"]
        edited = await ana_socket.request(
            "editMessage", conversationId=conversation, messageId=message_id, body="final"
        )
        assert edited["message"]["body"] == "final"
        update = await bob_socket.wait_for(type="message.updated")
        assert update["cursor"] == edited["cursor"]
        forbidden = await bob_socket.request(
            "deleteMessage", conversationId=conversation, messageId=message_id
        )
        assert forbidden["error"]["code"] == "forbidden"
        read = await bob_socket.request("markRead", conversationId=conversation, seq=1)
        assert read["readSeq"] == 1 and read["cursor"] is not None
        receipt = await ana_socket.wait_for(type="read")
        assert receipt["cursor"] == read["cursor"]
        deleted = await ana_socket.request(
            "deleteMessage", conversationId=conversation, messageId=message_id
        )
        assert deleted["message"]["deleted"] is True
        removal = await bob_socket.wait_for(type="message.deleted")
        assert removal["message"]["body"] == ""


async def test_positions_of_a_conversation_on_one_connection_only_increase(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    async with open_socket(api, ana) as ana_socket, open_socket(api, bob) as bob_socket:

        async def ana_sends() -> None:
            for i in range(20):
                await ana_socket.request(
                    "sendMessage",
                    conversationId=conversation,
                    clientMessageId=f"o-a{i}",
                    body=f"a{i}",
                )

        async def bob_sends() -> None:
            for i in range(20):
                await bob_socket.request(
                    "sendMessage",
                    conversationId=conversation,
                    clientMessageId=f"o-b{i}",
                    body=f"b{i}",
                )

        await asyncio.gather(ana_sends(), bob_sends())
        for socket_ in (ana_socket, bob_socket):

            def positions(socket_: Socket = socket_) -> list[int]:
                kinds = {"ack", "message.created"}
                return [f["eventSeq"] for f in socket_.frames if f["type"] in kinds]

            await socket_.until(lambda positions=positions: len(positions()) >= 40)
            await socket_.settle()
            assert len(positions()) == 40
            assert positions() == list(range(2, 42))  # after conversation.created, no gap


async def test_frames_sent_at_once_are_stored_and_delivered_in_the_order_sent(api: Api) -> None:
    """docs/websocket.md: a connection's frames commit in the order they arrive, even
    when many are in flight at once."""
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    bodies = [f"in order {i}" for i in range(30)]
    async with open_socket(api, ana) as ana_socket, open_socket(api, bob) as bob_socket:
        for i, body in enumerate(bodies):
            await ana_socket.send(
                {
                    "action": "sendMessage",
                    "requestId": f"o{i}",
                    "conversationId": conversation,
                    "clientMessageId": f"o{i}",
                    "body": body,
                }
            )
        acks = [await ana_socket.wait_for(10, requestId=f"o{i}") for i in range(len(bodies))]
        assert [a["message"]["seq"] for a in acks] == list(range(1, len(bodies) + 1)), [
            (a["message"]["body"], a["message"]["seq"]) for a in acks
        ]
        await bob_socket.until(lambda: len(bob_socket.of_type("message.created")) >= len(bodies))
        got = [f["message"]["body"] for f in bob_socket.of_type("message.created")]
        assert got == bodies


async def test_frame_floods_are_limited_and_the_connection_survives(api: Api) -> None:
    account = await api.sign_up()
    async with open_socket(api, account) as socket_:
        for _ in range(150):
            await socket_.send({"action": "ping"})

        def limited() -> list[dict[str, Any]]:
            errors = socket_.of_type("error")
            return [f for f in errors if f["error"]["code"] == "rate_limited"]

        await socket_.until(lambda: bool(limited()))  # a flood must be throttled
        # ... and the connection survives: once the budget refills, a ping gets its pong.
        deadline = asyncio.get_running_loop().time() + 30
        while (reply := await socket_.request("ping"))["type"] != "pong":
            assert reply["error"]["code"] == "rate_limited", reply
            assert asyncio.get_running_loop().time() < deadline, "the budget never refilled"
            await asyncio.sleep(0.1)


async def test_origin_allowlist_refuses_foreign_browsers(api: Api) -> None:
    account = await api.sign_up()
    ticket = await api.ticket(account)
    await assert_refused(api, f"{api.ws_url}?ticket={ticket}", 4403, origin="https://evil.example")
    host = api.base_url.split("//", 1)[1]
    async with open_socket(api, account, origin=f"http://{host}") as same_origin:
        assert same_origin.of_type("hello")


async def test_new_contacts_learn_each_others_presence_at_once(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    async with open_socket(api, ana) as ana_socket, open_socket(api, bob) as bob_socket:
        assert ana_socket.of_type("hello")[0]["online"] == []
        await api.direct(ana, bob)
        seen_by_ana = await ana_socket.wait_for(type="presence", userId=bob.id)
        seen_by_bob = await bob_socket.wait_for(type="presence", userId=ana.id)
        assert seen_by_ana["online"] is seen_by_bob["online"] is True


async def test_hello_names_the_user_and_each_connection(api: Api) -> None:
    ana = await api.sign_up()
    async with open_socket(api, ana) as phone, open_socket(api, ana) as laptop:
        hellos = [phone.of_type("hello")[0], laptop.of_type("hello")[0]]
        for hello in hellos:
            assert set(hello) == {"type", "userId", "connectionId", "cursor", "online", "muted"}, (
                hello
            )
            assert hello["userId"] == ana.id
            assert isinstance(hello["connectionId"], str) and hello["connectionId"]
        assert hellos[0]["connectionId"] != hellos[1]["connectionId"]
