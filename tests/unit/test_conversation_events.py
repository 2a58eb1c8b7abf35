"""Conversation changes are told as what changed (issue 8): the frame a member gets for
someone else's change does not grow with the group."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from hubbub.domain import rules
from hubbub.domain.models import User
from hubbub.domain.views import JsonObject
from tests.unit.conftest import World

SMALL = 512  # bytes


async def full_group(world: World, size: int = rules.MAX_GROUP_MEMBERS) -> tuple[list[str], str]:
    names = [f"u{i:03}" for i in range(size + 1)]  # the last one is not in the group

    def work(tx):  # type: ignore[no-untyped-def]
        for name in names:
            tx.users.insert(
                User(name, name, f"{name}@x.io", name.upper(), datetime(2026, 1, 1, tzinfo=UTC))
            )

    await world.store.write(work)
    group = await world.conversations.create_group(names[0], "Big", names[1:size])
    return names, str(group["id"])


def frames_since(world: World, mark: int) -> list[tuple[frozenset[str], JsonObject]]:
    return [(d.recipients, d.frame) for d in world.published.deliveries[mark:]]


def size(frame: JsonObject) -> int:
    return len(orjson.dumps(frame))


async def test_a_rename_tells_every_member_the_new_title_only(world: World) -> None:
    names, group = await full_group(world)
    mark = len(world.published.deliveries)
    await world.conversations.rename(names[0], group, "Renamed")
    ((recipients, frame),) = frames_since(world, mark)
    assert recipients == set(names[:-1])
    assert frame["conversationId"] == group and frame["userId"] == names[0]
    changes = frame["changes"]
    assert isinstance(changes, dict) and changes.keys() == {"title", "updatedAt"}
    assert changes["title"] == "Renamed"
    assert size(frame) < SMALL


async def test_renaming_to_the_same_title_tells_nobody(world: World) -> None:
    names, group = await full_group(world, size=3)
    mark = len(world.published.deliveries)
    view = await world.conversations.rename(names[0], group, "Big")
    assert view["title"] == "Big" and frames_since(world, mark) == []


async def test_the_members_hear_who_joined_and_the_newcomer_gets_the_conversation(
    world: World,
) -> None:
    names, group = await full_group(world, size=rules.MAX_GROUP_MEMBERS - 1)
    newcomer = names[-1]
    await world.messages.send(names[2], group, "m1", "before they came")
    mark = len(world.published.deliveries)
    await world.conversations.add_member(names[0], group, newcomer)
    (others, told), (theirs, welcomed) = frames_since(world, mark)
    assert others == set(names[:-1]) and theirs == {newcomer}
    assert "conversation" not in told and size(told) < SMALL
    member = told["member"]
    assert isinstance(member, dict) and member.keys() == {
        "id",
        "username",
        "displayName",
        "createdAt",
        "avatarUrl",
        "lastSeenAt",  # the members are the newcomer's contacts now
    }
    assert (member["id"], member["displayName"]) == (newcomer, newcomer.upper())
    assert (told["role"], told["readSeq"]) == ("member", 1)
    shared = welcomed["conversation"]
    assert isinstance(shared, dict)
    assert [m["id"] for m in shared["members"]] == names
    assert {k: v for k, v in welcomed.items() if k not in {"conversation", "cursor"}} == {
        k: v for k, v in told.items() if k != "cursor"
    }


async def test_the_owner_leaving_names_the_new_owner_in_the_same_small_frame(
    world: World,
) -> None:
    names, group = await full_group(world)
    mark = len(world.published.deliveries)
    await world.conversations.remove_member(names[0], group, names[0])
    ((recipients, frame),) = frames_since(world, mark)
    assert recipients == set(names[:-1])  # the one who left hears it too
    assert (frame["userId"], frame["ownerId"]) == (names[0], names[1])
    assert size(frame) < SMALL
    view = await world.conversations.get(names[1], group)
    assert view["ownerId"] == names[1]


async def test_a_member_leaving_keeps_the_owner_and_the_last_one_out_leaves_none(
    world: World,
) -> None:
    names, group = await full_group(world, size=2)
    mark = len(world.published.deliveries)
    await world.conversations.remove_member(names[1], group, names[1])
    await world.conversations.remove_member(names[0], group, names[0])
    (_, left), (recipients, last) = frames_since(world, mark)
    assert left["ownerId"] == names[0]
    assert recipients == {names[0]} and last["ownerId"] is None
