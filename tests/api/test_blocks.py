"""Blocking a user (issue 13): the pair's direct chat takes no messages either way,
nothing is stored or delivered, presence and typing stop between them; groups go on."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support import Account, Api, Socket, open_socket


async def block(api: Api, blocker: Account, user: Account) -> Any:
    reply = await api.call("PUT", f"/users/{user.id}/block", blocker)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def unblock(api: Api, blocker: Account, user: Account) -> None:
    reply = await api.call("DELETE", f"/users/{user.id}/block", blocker)
    assert reply.status_code == 204, reply.text


async def view(api: Api, account: Account, conversation: str) -> Any:
    reply = await api.call("GET", f"/conversations/{conversation}", account)
    assert reply.status_code == 200, reply.text
    return reply.json()["conversation"]


async def bodies(api: Api, account: Account, conversation: str) -> list[str]:
    history = await api.history_all(account, conversation)
    assert history is not None
    return [m["body"] for m in history]


async def send_over_socket(socket_: Socket, conversation: str, cmid: str, body: str) -> Any:
    return await socket_.request(
        "sendMessage", conversationId=conversation, clientMessageId=cmid, body=body
    )


async def test_blocking_is_idempotent_listed_for_the_blocker_and_refuses_self_and_strangers(
    api: Api,
) -> None:
    ana, bob, carl = [await api.sign_up() for _ in range(3)]
    first = await block(api, ana, bob)
    again = await block(api, ana, bob)
    assert first == again == {"user": first["user"], "blocked": True}
    assert first["user"]["id"] == bob.id and "email" not in first["user"]
    await block(api, ana, carl)
    listed = (await api.call("GET", "/users/me/blocked", ana)).json()["blocked"]
    assert [b["user"]["id"] for b in listed] == [carl.id, bob.id]  # newest first
    assert all(b["blockedAt"].endswith("Z") for b in listed)
    # Nobody is shown whom they were blocked by.
    assert (await api.call("GET", "/users/me/blocked", bob)).json() == {"blocked": []}

    await unblock(api, ana, bob)
    await unblock(api, ana, bob)  # again: still 204
    listed = (await api.call("GET", "/users/me/blocked", ana)).json()["blocked"]
    assert [b["user"]["id"] for b in listed] == [carl.id]

    myself = await api.call("PUT", f"/users/{ana.id}/block", ana)
    assert myself.status_code == 422
    assert myself.json()["error"]["code"] == "validation_error"
    for method in ("PUT", "DELETE"):
        unknown = await api.call(method, "/users/nobody-at-all/block", ana)
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "not_found"
    assert (await api.call("PUT", f"/users/{bob.id}/block")).status_code == 401


async def test_after_a_block_neither_side_can_send_and_nothing_is_stored_or_delivered(
    api: Api,
) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    mine = await api.send(bob, conversation, "before the block", "b-0")
    async with open_socket(api, ana) as ana_socket, open_socket(api, bob) as bob_socket:
        await block(api, ana, bob)
        await bob_socket.wait_for(type="conversation.updated", conversationId=conversation)

        refused = []
        for sender in (bob, ana):  # the blocked user, and the blocker too
            reply = await api.call(
                "POST",
                f"/conversations/{conversation}/messages",
                sender,
                json={"clientMessageId": f"rest-{sender.id}", "body": "over REST"},
            )
            assert reply.status_code == 403, reply.text
            refused.append(reply.json()["error"])
        assert refused[0] == {"code": "blocked", "message": "You can't send messages to this chat."}
        assert refused[1]["code"] == "blocked" and "Unblock" in refused[1]["message"]

        for socket_, name in ((bob_socket, "bob"), (ana_socket, "ana")):
            answer = await send_over_socket(socket_, conversation, f"ws-{name}", "over WS")
            assert answer["type"] == "error" and answer["error"]["code"] == "blocked", answer

        edit = await api.call(
            "PATCH",
            f"/conversations/{conversation}/messages/{mine['id']}",
            bob,
            json={"body": "changed after the block"},
        )
        assert edit.status_code == 403 and edit.json()["error"]["code"] == "blocked"

        for socket_ in (ana_socket, bob_socket):
            await socket_.settle()
            assert not socket_.of_type("message.created")
            assert not socket_.of_type("message.updated")
    # Both still read the history, and it holds nothing sent after the block.
    assert await bodies(api, ana, conversation) == ["before the block"]
    assert await bodies(api, bob, conversation) == ["before the block"]
    assert (await view(api, ana, conversation))["lastSeq"] == 1


async def test_each_side_sees_its_own_block_state_live_on_every_device_and_in_catch_up(
    api: Api,
) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    assert {k: (await view(api, ana, conversation))[k] for k in ("blocked", "canSend")} == {
        "blocked": False,
        "canSend": True,
    }
    cursor = await api.sync_cursor(ana)
    async with (
        open_socket(api, ana) as phone,
        open_socket(api, ana) as laptop,
        open_socket(api, bob) as bob_socket,
    ):
        await block(api, ana, bob)
        for socket_ in (phone, laptop):
            told = await socket_.wait_for(type="conversation.updated", conversationId=conversation)
            assert told["changes"] == {"blocked": True, "canSend": False}
        told_bob = await bob_socket.wait_for(type="conversation.updated")
        assert told_bob["changes"] == {"blocked": False, "canSend": False}
        assert told_bob["eventSeq"] == told["eventSeq"]  # one entry, each side's own view

    ana_view, bob_view = await view(api, ana, conversation), await view(api, bob, conversation)
    assert (ana_view["blocked"], ana_view["canSend"]) == (True, False)
    assert (bob_view["blocked"], bob_view["canSend"]) == (False, False)
    for account, state in ((ana, (True, False)), (bob, (False, False))):
        listed = (await api.call("GET", "/conversations", account)).json()["conversations"]
        assert [(c["blocked"], c["canSend"]) for c in listed] == [state]

    # A device that was away learns it from /api/sync, and a gap fetch shows the same.
    missed, _ = await api.sync_all(ana, cursor)
    updates = [e for e in missed if e["type"] == "conversation.updated"]
    assert [u["changes"] for u in updates] == [{"blocked": True, "canSend": False}]
    gap = await api.call("GET", f"/conversations/{conversation}/events", bob, params={"after": 0})
    replayed = [e for e in gap.json()["events"] if e["type"] == "conversation.updated"]
    assert [e["changes"] for e in replayed] == [{"blocked": False, "canSend": False}]
    everything, _ = await api.sync_all(bob, "0")
    arrival = next(e for e in everything if e["type"] == "conversation.created")
    assert (arrival["conversation"]["blocked"], arrival["conversation"]["canSend"]) == (
        False,
        False,
    )


async def test_no_new_direct_chat_either_way_while_blocked(api: Api) -> None:
    ana, bob, carl = [await api.sign_up() for _ in range(3)]
    await block(api, ana, bob)
    for opener, other in ((bob, ana), (ana, bob)):
        reply = await api.call("POST", "/conversations/direct", opener, json={"userId": other.id})
        assert reply.status_code == 403, reply.text
        assert reply.json()["error"]["code"] == "blocked"
    assert (await api.call("GET", "/conversations", bob)).json()["conversations"] == []
    assert (await api.call("GET", "/conversations", ana)).json()["conversations"] == []
    await api.direct(bob, carl)  # others are not affected
    await unblock(api, ana, bob)
    reply = await api.call("POST", "/conversations/direct", bob, json={"userId": ana.id})
    assert reply.status_code == 201
    assert reply.json()["conversation"]["canSend"] is True


async def test_unblocking_restores_sending_and_a_block_from_each_side_needs_both_lifted(
    api: Api,
) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    await block(api, ana, bob)
    await block(api, bob, ana)
    await unblock(api, ana, bob)
    ana_view = await view(api, ana, conversation)
    assert (ana_view["blocked"], ana_view["canSend"]) == (False, False)  # bob's block stays
    still = await api.call(
        "POST",
        f"/conversations/{conversation}/messages",
        ana,
        json={"clientMessageId": "still", "body": "hello?"},
    )
    assert still.status_code == 403
    async with open_socket(api, ana) as ana_socket:
        await unblock(api, bob, ana)
        told = await ana_socket.wait_for(type="conversation.updated", conversationId=conversation)
        assert told["changes"] == {"blocked": False, "canSend": True}
        sent = await send_over_socket(ana_socket, conversation, "again", "hello again")
        assert sent["type"] == "ack" and sent["message"]["body"] == "hello again"
    await api.send(bob, conversation, "welcome back", "back")
    assert await bodies(api, ana, conversation) == ["hello again", "welcome back"]


async def test_groups_are_unaffected_by_a_block(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    group = await api.group(ana, "Book club", bob)
    await block(api, ana, bob)
    async with open_socket(api, ana) as ana_socket:
        await api.send(bob, group, "from the blocked member", "g-1")
        got = await ana_socket.wait_for(type="message.created", conversationId=group)
        assert got["message"]["body"] == "from the blocked member"
    await api.send(ana, group, "from the blocker", "g-2")
    group_view = await view(api, bob, group)
    assert (group_view["blocked"], group_view["canSend"]) == (False, True)
    assert await bodies(api, bob, group) == ["from the blocked member", "from the blocker"]


async def test_presence_and_typing_stop_between_the_pair(api: Api) -> None:
    ana, bob, carl = [await api.sign_up() for _ in range(3)]
    conversation = await api.direct(ana, bob)
    await api.group(carl, "Shared", ana, bob)  # a group they share does not undo it
    async with open_socket(api, ana) as ana_socket, open_socket(api, bob) as bob_socket:
        assert ana.id in bob_socket.of_type("hello")[0]["online"]
        await ana_socket.wait_for(type="presence", userId=bob.id, online=True)
        await block(api, ana, bob)
        # The blocked user no longer sees the blocker online, nor the blocker them.
        await bob_socket.wait_for(type="presence", userId=ana.id, online=False)
        await ana_socket.wait_for(type="presence", userId=bob.id, online=False)
        await ana_socket.send(
            {"action": "typing", "conversationId": conversation, "isTyping": True}
        )
        await bob_socket.send(
            {"action": "typing", "conversationId": conversation, "isTyping": True}
        )
        await ana_socket.settle()
        await bob_socket.settle()
        # A second device of the blocker comes and goes: the blocked user hears nothing.
        async with open_socket(api, ana) as again:
            assert bob.id not in again.of_type("hello")[0]["online"]
        await bob_socket.settle()
        for socket_ in (ana_socket, bob_socket):
            assert not socket_.of_type("typing")
        presence_of_ana = [
            f["online"] for f in bob_socket.of_type("presence") if f["userId"] == ana.id
        ]
        assert presence_of_ana[-1] is False
    # Opened in this order: the blocker comes online after the others are listening.
    async with (
        open_socket(api, bob) as bob_socket,
        open_socket(api, carl) as carl_socket,
        open_socket(api, ana) as ana_socket,
    ):
        assert bob.id not in ana_socket.of_type("hello")[0]["online"]
        await carl_socket.wait_for(type="presence", userId=ana.id, online=True)
        await bob_socket.settle()
        assert not [f for f in bob_socket.of_type("presence") if f["userId"] == ana.id]
        await unblock(api, ana, bob)
        # Lifted: each sees the other online again at once.
        await bob_socket.wait_for(type="presence", userId=ana.id, online=True)


async def test_a_send_racing_a_block_never_commits_after_the_block(api: Api) -> None:
    """Sends in flight while the block commits either commit before it (and are kept)
    or are refused with nothing stored: never a message after the block's entry."""
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)

    async def send(body: str) -> int:
        reply = await api.call(
            "POST",
            f"/conversations/{conversation}/messages",
            bob,
            json={"clientMessageId": body, "body": body},
        )
        assert reply.status_code in (201, 403), reply.text
        return reply.status_code

    for round_ in range(3):
        names = [f"r{round_}-{n}" for n in range(20)]
        sends = [asyncio.create_task(send(name)) for name in names]
        await asyncio.sleep(0)
        await block(api, ana, bob)
        statuses = await asyncio.gather(*sends)
        log = await api.call(
            "GET", f"/conversations/{conversation}/events", ana, params={"after": 0}
        )
        events = log.json()["events"]
        blocked_at = max(
            i
            for i, e in enumerate(events)
            if e["type"] == "conversation.updated" and e["changes"]["blocked"]
        )
        assert [e for e in events[blocked_at:] if e["type"] == "message.created"] == []
        accepted = {name for name, status in zip(names, statuses, strict=True) if status == 201}
        stored = {b for b in await bodies(api, ana, conversation) if b.startswith(f"r{round_}-")}
        assert stored == accepted
        await unblock(api, ana, bob)


