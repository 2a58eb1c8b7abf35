"""Sending, editing, deleting and reading messages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from hubbub.domain import rules
from hubbub.domain.attachments import MAX_ATTACHMENTS_PER_MESSAGE
from hubbub.domain.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from hubbub.domain.events import Delivery, EventType, Origin, reaction_changed
from hubbub.domain.models import Attachment, Conversation, LogEntry, Message, Reaction
from hubbub.domain.views import JsonObject, message_view
from hubbub.ports import Clock, EventPublisher, IdGenerator, LostRace, Store, Transaction
from hubbub.services.access import (
    commit,
    delivery,
    member_ids,
    membership_of,
    record,
    refuse_if_blocked,
    shown,
    shown_all,
)
from hubbub.services.page_cache import PageCache


@dataclass(frozen=True, slots=True)
class Change:
    """A message after a change, and the log position of the event it produced (None
    when the call changed nothing, e.g. a retried send)."""

    message: JsonObject
    event_seq: int | None
    created: bool = False


_Work = Callable[[Transaction], tuple[Change, list[Delivery]]]
# Told of attachments whose message was deleted, after the commit: deletes their bytes.
Forget = Callable[[list[Attachment]], Awaitable[None]]


class MessageService:
    def __init__(
        self,
        store: Store,
        publisher: EventPublisher,
        ids: IdGenerator,
        clock: Clock,
        forget: Forget | None = None,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._ids = ids
        self._clock = clock
        self._forget = forget
        self._pages = PageCache()

    async def send(
        self,
        sender_id: str,
        conversation_id: str,
        client_message_id: str,
        body: str,
        origin: Origin | None = None,
        attachment_ids: Sequence[str] = (),
        reply_to_id: str | None = None,
    ) -> Change:
        """Commits the message with the conversation's next seq, then publishes it.

        `attachment_ids` are uploads of the sender's in this conversation, not sent yet;
        each is sent once (`Conflict` after), and with some the body may be empty.
        Someone else's upload, or one from another conversation, is `NotFound`.

        Idempotent: the same (sender, clientMessageId) always returns the first message
        and publishes nothing more, also to a retry that raced the first send (it loses
        the unique key and is re-run by the store, then finds the first). Sending marks
        the conversation read up to the new message for its sender. A sender removed
        while the send was under way is refused (`NotFound`) and never re-added.
        """
        client_id = rules.client_message_id(client_message_id)
        wanted = list(dict.fromkeys(attachment_ids))
        if len(wanted) > MAX_ATTACHMENTS_PER_MESSAGE:
            raise ValidationFailed(
                f"A message carries at most {MAX_ATTACHMENTS_PER_MESSAGE} attachments."
            )
        text = rules.message_body(body) if body.strip() or not wanted else ""

        # The first run takes the clientMessageId for new and lets the unique key say
        # otherwise: a retried send fails its insert (or a check on the way, e.g. its
        # attachments are sent already) and is run again the careful way, which
        # answers it with the first message. A lookup fewer for every other send.
        careful = False

        def work(tx: Transaction) -> tuple[Change, list[Delivery]]:
            nonlocal careful
            conversation, _ = membership_of(tx, conversation_id, sender_id)
            if not careful:
                careful = True
                try:
                    return fresh(tx, conversation)
                except (DomainError, LostRace) as refused:
                    raise LostRace("Duplicate message.") from refused
            existing = tx.messages.by_client_id(sender_id, client_id)
            if existing is not None:
                if existing.conversation_id != conversation_id:
                    raise Conflict("That clientMessageId was used in another conversation.")
                return Change(shown(tx, existing), None), []
            return fresh(tx, conversation)

        def fresh(tx: Transaction, conversation: Conversation) -> tuple[Change, list[Delivery]]:
            quoted = _quotable(tx, conversation_id, reply_to_id) if reply_to_id else None
            message_id = self._ids.new_id()
            attached = _attach(tx, conversation_id, sender_id, wanted, message_id)
            now = self._clock.now()
            created = EventType.MESSAGE_CREATED.value
            entry = LogEntry(
                conversation_id, created, now, actor_id=sender_id, message_id=message_id
            )
            # Narrow writes only: the reads above may be stale (see `Store`). The
            # message's seq and its log position are taken in one step.
            taken = tx.log.append_message(entry, now)
            if taken is None:
                raise NotFound("Conversation not found.")
            seq, event_seq = taken
            # Only now, holding the conversation's row: a block committed before is seen.
            refuse_if_blocked(tx, conversation, sender_id)
            message = Message(
                id=message_id,
                conversation_id=conversation_id,
                seq=seq,
                sender_id=sender_id,
                body=text,
                client_message_id=client_id,
                created_at=now,
                attachments=attached,
                reply_to_id=reply_to_id,
            )
            tx.messages.insert(message)
            if tx.members.advance_read(conversation_id, sender_id, seq) is None:
                raise NotFound("Conversation not found.")  # removed meanwhile: undo it all
            # As `shown` would show it, without asking for reactions a new message
            # cannot have yet; its quote was read (and found live) just above.
            view = message_view(message, quoted)
            recipients = member_ids(tx, conversation_id)
            payload: JsonObject = {"type": created, "message": view}
            published = delivery(conversation_id, recipients, payload, event_seq, origin)
            return Change(view, event_seq, created=True), [published]

        return await self._commit(work)

    async def edit(
        self,
        caller_id: str,
        conversation_id: str,
        message_id: str,
        body: str,
        origin: Origin | None = None,
    ) -> Change:
        """Sender only; a deleted message cannot be edited, nor one in a direct chat where
        either of the pair blocked the other (an edit is seen like a new message)."""
        text = rules.message_body(body)

        def work(tx: Transaction) -> tuple[Change, list[Delivery]]:
            message = _own_message(tx, conversation_id, message_id, caller_id)
            conversation = tx.conversations.lock(conversation_id)
            if conversation is None:
                raise NotFound("Conversation not found.")
            refuse_if_blocked(tx, conversation, caller_id)
            if message.deleted:
                raise Conflict("That message was deleted.")
            if message.body == text:
                return Change(shown(tx, message), None), []
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
        it again changes nothing. Its attachments go with it, bytes and all."""
        detached: list[Attachment] = []

        def work(tx: Transaction) -> tuple[Change, list[Delivery]]:
            detached.clear()  # from an earlier run the store undid
            message = _own_message(tx, conversation_id, message_id, caller_id)
            if message.deleted:
                return Change(shown(tx, message), None), []
            now = self._clock.now()
            gone = message.deleted_at(now)
            if not tx.messages.mark_deleted(conversation_id, message_id, now):
                # A delete that raced this one won, and told everyone.
                current = tx.messages.get(conversation_id, message_id)
                return Change(shown(tx, current or gone), None), []
            detached.extend(tx.attachments.detach(conversation_id, message_id))
            tx.reactions.clear(conversation_id, message_id)
            return self._changed(tx, gone, EventType.MESSAGE_DELETED, origin)

        change = await self._commit(work)
        if detached and self._forget is not None:
            await self._forget(list(detached))
        return change

    async def get(self, caller_id: str, conversation_id: str, message_id: str) -> JsonObject:
        def work(tx: Transaction) -> JsonObject:
            membership_of(tx, conversation_id, caller_id)
            message = tx.messages.get(conversation_id, message_id)
            if message is None:
                raise NotFound("Message not found.")
            return shown(tx, message)

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
        count = _page_size(before, after, limit)

        def work(tx: Transaction) -> tuple[list[JsonObject], bool]:
            membership_of(tx, conversation_id, caller_id)
            return _page(tx, conversation_id, before, after, count)

        return await self._store.read(work, quick=True)

    async def history_body(
        self,
        caller_id: str,
        conversation_id: str,
        before: int | None,
        after: int | None,
        limit: int | None,
        encode: Callable[[JsonObject], bytes],
    ) -> bytes:
        """`history` as the response body `{"messages", "hasMore"}` encoded by `encode`
        (always the same encoder: the REST routes' JSON). Bodies are kept per position
        of the conversation's log (`page_cache`), so a page asked for again before the
        conversation changes costs the membership check alone."""
        count = _page_size(before, after, limit)

        def work(tx: Transaction) -> bytes:
            conversation, _ = membership_of(tx, conversation_id, caller_id)
            # Valid for this position of the log, read in this transaction.
            key = (conversation_id, conversation.last_event_seq, before, after, count)
            body = self._pages.get(key)
            if body is None:
                page, more = _page(tx, conversation_id, before, after, count)
                body = encode({"messages": page, "hasMore": more})
                self._pages.put(key, body, len(page))
            return body

        return await self._store.read(work, quick=True)

    async def react(
        self,
        caller_id: str,
        conversation_id: str,
        message_id: str,
        emoji: str,
        add: bool,
        origin: Origin | None = None,
    ) -> Change:
        """Adds (`add`) or takes back the caller's `emoji` on a message; any member may.
        Idempotent: adding one that is there, or taking back one that is not, changes
        and publishes nothing. A deleted message takes none (`Conflict`). Each change is
        a `reaction.added` / `reaction.removed` entry in the conversation's log."""
        chosen = rules.reaction_emoji(emoji)

        def work(tx: Transaction) -> tuple[Change, list[Delivery]]:
            # Locked first: a removal of the caller that commits meanwhile is seen.
            if tx.conversations.lock(conversation_id) is None:
                raise NotFound("Conversation not found.")
            membership_of(tx, conversation_id, caller_id)
            message = tx.messages.get(conversation_id, message_id)
            if message is None:
                raise NotFound("Message not found.")
            if message.deleted:
                raise Conflict("That message was deleted.")
            now = self._clock.now()
            if add:
                changed = tx.reactions.add(
                    Reaction(conversation_id, message_id, caller_id, chosen, now)
                )
                if changed is None:
                    raise Conflict("That message was deleted.")  # by a delete that raced this
            else:
                changed = tx.reactions.remove(conversation_id, message_id, caller_id, chosen)
            view = shown(tx, message)
            if not changed:
                return Change(view, None), []
            reactions = view["reactions"]
            assert isinstance(reactions, list)
            event_seq, delivery = record(
                tx,
                conversation_id,
                member_ids(tx, conversation_id),
                reaction_changed(add, conversation_id, message_id, caller_id, chosen, reactions),
                now,
                actor_id=caller_id,
                message_id=message_id,
                detail={"emoji": chosen},
                origin=origin,
            )
            return Change(view, event_seq), [delivery]

        return await self._commit(work)

    def _changed(
        self, tx: Transaction, message: Message, event_type: EventType, origin: Origin | None
    ) -> tuple[Change, list[Delivery]]:
        view = shown(tx, message)
        assert message.edited_at is not None
        event_seq, delivery = record(
            tx,
            message.conversation_id,
            member_ids(tx, message.conversation_id),
            {"type": event_type.value, "message": view},
            message.edited_at,
            actor_id=message.sender_id,
            message_id=message.id,
            origin=origin,
        )
        return Change(view, event_seq), [delivery]

    async def _commit(self, work: _Work) -> Change:
        return await commit(self._store, self._publisher, work)


