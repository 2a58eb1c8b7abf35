"""The Store port's contract, run against every adapter: what one promises, all keep."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hubbub.adapters.sqlite import SqliteStore
from hubbub.domain.errors import Conflict
from hubbub.domain.models import (
    MUTED_FOREVER,
    Block,
    Conversation,
    ConversationKind,
    LogEntry,
    Membership,
    Message,
    Reaction,
    Role,
    User,
    direct_key,
)
from hubbub.ports import Store, Transaction
from tests.postgres import store_of

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgres", "dynamodb"])
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
        tx.log.append(LogEntry("c1", "message.created", T0, message_id="c1-m1"))
        tx.log.record_receipt("c1", "u1")
        tx.members.remove("c1", "u2")
        raise RuntimeError("crash mid-transaction")

    with pytest.raises(RuntimeError):
        await store.write(half_done)
    assert await store.read(lambda tx: tx.users.get("u9")) is None
    assert await store.read(lambda tx: tx.messages.by_seq("c1", 1)) is None
    assert await store.read(lambda tx: tx.log.after("c1", 0, 10)) == []
    assert [h.last_event_seq for h in await store.read(lambda tx: tx.sync.heads("u1"))] == [0, 0]
    assert await store.read(lambda tx: tx.log.read_markers_after("c1", 0, 10)) == []
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


async def test_last_seen_only_moves_forward_and_survives_profile_updates(store: Store) -> None:
    await seed(store)
    assert (await store.read(lambda tx: tx.users.get("u1"))) == user(1, "ana")
    later, earlier = T0 + timedelta(hours=2), T0 + timedelta(hours=1)
    await store.write(lambda tx: tx.users.set_last_seen("u1", later))
    # Another process recording an older offline does not move it back.
    await store.write(lambda tx: tx.users.set_last_seen("u1", earlier))
    # Nor does a profile update written from a read taken before the offline.
    stale = user(1, "ana")
    await store.write(lambda tx: tx.users.update(replace(stale, display_name="Ana B")))
    found = await store.read(lambda tx: tx.users.get_many(["u1", "u2"]))
    assert found["u1"].last_seen_at == later and found["u1"].display_name == "Ana B"
    assert found["u2"].last_seen_at is None
    by_name = await store.read(lambda tx: tx.users.by_username("ana"))
    assert by_name is not None and by_name.last_seen_at == later
    # A user who is gone is nothing to record.
    await store.write(lambda tx: tx.users.set_last_seen("nobody", later))
    assert await store.read(lambda tx: tx.users.get("nobody")) is None


async def test_an_avatar_id_is_kept_replaced_and_cleared_with_the_profile(store: Store) -> None:
    await seed(store)
    ana = await store.read(lambda tx: tx.users.get("u1"))
    assert ana is not None and ana.avatar_id is None
    await store.write(lambda tx: tx.users.update(replace(ana, avatar_id="a" * 32)))
    found = await store.read(lambda tx: tx.users.get_many(["u1", "u2"]))
    assert found["u1"].avatar_id == "a" * 32 and found["u2"].avatar_id is None
    by_name = await store.read(lambda tx: tx.users.by_username("ana"))
    assert by_name is not None and by_name.avatar_id == "a" * 32
    hits = await store.read(lambda tx: tx.users.search("ana", exclude_id="u2", limit=5))
    assert [u.avatar_id for u in hits] == ["a" * 32]
    # A display-name change keeps the picture; clearing it leaves none.
    await store.write(lambda tx: tx.users.update(replace(found["u1"], display_name="Ana B")))
    renamed = await store.read(lambda tx: tx.users.get("u1"))
    assert renamed is not None and renamed.avatar_id == "a" * 32
    await store.write(lambda tx: tx.users.update(replace(renamed, avatar_id=None)))
    cleared = await store.read(lambda tx: tx.users.get("u1"))
    assert cleared is not None and cleared.avatar_id is None and cleared.display_name == "Ana B"


async def test_who_shares_a_conversation_with_whom(store: Store) -> None:
    await seed(store)  # c1: u1 and u2; c2: u1 and u3; u4 in nothing

    def pairs(tx: Transaction) -> list[bool]:
        return [
            tx.members.share_conversation(a, b)
            for a, b in [("u1", "u2"), ("u2", "u1"), ("u1", "u3"), ("u2", "u3"), ("u4", "u1")]
        ]

    assert await store.read(pairs) == [True, True, True, False, False]
    assert await store.read(lambda tx: tx.members.contacts_of("u1")) == {"u2", "u3"}
    await store.write(lambda tx: tx.members.remove("c2", "u3"))
    assert await store.read(lambda tx: tx.members.share_conversation("u1", "u3")) is False


async def test_member_ids_are_the_members_now(store: Store) -> None:
    await seed(store)
    assert sorted(await store.read(lambda tx: tx.members.ids_of("c1"))) == ["u1", "u2"]
    await store.write(lambda tx: tx.members.remove("c1", "u2"))
    assert await store.read(lambda tx: tx.members.ids_of("c1")) == ["u1"]
    # Within a transaction: what it has just changed.
    assert await store.write(
        lambda tx: (
            tx.members.put(Membership("c1", "u4", Role.MEMBER, T0)),
            tx.members.ids_of("c1"),
        )[1]
    ) in (["u1", "u4"], ["u4", "u1"])
    assert await store.read(lambda tx: tx.members.ids_of("nope")) == []


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


async def test_each_conversation_has_its_own_dense_log_of_references(store: Store) -> None:
    await seed(store)
    appended = [
        await store.write(
            lambda tx, c=c: tx.log.append(LogEntry(c, "message.created", T0, actor_id="u1"))
        )
        for c in ("c1", "c2", "c1")
    ]
    assert appended == [1, 1, 2]  # per conversation, no deployment-wide counter
    await store.write(
        lambda tx: tx.log.append(
            LogEntry(
                "c2", "member.removed", T0, actor_id="u1", subject_id="u3", detail={"ownerId": "u1"}
            )
        )
    )
    assert (
        await store.write(lambda tx: tx.log.append(LogEntry("c9", "message.created", T0))) is None
    )
    entries = await store.read(lambda tx: tx.log.after("c2", 0, 10))
    assert [(e.event_seq, e.type, e.subject_id, e.detail) for e in entries] == [
        (1, "message.created", None, {}),
        (2, "member.removed", "u3", {"ownerId": "u1"}),
    ]
    assert entries[1].at == T0 and entries[1].actor_id == "u1"
    assert [e.event_seq for e in await store.read(lambda tx: tx.log.after("c2", 1, 10))] == [2]
    assert [e.event_seq for e in await store.read(lambda tx: tx.log.after("c1", 0, 1))] == [1]
    removal = await store.read(lambda tx: tx.log.last_removal("c2", "u3"))
    assert removal is not None and removal.event_seq == 2
    assert await store.read(lambda tx: tx.log.last_removal("c2", "u1")) is None
    heads = await store.read(lambda tx: tx.sync.heads("u1"))
    assert sorted((h.conversation_id, h.last_event_seq) for h in heads) == [("c1", 2), ("c2", 2)]
    held = await store.read(lambda tx: tx.conversations.get("c1"))
    assert held is not None and held.last_event_seq == 2


async def test_a_message_takes_its_seq_and_log_position_in_one_step(store: Store) -> None:
    await seed(store)
    await store.write(lambda tx: tx.log.append(LogEntry("c2", "member.added", T0)))
    later, earlier = T0 + timedelta(seconds=9), T0 + timedelta(seconds=1)
    taken = [
        await store.write(
            lambda tx, at=at: tx.log.append_message(
                LogEntry("c2", "message.created", at, actor_id="u1", message_id="m"), at
            )
        )
        for at in (later, earlier)
    ]
    assert taken == [(1, 2), (2, 3)]  # each counter moves on by one from where it was
    held = await store.read(lambda tx: tx.conversations.get("c2"))
    assert held is not None and (held.last_seq, held.last_event_seq) == (2, 3)
    assert held.updated_at == later  # forward only
    entries = await store.read(lambda tx: tx.log.after("c2", 1, 10))
    assert [(e.event_seq, e.type, e.message_id, e.at) for e in entries] == [
        (2, "message.created", "m", later),
        (3, "message.created", "m", earlier),
    ]
    gone = LogEntry("c9", "message.created", T0)
    assert await store.write(lambda tx: tx.log.append_message(gone, T0)) is None


async def test_sqlite_writes_asked_for_in_one_turn_share_one_commit(tmp_path: Path) -> None:
    """Writes asked for in one turn of the event loop (closed-loop senders woken by one
    commit) reach the writer as one batch, however long the turn: one transaction
    object, one COMMIT. Each still commits or fails alone, in call order, and a close
    right after they were asked for still commits them."""
    import asyncio
    import time

    store = SqliteStore(tmp_path / "batch.db")
    try:
        await seed(store)

        def append(tx: Transaction) -> tuple[object, int | None]:
            return tx, tx.log.append(LogEntry("c1", "n", T0))

        def fail(tx: Transaction) -> None:
            tx.log.append(LogEntry("c1", "undone", T0))
            raise RuntimeError("this one only")

        async def busy_turn() -> None:
            time.sleep(0.05)  # noqa: ASYNC251 (a long turn: the writer must not start meanwhile)

        first = asyncio.ensure_future(store.write(append))
        failing = asyncio.ensure_future(store.write(fail))
        stall = asyncio.ensure_future(busy_turn())
        second = asyncio.ensure_future(store.write(append))
        (tx_a, position_a), (tx_b, position_b) = await first, await second
        await stall
        with pytest.raises(RuntimeError):
            await failing
        assert tx_a is tx_b and (position_a, position_b) == (1, 2)
        pending = [asyncio.ensure_future(store.write(append)) for _ in range(3)]
        await asyncio.sleep(0)  # asked for, not handed over yet
    finally:
        await store.close()
    assert [position for _, position in await asyncio.gather(*pending)] == [3, 4, 5]


async def test_read_receipts_count_per_conversation_and_show_current_markers(
    store: Store,
) -> None:
    await seed(store)

    def read(conversation_id: str, user_id: str, seq: int) -> int:
        async def go() -> int:
            def work(tx: Transaction) -> int:
                assert tx.members.advance_read(conversation_id, user_id, seq)
                return tx.log.record_receipt(conversation_id, user_id)

            return await store.write(work)

        return go()  # type: ignore[return-value]

    assert [await read("c1", "u1", 3), await read("c1", "u2", 1), await read("c1", "u1", 5)] == [
        1,
        2,
        3,
    ]
    assert await read("c2", "u3", 2) == 1
    moved = await store.read(lambda tx: tx.log.read_markers_after("c1", 0, 10))
    assert [(m.user_id, m.read_seq, m.receipt_seq) for m in moved] == [("u2", 1, 2), ("u1", 5, 3)]
    later = await store.read(lambda tx: tx.log.read_markers_after("c1", 2, 10))
    assert [(m.user_id, m.read_seq) for m in later] == [("u1", 5)]
    heads = await store.read(lambda tx: tx.sync.heads("u3"))
    assert [(h.conversation_id, h.last_receipt_seq) for h in heads] == [("c2", 1)]


async def test_departures_are_counted_per_user(store: Store) -> None:
    await seed(store)
    seqs = [
        await store.write(lambda tx, u=u, c=c: tx.sync.record_departure(u, c))
        for u, c in (("u1", "c1"), ("u2", "c1"), ("u1", "c2"))
    ]
    assert seqs == [1, 1, 2]
    assert await store.read(lambda tx: tx.sync.departures_after("u1", 0, 10)) == [
        (1, "c1"),
        (2, "c2"),
    ]
    assert await store.read(lambda tx: tx.sync.departures_after("u1", 1, 10)) == [(2, "c2")]
    assert await store.read(lambda tx: tx.sync.departures_after("u1", 0, 1)) == [(1, "c1")]
    assert await store.read(lambda tx: tx.sync.departure_head("u1")) == 2
    assert await store.read(lambda tx: tx.sync.departure_head("u3")) == 0


async def test_sync_snapshots_are_kept_per_user_newest_first(store: Store) -> None:
    await seed(store)
    for n in range(5):
        await store.write(
            lambda tx, n=n: tx.sync.save_snapshot(
                "u1", f"s{n}", f"[{n}]", T0 + timedelta(seconds=n), keep=3
            )
        )
    # Saving one again refreshes it rather than adding a copy.
    await store.write(
        lambda tx: tx.sync.save_snapshot("u1", "s2", "[2]", T0 + timedelta(9), keep=3)
    )
    kept = [
        await store.read(lambda tx, n=n: tx.sync.load_snapshot("u1", f"s{n}")) for n in range(5)
    ]
    assert kept == [None, None, "[2]", "[3]", "[4]"]
    assert await store.read(lambda tx: tx.sync.load_snapshot("u2", "s4")) is None


async def test_deleting_a_conversation_removes_its_members_and_messages(store: Store) -> None:
    await seed(store)
    await store.write(lambda tx: tx.messages.insert(message("c1", 1)))
    await store.write(
        lambda tx: tx.log.append(LogEntry("c1", "message.created", T0, message_id="c1-m1"))
    )
    await store.write(lambda tx: tx.log.record_receipt("c1", "u1"))
    await store.write(lambda tx: tx.conversations.delete("c1"))
    assert await store.read(lambda tx: tx.log.after("c1", 0, 10)) == []
    assert await store.read(lambda tx: tx.log.read_markers_after("c1", 0, 10)) == []
    assert await store.read(lambda tx: tx.conversations.get("c1")) is None
    assert await store.read(lambda tx: tx.members.of_conversation("c1")) == []
    assert await store.read(lambda tx: tx.messages.get("c1", "c1-m1")) is None
    assert (
        await store.read(lambda tx: tx.conversations.by_direct_key(direct_key("u1", "u2"))) is None
    )


async def test_a_mute_is_the_members_own_and_goes_with_the_membership(store: Store) -> None:
    await seed(store)
    later = T0 + timedelta(hours=8, microseconds=1)
    assert await store.write(lambda tx: tx.members.set_mute("c1", "u1", later)) is True
    assert await store.write(lambda tx: tx.members.set_mute("c2", "u1", MUTED_FOREVER)) is True
    mine = await store.read(lambda tx: tx.members.get("c1", "u1"))
    theirs = await store.read(lambda tx: tx.members.get("c1", "u2"))
    assert mine is not None and mine.muted_until == later
    assert theirs is not None and theirs.muted_until is None  # the other member's row
    heads = await store.read(lambda tx: tx.sync.heads("u1"))
    assert {h.conversation_id: h.muted_until for h in heads} == {"c1": later, "c2": MUTED_FOREVER}
    assert mine.muted_at(later - timedelta(microseconds=1)) and not mine.muted_at(later)

    # A narrow write: the role and the read marker are kept, and clearing clears.
    await store.write(lambda tx: tx.members.advance_read("c1", "u1", 3))
    assert await store.write(lambda tx: tx.members.set_mute("c1", "u1", None)) is True
    cleared = await store.read(lambda tx: tx.members.get("c1", "u1"))
    assert cleared == replace(mine, muted_until=None, read_seq=3)

    # Outsiders are not members, and a mute never brings a removed member back.
    assert await store.write(lambda tx: tx.members.set_mute("c2", "u2", later)) is False
    assert await store.read(lambda tx: tx.members.get("c2", "u2")) is None
    await store.write(lambda tx: tx.members.remove("c2", "u1"))
    assert await store.write(lambda tx: tx.members.set_mute("c2", "u1", later)) is False
    assert await store.read(lambda tx: tx.members.get("c2", "u1")) is None

    # Joining again starts unmuted.
    await store.write(lambda tx: tx.members.put(Membership("c2", "u1", Role.MEMBER, T0)))
    again = await store.read(lambda tx: tx.members.get("c2", "u1"))
    assert again is not None and again.muted_until is None


async def test_on_commit_runs_in_commit_order(store: Store) -> None:
    import asyncio

    await seed(store)
    seen: list[int] = []

    async def one(n: int) -> None:
        # The conversation's log position tells the commit order: it grows with every
        # commit. (Writers that overlap, as on PostgreSQL, may commit in another order
        # than they began.)
        await store.write(lambda tx: tx.log.append(LogEntry("c1", "n", T0)) or 0, seen.append)

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


async def test_blocks_are_kept_per_blocker_and_direction(store: Store) -> None:
    await seed(store)

    def block(blocker: str, blocked: str, second: int) -> Callable[[Transaction], bool]:
        return lambda tx: tx.blocks.add(Block(blocker, blocked, T0 + timedelta(seconds=second)))

    assert await store.write(block("u1", "u2", 1)) is True
    assert await store.write(block("u1", "u2", 9)) is False  # already blocked: unchanged
    assert await store.write(block("u1", "u3", 2)) is True
    assert await store.write(block("u4", "u1", 3)) is True

    listed = await store.read(lambda tx: tx.blocks.of_blocker("u1"))
    assert listed == [
        Block("u1", "u3", T0 + timedelta(seconds=2)),
        Block("u1", "u2", T0 + timedelta(seconds=1)),
    ]
    assert await store.read(lambda tx: tx.blocks.of_blocker("u2")) == []
    assert await store.read(lambda tx: tx.blocks.between("u2", "u1")) == {"u1"}
    assert await store.read(lambda tx: tx.blocks.between("u2", "u3")) == set()
    assert await store.read(lambda tx: tx.blocks.involving("u1")) == {"u2", "u3", "u4"}
    assert await store.read(lambda tx: tx.blocks.involving("u2")) == {"u1"}

    assert await store.write(block("u2", "u1", 4)) is True  # both ways at once
    assert await store.read(lambda tx: tx.blocks.between("u1", "u2")) == {"u1", "u2"}
    assert await store.write(lambda tx: tx.blocks.remove("u1", "u2")) is True
    assert await store.write(lambda tx: tx.blocks.remove("u1", "u2")) is False
    # Lifting one's own block leaves the other side's.
    assert await store.read(lambda tx: tx.blocks.between("u1", "u2")) == {"u2"}

    def rolled_back(tx: Transaction) -> None:
        tx.blocks.add(Block("u3", "u4", T0))
        tx.blocks.remove("u1", "u3")
        raise RuntimeError("undo")

    with pytest.raises(RuntimeError):
        await store.write(rolled_back)
    assert await store.read(lambda tx: tx.blocks.involving("u3")) == {"u1"}


async def test_a_quick_read_sees_what_was_committed(store: Store) -> None:
    await seed(store)
    await store.write(lambda tx: tx.messages.insert(message("c1", 1)))
    page = await store.read(
        lambda tx: tx.messages.page("c1", before=None, after=None, limit=10), quick=True
    )
    assert [m.seq for m in page] == [1]
    await store.write(lambda tx: tx.messages.insert(message("c1", 2)))
    assert await store.read(lambda tx: tx.messages.by_seq("c1", 2), quick=True) is not None


async def test_batch_reads_match_the_single_reads(store: Store) -> None:
    """The reads a page of conversations is shown with, many at once."""
    await seed(store)

    def fill(tx: Transaction) -> None:
        for conversation_id in ("c1", "c2"):
            for seq in (1, 2):
                tx.messages.insert(message(conversation_id, seq))
        tx.reactions.add(Reaction("c1", "c1-m1", "u2", "👍", T0))
        tx.reactions.add(Reaction("c2", "c2-m2", "u3", "❤️", T0 + timedelta(seconds=1)))

    await store.write(fill)

    def batch(tx: Transaction) -> tuple[object, ...]:
        members = tx.members.of_conversations(["c2", "c1", "nope"])
        return (
            {c: [m.user_id for m in ms] for c, ms in members.items()},
            [m.user_id for m in tx.members.of_conversation("c1")],
            sorted(tx.conversations.get_many(["c1", "c2", "nope"])),
            sorted(
                (m.conversation_id, m.seq)
                for m in tx.messages.by_seqs([("c1", 2), ("c2", 1), ("c2", 9)])
            ),
            sorted(m.id for m in tx.messages.get_many([("c1", "c1-m1"), ("c1", "c2-m2")])),
            [
                (r.message_id, r.emoji)
                for r in tx.reactions.of_keys([("c2", "c2-m2"), ("c1", "c1-m1")])
            ],
            tx.messages.by_seqs([]) + tx.messages.get_many([]),
            tx.reactions.of_keys([]),
        )

    members, c1_order, conversations, by_seqs, by_ids, reactions, empty, none = await store.read(
        batch
    )
    assert members == {"c1": c1_order, "c2": ["u1", "u3"]}
    assert conversations == ["c1", "c2"]
    assert by_seqs == [("c1", 2), ("c2", 1)]
    # A message is found under its own conversation only.
    assert by_ids == ["c1-m1"]
    assert reactions == [("c1-m1", "👍"), ("c2-m2", "❤️")]
    assert empty == [] and none == []
