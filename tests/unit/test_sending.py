"""The send path: a retried send is answered with the first message whatever changed
since (the first run of a send skips the clientMessageId lookup and must still get
this right), and a new message is shown as every later read shows it."""

from __future__ import annotations

import pytest

from hubbub.domain.errors import Blocked, Conflict
from tests.unit.conftest import World
from tests.unit.test_conversations import add_users


async def _direct(world: World) -> str:
    await add_users(world, "ana", "bob")
    conversation, _ = await world.conversations.open_direct("ana", "bob")
    return str(conversation["id"])


async def test_a_retried_send_gets_the_first_message_even_after_a_block(world: World) -> None:
    chat = await _direct(world)
    first = await world.messages.send("ana", chat, "c1", "hello")
    await world.platform.blocks.block("bob", "ana")
    published = len(world.published.deliveries)

    again = await world.messages.send("ana", chat, "c1", "hello")

    assert again.message == first.message and again.event_seq is None
    assert len(world.published.deliveries) == published
    with pytest.raises(Blocked):
        await world.messages.send("ana", chat, "c2", "new")


async def test_a_retried_reply_gets_the_first_message_after_its_quote_was_deleted(
    world: World,
) -> None:
    chat = await _direct(world)
    quoted = await world.messages.send("bob", chat, "q", "original")
    quoted_id = str(quoted.message["id"])
    reply = await world.messages.send("ana", chat, "r", "answer", reply_to_id=quoted_id)
    await world.messages.delete("bob", chat, quoted_id)

    again = await world.messages.send("ana", chat, "r", "answer", reply_to_id=quoted_id)

    assert again.message["id"] == reply.message["id"] and again.event_seq is None
    with pytest.raises(Conflict):
        await world.messages.send("ana", chat, "r2", "late", reply_to_id=quoted_id)


async def test_a_client_message_id_used_in_another_conversation_is_a_conflict(
    world: World,
) -> None:
    chat = await _direct(world)
    await add_users(world, "cy")
    other, _ = await world.conversations.open_direct("ana", "cy")
    await world.messages.send("ana", chat, "c1", "hello")
    with pytest.raises(Conflict):
        await world.messages.send("ana", str(other["id"]), "c1", "hello")
    messages, _ = await world.messages.history("ana", str(other["id"]), None, None, None)
    assert messages == []


async def test_a_new_message_is_shown_as_a_read_shows_it(world: World) -> None:
    chat = await _direct(world)
    quoted = await world.messages.send("bob", chat, "q", "original")
    reply = await world.messages.send(
        "ana", chat, "r", "answer", reply_to_id=str(quoted.message["id"])
    )
    plain = await world.messages.send("ana", chat, "p", "plain")
    for change in (reply, plain):
        stored = await world.messages.get("bob", chat, str(change.message["id"]))
        assert change.message == stored
    conversation = await world.store.read(lambda tx: tx.conversations.get(chat))
    assert conversation is not None
    assert (conversation.last_seq, conversation.last_event_seq) == (3, 4)