def _page_size(before: int | None, after: int | None, limit: int | None) -> int:
    if before is not None and after is not None:
        raise ValidationFailed("Give before or after, not both.")
    if (before is not None and before < 1) or (after is not None and after < 0):
        raise ValidationFailed("before must be ≥ 1 and after ≥ 0.")
    return rules.page_limit(limit, default=50, maximum=200)


def _page(
    tx: Transaction, conversation_id: str, before: int | None, after: int | None, count: int
) -> tuple[list[JsonObject], bool]:
    page = tx.messages.page(conversation_id, before=before, after=after, limit=count + 1)
    more = len(page) > count
    if more:
        page = page[:count] if after is not None else page[1:]
    return shown_all(tx, page), more


def _attach(
    tx: Transaction, conversation_id: str, sender_id: str, wanted: list[str], message_id: str
) -> tuple[Attachment, ...]:
    """Marks the uploads as sent with `message_id`, in the order asked, or raises (and
    the whole send is undone)."""
    if not wanted:
        return ()
    sent = {a.id: a for a in tx.attachments.attach(conversation_id, sender_id, wanted, message_id)}
    for attachment_id in wanted:
        if attachment_id not in sent:
            found = tx.attachments.get(conversation_id, attachment_id)
            if found is None or found.uploader_id != sender_id:
                raise NotFound("Attachment not found.")
            raise Conflict("That attachment was already sent.")
    return tuple(sent[a] for a in wanted)


def _quotable(tx: Transaction, conversation_id: str, message_id: str) -> Message:
    """The message replied to; refuses a reply to a message the conversation does not
    have (one of another conversation is refused the same way, so it tells nothing
    about that one)."""
    quoted = tx.messages.get(conversation_id, message_id)
    if quoted is None:
        raise ValidationFailed(
            "replyToId names no message of this conversation.", details={"field": "replyToId"}
        )
    if quoted.deleted:
        raise Conflict("The message you reply to was deleted.", details={"field": "replyToId"})
    return quoted


def _own_message(tx: Transaction, conversation_id: str, message_id: str, caller_id: str) -> Message:
    membership_of(tx, conversation_id, caller_id)
    message = tx.messages.get(conversation_id, message_id)
    if message is None:
        raise NotFound("Message not found.")
    if message.sender_id != caller_id:
        raise Forbidden("Only the sender may change a message.")
    return message
