"""Service rules that the API suite cannot easily provoke."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from hubbub.domain.errors import NotFound, ValidationFailed
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


async def test_a_mute_lapses_at_its_end_and_only_the_muter_hears_of_it(world: World) -> None:
    await add_users(world, "ana", "bob")
    conversation, _ = await world.conversations.open_direct("ana", "bob")
    cid = str(conversation["id"])
    ends = world.clock.now() + timedelta(hours=1)
    before = len(world.published.deliveries)
    state = await world.conversations.mute("ana", cid, ends)
    assert state == {"muted": True, "mutedUntil": "2026-05-01T13:00:00.000Z"}
    (told,) = world.published.deliveries[before:]
    assert told.recipients == {"ana"} and told.frame["type"] == "conversation.muted"
    assert (await world.conversations.get("bob", cid))["muted"] is False

    world.clock.advance(3599)
    assert (await world.conversations.get("ana", cid))["muted"] is True
    world.clock.advance(1)
    lapsed = await world.conversations.get("ana", cid)
    assert (lapsed["muted"], lapsed["mutedUntil"]) == (False, None)
    (listed,), _ = await world.conversations.recent("ana", None, None)
    assert listed["muted"] is False

    # Muting again after it lapsed is told to Ana's devices, as every change is.
    forever = await world.conversations.mute("ana", cid, None)
    assert forever == {"muted": True, "mutedUntil": None}
    told_again = world.published.deliveries[-1]
    assert told_again.recipients == {"ana"}
    assert told_again.frame == {
        "type": "conversation.muted",
        "conversationId": cid,
        "muted": True,
        "mutedUntil": None,
    }
    await world.conversations.unmute("ana", cid)
    assert (await world.conversations.get("ana", cid))["muted"] is False


async def test_a_mute_must_end_in_the_future_with_an_offset(world: World) -> None:
    await add_users(world, "ana", "bob")
    conversation, _ = await world.conversations.open_direct("ana", "bob")
    cid = str(conversation["id"])
    for until in (world.clock.now(), datetime(2030, 1, 1)):
        with pytest.raises(ValidationFailed):
            await world.conversations.mute("ana", cid, until)
    with pytest.raises(NotFound):
        await world.conversations.mute("eve", cid, None)
