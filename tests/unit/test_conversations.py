"""Service rules that the API suite cannot easily provoke."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from hubbub.domain.models import User
from tests.unit.conftest import World


async def add_users(world: World, *names: str) -> None:
    def work(tx):  # type: ignore[no-untyped-def]
        for name in names:
            tx.users.insert(
                User(name, name, f"{name}@x.io", name, datetime(2026, 1, 1, tzinfo=UTC))
            )

    await world.store.write(work)


async def test_concurrent_direct_requests_make_one_conversation(world: World) -> None:
    await add_users(world, "ana", "bob")
    results = await asyncio.gather(
        *(world.conversations.open_direct(a, b) for a, b in [("ana", "bob"), ("bob", "ana")] * 5)
    )
    assert len({view["id"] for view, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    created_events = [
        d for d in world.published.deliveries if d.frame["type"] == "conversation.created"
    ]
    assert len(created_events) == 1
    assert created_events[0].recipients == {"ana", "bob"}


async def test_the_last_member_leaving_deletes_the_group(world: World) -> None:
    await add_users(world, "ana", "bob")
    group = await world.conversations.create_group("ana", "Pair", ["bob"])
    await world.conversations.remove_member("bob", str(group["id"]), "bob")
    await world.conversations.remove_member("ana", str(group["id"]), "ana")
    assert await world.store.read(lambda tx: tx.conversations.get(str(group["id"]))) is None


async def test_events_are_published_only_after_commit_and_to_members(world: World) -> None:
    await add_users(world, "ana", "bob", "eve")
    conversation, _ = await world.conversations.open_direct("ana", "bob")
    before = len(world.published.deliveries)
    change = await world.messages.send("ana", str(conversation["id"]), "c1", "hello")
    (delivery,) = world.published.deliveries[before:]
    assert delivery.recipients == {"ana", "bob"}
    assert delivery.frame["eventSeq"] == change.event_seq == 2  # after conversation.created
    assert delivery.frame["conversationId"] == conversation["id"]
    stored = await world.store.read(lambda tx: tx.log.after(str(conversation["id"]), 0, 10))
    assert [(e.event_seq, e.type, e.message_id) for e in stored] == [
        (1, "conversation.created", None),
        (2, "message.created", change.message["id"]),
    ]
