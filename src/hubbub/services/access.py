"""Reads shared by the services inside a transaction: membership checks and the
conversation snapshot every transport shows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from hubbub.domain.errors import Blocked, NotFound
from hubbub.domain.events import Delivery, Origin, at_position
from hubbub.domain.models import (
    Conversation,
    ConversationKind,
    LogEntry,
    Membership,
    Message,
    Reaction,
    direct_pair,
)
from hubbub.domain.views import JsonObject, conversation_view, message_view
from hubbub.ports import EventPublisher, Store, Transaction

R = TypeVar("R")


def membership_of(
    tx: Transaction, conversation_id: str, user_id: str
) -> tuple[Conversation, Membership]:
    """The conversation and the caller's membership; `NotFound` for outsiders, so a
    conversation's existence never leaks to someone who is not in it."""
    conversation = tx.conversations.get(conversation_id)
    membership = tx.members.get(conversation_id, user_id) if conversation else None
    if conversation is None or membership is None:
        raise NotFound("Conversation not found.")
    return conversation, membership


@dataclass(frozen=True, slots=True)
class Relations:
    """A viewer's blocks, read once for a whole page of conversations (two queries
    instead of one per direct chat)."""

    mine: frozenset[str]  # whom the viewer blocked
    either: frozenset[str]  # whom the viewer blocked or was blocked by

    @classmethod
    def of(cls, tx: Transaction, viewer_id: str) -> Relations:
        mine = frozenset(b.blocked_id for b in tx.blocks.of_blocker(viewer_id))
        return cls(mine, frozenset(tx.blocks.involving(viewer_id)))


def snapshot(
    tx: Transaction,
    conversation: Conversation,
    viewer_id: str | None,
    now: datetime | None = None,
    relations: Relations | None = None,
) -> JsonObject:
    """The conversation as `viewer_id` sees it (their mute as of `now`, their blocks), or
    as every member sees it (no viewer)."""
    return snapshots(tx, [conversation], viewer_id, now, relations)[0]


def snapshots(
    tx: Transaction,
    conversations: Sequence[Conversation],
    viewer_id: str | None,
    now: datetime | None = None,
    relations: Relations | None = None,
    *,
    with_blocks: bool = True,
) -> list[JsonObject]:
    """`snapshot` of each conversation, in the same order, in a fixed number of reads
    however many there are (members, users, last messages, their reactions and quotes),
    plus the block reads of direct chats when no `relations` are given. Without
    `with_blocks` the views lack `blocked` and `canSend` (the caller adds its own)."""
    if not conversations:
        return []
    members = tx.members.of_conversations([c.id for c in conversations])
    everyone = {m.user_id for memberships in members.values() for m in memberships}
    users = tx.users.get_many(sorted(everyone))
    heads = [(c.id, c.last_seq) for c in conversations if c.last_seq > 0]
    lasts = tx.messages.by_seqs(heads) if heads else []
    last_views = {
        (m.conversation_id, m.seq): view
        for m, view in zip(lasts, shown_all(tx, lasts), strict=True)
    }
    views = []
    for conversation in conversations:
        memberships = members.get(conversation.id, [])
        pairs = [(m, users[m.user_id]) for m in memberships if m.user_id in users]
        viewer = next((m for m in memberships if m.user_id == viewer_id), None)
        last = last_views.get((conversation.id, conversation.last_seq))
        view = conversation_view(conversation, pairs, last, viewer, now)
        if with_blocks:
            view.update(block_state(tx, conversation, viewer_id, relations))
        views.append(view)
    return views


def block_state(
    tx: Transaction,
    conversation: Conversation,
    viewer_id: str | None,
    relations: Relations | None = None,
) -> JsonObject:
    """`blocked` (the viewer blocked the other member of this direct chat) and
    `canSend` (neither of the pair blocked the other). Groups are never blocked."""
    if conversation.kind != ConversationKind.DIRECT or conversation.direct_key is None:
        return {"blocked": False, "canSend": True}
    pair = direct_pair(conversation.direct_key)
    if relations is not None and viewer_id in pair:
        other = pair[1] if pair[0] == viewer_id else pair[0]
        return {"blocked": other in relations.mine, "canSend": other not in relations.either}
    blockers = tx.blocks.between(*pair)
    return {"blocked": viewer_id in blockers, "canSend": not blockers}


