"""Profiles as contacts see them (issue 13), on the in-memory adapters with a clock we
move: who hears a rename, and "last seen" when a process that died is noticed."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from hubbub.domain.models import User
from hubbub.ports import Transaction
from hubbub.services.realtime import RealtimeService
from tests.unit.conftest import World


async def people(world: World, *names: str) -> None:
    def work(tx: Transaction) -> None:
        for name in names:
            tx.users.insert(
                User(name, name, f"{name}@x.io", name.title(), datetime(2026, 1, 1, tzinfo=UTC))
            )

    await world.store.write(work)


async def test_a_rename_is_told_once_to_contacts_and_self_and_a_same_name_to_nobody(
    world: World,
) -> None:
    await people(world, "ana", "bob", "cy", "dee")
    await world.conversations.create_group("ana", "Club", ["bob", "cy"])
    mark = len(world.published.deliveries)
    renamed = await world.platform.users.update_display_name("ana", "  Ana   Lima ")
    assert renamed.display_name == "Ana Lima"  # the display-name rule applies as before
    (delivery,) = world.published.deliveries[mark:]
    assert delivery.recipients == {"ana", "bob", "cy"}  # not dee, who shares nothing
    assert delivery.frame["type"] == "user.updated"
    user = delivery.frame["user"]
    assert isinstance(user, dict)
    assert (user["id"], user["displayName"]) == ("ana", "Ana Lima")
    assert "email" not in user
    mark = len(world.published.deliveries)
    await world.platform.users.update_display_name("ana", "Ana Lima")
    assert world.published.deliveries[mark:] == []


class DeadProcess:
    """A presence tracker whose other process died holding `gone`'s only connection."""

    def __init__(self, gone: str) -> None:
        self.dead = gone
        self.gone = [gone]

    async def claim(self, user_id: str, connection_id: str, limit: int) -> bool:
        return True

    async def connected(self, user_id: str, connection_id: str) -> bool:
        return True

    async def disconnected(self, user_id: str, connection_id: str) -> bool:
        return False

    async def online(self, user_ids: Sequence[str]) -> set[str]:
        return {u for u in user_ids if u != self.dead}  # the others' processes live on

    async def renew(self, connections: Collection[tuple[str, str]]) -> None:
        return None

    async def expired(self) -> list[str]:
        gone, self.gone = self.gone, []
        return gone


async def test_a_lease_running_out_records_last_seen_and_tells_contacts(world: World) -> None:
    await people(world, "ana", "bob", "cy")
    await world.conversations.open_direct("ana", "bob")
    realtime = RealtimeService(
        world.store, world.published, DeadProcess("ana"), world.platform.sync, world.clock
    )
    world.clock.advance(90)
    mark = len(world.published.deliveries)
    await realtime.keep_alive([])
    (delivery,) = world.published.deliveries[mark:]
    assert delivery.recipients == {"bob"}
    assert delivery.frame == {
        "type": "presence",
        "userId": "ana",
        "online": False,
        "lastSeenAt": "2026-05-01T12:01:30.000Z",
    }
    ana = await world.store.read(lambda tx: tx.users.get("ana"))
    assert ana is not None and ana.last_seen_at == world.clock.now()
    # Told once: the next renewal finds nobody else gone.
    await realtime.keep_alive([])
    assert len(world.published.deliveries) == mark + 1


async def test_presence_is_told_to_the_contacts_who_are_online_and_to_no_one_else(
    world: World,
) -> None:
    # Presence is not kept for later (a hello says who is online): told to a contact
    # with no connection, it would only cost the fan-out a look-up of nobody.
    await people(world, "ana", "bob", "cy")
    await world.conversations.create_group("ana", "Club", ["bob", "cy"])
    realtime = world.platform.realtime
    assert await realtime.claim("bob", "bob-1", 5)
    await realtime.connected("bob", "bob-1")
    mark = len(world.published.deliveries)
    assert await realtime.claim("ana", "ana-1", 5)
    hello, _ = await realtime.connected("ana", "ana-1")
    assert hello["online"] == ["bob"]
    (came,) = [d for d in world.published.deliveries[mark:] if d.frame["type"] == "presence"]
    assert came.recipients == {"bob"} and came.frame["online"] is True
    mark = len(world.published.deliveries)
    await realtime.disconnected("ana", "ana-1")
    (left,) = [d for d in world.published.deliveries[mark:] if d.frame["type"] == "presence"]
    assert left.recipients == {"bob"} and left.frame["online"] is False