async def test_a_blocked_pair_in_a_shared_group_do_not_see_when_the_other_was_last_seen(
    api: Api,
) -> None:
    ana, bob, carl = [await api.sign_up() for _ in range(3)]
    await api.group(carl, "Shared", ana, bob)
    async with open_socket(api, ana):
        pass  # Ana has been seen: her contacts get a "last seen"
    await block(api, ana, bob)

    async def profile(viewer: Account, user: Account) -> Any:
        reply = await api.call("GET", f"/users/{user.id}", viewer)
        assert reply.status_code == 200, reply.text
        return reply.json()["user"]

    # On API Gateway $disconnect runs after the close, so "last seen" lands a moment later.
    for _ in range(100):
        if (await profile(carl, ana))["lastSeenAt"] is not None:
            break
        await asyncio.sleep(0.1)
    assert (await profile(carl, ana))["lastSeenAt"] is not None
    for viewer, user in ((bob, ana), (ana, bob)):  # either way round
        seen = await profile(viewer, user)
        assert seen["displayName"] and "lastSeenAt" not in seen

    async with open_socket(api, bob) as bob_socket, open_socket(api, carl) as carl_socket:
        renamed = await api.call("PATCH", "/users/me", ana, json={"displayName": "Ana B."})
        assert renamed.status_code == 200, renamed.text
        told_carl = await carl_socket.wait_for(type="user.updated")
        told_bob = await bob_socket.wait_for(type="user.updated")
        assert told_carl["user"]["lastSeenAt"] is not None
        assert told_bob["user"]["displayName"] == "Ana B."  # the group shows her new name
        assert "lastSeenAt" not in told_bob["user"]
