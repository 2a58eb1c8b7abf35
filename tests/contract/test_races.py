"""Many writers: each race the review found, on every store adapter.

Each test lets one service call (the slow one, as another process would run it) read
before a second call commits and write after, through `races.race` (see its docstring
for why the interleaving is simulated on memory and SQLite), and then checks what a
user would notice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from hubbub.adapters.memory import RecordingPublisher
from hubbub.adapters.system import UlidGenerator
from hubbub.domain import rules
from hubbub.domain.errors import DomainError, NotFound, ValidationFailed
from hubbub.domain.models import User
from hubbub.ports import Store, Transaction
from hubbub.services.conversations import ConversationService
from hubbub.services.messages import Change, MessageService
from tests.contract.races import race
from tests.dynamodb import settings_on_dynamodb
from tests.postgres import settings_on_postgres
from tests.unit.conftest import SETTINGS, World, make_world


@dataclass
class Chat:
    world: World

    @property
    def store(self) -> Store:
        return self.world.platform.store

    @property
    def conversations(self) -> ConversationService:
        return self.world.conversations

    @property
    def messages(self) -> MessageService:
        return self.world.messages

    def conversations_on(self, store: Store) -> ConversationService:
        """The conversation service of another process sharing the same store."""
        return ConversationService(store, RecordingPublisher(), UlidGenerator(), self.world.clock)

    def messages_on(self, store: Store) -> MessageService:
        return MessageService(store, RecordingPublisher(), UlidGenerator(), self.world.clock)

    async def add_users(self, *names: str) -> None:
        now = self.world.clock.now()

        # A few at a time: a DynamoDB transaction holds at most 100 writes.
        for start in range(0, len(names), 10):

            def work(tx: Transaction, chunk: tuple[str, ...] = names[start : start + 10]) -> None:
                for name in chunk:
                    tx.users.insert(User(name, name, f"{name}@x.io", name.title(), now))

            await self.store.write(work)

    async def group(self, owner: str, *others: str) -> str:
        view = await self.conversations.create_group(owner, "G", list(others))
        return str(view["id"])

    async def members(self, conversation_id: str) -> dict[str, str]:
        def work(tx: Transaction) -> dict[str, str]:
            return {m.user_id: m.role.value for m in tx.members.of_conversation(conversation_id)}

        return await self.store.read(work)


@pytest.fixture(params=["memory", "sqlite", "postgres", "dynamodb"])
async def chat(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Chat]:
    settings = (
        SETTINGS
        if request.param == "memory"
        else replace(SETTINGS, store="sqlite", data_dir=tmp_path)
    )
    if request.param == "postgres":
        settings = settings_on_postgres(SETTINGS, request)
    if request.param == "dynamodb":
        settings = settings_on_dynamodb(SETTINGS, request)
    world = make_world(settings)
    made = Chat(world)
    await made.add_users("ana", "bob", "cy")
    yield made
    await world.platform.close()


async def test_rename_racing_send_keeps_last_seq(chat: Chat) -> None:
    g = await chat.group("ana", "bob")
    await chat.messages.send("ana", g, "m1", "one")
    renamed = await race(
        chat.store,
        slow=lambda s: chat.conversations_on(s).rename("ana", g, "Renamed"),
        fast=lambda: chat.messages.send("bob", g, "m2", "two"),
    )
    assert not isinstance(renamed, DomainError)
    third = await chat.messages.send("ana", g, "m3", "three")
    fourth = await chat.messages.send("bob", g, "m4", "four")
    assert (third.message["seq"], fourth.message["seq"]) == (3, 4)
    view = await chat.conversations.get("bob", g)
    assert view["title"] == "Renamed" and view["lastSeq"] == 4


async def test_member_add_racing_send_keeps_last_seq(chat: Chat) -> None:
    g = await chat.group("ana", "bob")
    await chat.messages.send("ana", g, "m1", "one")
    added = await race(
        chat.store,
        slow=lambda s: chat.conversations_on(s).add_member("ana", g, "cy"),
        fast=lambda: chat.messages.send("bob", g, "m2", "two"),
    )
    assert not isinstance(added, DomainError)
    sent = await chat.messages.send("cy", g, "c1", "hello")
    assert sent.message["seq"] == 3
    history, _ = await chat.messages.history("cy", g, None, None, None)
    assert [m["body"] for m in history] == ["one", "two", "hello"]


async def test_send_racing_removal_does_not_readd_member(chat: Chat) -> None:
    g = await chat.group("ana", "bob", "cy")
    sent = await race(
        chat.store,
        slow=lambda s: chat.messages_on(s).send("bob", g, "b1", "after removal"),
        fast=lambda: chat.conversations.remove_member("ana", g, "bob"),
    )
    assert "bob" not in await chat.members(g)
    with pytest.raises(NotFound):
        await chat.conversations.get("bob", g)
    # The send lost to the removal: it was refused, and nothing of bob's is in the group.
    assert isinstance(sent, NotFound)
    history, _ = await chat.messages.history("ana", g, None, None, None)
    assert all(m["senderId"] != "bob" for m in history)


async def test_mark_read_racing_removal_does_not_readd_member(chat: Chat) -> None:
    g = await chat.group("ana", "bob", "cy")
    await chat.messages.send("ana", g, "m1", "one")
    await race(
        chat.store,
        slow=lambda s: chat.conversations_on(s).mark_read("bob", g, 1),
        fast=lambda: chat.conversations.remove_member("ana", g, "bob"),
    )
    assert "bob" not in await chat.members(g)
    with pytest.raises(NotFound):
        await chat.messages.history("bob", g, None, None, None)


async def test_read_marker_racing_owner_handover_keeps_the_owner(chat: Chat) -> None:
    g = await chat.group("ana", "bob")
    await chat.messages.send("ana", g, "m1", "one")
    read = await race(
        chat.store,
        slow=lambda s: chat.conversations_on(s).mark_read("bob", g, 1),
        fast=lambda: chat.conversations.remove_member("ana", g, "ana"),
    )
    assert isinstance(read, tuple) and read[0] == 1
    assert await chat.members(g) == {"bob": "owner"}
    view = await chat.conversations.add_member("bob", g, "cy")
    assert view["ownerId"] == "bob"
    assert {m["id"] for m in view["members"]} == {"bob", "cy"}  # type: ignore[union-attr]


async def test_edit_racing_delete_stays_deleted(chat: Chat) -> None:
    d, _ = await chat.conversations.open_direct("ana", "bob")
    room = str(d["id"])
    sent = await chat.messages.send("ana", room, "m1", "secret")
    message_id = str(sent.message["id"])
    await race(
        chat.store,
        slow=lambda s: chat.messages_on(s).edit("ana", room, message_id, "secret v2"),
        fast=lambda: chat.messages.delete("ana", room, message_id),
    )
    seen = await chat.messages.get("bob", room, message_id)
    assert seen["deleted"] is True and seen["body"] == ""
    history, _ = await chat.messages.history("bob", room, None, None, None)
    assert [(m["deleted"], m["body"]) for m in history] == [(True, "")]


async def test_two_adds_cannot_pass_the_group_size_cap(chat: Chat) -> None:
    crowd = [f"u{n:03}" for n in range(rules.MAX_GROUP_MEMBERS + 1)]
    await chat.add_users(*crowd)
    g = await chat.group("ana", *crowd[: rules.MAX_GROUP_MEMBERS - 2])  # one seat left
    late = await race(
        chat.store,
        slow=lambda s: chat.conversations_on(s).add_member("ana", g, crowd[-1]),
        fast=lambda: chat.conversations.add_member("ana", g, crowd[-2]),
    )
    assert len(await chat.members(g)) == rules.MAX_GROUP_MEMBERS
    assert isinstance(late, ValidationFailed)
    with pytest.raises(NotFound):
        await chat.conversations.get(crowd[-1], g)


async def test_last_two_leave_together_deletes_group(chat: Chat) -> None:
    g = await chat.group("ana", "bob")
    await chat.messages.send("ana", g, "m1", "one")
    await race(
        chat.store,
        slow=lambda s: chat.conversations_on(s).remove_member("ana", g, "ana"),
        fast=lambda: chat.conversations.remove_member("bob", g, "bob"),
    )
    assert await chat.members(g) == {}
    assert await chat.store.read(lambda tx: tx.conversations.get(g)) is None
    assert await chat.store.read(lambda tx: tx.messages.by_seq(g, 1)) is None


async def test_add_racing_group_delete_leaves_no_orphan_membership(chat: Chat) -> None:
    g = await chat.group("ana", "bob")
    added = await race(
        chat.store,
        slow=lambda s: chat.conversations_on(s).add_member("ana", g, "cy"),
        fast=lambda: chat.conversations.delete("ana", g),
    )
    assert isinstance(added, NotFound)
    assert await chat.members(g) == {}
    listed, _ = await chat.conversations.recent("cy", None, None)
    assert listed == []


async def test_direct_create_or_get_loser_gets_the_winner(chat: Chat) -> None:
    won: list[str] = []

    async def winner() -> None:
        view, created = await chat.conversations.open_direct("ana", "bob")
        assert created
        won.append(str(view["id"]))

    lost = await race(
        chat.store,
        slow=lambda s: chat.conversations_on(s).open_direct("bob", "ana"),
        fast=winner,
    )
    assert not isinstance(lost, DomainError)
    view, created = lost
    assert view["id"] == won[0] and created is False
    listed, _ = await chat.conversations.recent("ana", None, None)
    assert [c["id"] for c in listed] == won


async def test_idempotent_send_loser_gets_the_original(chat: Chat) -> None:
    d, _ = await chat.conversations.open_direct("ana", "bob")
    room = str(d["id"])
    first: list[Change] = []

    async def winner() -> None:
        first.append(await chat.messages.send("ana", room, "same", "hi"))

    retried = await race(
        chat.store,
        slow=lambda s: chat.messages_on(s).send("ana", room, "same", "hi"),
        fast=winner,
    )
    assert isinstance(retried, Change)
    assert retried.message == first[0].message and retried.event_seq is None
    history, _ = await chat.messages.history("bob", room, None, None, None)
    assert [m["id"] for m in history] == [first[0].message["id"]]
    after = await chat.messages.send("ana", room, "next", "again")
    assert after.message["seq"] == 2


async def test_mark_read_racing_a_later_mark_read_never_moves_back(chat: Chat) -> None:
    g = await chat.group("ana", "bob")
    for n in (1, 2):
        await chat.messages.send("ana", g, f"m{n}", "hi")
    slow = await race(
        chat.store,
        slow=lambda s: chat.conversations_on(s).mark_read("bob", g, 1),
        fast=lambda: chat.conversations.mark_read("bob", g, 2),
    )
    assert slow == (2, None)  # nothing moved, no read event
    view = await chat.conversations.get("bob", g)
    assert (view["readSeq"], view["unreadCount"]) == (2, 0)
