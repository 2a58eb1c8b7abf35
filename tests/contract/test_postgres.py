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
from hubbub.domain.models import User
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


async def test_sync_never_skips_an_event_committed_out_of_allocation_order(
    store: PostgresStore, postgres: PostgresServer
) -> None:
    """A client syncing "events after my cursor" must never see cursor N+1 before N: it
    would move its cursor past N and never get it. Transaction one allocates its event's
    cursor and pauses before committing; transaction two appends an event for the same
    user meanwhile. Until one commits, a reader sees neither."""
    pause = Pause()

    def first(tx: Transaction) -> int:
        cursor = tx.events.append(["ana"], "first", {"n": 1})
        pause.here()
        return cursor

    def second(tx: Transaction) -> int:
        return tx.events.append(["ana"], "second", {"n": 2})

    one = asyncio.create_task(store.write(first))
    try:
        await pause.until_reached()
        two = asyncio.create_task(store.write(second))
        await blocked_or_done(postgres, two)
        seen = await store.read(lambda tx: tx.events.since("ana", 0, 10))
        head = await store.read(lambda tx: tx.events.head())
    finally:
        pause.go.set()
    cursors = (await one, await two)
    assert [event.type for event in seen] == [], "an event was visible before an earlier one"
    assert head == 0
    everything = await store.read(lambda tx: tx.events.since("ana", 0, 10))
    assert [(e.cursor, e.type) for e in everything] == [
        (cursors[0], "first"),
        (cursors[1], "second"),
    ]
    assert cursors[0] < cursors[1]


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
    await store.write(lambda tx: tx.events.append(["ana"], "before", {}))
    with psycopg.connect(postgres.url("postgres"), autocommit=True) as db:
        db.execute(
            b"SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            b" WHERE datname = 'hubbub' AND pid <> pg_backend_pid()"
        )
    cursor = await store.write(lambda tx: tx.events.append(["ana"], "after", {}))
    seen = await store.read(lambda tx: tx.events.since("ana", 0, 10))
    assert [e.type for e in seen] == ["before", "after"] and seen[-1].cursor == cursor


async def test_concurrent_sends_and_reads_through_the_services_keep_every_rule(
    postgres: PostgresServer, request: pytest.FixtureRequest
) -> None:
    """Many sends to one group at once, from several members, with read markers moving
    meanwhile, on real overlapping transactions: seqs 1..n without a gap or a 409, one
    event each, in cursor order for every member, and on_commit publishing in that order."""
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
        for name in names:
            events = await platform.store.read(lambda tx, n=name: tx.events.since(n, 0, 1000))
            created = [e for e in events if e.type == "message.created"]
            assert len(created) == 30
            cursors = [e.cursor for e in events]
            assert cursors == sorted(set(cursors))
        published = [int(d.frame["cursor"]) for d in world.published.deliveries]
        assert published == sorted(published)
    finally:
        await platform.close()


async def test_a_write_that_keeps_deadlocking_gives_up_with_a_plain_conflict(
    store: PostgresStore,
) -> None:
    runs: list[int] = []

    def always_deadlocks(tx: Transaction) -> None:
        runs.append(1)
        tx.events.append(["ana"], "never kept", {})
        raise psycopg.errors.DeadlockDetected("deadlock detected; Process 1 waits for ShareLock")

    with pytest.raises(Conflict) as raised:
        await store.write(always_deadlocks)
    assert len(runs) == WRITE_ATTEMPTS
    assert "ShareLock" not in raised.value.message  # the server's internals stay inside
    assert await store.read(lambda tx: tx.events.since("ana", 0, 10)) == []
