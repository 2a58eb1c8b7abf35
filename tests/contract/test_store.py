"""The Store port's contract, run against every adapter: what one promises, all keep."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hubbub.adapters.sqlite import SqliteStore
from hubbub.domain.errors import Conflict
from hubbub.domain.models import (
    Conversation,
    ConversationKind,
    Membership,
    Message,
    Role,
    User,
    direct_key,
)
from hubbub.ports import Store, Transaction
from tests.postgres import store_of

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    made = store_of(request.param, request, tmp_path)
    yield made
    await made.close()


def user(n: int, name: str | None = None) -> User:
    handle = name or f"user{n}"
    return User(f"u{n}", handle, f"{handle}@x.io", handle.title(), T0 + timedelta(seconds=n))


def conversation(n: int, *, updated: int = 0, key: str | None = None) -> Conversation:
    return Conversation(
        id=f"c{n}",
        kind=ConversationKind.DIRECT if key else ConversationKind.GROUP,
        title="" if key else f"group {n}",
        created_by="u1",
        created_at=T0,
        updated_at=T0 + timedelta(seconds=updated),
        direct_key=key,
    )


def message(conversation_id: str, seq: int, sender: str = "u1", cmid: str | None = None) -> Message:
    return Message(
        id=f"{conversation_id}-m{seq}",
        conversation_id=conversation_id,
        seq=seq,
        sender_id=sender,
        body=f"body {seq}",
        client_message_id=cmid or f"{conversation_id}-cm{seq}",
        created_at=T0 + timedelta(seconds=seq),
    )


async def seed(store: Store) -> None:
    def work(tx: Transaction) -> None:
        for n, name in [(1, "ana"), (2, "bob"), (3, "carla"), (4, "ANDRE")]:
            tx.users.insert(user(n, name.lower()))
        tx.conversations.insert(conversation(1, key=direct_key("u1", "u2")))
        tx.conversations.insert(conversation(2, updated=5))
        for cid, uid in [("c1", "u1"), ("c1", "u2"), ("c2", "u1"), ("c2", "u3")]:
            tx.members.put(Membership(cid, uid, Role.MEMBER, T0))

    await store.write(work)


async def test_a_failed_write_leaves_no_trace(store: Store) -> None:
    await seed(store)

    def half_done(tx: Transaction) -> None:
        tx.users.insert(user(9, "ghost"))
        tx.messages.insert(message("c1", 1))
        tx.events.append(["u1"], "message.created", {"type": "message.created"})
        tx.members.remove("c1", "u2")
        raise RuntimeError("crash mid-transaction")

    with pytest.raises(RuntimeError):
        await store.write(half_done)
    assert await store.read(lambda tx: tx.users.get("u9")) is None
    assert await store.read(lambda tx: tx.messages.by_seq("c1", 1)) is None
    assert await store.read(lambda tx: tx.events.head()) == 0
    assert await store.read(lambda tx: tx.members.get("c1", "u2")) is not None


async def test_unique_usernames_emails_direct_pairs_and_client_ids(store: Store) -> None:
    await seed(store)
    for work in [
        lambda tx: tx.users.insert(user(5, "ana")),
        lambda tx: tx.users.insert(User("u6", "fresh", "ana@x.io", "F", T0)),
        lambda tx: tx.conversations.insert(conversation(7, key=direct_key("u2", "u1"))),
    ]:
        with pytest.raises(Conflict):
            await store.write(work)
    await store.write(lambda tx: tx.messages.insert(message("c1", 1, cmid="same")))
    with pytest.raises(Conflict):
        await store.write(lambda tx: tx.messages.insert(message("c1", 2, cmid="same")))
    with pytest.raises(Conflict):
        await store.write(lambda tx: tx.messages.insert(message("c1", 1, cmid="other")))
    found = await store.read(lambda tx: tx.messages.by_client_id("u1", "same"))
    assert found is not None and found.seq == 1


async def test_search_is_prefix_case_insensitive_and_excludes_the_caller(store: Store) -> None:
    await seed(store)
    found = await store.read(lambda tx: tx.users.search("an", exclude_id="u1", limit=10))
    assert [u.username for u in found] == ["andre"]
    by_display = await store.read(lambda tx: tx.users.search("carl", exclude_id="u1", limit=10))
    assert [u.id for u in by_display] == ["u3"]
    assert await store.read(lambda tx: tx.users.search("zz", exclude_id="u1", limit=10)) == []


async def test_conversations_for_a_user_in_activity_order_with_keyset_pages(store: Store) -> None:
    await seed(store)
    first = await store.read(lambda tx: tx.conversations.for_user("u1", limit=1, after=None))
    assert [c.id for c in first] == ["c2"]
    position = (first[0].updated_at, first[0].id)
    rest = await store.read(lambda tx: tx.conversations.for_user("u1", limit=5, after=position))
    assert [c.id for c in rest] == ["c1"]
    assert await store.read(lambda tx: tx.members.contacts_of("u1")) == {"u2", "u3"}


async def test_message_pages(store: Store) -> None:
    await seed(store)

    def fill(tx: Transaction) -> None:
        for seq in range(1, 11):
            tx.messages.insert(message("c2", seq))

    await store.write(fill)

    async def page(**kwargs: int | None) -> list[int]:
        messages = await store.read(lambda tx: tx.messages.page("c2", **kwargs))  # type: ignore[arg-type]
        return [m.seq for m in messages]

    assert await page(before=None, after=None, limit=3) == [8, 9, 10]
    assert await page(before=4, after=None, limit=5) == [1, 2, 3]
    assert await page(before=None, after=7, limit=5) == [8, 9, 10]


async def test_event_streams_are_per_recipient_and_cursors_increase(store: Store) -> None:
    await seed(store)
    cursors = []
    for recipients in (["u1", "u2"], ["u2"], ["u1"]):
        cursors.append(
            await store.write(
                lambda tx, r=recipients: tx.events.append(r, "read", {"type": "read", "n": len(r)})
            )
        )
    assert cursors == sorted(cursors) and len(set(cursors)) == 3
    mine = await store.read(lambda tx: tx.events.since("u1", 0, 10))
    assert [e.cursor for e in mine] == [cursors[0], cursors[2]]
    assert mine[0].payload == {"type": "read", "n": 2}
    later = await store.read(lambda tx: tx.events.since("u2", cursors[0], 10))
    assert [e.cursor for e in later] == [cursors[1]]
    assert await store.read(lambda tx: tx.events.head()) == cursors[-1]


async def test_deleting_a_conversation_removes_its_members_and_messages(store: Store) -> None:
    await seed(store)
    await store.write(lambda tx: tx.messages.insert(message("c1", 1)))
    await store.write(lambda tx: tx.conversations.delete("c1"))
    assert await store.read(lambda tx: tx.conversations.get("c1")) is None
    assert await store.read(lambda tx: tx.members.of_conversation("c1")) == []
    assert await store.read(lambda tx: tx.messages.get("c1", "c1-m1")) is None
    assert (
        await store.read(lambda tx: tx.conversations.by_direct_key(direct_key("u1", "u2"))) is None
    )


async def test_on_commit_runs_in_commit_order(store: Store) -> None:
    import asyncio

    await seed(store)
    seen: list[int] = []

    async def one(n: int) -> None:
        # The event cursor tells the commit order: it grows with every commit. (Writers
        # that overlap, as on PostgreSQL, may commit in another order than they began.)
        await store.write(lambda tx: tx.events.append(["u1"], "n", {"n": n}), seen.append)

    await asyncio.gather(*(one(n) for n in range(50)))
    assert len(seen) == 50 and seen == sorted(seen)


async def test_sqlite_data_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "durable.db"
    first = SqliteStore(path)
    await first.write(lambda tx: tx.users.insert(user(1)))
    await first.close()
    second = SqliteStore(path)
    try:
        assert await second.read(lambda tx: tx.users.get("u1")) == user(1)
    finally:
        await second.close()
