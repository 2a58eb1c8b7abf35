"""The conversation list and a sync from scratch read the store a fixed number of times,
however many conversations the user is in (no read per conversation)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from hubbub.domain.errors import NotFound
from tests.unit.conftest import World
from tests.unit.test_conversations import add_users

T = TypeVar("T")


class _CountingRepo:
    def __init__(self, inner: Any, name: str, calls: Counter[str]) -> None:
        self._inner, self._name, self._calls = inner, name, calls

    def __getattr__(self, method: str) -> Any:
        real = getattr(self._inner, method)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self._calls[f"{self._name}.{method}"] += 1
            return real(*args, **kwargs)

        return counted


class _CountingTx:
    def __init__(self, inner: Any, calls: Counter[str]) -> None:
        self._inner, self._calls = inner, calls

    def __getattr__(self, name: str) -> Any:
        return _CountingRepo(getattr(self._inner, name), name, self._calls)


def count_reads(world: World, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every repository call made by the store's read transactions from now on."""
    calls: Counter[str] = Counter()
    read = world.store.read

    async def counting(work: Callable[[Any], T], *, quick: bool = False) -> T:
        return await read(lambda tx: work(_CountingTx(tx, calls)), quick=quick)

    monkeypatch.setattr(world.store, "read", counting)
    return calls


async def _join(world: World, n: int, start: int) -> None:
    """`n` more conversations for ana: direct chats and groups, each with messages,
    a reply and a reaction, so every part of a conversation's view is read."""
    names = [f"p{i}" for i in range(start, start + n)]
    await add_users(world, *names)
    for i, name in enumerate(names):
        if i % 2:
            view, _ = await world.conversations.open_direct("ana", name)
        else:
            view = await world.conversations.create_group("ana", f"g{i}", [name, "bob"])
        conversation = str(view["id"])
        first = await world.messages.send(name, conversation, f"{name}-1", "hello")
        await world.messages.send(
            "ana", conversation, f"{name}-2", "re", reply_to_id=str(first.message["id"])
        )
        await world.messages.react(name, conversation, str(first.message["id"]), "👍", True)
        await world.messages.send(
            name, conversation, f"{name}-3", "last", reply_to_id=str(first.message["id"])
        )


async def test_the_conversation_list_costs_the_same_reads_for_3_or_12(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_users(world, "ana", "bob")
    await world.platform.blocks.block("ana", "bob")
    await _join(world, 3, 0)
    calls = count_reads(world, monkeypatch)
    few, _ = await world.conversations.recent("ana", 50, None)
    with_few = Counter(calls)
    calls.clear()
    await _join(world, 9, 3)
    many, _ = await world.conversations.recent("ana", 50, None)
    assert (len(few), len(many)) == (3, 12)
    assert calls == with_few
    # The views are whole: last message with its quote, members, block state.
    last = many[0]["lastMessage"]
    assert isinstance(last, dict) and last["replyTo"]["excerpt"] == "hello"


async def test_a_sync_from_scratch_costs_the_same_reads_for_3_or_12(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_users(world, "ana", "bob")
    await _join(world, 3, 0)
    calls = count_reads(world, monkeypatch)
    few, _, _ = await world.platform.sync.sync("ana", "0", 500)
    with_few = Counter(calls)
    calls.clear()
    await _join(world, 9, 3)
    many, _, _ = await world.platform.sync.sync("ana", "0", 500)
    assert (len(few), len(many)) == (3, 12)
    assert {f["type"] for f in many} == {"conversation.created"}
    assert calls == with_few


async def test_a_history_page_is_read_once_until_the_conversation_changes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_users(world, "ana", "bob")
    view, _ = await world.conversations.open_direct("ana", "bob")
    conversation = str(view["id"])
    first = await world.messages.send("ana", conversation, "c-1", "hello")
    first_id = str(first.message["id"])
    calls = count_reads(world, monkeypatch)

    async def page(reader: str = "bob") -> list[dict[str, Any]]:
        body = await world.messages.history_body(reader, conversation, None, None, 50, _json)
        messages: list[dict[str, Any]] = json.loads(body)["messages"]
        return messages

    assert [m["body"] for m in await page()] == ["hello"]
    assert [m["body"] for m in await page()] == ["hello"]
    assert calls["messages.page"] == 1  # the second came from the cache
    # Every kind of change shows at once (each moves the conversation's log).
    await world.messages.edit("ana", conversation, first_id, "hello, edited")
    assert [m["body"] for m in await page()] == ["hello, edited"]
    await world.messages.react("bob", conversation, first_id, "👍", True)
    assert (await page())[0]["reactions"] == [{"emoji": "👍", "count": 1, "userIds": ["bob"]}]
    reply = await world.messages.send("bob", conversation, "c-2", "re", reply_to_id=first_id)
    assert [m["id"] for m in await page()] == [first_id, reply.message["id"]]
    await world.messages.delete("ana", conversation, first_id)
    shown = await page()
    assert shown[0]["deleted"] and shown[1]["replyTo"]["deleted"]
    assert calls["messages.page"] == 5
    # Someone else asking for the same position gets the same page, members only.
    assert await page("ana") == shown
    assert calls["messages.page"] == 5
    await add_users(world, "eve")
    with pytest.raises(NotFound):
        await page("eve")
    # `history` itself hands out objects of the caller's own (no cache).
    objects, _ = await world.messages.history("bob", conversation, None, None, 50)
    assert objects == shown and calls["messages.page"] == 6


def _json(value: object) -> bytes:
    return json.dumps(value).encode()
