"""What only a store whose transactions truly overlap must get right, on PostgreSQL with
real threads and connections: transactions paused mid-way while another one runs.

The contract suites (test_store.py, test_races.py, ...) run on PostgreSQL too; these
add the interleavings they cannot produce on memory and SQLite, which run one write
transaction at a time.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import psycopg
import pytest

from hubbub.adapters.postgres import PostgresStore
from hubbub.domain.errors import Conflict
from hubbub.domain.models import LogEntry, User
from hubbub.ports import WRITE_ATTEMPTS, RefreshToken, Transaction
from tests.contract.test_store import conversation, seed
from tests.postgres import PostgresServer, settings_on_postgres
from tests.unit.conftest import SETTINGS, make_world

T = TypeVar("T")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
DEADLINE = 30.0


@pytest.fixture
async def store(postgres: PostgresServer) -> AsyncIterator[PostgresStore]:
    made = PostgresStore(postgres.fresh_url())
    yield made
    await made.close()


class Pause:
    """Holds a transaction function in its worker thread at one point until released."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.go = threading.Event()

    def here(self) -> None:
        self.reached.set()
        assert self.go.wait(DEADLINE), "never released"

    async def until_reached(self) -> None:
        assert await asyncio.to_thread(self.reached.wait, DEADLINE), "never reached the pause"


