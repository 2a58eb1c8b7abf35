"""Conversation events carry what changed, not the whole conversation (issue 8).

A group of many members, each on a real socket: one rename, one member added and the
owner leaving must each cost every member one small frame, so the pushes of one change
grow with the members, not with members squared. The newcomer alone gets the whole
conversation (it has nothing yet). The deltas must still add up to what a fresh GET
shows, live and when replayed by /api/sync from an older cursor.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import orjson

from tests.support import Account, Api, Socket, open_socket

MEMBERS = 64
SMALL = 1024  # bytes: what one member may receive for one change of someone else


def size(frame: dict[str, Any]) -> int:
    return len(orjson.dumps(frame))


@asynccontextmanager
async def sockets(api: Api, accounts: list[Account]) -> AsyncIterator[list[Socket]]:
    async with AsyncExitStack() as stack:
        opened = []
        for account in accounts:
            opened.append(await stack.enter_async_context(open_socket(api, account)))
        for socket_ in opened:  # the others' presence news is in before anything is measured
            await socket_.request("ping")
        yield opened


async def received_since(
    opened: list[Socket], marks: list[int], done: dict[str, Any]
) -> list[list[dict[str, Any]]]:
    """Each socket's frames after its mark, once it has the frame matching `done` and
    everything published before a ping of its own."""
    for socket_ in opened:
        await socket_.wait_for(within=30, **done)
        await socket_.request("ping")
    return [
        [f for f in s.frames[mark:] if f.get("type") != "pong"]
        for s, mark in zip(opened, marks, strict=True)
    ]


async def big_group(api: Api) -> tuple[list[Account], str]:
    accounts = list(await asyncio.gather(*(api.sign_up() for _ in range(MEMBERS))))
    group = await api.group(accounts[0], "Many", *accounts[1:])
    return accounts, group


async def test_a_rename_sends_each_member_a_small_frame(api: Api) -> None:
    accounts, group = await big_group(api)
    async with sockets(api, accounts) as opened:
        marks = [len(s.frames) for s in opened]
        reply = await api.call(
            "PATCH", f"/conversations/{group}", accounts[0], json={"title": "Renamed"}
        )
        assert reply.status_code == 200
        got = await received_since(opened, marks, {"type": "conversation.updated"})
    for frames in got:
        (event,) = frames
        assert size(event) < SMALL, size(event)
        assert event["conversationId"] == group and event["changes"]["title"] == "Renamed"
        assert event["userId"] == accounts[0].id
    assert sum(size(f) for frames in got for f in frames) < MEMBERS * SMALL


async def test_adding_a_member_sends_the_others_a_small_frame(api: Api) -> None:
    accounts, group = await big_group(api)
    newcomer = await api.sign_up(display="New Person")
    async with sockets(api, [*accounts, newcomer]) as opened:
        marks = [len(s.frames) for s in opened]
        reply = await api.call(
            "POST", f"/conversations/{group}/members", accounts[0], json={"userId": newcomer.id}
        )
        assert reply.status_code == 200
        got = await received_since(opened, marks, {"type": "member.added"})
    *others, theirs = got
    for frames in others:
        # The newcomer's profile and role, plus at most the news that they are online.
        assert sum(size(f) for f in frames) < SMALL, [size(f) for f in frames]
        added = next(f for f in frames if f["type"] == "member.added")
        assert "conversation" not in added
        assert added["member"]["displayName"] == "New Person" and added["role"] == "member"
    # The newcomer has nothing yet: it alone gets the whole conversation, once.
    (snapshot,) = [f for f in theirs if f["type"] == "member.added"]
    assert {m["id"] for m in snapshot["conversation"]["members"]} == {
        a.id for a in [*accounts, newcomer]
    }
    assert size(snapshot) < (MEMBERS + 1) * 512
    assert sum(size(f) for f in theirs) < (MEMBERS + 1) * SMALL


async def test_the_owner_leaving_sends_each_member_one_small_frame(api: Api) -> None:
    accounts, group = await big_group(api)
    owner = accounts[0]
    async with sockets(api, accounts[1:]) as opened:
        marks = [len(s.frames) for s in opened]
        reply = await api.call("DELETE", f"/conversations/{group}/members/{owner.id}", owner)
        assert reply.status_code == 204
        got = await received_since(opened, marks, {"type": "member.removed"})
    view = (await api.call("GET", f"/conversations/{group}", accounts[1])).json()["conversation"]
    for frames in got:
        assert [size(f) for f in frames if size(f) >= SMALL] == []
        (event,) = frames  # who left and who owns the group now, in one frame
        assert event["userId"] == owner.id and event["ownerId"] == view["ownerId"]


def apply(view: dict[str, Any] | None, frame: dict[str, Any], me: str) -> dict[str, Any] | None:
    """One client's copy of one conversation after a durable event, knowing only what a
    client knows (docs/websocket.md): the deltas, or a whole conversation when sent one."""
    kind = frame["type"]
    if isinstance(frame.get("conversation"), dict):
        view = dict(frame["conversation"])
    elif view is None:
        return None
    elif kind == "message.created":
        message = frame["message"]
        reads = {**view["memberReadSeqs"], message["senderId"]: message["seq"]}
        view = {
            **view,
            "lastMessage": message,
            "lastSeq": message["seq"],
            "updatedAt": message["createdAt"],
            "memberReadSeqs": reads,
        }
    elif kind in {"message.updated", "message.deleted"}:
        if (view["lastMessage"] or {}).get("id") == frame["message"]["id"]:
            view = {**view, "lastMessage": frame["message"]}
    elif kind == "read":
        view = {**view, "memberReadSeqs": {**view["memberReadSeqs"], frame["userId"]: frame["seq"]}}
    elif kind == "conversation.updated":
        view = {**view, **frame["changes"]}
    elif kind == "member.added":
        view = {
            **view,
            "members": [*view["members"], frame["member"]],
            "memberReadSeqs": {**view["memberReadSeqs"], frame["userId"]: frame["readSeq"]},
            "updatedAt": frame["updatedAt"],
        }
    elif kind == "member.removed":
        if frame["userId"] == me:
            return None
        view = {
            **view,
            "members": [m for m in view["members"] if m["id"] != frame["userId"]],
            "memberReadSeqs": {
                k: v for k, v in view["memberReadSeqs"].items() if k != frame["userId"]
            },
            "ownerId": frame["ownerId"],
            "updatedAt": frame["updatedAt"],
        }
    elif kind == "conversation.deleted":
        return None
    if "eventSeq" in frame:  # a view is as new as the newest entry applied to it
        view = {**view, "lastEventSeq": max(view["lastEventSeq"], frame["eventSeq"])}
    read = view["memberReadSeqs"].get(me, 0)
    return {**view, "readSeq": read, "unreadCount": max(view["lastSeq"] - read, 0)}


def unseen(view: dict[str, Any] | None) -> dict[str, Any] | None:
    """The view without its members' "last seen": that is not conversation state (it moves
    when someone's last socket closes, as these tests' sockets do at the end, and comes
    from `presence` and fresh loads, never from the conversation's log)."""
    if view is None:
        return None
    members = [{k: v for k, v in m.items() if k != "lastSeenAt"} for m in view["members"]]
    return {**view, "members": members}


