"""Catch-up (Zulip's "apply events to stale state == fresh fetch", Matrix's sync):
a hypothesis state machine runs random sends, edits, deletes, member changes, renames,
read markers, group deletions and client disconnects/reconnects against the real
server. Every user has a client model that knows only what a real client knows
(docs/websocket.md, "Staying in sync"): the live WebSocket events, /api/sync from the
resume cursor of its last sync after a reconnect, and a conversation's log
(/conversations/{id}/events) when it sees a gap in that conversation's `eventSeq`; it
drops what it has already applied (by event id, or an `eventSeq` it has passed). At
every check, each model must equal what a fresh fetch of the REST API returns: the
conversation list, kinds, titles, owners, members, read markers, lastSeq, and every
message with its body, edit and deletion."""

from __future__ import annotations

import asyncio
import itertools
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from tests.reliability.helpers import own_server
from tests.support import Account, Api, ServerProcess, Socket, open_socket

EPHEMERAL = {"hello", "pong", "error", "typing", "presence"}  # nothing durable
USERS = 4
ACTIONS = (
    ["send"] * 8
    + ["edit"] * 2
    + ["delete"]
    + ["add_member"] * 2
    + ["remove_member"] * 2
    + ["rename", "mark_read", "mark_read", "open_direct", "create_group", "delete_group"]
    + ["connect"] * 2
    + ["disconnect"] * 2
    + ["check", "restart"]
)
MAX_EXAMPLES = 15
STEPS = 30


@dataclass
class Conversation:
    kind: str
    title: str
    owner: str | None
    members: set[str]
    read_seqs: dict[str, int]
    last_seq: int


@dataclass
class Client:
    """One user's device: a model built only from events."""

    account: Account
    socket: Socket | None = None
    socket_context: Any = None
    consumed: int = 0
    resume: str = "0"  # the cursor of the last sync page
    applied: set[str] = field(default_factory=set)
    positions: dict[str, int] = field(default_factory=dict)  # conversation -> eventSeq
    gaps_filled: int = 0
    pending: dict[str, str] = field(default_factory=dict)  # requestId -> conversationId
    conversations: dict[str, Conversation] = field(default_factory=dict)
    messages: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    @property
    def me(self) -> str:
        return self.account.id


def _conversation(view: dict[str, Any]) -> Conversation:
    return Conversation(
        kind=view["kind"],
        title=view["title"],
        owner=view["ownerId"],
        members={m["id"] for m in view["members"]},
        read_seqs=dict(view["memberReadSeqs"]),
        last_seq=view["lastSeq"],
    )


