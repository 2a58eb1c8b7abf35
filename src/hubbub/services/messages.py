"""Sending, editing, deleting and reading messages, and the /api/sync catch-up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from hubbub.domain import rules
from hubbub.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hubbub.domain.events import Delivery, EventType, Origin
from hubbub.domain.models import Message
from hubbub.domain.views import JsonObject, message_view
from hubbub.ports import Clock, EventPublisher, IdGenerator, Store, Transaction
from hubbub.services.access import commit, member_ids, membership_of, record


@dataclass(frozen=True, slots=True)
class Change:
    """A message after a change, and the cursor of the event it produced (None when
    the call changed nothing, e.g. a retried send)."""

    message: JsonObject
    cursor: int | None
    created: bool = False


_Work = Callable[[Transaction], tuple[Change, list[Delivery]]]


class MessageService:
    def __init__(
        self, store: Store, publisher: EventPublisher, ids: IdGenerator, clock: Clock
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._ids = ids
        self._clock = clock

    async def send(
        self,
        sender_id: str,
        conversation_id: str,
        client_message_id: str,
        body: str,
        origin: Origin | None = None,
    ) -> Change:
        """Commits the message with the conversation's next seq, then publishes it.

        Idempotent: the same (sender, clientMessageId) always returns the first message
        and publishes nothing more, also to a retry that raced the first send (it loses
        the unique key and is re-run by the store, then finds the first). Sending marks
        the conversation read up to the new message for its sender. A sender removed
        while the send was under way is refused (`NotFound`) and never re-added.
        """
        client_id = rules.client_message_id(client_message_id)
        text = rules.message_body(body)

        def work(tx: Transaction) -> tuple[Change, list[Delivery]]:
            membership_of(tx, conversation_id, sender_id)
            existing = tx.messages.by_client_id(sender_id, client_id)
            if existing is not None:
                if existing.conversation_id != conversation_id:
                    raise Conflict("That clientMessageId was used in another conversation.")
                return Change(message_view(existing), None), []
            now = self._clock.now()
            # Narrow writes only: the reads above may be stale (see `Store`).
            seq = tx.conversations.next_seq(conversation_id, now)
            if seq is None:
                raise NotFound("Conversation not found.")
            message = Message(
                id=self._ids.new_id(),
                conversation_id=conversation_id,
                seq=seq,
                sender_id=sender_id,
                body=text,
                client_message_id=client_id,
                created_at=now,
            )
            tx.messages.insert(message)
            if tx.members.advance_read(conversation_id, sender_id, seq) is None:
                raise NotFound("Conversation not found.")  # removed meanwhile: undo it all
            view = message_view(message)
            cursor, delivery = record(
                tx,
                member_ids(tx, conversation_id),
                {"type": EventType.MESSAGE_CREATED.value, "message": view},
                origin=origin,
            )
            return Change(view, cursor, created=True), [delivery]

        return await self._commit(work)

    async def edit(
        self,
        caller_id: str,
        conversation_id: str,
        message_id: str,
        body: str,
        origin: Origin | None = None,
    ) -> Change:
        """Sender only; a deleted message cannot be edited."""
        text = rules.message_body(body)

        def work(tx: Transaction) -> tuple[Change, list[Delivery]]:
            message = _own_message(tx, conversation_id, message_id, caller_id)
            if message.deleted:
                raise Conflict("That message was deleted.")
            if message.body == text:
                return Change(message_view(message), None), []
            now = self._clock.now()
            if not tx.messages.edit(conversation_id, message_id, text, now):
                raise Conflict("That message was deleted.")  # by a delete that raced this
            edited = replace(message, body=text, edited_at=now)
            return self._changed(tx, edited, EventType.MESSAGE_UPDATED, origin)

        return await self._commit(work)

    async def delete(
        self, caller_id: str, conversation_id: str, message_id: str, origin: Origin | None = None
    ) -> Change:
        """Sender only. The message keeps its id and seq with an empty body; deleting
        it again changes nothing."""

        def work(tx: Transaction) -> tuple[Change, list[Delivery]]:
            message = _own_message(tx, conversation_id, message_id, caller_id)
            if message.deleted:
                return Change(message_view(message), None), []
            now = self._clock.now()
            gone = replace(message, body="", deleted=True, edited_at=now)
            if not tx.messages.mark_deleted(conversation_id, message_id, now):
                # A delete that raced this one won, and told everyone.
                current = tx.messages.get(conversation_id, message_id)
                return Change(message_view(current or gone), None), []
            return self._changed(tx, gone, EventType.MESSAGE_DELETED, origin)

        return await self._commit(work)

    async def get(self, caller_id: str, conversation_id: str, message_id: str) -> JsonObject:
        def work(tx: Transaction) -> JsonObject:
            membership_of(tx, conversation_id, caller_id)
            message = tx.messages.get(conversation_id, message_id)
            if message is None:
                raise NotFound("Message not found.")
            return message_view(message)

        return await self._store.read(work)

    async def history(
        self,
        caller_id: str,
        conversation_id: str,
        before: int | None,
        after: int | None,
        limit: int | None,
    ) -> tuple[list[JsonObject], bool]:
        """A page in seq order and whether more exist in the direction of travel."""
        if before is not None and after is not None:
            raise ValidationFailed("Give before or after, not both.")
        if (before is not None and before < 1) or (after is not None and after < 0):
            raise ValidationFailed("before must be ≥ 1 and after ≥ 0.")
        count = rules.page_limit(limit, default=50, maximum=200)

        def work(tx: Transaction) -> tuple[list[JsonObject], bool]:
            membership_of(tx, conversation_id, caller_id)
            page = tx.messages.page(conversation_id, before=before, after=after, limit=count + 1)
            more = len(page) > count
            if more:
                page = page[:count] if after is not None else page[1:]
            return [message_view(m) for m in page], more

        return await self._store.read(work)

    async def sync(
        self, caller_id: str, since: str | None, limit: int | None
    ) -> tuple[list[JsonObject], str, bool]:
        """Every durable event for the caller after `since`, oldest first, as the same
        frames the WebSocket sends. Without `since`: no events and the current cursor."""
        count = rules.page_limit(limit, default=100, maximum=500)
        if since is None:
            head = await self._store.read(lambda tx: tx.events.head())
            return [], str(head), False
        position = parse_cursor(since)

        def work(tx: Transaction) -> tuple[list[JsonObject], str, bool]:
            events = tx.events.since(caller_id, position, count + 1)
            more = len(events) > count
            events = events[:count]
            redact = _Redactor(tx, caller_id)
            frames = [redact({**e.payload, "cursor": str(e.cursor)}) for e in events]
            cursor = events[-1].cursor if events else position
            return frames, str(cursor), more

        return await self._store.read(work)

    def _changed(
        self, tx: Transaction, message: Message, event_type: EventType, origin: Origin | None
    ) -> tuple[Change, list[Delivery]]:
        view = message_view(message)
        cursor, delivery = record(
            tx,
            member_ids(tx, message.conversation_id),
            {"type": event_type.value, "message": view},
            origin=origin,
        )
        return Change(view, cursor), [delivery]

    async def _commit(self, work: _Work) -> Change:
        return await commit(self._store, self._publisher, work)


class _Redactor:
    """Replayed events never bring back a body that is gone: a message deleted since
    (or one of a deleted group) replays deleted and empty, and to a member a message
    edited since replays as it is now. A former member gets what they were sent, minus
    deletions, and never anything newer."""

    def __init__(self, tx: Transaction, caller_id: str) -> None:
        self._tx = tx
        self._caller = caller_id
        self._now: dict[str, JsonObject | None] = {}
        self._member: dict[str, bool] = {}

    def __call__(self, frame: JsonObject) -> JsonObject:
        message = frame.get("message")
        if isinstance(message, dict):
            frame["message"] = self._message(message)
        conversation = frame.get("conversation")
        if isinstance(conversation, dict) and isinstance(conversation.get("lastMessage"), dict):
            frame["conversation"] = {
                **conversation,
                "lastMessage": self._message(conversation["lastMessage"]),
            }
        return frame

    def _message(self, view: dict[str, object]) -> JsonObject:
        room, message_id = str(view.get("conversationId")), str(view.get("id"))
        key = f"{room}/{message_id}"
        if key not in self._now:
            current = self._tx.messages.get(room, message_id)
            if room not in self._member:
                self._member[room] = self._tx.members.get(room, self._caller) is not None
            if current is not None and self._member[room]:
                self._now[key] = message_view(current)
            elif current is None or current.deleted:
                self._now[key] = {**view, "body": "", "deleted": True}
            else:
                self._now[key] = None  # a former member: as it was sent to them
        return self._now[key] or view


def parse_cursor(raw: str) -> int:
    """Cursors are opaque to clients; here they are decimal event positions."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) > MAX_CURSOR:
        raise ValidationFailed("cursor is not valid.")
    return int(raw)


# Event positions are signed 64-bit integers in every store.
MAX_CURSOR = 2**63 - 1


def _own_message(tx: Transaction, conversation_id: str, message_id: str, caller_id: str) -> Message:
    membership_of(tx, conversation_id, caller_id)
    message = tx.messages.get(conversation_id, message_id)
    if message is None:
        raise NotFound("Message not found.")
    if message.sender_id != caller_id:
        raise Forbidden("Only the sender may change a message.")
    return message
