"""A reaction racing the deletion of its message, on PostgreSQL with real overlapping
transactions: whichever commits first, no reaction outlives the message's deletion."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from hubbub.adapters.postgres import PostgresStore
from hubbub.domain.models import Reaction
from hubbub.ports import Transaction
from tests.contract.test_postgres import Pause, blocked_or_done
from tests.contract.test_store import message, seed
from tests.postgres import PostgresServer

T0 = datetime(2026, 1, 1, tzinfo=UTC)
THUMBS = Reaction("c1", "c1-m1", "u2", "👍", T0)


@pytest.fixture
async def store(postgres: PostgresServer) -> AsyncIterator[PostgresStore]:
    made = PostgresStore(postgres.fresh_url())
    await seed(made)
    await made.write(lambda tx: tx.messages.insert(message("c1", 1)))
    yield made
    await made.close()


def delete(tx: Transaction) -> bool:
    deleted = tx.messages.mark_deleted("c1", "c1-m1", T0)
    tx.reactions.clear("c1", "c1-m1")
    return deleted


async def left_on_the_message(store: PostgresStore) -> list[Reaction]:
    return await store.read(lambda tx: tx.reactions.of_messages("c1", ["c1-m1"]))


async def test_a_delete_waits_for_a_reaction_in_flight_and_then_clears_it(
    store: PostgresStore, postgres: PostgresServer
) -> None:
    pause = Pause()

    def react(tx: Transaction) -> bool | None:
        added = tx.reactions.add(THUMBS)
        pause.here()
        return added

    reacting = asyncio.create_task(store.write(react))
    try:
        await pause.until_reached()
        deleting = asyncio.create_task(store.write(delete))
        await blocked_or_done(postgres, deleting)
        assert not deleting.done(), "the delete did not wait for the reaction's transaction"
    finally:
        pause.go.set()
    assert (await reacting, await deleting) == (True, True)
    assert await left_on_the_message(store) == []


async def test_a_reaction_waits_for_a_delete_in_flight_and_is_then_refused(
    store: PostgresStore, postgres: PostgresServer
) -> None:
    pause = Pause()

    def paused_delete(tx: Transaction) -> bool:
        deleted = delete(tx)
        pause.here()
        return deleted

    deleting = asyncio.create_task(store.write(paused_delete))
    try:
        await pause.until_reached()
        reacting = asyncio.create_task(store.write(lambda tx: tx.reactions.add(THUMBS)))
        await blocked_or_done(postgres, reacting)
        assert not reacting.done(), "the reaction did not wait for the delete's transaction"
    finally:
        pause.go.set()
    assert (await deleting, await reacting) == (True, None)
    assert await left_on_the_message(store) == []