class CatchUp(RuleBasedStateMachine):
    server: ServerProcess

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.api = Api(self.server.base_url)
        accounts = [self._run(self.api.sign_up()) for _ in range(USERS)]
        # The first user also has a second device: its own actions reach that device as
        # events while the device that acted gets acks.
        self.clients = [Client(a) for a in accounts] + [Client(accounts[0])]
        self.ids = itertools.count()
        # Ground truth of what exists, to aim the actions (the server decides).
        self.rooms: list[str] = []
        self.truth: dict[str, dict[str, Any]] = {}
        self.sent: list[tuple[str, str, str]] = []  # (conversation, message id, sender)

    # -- plumbing ---------------------------------------------------------------

    def _run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        try:
            self.check_every_model_equals_a_fresh_fetch()
        finally:
            for client in self.clients:
                if client.socket_context is not None:
                    self._run(client.socket_context.__aexit__(None, None, None))
            self._run(self.api.close())
            self.loop.close()

    def _user(self, index: int) -> Client:
        return self.clients[index % USERS]

    def _room(self, index: int) -> str:
        return self.rooms[index % len(self.rooms)]

    # -- the client model ---------------------------------------------------------

    async def _apply(self, client: Client, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "ack":
            conversation_id = client.pending.pop(frame["requestId"], None)
            if frame.get("cursor") is None:
                return
            assert frame["conversationId"] == conversation_id, frame
            if "message" in frame:
                frame = {**frame, "type": "message.any"}
            else:
                frame = {**frame, "type": "read", "userId": client.me, "seq": frame["readSeq"]}
            kind = frame["type"]
        cursor = frame.get("cursor")
        if cursor is None or kind in EPHEMERAL:
            return
        if cursor in client.applied:
            return
        client.applied.add(cursor)
        room = frame["conversationId"]
        if "conversation" in frame:  # a whole conversation: new, joined, or (re)joined
            view = frame["conversation"]
            client.conversations[room] = _conversation(view)
            client.positions[room] = view["lastEventSeq"]
            # A real client loads the history of a conversation it has just been given.
            client.messages[room] = {
                m["id"]: m for m in await self._history(client.account, room) or []
            }
            return
        if kind in {"member.removed", "conversation.deleted"} and (
            kind == "conversation.deleted" or frame["userId"] == client.me
        ):
            client.conversations.pop(room, None)
            client.messages.pop(room, None)
            client.positions.pop(room, None)
            return
        state = client.conversations.get(room)
        if state is None:
            return
        if "eventSeq" in frame:
            known = client.positions.get(room, 0)
            if frame["eventSeq"] <= known:
                return  # already covered by a later view or a gap fetch
            if frame["eventSeq"] > known + 1:
                await self._fill_gap(client, room, known)
                if frame["eventSeq"] <= client.positions.get(room, 0):
                    return
            client.positions[room] = frame["eventSeq"]
        if kind in {"message.created", "message.updated", "message.deleted", "message.any"}:
            message = frame["message"]
            client.messages.setdefault(room, {})[message["id"]] = message
            if message["seq"] > state.last_seq:
                state.last_seq = message["seq"]
                # Sending moves the sender's read marker to the message (decisions.md).
                state.read_seqs[message["senderId"]] = message["seq"]
        elif kind == "read":  # markers only move forward; replays show the current one
            state.read_seqs[frame["userId"]] = max(
                frame["seq"], state.read_seqs.get(frame["userId"], 0)
            )
        elif kind == "conversation.updated":  # what changed, not the whole conversation
            state.title = frame["changes"].get("title", state.title)
        elif kind == "member.added":
            state.members.add(frame["member"]["id"])
            state.read_seqs[frame["userId"]] = frame["readSeq"]
        elif kind == "member.removed":
            state.members.discard(frame["userId"])
            state.read_seqs.pop(frame["userId"], None)
            state.owner = frame["ownerId"]
        else:
            raise AssertionError(f"unknown durable event {frame}")

    async def _fill_gap(self, client: Client, room: str, known: int) -> None:
        """A frame skipped ahead in its conversation: fetch what lies between."""
        client.gaps_filled += 1
        while True:
            reply = await self.api.call(
                "GET", f"/conversations/{room}/events", client.account, params={"after": known}
            )
            if reply.status_code == 404:
                return  # no longer a member: the removal frame follows
            page = reply.json()
            for event in page["events"]:
                if event["eventSeq"] == client.positions.get(room, 0) + 1:
                    await self._apply(client, event)
            known = client.positions.get(room, known)
            if not page["hasMore"]:
                return

    async def _drain_live(self, client: Client) -> None:
        """Applies every live frame received so far; a ping makes sure that every
        event published before now has arrived."""
        if client.socket is None:
            return
        await client.socket.request("ping")
        frames = client.socket.frames
        while client.consumed < len(frames):
            frame = frames[client.consumed]
            client.consumed += 1
            await self._apply(client, frame)

    async def _catch_up(self, client: Client) -> None:
        events, client.resume = await self.api.sync_all(client.account, client.resume)
        for event in events:
            await self._apply(client, event)

    async def _history(self, account: Account, room: str) -> list[dict[str, Any]] | None:
        return await self.api.history_all(account, room)

    async def _fresh(self, account: Account) -> tuple[dict[str, Any], dict[str, Any]]:
        conversations: dict[str, Any] = {}
        messages: dict[str, Any] = {}
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if cursor:
                params["cursor"] = cursor
            reply = await self.api.call("GET", "/conversations", account, params=params)
            page = reply.json()
            for view in page["conversations"]:
                conversations[view["id"]] = (_conversation(view), view["readSeq"])
                history = await self._history(account, view["id"])
                assert history is not None
                if history:
                    messages[view["id"]] = {m["id"]: m for m in history}
            cursor = page["nextCursor"]
            if cursor is None:
                return conversations, messages

    # -- actions --------------------------------------------------------------------
    # One rule draws the next action from a weighted list (a chat is mostly sends);
    # `pick` chooses among what exists and `aim` says whether the actor is one the
    # server should accept (a member, the owner, the sender) or anyone at all.

    @initialize()
    def a_group_a_direct_and_two_online(self) -> None:
        self._create_group(0, [1, 2, 3])
        self._open_direct(0, 1)
        self._connect(0)
        self._connect(1)
        self._connect(USERS)  # the first user's second device

    @rule(
        action=st.sampled_from(ACTIONS),
        pick=st.integers(0, 1000),
        who=st.integers(0, USERS - 1),
        aim=st.integers(0, 4),
        flag=st.booleans(),
    )
    def step(self, action: str, pick: int, who: int, aim: int, flag: bool) -> None:
        getattr(self, f"_{action}")(pick, who, aim != 0, flag)

    def _act(self, client: Client, method: str, path: str, body: Any = None) -> Any:
        kwargs = {} if body is None else {"json": body}
        reply = self._run(self.api.call(method, path, client.account, **kwargs))
        assert reply.status_code < 500, reply.text
        return reply

    def _ws(self, client: Client, action: str, room: str, **fields: Any) -> dict[str, Any]:
        assert client.socket is not None
        request_id = f"m{next(self.ids)}"
        client.pending[request_id] = room
        self._run(
            client.socket.send(
                {"action": action, "requestId": request_id, "conversationId": room, **fields}
            )
        )
        reply: dict[str, Any] = self._run(client.socket.wait_for(requestId=request_id))
        if reply["type"] == "error":
            client.pending.pop(request_id, None)
            assert reply["error"]["code"] in {"not_found", "forbidden", "conflict"}, reply
        return reply

    def _refresh(self, room: str) -> None:
        """Re-reads a conversation's members and owner after a change whose reply
        does not carry them."""
        for user in self.truth.get(room, {}).get("members", set()):
            client = next(c for c in self.clients if c.me == user)
            reply = self._run(self.api.call("GET", f"/conversations/{room}", client.account))
            if reply.status_code == 200:
                self._learn(reply.json()["conversation"])
                return
        self.truth.pop(room, None)  # nobody left: the group is gone

    def _learn(self, view: dict[str, Any]) -> None:
        self.truth[view["id"]] = {
            "kind": view["kind"],
            "owner": view["ownerId"],
            "members": {m["id"] for m in view["members"]},
        }
        if view["id"] not in self.rooms:
            self.rooms.append(view["id"])

    def _room_and_actor(self, pick: int, who: int, aim: bool, role: str) -> tuple[str, Client]:
        room = self.rooms[pick % len(self.rooms)]
        truth = self.truth.get(room)
        if aim and truth:
            if role == "owner" and truth["owner"]:
                return room, self._device(truth["owner"], pick)
            members = sorted(truth["members"])
            if members:
                return room, self._device(members[who % len(members)], pick)
        return room, self._user(who)

    def _device(self, user_id: str, pick: int) -> Client:
        """The user's client; for the first user, sometimes their second device."""
        devices = [c for c in self.clients if c.me == user_id]
        return devices[pick // 7 % len(devices)]

    def _open_direct(self, pick: int, who: int, aim: bool = True, flag: bool = False) -> None:
        me, other = self._user(who), self._user(who + 1 + pick % (USERS - 1))
        reply = self._act(me, "POST", "/conversations/direct", {"userId": other.me})
        self._learn(reply.json()["conversation"])

    def _create_group(self, pick: int, who: Any, aim: bool = True, flag: bool = False) -> None:
        others = who if isinstance(who, list) else [i for i in range(USERS) if pick >> i & 1]
        me = self._user(pick if isinstance(who, list) else who)
        members = [self._user(i).me for i in others if self._user(i) is not me]
        reply = self._act(
            me, "POST", "/conversations", {"title": f"g{next(self.ids)}", "memberIds": members}
        )
        self._learn(reply.json()["conversation"])

    def _send(self, pick: int, who: int, aim: bool, over_ws: bool) -> None:
        if not self.rooms:
            return
        room, client = self._room_and_actor(pick, who, aim, "member")
        cmid = f"c{next(self.ids)}"
        if over_ws and client.socket is not None:
            message = self._ws(client, "sendMessage", room, clientMessageId=cmid, body=cmid).get(
                "message"
            )
        else:
            answer = self._act(
                client,
                "POST",
                f"/conversations/{room}/messages",
                {"clientMessageId": cmid, "body": cmid},
            )
            message = answer.json()["message"] if answer.status_code == 201 else None
        if message:
            self.sent.append((room, message["id"], client.me))

    def _edit(self, pick: int, who: int, aim: bool, over_ws: bool, delete: bool = False) -> None:
        if not self.sent:
            return
        room, message_id, sender = self.sent[pick % len(self.sent)]
        client = self._device(sender, pick) if aim else self._user(who)
        if over_ws and client.socket is not None:
            if delete:
                self._ws(client, "deleteMessage", room, messageId=message_id)
            else:
                self._ws(client, "editMessage", room, messageId=message_id, body=f"e{pick}")
        else:
            path = f"/conversations/{room}/messages/{message_id}"
            if delete:
                self._act(client, "DELETE", path)
            else:
                self._act(client, "PATCH", path, {"body": f"e{pick}"})

    def _delete(self, pick: int, who: int, aim: bool, over_ws: bool) -> None:
        self._edit(pick, who, aim, over_ws, delete=True)

    def _add_member(self, pick: int, who: int, aim: bool, flag: bool) -> None:
        if not self.rooms:
            return
        room, owner = self._room_and_actor(pick, who, aim, "owner")
        newcomer = self._user(who + pick)
        reply = self._act(owner, "POST", f"/conversations/{room}/members", {"userId": newcomer.me})
        if reply.status_code == 200:
            self._learn(reply.json()["conversation"])

    def _remove_member(self, pick: int, who: int, aim: bool, leave: bool) -> None:
        if not self.rooms:
            return
        room, actor = self._room_and_actor(pick, who, aim, "member" if leave else "owner")
        members = sorted(self.truth.get(room, {}).get("members", set())) or [actor.me]
        target = actor.me if leave else members[pick % len(members)]
        reply = self._act(actor, "DELETE", f"/conversations/{room}/members/{target}")
        if reply.status_code == 204:
            self.truth[room]["members"].discard(target)
            self._refresh(room)

    def _rename(self, pick: int, who: int, aim: bool, flag: bool) -> None:
        if not self.rooms:
            return
        room, actor = self._room_and_actor(pick, who, aim, "owner")
        self._act(actor, "PATCH", f"/conversations/{room}", {"title": f"t{next(self.ids)}"})

    def _delete_group(self, pick: int, who: int, aim: bool, flag: bool) -> None:
        if not self.rooms:
            return
        room, owner = self._room_and_actor(pick, who, aim, "owner")
        if self._act(owner, "DELETE", f"/conversations/{room}").status_code == 204:
            self.truth.pop(room, None)

    def _mark_read(self, pick: int, who: int, aim: bool, over_ws: bool) -> None:
        if not self.rooms:
            return
        room, client = self._room_and_actor(pick, who, aim, "member")
        seq = pick % 12
        if over_ws and client.socket is not None:
            self._ws(client, "markRead", room, seq=seq)
        else:
            self._act(client, "POST", f"/conversations/{room}/read", {"seq": seq})

    def _connect(self, pick: int, who: int = 0, aim: bool = True, flag: bool = False) -> None:
        """Connect (or reconnect): socket first, then /api/sync from the resume cursor
        of the last sync; live frames after that skip what sync already applied."""
        client = self.clients[pick % len(self.clients)]
        if client.socket is not None:
            return
        client.socket_context = open_socket(self.api, client.account)
        client.socket = self._run(client.socket_context.__aenter__())
        client.consumed = 0
        client.pending.clear()
        self._run(self._catch_up(client))

    def _disconnect(self, pick: int, who: int, aim: bool, flag: bool) -> None:
        client = self.clients[pick % len(self.clients)]
        if client.socket is None:
            return
        # Frames that arrived before the hang-up are applied; the rest is missed.
        arrived = client.socket.frames[client.consumed :]
        context, client.socket, client.socket_context = client.socket_context, None, None
        self._run(context.__aexit__(None, None, None))
        for frame in arrived:
            self._run(self._apply(client, frame))

    def _restart(self, pick: int, who: int, aim: bool, kill: bool) -> None:
        """The server goes away (kill -9 or a clean stop) and comes back on the same
        data: every connected client loses its socket, reconnects and catches up."""
        online = [i for i, c in enumerate(self.clients) if c.socket is not None]
        self._run(self.api.close())
        self.server.stop(signal.SIGKILL if kill else signal.SIGTERM)
        self.server.start()
        self.api = Api(self.server.base_url)
        for index in online:
            socket_ = self.clients[index].socket
            assert socket_ is not None
            self._run(asyncio.wait_for(asyncio.shield(socket_._reader), 10))
            self._disconnect(index, 0, True, False)
            self._connect(index)

    def _check(self, pick: int, who: int, aim: bool, flag: bool) -> None:
        self.check_every_model_equals_a_fresh_fetch()

    def check_every_model_equals_a_fresh_fetch(self) -> None:
        for client in self.clients:
            if client.socket is not None:
                self._run(self._drain_live(client))
            else:
                self._run(self._catch_up(client))  # an offline client syncs to look
            conversations, messages = self._run(self._fresh(client.account))
            model = {
                room: (state, state.read_seqs.get(client.me, 0))
                for room, state in client.conversations.items()
            }
            assert model == conversations, (client.account.username, model, conversations)
            kept = {room: found for room, found in client.messages.items() if found}
            assert kept == messages, client.account.username

    @invariant()
    def each_connection_delivers_a_conversations_positions_in_increasing_order(self) -> None:
        for client in self.clients:
            if client.socket is not None:
                seen: dict[str, list[int]] = {}
                for frame in client.socket.frames:
                    if "eventSeq" in frame:
                        seen.setdefault(frame["conversationId"], []).append(frame["eventSeq"])
                for positions in seen.values():
                    assert positions == sorted(set(positions)), seen


def test_live_events_plus_sync_equal_a_fresh_fetch(tmp_path: Path) -> None:
    with own_server(tmp_path) as server:  # its own: the machine restarts it
        CatchUp.server = server
        _run(CatchUp)


def _run(machine: type[CatchUp]) -> None:
    run_state_machine_as_test(
        machine,
        settings=hypothesis.settings(
            max_examples=MAX_EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        ),
    )