async def blocked_or_done(postgres: PostgresServer, task: Awaitable[object]) -> None:
    """Waits until `task` is done or some transaction waits for a lock held by another."""
    assert isinstance(task, asyncio.Task)

    def waiting() -> bool:
        with psycopg.connect(postgres.url("hubbub"), autocommit=True) as db:
            row = db.execute(b"SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()
            return bool(row and row[0])

    deadline = asyncio.get_running_loop().time() + DEADLINE
    while not task.done() and not await asyncio.to_thread(waiting):
        assert asyncio.get_running_loop().time() < deadline, "neither blocked nor done"
        await asyncio.sleep(0.01)


def holding_position_in_c1(pause: Pause) -> Callable[[Transaction], int | None]:
    """A transaction that takes c1's next log position, then waits at `pause`."""

    def first(tx: Transaction) -> int | None:
        position = tx.log.append(LogEntry("c1", "first", T0))
        pause.here()
        return position

    return first


async def test_sync_never_skips_an_event_committed_out_of_allocation_order(
    store: PostgresStore, postgres: PostgresServer
) -> None:
    """A client that applied entry N+1 of a conversation must never find N committed
    behind it. Transaction one takes position 1 of c1 and pauses before committing; a
    second writer of c1 waits for it (the position is taken under the row's lock), so a
    reader meanwhile sees neither, and afterwards both in position order."""
    await seed(store)
    pause = Pause()

    def second(tx: Transaction) -> int | None:
        return tx.log.append(LogEntry("c1", "second", T0))

    one = asyncio.create_task(store.write(holding_position_in_c1(pause)))
    try:
        await pause.until_reached()
        two = asyncio.create_task(store.write(second))
        await blocked_or_done(postgres, two)
        assert not two.done(), "a second writer of c1 took a position while the first held it"
        seen = await store.read(lambda tx: tx.log.after("c1", 0, 10))
        heads = await store.read(lambda tx: tx.sync.heads("u1"))
    finally:
        pause.go.set()
    assert (await one, await two) == (1, 2)
    assert seen == [], "an entry was visible before an earlier one"
    assert {h.conversation_id: h.last_event_seq for h in heads}["c1"] == 0
    everything = await store.read(lambda tx: tx.log.after("c1", 0, 10))
    assert [(e.event_seq, e.type) for e in everything] == [(1, "first"), (2, "second")]


async def test_writers_of_different_conversations_never_wait_for_each_other(
    store: PostgresStore,
) -> None:
    """No deployment-wide lock or counter: while a transaction holds its position in c1
    uncommitted, one in c2 commits."""
    await seed(store)
    pause = Pause()
    one = asyncio.create_task(store.write(holding_position_in_c1(pause)))
    try:
        await pause.until_reached()
        other = await asyncio.wait_for(
            store.write(lambda tx: tx.log.append(LogEntry("c2", "other", T0))), DEADLINE
        )
        committed = await store.read(lambda tx: tx.log.after("c2", 0, 10))
    finally:
        pause.go.set()
    assert await one == 1 and other == 1
    assert [e.type for e in committed] == ["other"]


async def test_a_revocation_racing_a_rotation_also_revokes_its_successor(
    store: PostgresStore, postgres: PostgresServer
) -> None:
    """Signing out (revoking the family) while a refresh of that session is rotating its
    token in another transaction: the successor the rotation adds must not outlive the
    revocation, or the signed-out session lives on through it."""
    expires = T0 + timedelta(days=30)
    old = RefreshToken("old", "u1", "fam", expires)
    await store.write(lambda tx: tx.credentials.add_refresh(old))
    pause = Pause()

    def rotate(tx: Transaction) -> bool:
        claimed = tx.credentials.claim_refresh("old", T0)
        added = tx.credentials.add_refresh(RefreshToken("new", "u1", "fam", expires), after="old")
        pause.here()
        return claimed and added

    rotation = asyncio.create_task(store.write(rotate))
    try:
        await pause.until_reached()
        revocation = asyncio.create_task(
            store.write(lambda tx: tx.credentials.revoke_family("fam"))
        )
        await blocked_or_done(postgres, revocation)
    finally:
        pause.go.set()
    assert await rotation is True
    await revocation
    assert await store.read(lambda tx: tx.credentials.get_refresh("new")) is None
    assert await store.read(lambda tx: tx.credentials.families_of("u1")) == set()


async def test_a_rotation_after_a_revocation_claims_nothing(
    store: PostgresStore, postgres: PostgresServer
) -> None:
    """The other order: the revocation is in flight first; the rotation waits for it and
    then finds its token gone."""
    expires = T0 + timedelta(days=30)
    await store.write(
        lambda tx: tx.credentials.add_refresh(RefreshToken("old", "u1", "f", expires))
    )
    pause = Pause()

    def revoke(tx: Transaction) -> None:
        tx.credentials.revoke_family("f")
        pause.here()

    def rotate(tx: Transaction) -> bool:
        if not tx.credentials.claim_refresh("old", T0):
            return False
        return tx.credentials.add_refresh(RefreshToken("new", "u1", "f", expires), after="old")

    revocation = asyncio.create_task(store.write(revoke))
    try:
        await pause.until_reached()
        rotation = asyncio.create_task(store.write(rotate))
        await blocked_or_done(postgres, rotation)
    finally:
        pause.go.set()
    await revocation
    assert await rotation is False
    assert await store.read(lambda tx: tx.credentials.families_of("u1")) == set()


async def test_a_deadlock_is_run_again(store: PostgresStore) -> None:
    """Two transactions that lock two conversations in opposite orders deadlock; the one
    PostgreSQL aborts (40P01) is run again and both commit."""
    await seed(store)
    await store.write(lambda tx: tx.conversations.insert(conversation(9)))
    both = threading.Barrier(2, timeout=DEADLINE)
    runs = {"a": 0, "b": 0}

    def crossing(name: str, first: str, second: str) -> Callable[[Transaction], str]:
        def work(tx: Transaction) -> str:
            runs[name] += 1
            tx.conversations.touch(first, T0 + timedelta(days=runs[name]))
            if runs[name] == 1:
                both.wait()  # each holds its first row now
            tx.conversations.touch(second, T0 + timedelta(days=runs[name]))
            return name

        return work

    results = await asyncio.gather(
        store.write(crossing("a", "c1", "c9")), store.write(crossing("b", "c9", "c1"))
    )
    assert sorted(results) == ["a", "b"]
    assert sorted(runs.values()) == [1, 2]


async def test_connections_the_server_dropped_are_replaced_not_failed(
    store: PostgresStore, postgres: PostgresServer
) -> None:
    """A database restart or failover drops every pooled connection; the next requests
    must get fresh ones, not fail one by one."""
    await seed(store)
    await store.write(lambda tx: tx.log.append(LogEntry("c1", "before", T0)))
    with psycopg.connect(postgres.url("postgres"), autocommit=True) as db:
        db.execute(
            b"SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            b" WHERE datname = 'hubbub' AND pid <> pg_backend_pid()"
        )
    position = await store.write(lambda tx: tx.log.append(LogEntry("c1", "after", T0)))
    seen = await store.read(lambda tx: tx.log.after("c1", 0, 10))
    assert [e.type for e in seen] == ["before", "after"] and seen[-1].event_seq == position


async def test_concurrent_sends_and_reads_through_the_services_keep_every_rule(
    postgres: PostgresServer, request: pytest.FixtureRequest
) -> None:
    """Many sends to one group at once, from several members, with read markers moving
    meanwhile, on real overlapping transactions: seqs 1..n without a gap or a 409, one
    log entry each at positions without a gap, and on_commit publishing in that order."""
    world = make_world(settings_on_postgres(SETTINGS, request))
    platform = world.platform
    try:
        names = ["ana", "bob", "cy"]

        def users(tx: Transaction) -> None:
            for name in names:
                tx.users.insert(User(name, name, f"{name}@x.io", name.title(), T0))

        await platform.store.write(users)
        group = str((await platform.conversations.create_group("ana", "G", ["bob", "cy"]))["id"])
        sends = [
            platform.messages.send(names[n % 3], group, f"m{n}", f"body {n}") for n in range(30)
        ]
        reads = [platform.conversations.mark_read(names[n % 3], group, n) for n in range(10)]
        results = await asyncio.gather(*sends, *reads)
        seqs = sorted(int(change.message["seq"]) for change in results[:30])  # type: ignore[union-attr]
        assert seqs == list(range(1, 31))
        entries = await platform.store.read(lambda tx: tx.log.after(group, 0, 1000))
        assert [e.event_seq for e in entries] == list(range(1, 32))  # created + 30 sends
        assert len([e for e in entries if e.type == "message.created"]) == 30
        published = [
            d.frame["eventSeq"] for d in world.published.deliveries if "eventSeq" in d.frame
        ]
        assert published == sorted(published) == list(range(1, 32))
        receipts = [
            d.frame["receiptSeq"] for d in world.published.deliveries if "receiptSeq" in d.frame
        ]
        assert receipts == sorted(receipts) == list(range(1, len(receipts) + 1))
    finally:
        await platform.close()


async def test_a_write_that_keeps_deadlocking_gives_up_with_a_plain_conflict(
    store: PostgresStore,
) -> None:
    runs: list[int] = []

    def always_deadlocks(tx: Transaction) -> None:
        runs.append(1)
        tx.log.append(LogEntry("c1", "never kept", T0))
        raise psycopg.errors.DeadlockDetected("deadlock detected; Process 1 waits for ShareLock")

    await seed(store)
    with pytest.raises(Conflict) as raised:
        await store.write(always_deadlocks)
    assert len(runs) == WRITE_ATTEMPTS
    assert "ShareLock" not in raised.value.message  # the server's internals stay inside
    assert await store.read(lambda tx: tx.log.after("c1", 0, 10)) == []


def test_committed_results_are_handed_over_in_ticket_order() -> None:
    """COMMITs run in parallel; their results still reach the event loop in the order the
    transactions took their tickets, and a ticket that did not commit holds none back."""
    from hubbub.adapters.commit_order import CommitOrder

    order = CommitOrder()
    handed: list[str] = []
    a, b, c, d = (order.take() for _ in range(4))
    order.done(c, lambda: handed.append("c"))
    order.done(b, None)  # its COMMIT failed
    assert handed == []
    order.done(a, lambda: handed.append("a"))
    assert handed == ["a", "c"]
    order.done(d, lambda: handed.append("d"))
    assert handed == ["a", "c", "d"]