def replay(view: dict[str, Any] | None, frames: list[dict[str, Any]], me: str, room: str) -> Any:
    for frame in frames:
        about = frame.get("conversationId") or (frame.get("message") or {}).get("conversationId")
        about = about or (frame.get("conversation") or {}).get("id")
        if frame.get("cursor") and about == room:
            view = apply(view, frame, me)
    return view


async def test_deltas_live_and_replayed_add_up_to_a_fresh_fetch(api: Api) -> None:
    owner, bob, carl, dana, erin = [await api.sign_up() for _ in range(5)]
    group = await api.group(owner, "Start", bob, carl, dana)
    everyone = [owner, bob, carl, dana, erin]
    before: dict[str, Any] = {}
    for account in everyone:
        reply = await api.call("GET", f"/conversations/{group}", account)
        before[account.id] = reply.json()["conversation"] if reply.status_code == 200 else None
    async with sockets(api, everyone) as opened:
        start = [s.frames[0]["cursor"] for s in opened]  # each hello's
        await api.send(bob, group, "hello all", "d-1")
        await api.call("PATCH", f"/conversations/{group}", owner, json={"title": "Second"})
        await api.call("POST", f"/conversations/{group}/members", owner, json={"userId": erin.id})
        late = await api.send(erin, group, "hi, I am new", "d-2")
        await api.call("POST", f"/conversations/{group}/read", dana, json={"seq": 2})
        await api.call("DELETE", f"/conversations/{group}/members/{owner.id}", owner)
        owner_now = (await api.call("GET", f"/conversations/{group}", bob)).json()
        heir = next(a for a in everyone if a.id == owner_now["conversation"]["ownerId"])
        await api.call("DELETE", f"/conversations/{group}/members/{carl.id}", heir)
        await api.call(
            "PATCH", f"/conversations/{group}/messages/{late['id']}", erin, json={"body": "hi!"}
        )
        await api.call("PATCH", f"/conversations/{group}", heir, json={"title": "Third"})
        for socket_ in opened:
            await socket_.request("ping")
        live = {a.id: list(s.frames) for a, s in zip(everyone, opened, strict=True)}
    for account, since in zip(everyone, start, strict=True):
        reply = await api.call("GET", f"/conversations/{group}", account)
        fresh = reply.json()["conversation"] if reply.status_code == 200 else None
        assert (account is owner or account is carl) == (fresh is None)
        from_live = replay(before[account.id], live[account.id], account.id, group)
        assert unseen(from_live) == unseen(fresh), account.username
        events, _ = await api.sync_all(account, since)
        replayed = replay(before[account.id], events, account.id, group)
        assert unseen(replayed) == unseen(fresh), account.username
