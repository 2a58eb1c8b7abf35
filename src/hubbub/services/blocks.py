"""Blocking a user (issue 13): the pair's direct chat stops taking messages both ways,
and presence stops being told between them. Groups are unaffected.

A block is the blocker's alone: only they can lift it, and each side may block the
other independently. When the pair has a direct chat, blocking and unblocking append a
`conversation.updated` entry to its log (so every device of both sides, and a catch-up,
learns the new `blocked`/`canSend`), which also takes the conversation's row: a send
that raced the block commits either wholly before it or not at all
(`access.refuse_if_blocked`).
"""

from __future__ import annotations

from datetime import datetime

from hubbub.domain import events
from hubbub.domain.errors import NotFound, ValidationFailed
from hubbub.domain.events import Delivery, EventType, at_position
from hubbub.domain.models import Block, LogEntry, User, direct_key
from hubbub.domain.views import JsonObject, iso, user_view
from hubbub.ports import Clock, EventPublisher, PresenceTracker, Store, Transaction
from hubbub.services.access import block_state, commit, member_ids


class BlockService:
    def __init__(
        self,
        store: Store,
        publisher: EventPublisher,
        clock: Clock,
        presence: PresenceTracker | None = None,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._clock = clock
        self._presence = presence

    async def block(self, caller_id: str, user_id: str) -> JsonObject:
        """Blocks `user_id` (idempotent: blocking again changes nothing and tells
        nobody). Returns the blocked user's public profile."""
        if user_id == caller_id:
            raise ValidationFailed("You cannot block yourself.", details={"field": "userId"})

        def work(tx: Transaction) -> tuple[tuple[User, bool], list[Delivery]]:
            user = _confirmed(tx, user_id)
            now = self._clock.now()
            if not tx.blocks.add(Block(caller_id, user_id, now)):
                return (user, False), []
            contact = _was_contact(tx, caller_id, user_id)
            return (user, contact), _tell(tx, caller_id, user_id, now)

        user, contacts = await commit(self._store, self._publisher, work)
        if contacts:
            await self._presence_between(caller_id, user_id, online=False)
        return user_view(user)

    async def unblock(self, caller_id: str, user_id: str) -> None:
        """Lifts the caller's block of `user_id` (idempotent). A block the other side
        holds stays: only they can lift it."""
        if user_id == caller_id:
            raise ValidationFailed("You cannot unblock yourself.", details={"field": "userId"})

        def work(tx: Transaction) -> tuple[bool, list[Delivery]]:
            _confirmed(tx, user_id)
            if not tx.blocks.remove(caller_id, user_id):
                return False, []
            visible = not tx.blocks.between(caller_id, user_id)
            told = _tell(tx, caller_id, user_id, self._clock.now())
            return visible and _was_contact(tx, caller_id, user_id), told

        if await commit(self._store, self._publisher, work):
            await self._presence_between(caller_id, user_id, online=True)

    async def blocked_by(self, caller_id: str) -> list[JsonObject]:
        """The users the caller blocked, most recent first, with when."""

        def work(tx: Transaction) -> list[JsonObject]:
            blocks = tx.blocks.of_blocker(caller_id)
            users = tx.users.get_many([b.blocked_id for b in blocks])
            return [
                {"user": user_view(users[b.blocked_id]), "blockedAt": iso(b.created_at)}
                for b in blocks
                if b.blocked_id in users
            ]

        return await self._store.read(work)

    async def _presence_between(self, user_a: str, user_b: str, *, online: bool) -> None:
        """After a block each stops seeing the other online (`online=False`: told as
        going offline); after the last block between them is lifted, each learns
        whether the other is online now."""
        if self._presence is None:
            return
        connected = await self._presence.online([user_a, user_b])
        deliveries = [
            Delivery(
                frozenset({other}),
                {"type": EventType.PRESENCE.value, "userId": user_id, "online": online},
            )
            for user_id, other in ((user_a, user_b), (user_b, user_a))
            if user_id in connected
        ]
        if deliveries:
            await self._publisher.publish(deliveries)


def _confirmed(tx: Transaction, user_id: str) -> User:
    user = tx.users.get(user_id)
    if user is None or not user.confirmed:
        raise NotFound("User not found.")
    return user


def _was_contact(tx: Transaction, user_a: str, user_b: str) -> bool:
    """Whether the two share a conversation (only contacts are told presence)."""
    return user_b in tx.members.contacts_of(user_a)


def _tell(tx: Transaction, actor_id: str, other_id: str, at: datetime) -> list[Delivery]:
    """The pair's direct chat, if any, logs the change; each member is sent their own
    `blocked` and `canSend`, at the same `eventSeq`."""
    conversation = tx.conversations.by_direct_key(direct_key(actor_id, other_id))
    if conversation is None:
        return []
    entry = LogEntry(
        conversation.id,
        EventType.CONVERSATION_UPDATED.value,
        at,
        actor_id=actor_id,
        subject_id=other_id,
        detail={"fields": events.BLOCK_FIELDS},
    )
    event_seq = tx.log.append(entry)
    if event_seq is None:
        return []
    return [
        Delivery(
            frozenset({viewer}),
            at_position(
                events.block_changed(
                    conversation.id, actor_id, block_state(tx, conversation, viewer)
                ),
                conversation.id,
                event_seq,
            ),
        )
        for viewer in member_ids(tx, conversation.id)
    ]
