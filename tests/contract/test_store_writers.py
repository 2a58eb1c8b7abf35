"""The store contract for many writers, at the repository level, on every adapter:
narrow conditional writes, and transaction functions re-run after a lost race."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from hubbub.domain.errors import Conflict
from hubbub.domain.models import Membership, Role, direct_key
from hubbub.ports import WRITE_ATTEMPTS, LostRace, Store, Transaction
from tests.contract.test_store import T0, conversation, message, seed, user
from tests.postgres import store_of


@pytest.fixture(params=["memory", "sqlite", "postgres", "dynamodb"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    made = store_of(request.param, request, tmp_path)
    await seed(made)
    yield made
    await made.close()


async def test_next_seq_adds_one_and_moves_updated_at_forward_only(store: Store) -> None:
    later, earlier = T0 + timedelta(hours=1), T0 + timedelta(minutes=1)
    assert await store.write(lambda tx: tx.conversations.next_seq("c2", later)) == 1
    assert await store.write(lambda tx: tx.conversations.next_seq("c2", earlier)) == 2
    now = await store.read(lambda tx: tx.conversations.get("c2"))
    assert now is not None and now.last_seq == 2 and now.updated_at == later
    assert await store.write(lambda tx: tx.conversations.next_seq("nope", later)) is None


async def test_set_title_and_touch_leave_last_seq_alone(store: Store) -> None:
    await store.write(lambda tx: tx.conversations.next_seq("c2", T0))
    renamed = await store.write(lambda tx: tx.conversations.set_title("c2", "New", T0))
    assert renamed is not None and (renamed.title, renamed.last_seq) == ("New", 1)
    await store.write(lambda tx: tx.conversations.touch("c2", T0 + timedelta(days=1)))
    now = await store.read(lambda tx: tx.conversations.lock("c2"))
    assert now is not None and (now.title, now.last_seq) == ("New", 1)
    assert now.updated_at == T0 + timedelta(days=1)
    assert await store.write(lambda tx: tx.conversations.set_title("nope", "x", T0)) is None


async def test_read_markers_move_forward_only_and_never_readd(store: Store) -> None:
    assert await store.write(lambda tx: tx.members.advance_read("c1", "u1", 3)) is True
    assert await store.write(lambda tx: tx.members.advance_read("c1", "u1", 2)) is False
    await store.write(lambda tx: tx.members.remove("c1", "u2"))
    assert await store.write(lambda tx: tx.members.advance_read("c1", "u2", 5)) is None
    assert await store.write(lambda tx: tx.members.set_role("c1", "u2", Role.OWNER)) is False
    assert await store.read(lambda tx: tx.members.get("c1", "u2")) is None
    assert await store.write(lambda tx: tx.members.set_role("c1", "u1", Role.OWNER)) is True
    mine = await store.read(lambda tx: tx.members.get("c1", "u1"))
    assert mine is not None and (mine.role, mine.read_seq) == (Role.OWNER, 3)


async def test_a_membership_is_never_overwritten_whole(store: Store) -> None:
    await store.write(lambda tx: tx.members.advance_read("c1", "u1", 4))
    with pytest.raises(Conflict):
        await store.write(lambda tx: tx.members.put(Membership("c1", "u1", Role.MEMBER, T0)))
    mine = await store.read(lambda tx: tx.members.get("c1", "u1"))
    assert mine is not None and mine.read_seq == 4


async def test_edits_and_deletes_are_conditional_on_not_deleted(store: Store) -> None:
    await store.write(lambda tx: tx.messages.insert(message("c1", 1)))
    later = T0 + timedelta(minutes=5)
    assert await store.write(lambda tx: tx.messages.edit("c1", "c1-m1", "v2", later)) is True
    assert await store.write(lambda tx: tx.messages.mark_deleted("c1", "c1-m1", later)) is True
    assert await store.write(lambda tx: tx.messages.mark_deleted("c1", "c1-m1", later)) is False
    assert await store.write(lambda tx: tx.messages.edit("c1", "c1-m1", "v3", later)) is False
    gone = await store.read(lambda tx: tx.messages.get("c1", "c1-m1"))
    assert gone is not None and gone.deleted and gone.body == ""
    assert await store.write(lambda tx: tx.messages.edit("c2", "c1-m1", "x", later)) is False


async def test_a_lost_race_is_run_again_with_its_first_run_undone(store: Store) -> None:
    key = direct_key("u1", "u2")  # c1 holds it: the "winner"
    runs: list[int] = []

    def create_or_get(tx: Transaction) -> str:
        runs.append(1)
        tx.users.insert(user(len(runs) + 10))  # a change the lost run must not keep
        found = tx.conversations.by_direct_key(key) if len(runs) > 1 else None  # stale first
        if found is not None:
            return found.id
        tx.conversations.insert(conversation(9, key=key))
        return "c9"

    assert await store.write(create_or_get) == "c1"
    assert len(runs) == 2
    assert await store.read(lambda tx: tx.users.get("u11")) is None
    assert await store.read(lambda tx: tx.users.get("u12")) is not None


async def test_a_function_that_keeps_losing_gets_a_conflict(store: Store) -> None:
    runs: list[int] = []

    def always_loses(tx: Transaction) -> None:
        runs.append(1)
        raise LostRace("lost again")

    with pytest.raises(Conflict) as raised:
        await store.write(always_loses)
    assert type(raised.value) is Conflict  # a plain 409 for the API, not LostRace
    assert len(runs) == WRITE_ATTEMPTS


async def test_a_rerun_in_a_group_commit_keeps_the_batch_and_its_order(store: Store) -> None:
    seen: list[int] = []
    first = [True]

    def loses_once(tx: Transaction) -> int:
        tx.messages.insert(message("c2", 1, cmid="dup" if first[0] else "dup-2"))
        if first[0]:
            first[0] = False
            tx.messages.insert(message("c2", 2, cmid="dup"))  # the same key: lost
        return 25

    async def one(n: int) -> None:
        work = loses_once if n == 25 else (lambda tx, n=n: n)
        await store.write(work, on_commit=seen.append)

    await asyncio.gather(*(one(n) for n in range(50)))
    assert sorted(seen) == list(range(50))
    if store.commits_in_call_order:  # one writer at a time: commit order is call order
        assert seen == list(range(50))
    thread = await store.read(lambda tx: tx.messages.page("c2", before=None, after=None, limit=5))
    assert [(m.seq, m.client_message_id) for m in thread] == [(1, "dup-2")]