def refuse_if_blocked(tx: Transaction, conversation: Conversation, caller_id: str) -> None:
    """Raises `Blocked` in a direct chat where either of the pair blocked the other.
    Called after the transaction has taken the conversation's row (`next_seq`), so a
    block that commits first is seen and one that commits later waits for this send."""
    if conversation.kind != ConversationKind.DIRECT or conversation.direct_key is None:
        return
    blockers = tx.blocks.between(*direct_pair(conversation.direct_key))
    if caller_id in blockers:
        raise Blocked("You blocked this user. Unblock them to send messages.")
    if blockers:
        raise Blocked("You can't send messages to this chat.")


def shown(tx: Transaction, message: Message) -> JsonObject:
    """One message as every transport shows it: with its quote and reactions as they
    are now."""
    return shown_all(tx, [message])[0]


def shown_all(tx: Transaction, messages: Sequence[Message]) -> list[JsonObject]:
    """`shown` for a page of messages (of one conversation or several), reading their
    reactions in one query and the messages they quote in at most one more."""
    if not messages:
        return []
    conversation_ids = {m.conversation_id for m in messages}
    live = [m for m in messages if not m.deleted]
    reactions: dict[str, list[Reaction]] = {}
    if not live:
        found: list[Reaction] = []
    elif len(conversation_ids) == 1:
        found = tx.reactions.of_messages(live[0].conversation_id, [m.id for m in live])
    else:
        found = tx.reactions.of_keys([(m.conversation_id, m.id) for m in live])
    for reaction in found:
        reactions.setdefault(reaction.message_id, []).append(reaction)
    # A quote is of a message of the same conversation (ids are unique across them).
    in_page = {(m.conversation_id, m.id): m for m in messages}
    wanted = {(m.conversation_id, m.reply_to_id) for m in live if m.reply_to_id}
    missing = sorted(wanted - in_page.keys())
    quoted = {**in_page, **{(q.conversation_id, q.id): q for q in tx.messages.get_many(missing)}}
    return [
        message_view(
            m,
            quoted.get((m.conversation_id, m.reply_to_id)) if m.reply_to_id else None,
            reactions.get(m.id, ()),
        )
        for m in messages
    ]


def member_ids(tx: Transaction, conversation_id: str) -> list[str]:
    """Who hears of the conversation's events, read in the caller's transaction (so a
    member removed by a transaction that committed first is not among them)."""
    return tx.members.ids_of(conversation_id)


def record(
    tx: Transaction,
    conversation_id: str,
    recipients: Collection[str],
    payload: JsonObject,
    at: datetime,
    *,
    actor_id: str | None = None,
    subject_id: str | None = None,
    message_id: str | None = None,
    detail: JsonObject | None = None,
    origin: Origin | None = None,
) -> tuple[int, Delivery]:
    """Writes the change's entry to the conversation's log (inside the caller's
    transaction: a reference to what changed, never its text) and returns its
    `eventSeq` with the delivery to publish after the commit. The size of this write
    does not depend on how many members hear of it."""
    entry = LogEntry(
        conversation_id,
        str(payload["type"]),
        at,
        actor_id=actor_id,
        subject_id=subject_id,
        message_id=message_id,
        detail=detail or {},
    )
    event_seq = tx.log.append(entry)
    if event_seq is None:
        raise NotFound("Conversation not found.")
    return event_seq, delivery(conversation_id, recipients, payload, event_seq, origin)


def delivery(
    conversation_id: str,
    recipients: Collection[str],
    payload: JsonObject,
    event_seq: int,
    origin: Origin | None = None,
) -> Delivery:
    """What to publish after the commit for the log entry at `event_seq`."""
    frame = at_position(payload, conversation_id, event_seq)
    return Delivery(frozenset(recipients), frame, origin)


async def commit(
    store: Store,
    publisher: EventPublisher,
    work: Callable[[Transaction], tuple[R, list[Delivery]]],
) -> R:
    """Runs `work` in one write transaction and publishes its deliveries after the
    commit, in commit order."""
    published: list[Awaitable[None]] = []
    result, _ = await store.write(
        work, on_commit=lambda done: published.append(publisher.publish(done[1]))
    )
    for delivery in published:
        await delivery
    return result
