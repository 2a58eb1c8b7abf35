"""Replies and reactions in every store (memory, SQLite, PostgreSQL): the reference a
reply keeps, and reactions that are unique per (message, user, emoji), ordered, refused
on deleted messages and gone with their conversation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from hubbub.domain.models import Reaction
from hubbub.ports import Store, Transaction
from tests.contract.test_store import T0, message, seed
from tests.postgres import store_of


@pytest.fixture(params=["memory", "sqlite", "postgres", "dynamodb"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    made = store_of(request.param, request, tmp_path)
    yield made
    await made.close()


def reaction(message_id: str, user_id: str, emoji: str, second: int = 0) -> Reaction:
    return Reaction("c1", message_id, user_id, emoji, T0 + timedelta(seconds=second))


async def with_messages(store: Store) -> None:
    await seed(store)

    def work(tx: Transaction) -> None:
        tx.messages.insert(message("c1", 1))
        tx.messages.insert(replace(message("c1", 2, sender="u2"), reply_to_id="c1-m1"))
        tx.messages.insert(message("c2", 1))

    await store.write(work)


async def test_a_reply_keeps_the_id_of_the_message_it_quotes(store: Store) -> None:
    await with_messages(store)

    def read(tx: Transaction) -> tuple[str | None, ...]:
        page = tx.messages.page("c1", before=None, after=None, limit=10)
        reply = tx.messages.get("c1", "c1-m2")
        assert reply is not None
        return (*(m.reply_to_id for m in page), reply.reply_to_id)

    assert await store.read(read) == (None, "c1-m1", "c1-m1")


async def test_reactions_are_unique_per_user_and_emoji_and_listed_oldest_first(
    store: Store,
) -> None:
    await with_messages(store)

    def react(tx: Transaction) -> list[bool | None]:
        return [
            tx.reactions.add(reaction("c1-m1", "u2", "👍", 2)),
            tx.reactions.add(reaction("c1-m1", "u1", "👍", 1)),
            tx.reactions.add(reaction("c1-m1", "u1", "❤️", 3)),
            tx.reactions.add(reaction("c1-m1", "u1", "👍", 9)),  # again: nothing changes
            tx.reactions.add(reaction("c1-m2", "u1", "😂", 4)),
        ]

    assert await store.write(react) == [True, True, True, False, True]

    def listed(tx: Transaction) -> list[tuple[str, str, str]]:
        found = tx.reactions.of_messages("c1", ["c1-m1", "c1-m2", "c1-m1"])
        return [(r.message_id, r.user_id, r.emoji) for r in found]

    assert await store.read(listed) == [
        ("c1-m1", "u1", "👍"),
        ("c1-m1", "u2", "👍"),
        ("c1-m1", "u1", "❤️"),
        ("c1-m2", "u1", "😂"),
    ]
    first = await store.read(lambda tx: tx.reactions.of_messages("c1", ["c1-m1"])[0])
    assert first.created_at == T0 + timedelta(seconds=1)

    removed = await store.write(
        lambda tx: [
            tx.reactions.remove("c1", "c1-m1", "u1", "👍"),
            tx.reactions.remove("c1", "c1-m1", "u1", "👍"),
            tx.reactions.remove("c2", "c1-m1", "u2", "👍"),  # not in that conversation
        ]
    )
    assert removed == [True, False, False]
    assert await store.read(listed) == [
        ("c1-m1", "u2", "👍"),
        ("c1-m1", "u1", "❤️"),
        ("c1-m2", "u1", "😂"),
    ]


async def test_a_deleted_or_unknown_message_takes_no_reaction_and_delete_clears_them(
    store: Store,
) -> None:
    await with_messages(store)
    await store.write(lambda tx: tx.reactions.add(reaction("c1-m1", "u2", "🙏")))

    def delete(tx: Transaction) -> None:
        assert tx.messages.mark_deleted("c1", "c1-m1", T0)
        tx.reactions.clear("c1", "c1-m1")

    await store.write(delete)
    refused = await store.write(
        lambda tx: [
            tx.reactions.add(reaction("c1-m1", "u1", "👍")),  # deleted
            tx.reactions.add(reaction("nope", "u1", "👍")),  # unknown
            tx.reactions.add(Reaction("c1", "c2-m1", "u1", "👍", T0)),  # another conversation's
        ]
    )
    assert refused == [None, None, None]
    assert await store.read(lambda tx: tx.reactions.of_messages("c1", ["c1-m1", "c2-m1"])) == []
    assert await store.read(lambda tx: tx.reactions.of_messages("c2", ["c2-m1"])) == []


async def test_a_failed_write_keeps_no_reaction_and_a_deleted_conversation_none(
    store: Store,
) -> None:
    await with_messages(store)

    def fails(tx: Transaction) -> None:
        tx.reactions.add(reaction("c1-m1", "u1", "😮"))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await store.write(fails)
    assert await store.read(lambda tx: tx.reactions.of_messages("c1", ["c1-m1"])) == []

    await store.write(lambda tx: tx.reactions.add(reaction("c1-m1", "u1", "😮")))
    await store.write(lambda tx: tx.conversations.delete("c1"))
    assert await store.read(lambda tx: tx.reactions.of_messages("c1", ["c1-m1"])) == []
