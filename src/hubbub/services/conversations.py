"""Direct chats, groups, membership and read markers.

Every change writes its entry to the conversation's log in the same transaction and
is published only after the commit. Transaction functions keep the `Store` contract
for many writers: narrow writes, and the conversation locked first where a rule spans
its memberships (size cap, owner hand-over, the last member leaving, deletion).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TypeVar

from hubbub.domain import events, rules
from hubbub.domain.errors import Blocked, Forbidden, NotFound, ValidationFailed
from hubbub.domain.events import Delivery, EventType, Origin, at_position
from hubbub.domain.models import (
    Attachment,
    Conversation,
    ConversationKind,
    Membership,
    Role,
    direct_key,
)
from hubbub.domain.views import JsonObject, as_seen_by, mute_view
from hubbub.ports import Clock, EventPublisher, IdGenerator, PresenceTracker, Store, Transaction
from hubbub.services.access import (
    Relations,
    commit,
    member_ids,
    membership_of,
    record,
    snapshot,
    snapshots,
)

Result = tuple[JsonObject, list[Delivery]]
# The log position of `conversation.created`: its first entry, and where its first
# members joined.
CREATED = 1
R = TypeVar("R")


class ConversationService:
    def __init__(
        self,
        store: Store,
        publisher: EventPublisher,
        ids: IdGenerator,
        clock: Clock,
        presence: PresenceTracker | None = None,
        forget: Callable[[list[Attachment]], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._ids = ids
        self._clock = clock
        self._presence = presence
        # Deletes the bytes of a deleted group's attachments, after the commit.
        self._forget = forget

    async def open_direct(self, caller_id: str, other_id: str) -> tuple[JsonObject, bool]:
        """The one direct conversation of this pair, created on first use.

        Not created while either of the pair blocked the other (`Blocked`); one that
        exists is still returned, so both keep reading its history.

        Returns (conversation, created). Concurrent calls for the same pair get the same
        conversation: the pair's key is unique in the store, and the call that loses
        the race is re-run by the store and returns the winner's (created False).
        """
        if other_id == caller_id:
            raise ValidationFailed("You cannot start a direct conversation with yourself.")

        def work(tx: Transaction) -> tuple[tuple[JsonObject, bool], list[Delivery]]:
            key = direct_key(caller_id, other_id)
            existing = tx.conversations.by_direct_key(key)
            if existing is not None:
                return (snapshot(tx, existing, caller_id, self._clock.now()), False), []
            other = tx.users.get(other_id)
            if other is None or not other.confirmed:
                raise NotFound("User not found.")
            blockers = tx.blocks.between(caller_id, other_id)
            if caller_id in blockers:
                raise Blocked("You blocked this user. Unblock them to start a chat.")
            if blockers:
                raise Blocked("You can't start a chat with this user.")
            now = self._clock.now()
            conversation = Conversation(
                id=self._ids.new_id(),
                kind=ConversationKind.DIRECT,
                title="",
                created_by=caller_id,
                created_at=now,
                updated_at=now,
                direct_key=key,
            )
            tx.conversations.insert(conversation)
            for user_id in (caller_id, other_id):
                tx.members.put(Membership(conversation.id, user_id, Role.MEMBER, now, 0, CREATED))
            shared, deliveries = self._announce(tx, conversation, caller_id)
            return (as_seen_by(shared, caller_id), True), deliveries

        view, created = await commit(self._store, self._publisher, work)
        if created:
            await self._introduce(view)
        return view, created

    async def create_group(self, caller_id: str, title: str, invitees: list[str]) -> JsonObject:
        """A group owned by the caller with the given members (duplicates ignored)."""
        clean_title = rules.title(title)
        invited = list(dict.fromkeys(m for m in invitees if m != caller_id))
        if len(invited) + 1 > rules.MAX_GROUP_MEMBERS:
            raise ValidationFailed(f"A group holds at most {rules.MAX_GROUP_MEMBERS} members.")

        def work(tx: Transaction) -> Result:
            found = tx.users.get_many(invited)
            missing = [m for m in invited if m not in found or not found[m].confirmed]
            if missing:
                raise NotFound(f"User not found: {missing[0]}.")
            now = self._clock.now()
            conversation = Conversation(
                id=self._ids.new_id(),
                kind=ConversationKind.GROUP,
                title=clean_title,
                created_by=caller_id,
                created_at=now,
                updated_at=now,
            )
            tx.conversations.insert(conversation)
            tx.members.put(Membership(conversation.id, caller_id, Role.OWNER, now, 0, CREATED))
            for user_id in invited:
                tx.members.put(Membership(conversation.id, user_id, Role.MEMBER, now, 0, CREATED))
            shared, deliveries = self._announce(tx, conversation, caller_id)
            return as_seen_by(shared, caller_id), deliveries

        view = await self._commit(work)
        await self._introduce(view)
        return view

    async def recent(
        self, caller_id: str, limit: int | None, cursor: str | None
    ) -> tuple[list[JsonObject], str | None]:
        """Most recently active first; `nextCursor` is None at the end."""
        count = rules.page_limit(limit, default=30, maximum=100)
        after = _decode_position(cursor) if cursor is not None else None

        def work(tx: Transaction) -> tuple[list[JsonObject], str | None]:
            page = tx.conversations.for_user(caller_id, limit=count + 1, after=after)
            now = self._clock.now()
            relations = Relations.of(tx, caller_id)
            views = snapshots(tx, page[:count], caller_id, now, relations)
            more = len(page) > count
            return views, _encode_position(page[count - 1]) if more else None

        return await self._store.read(work)

    async def get(self, caller_id: str, conversation_id: str) -> JsonObject:
        def work(tx: Transaction) -> JsonObject:
            conversation, _ = membership_of(tx, conversation_id, caller_id)
            return snapshot(tx, conversation, caller_id, self._clock.now())

        return await self._store.read(work)

    async def members(self, caller_id: str, conversation_id: str) -> list[JsonObject]:
        view = await self.get(caller_id, conversation_id)
        members = view["members"]
        assert isinstance(members, list)
        return members

    async def rename(self, caller_id: str, conversation_id: str, title: str) -> JsonObject:
        """The group's owner only (like adding and removing members: the name is how
        everyone finds the group, so one person answers for it); direct conversations
        have no title. Members are told the new title only; the same title again
        changes nothing."""
        clean_title = rules.title(title)

        def work(tx: Transaction) -> Result:
            conversation, membership = _locked_membership_of(tx, conversation_id, caller_id)
            _require_group(conversation)
            _require_owner(membership, "Only the group's owner may rename it.")
            if conversation.title == clean_title:
                return snapshot(tx, conversation, caller_id, self._clock.now()), []
            now = self._clock.now()
            renamed = tx.conversations.set_title(conversation_id, clean_title, now)
            if renamed is None:
                raise NotFound("Conversation not found.")
            event_seq, delivery = record(
                tx,
                conversation_id,
                member_ids(tx, conversation_id),
                events.renamed(conversation_id, caller_id, clean_title, renamed.updated_at),
                renamed.updated_at,
                actor_id=caller_id,
                detail={"fields": ["title"]},
            )
            view = snapshot(tx, replace(renamed, last_event_seq=event_seq), caller_id, now)
            return view, [delivery]

        return await self._commit(work)

    async def delete(self, caller_id: str, conversation_id: str) -> None:
        """Owner only; every member is told, then the history is gone (files too)."""
        files: list[Attachment] = []

        def work(tx: Transaction) -> tuple[None, list[Delivery]]:
            files.clear()  # from an earlier run the store undid
            conversation, membership = _locked_membership_of(tx, conversation_id, caller_id)
            _require_group(conversation)
            _require_owner(membership)
            recipients = member_ids(tx, conversation_id)
            _, delivery = record(
                tx,
                conversation_id,
                recipients,
                {"type": EventType.CONVERSATION_DELETED.value, "conversationId": conversation_id},
                self._clock.now(),
                actor_id=caller_id,
            )
            for user_id in sorted(recipients):  # users after the conversation, in id order
                tx.sync.record_departure(user_id, conversation_id)
            files.extend(tx.attachments.of_conversation(conversation_id))
            tx.conversations.delete(conversation_id)  # its log with it: nothing to replay
            return None, [delivery]

        await self._commit(work)
        await self._forget_files(files)

    async def add_member(self, caller_id: str, conversation_id: str, user_id: str) -> JsonObject:
        """Owner only. The new member sees the history and starts with it all read.

        The members who were there hear who joined (profile and role); the newcomer,
        who has nothing yet, is sent the whole conversation in its own `member.added`.
        """

        def work(tx: Transaction) -> Result:
            # Locked: the size cap spans every membership, and a delete may be racing.
            conversation, membership = _locked_membership_of(tx, conversation_id, caller_id)
            _require_group(conversation)
            _require_owner(membership)
            if tx.members.get(conversation_id, user_id) is not None:
                return snapshot(tx, conversation, caller_id, self._clock.now()), []
            user = tx.users.get(user_id)
            if user is None or not user.confirmed:
                raise NotFound("User not found.")
            if len(tx.members.of_conversation(conversation_id)) >= rules.MAX_GROUP_MEMBERS:
                raise ValidationFailed(f"A group holds at most {rules.MAX_GROUP_MEMBERS} members.")
            now = self._clock.now()
            joined = Membership(conversation_id, user_id, Role.MEMBER, now, conversation.last_seq)
            delta = events.member_added(joined, user, now, caller_id)
            others = member_ids(tx, conversation_id)
            event_seq, told = record(
                tx,
                conversation_id,
                others,
                delta,
                now,
                actor_id=caller_id,
                subject_id=user_id,
                detail={"role": joined.role.value, "readSeq": joined.read_seq},
            )
            tx.members.put(replace(joined, joined_event_seq=event_seq))
            tx.conversations.touch(conversation_id, now)
            touched = replace(conversation, updated_at=max(conversation.updated_at, now))
            shared = snapshot(tx, touched, None)
            # The newcomer has nothing yet: the same entry, with the whole conversation.
            welcome = at_position({**delta, "conversation": shared}, conversation_id, event_seq)
            welcomed = Delivery(frozenset({user_id}), welcome)
            whole = welcome["conversation"]
            assert isinstance(whole, dict)
            mine = mute_view(membership.muted_until, now)  # the shared view has no mutes
            return {**as_seen_by(whole, caller_id), **mine}, [told, welcomed]

        view = await self._commit(work)
        await self._introduce(view, newcomer=user_id)
        return view

    async def remove_member(self, caller_id: str, conversation_id: str, user_id: str) -> None:
        """The owner removes anyone; a member may remove only themself (leave).

        When the owner leaves, the longest-standing member becomes owner; when the last
        member leaves, the group is deleted.
        """
        files: list[Attachment] = []

        def work(tx: Transaction) -> tuple[None, list[Delivery]]:
            files.clear()  # from an earlier run the store undid
            # Locked: who remains, and who owns the group, span every membership.
            conversation, membership = _locked_membership_of(tx, conversation_id, caller_id)
            _require_group(conversation)
            if user_id != caller_id:
                _require_owner(membership)
            target = tx.members.get(conversation_id, user_id)
            if target is None:
                raise NotFound("That user is not a member.")
            recipients = member_ids(tx, conversation_id)
            now = self._clock.now()
            tx.members.remove(conversation_id, user_id)
            remaining = tx.members.of_conversation(conversation_id)
            owner = next((m for m in remaining if m.role == Role.OWNER), None)
            if remaining:
                tx.conversations.touch(conversation_id, now)
                if target.role == Role.OWNER:
                    heir = min(remaining, key=lambda m: (m.joined_at, m.user_id))
                    owner = replace(heir, role=Role.OWNER)
                    tx.members.set_role(conversation_id, heir.user_id, Role.OWNER)
            owner_id = owner.user_id if owner else None
            _, removed = record(
                tx,
                conversation_id,
                recipients,
                events.member_removed(conversation_id, user_id, owner_id, now, caller_id),
                now,
                actor_id=caller_id,
                subject_id=user_id,
                detail={"ownerId": owner_id},
            )
            tx.sync.record_departure(user_id, conversation_id)
            if not remaining:
                files.extend(tx.attachments.of_conversation(conversation_id))
                tx.conversations.delete(conversation_id)
            return None, [removed]

        await self._commit(work)
        await self._forget_files(files)

    async def _forget_files(self, files: list[Attachment]) -> None:
        if files and self._forget is not None:
            await self._forget(files)

    async def mark_read(
        self, caller_id: str, conversation_id: str, seq: int, origin: Origin | None = None
    ) -> tuple[int, int | None]:
        """Moves the caller's read marker forward (never back, never past the newest
        message). Returns (readSeq, the `read` event's receiptSeq or None if unchanged).
        Touches the marker only: it never undoes a concurrent role change, and never
        re-adds a caller removed meanwhile (`NotFound`)."""
        if seq < 0:
            raise ValidationFailed("seq must not be negative.")

        def work(tx: Transaction) -> tuple[tuple[int, int | None], list[Delivery]]:
            conversation, membership = membership_of(tx, conversation_id, caller_id)
            target = min(seq, conversation.last_seq)
            if target <= membership.read_seq:
                return (membership.read_seq, None), []
            moved = tx.members.advance_read(conversation_id, caller_id, target)
            if moved is None:
                raise NotFound("Conversation not found.")
            if not moved:  # a concurrent markRead got there first
                current = tx.members.get(conversation_id, caller_id)
                return (max(target, current.read_seq if current else target), None), []
            receipt_seq = tx.log.record_receipt(conversation_id, caller_id)
            frame = events.read_receipt(conversation_id, caller_id, target, receipt_seq)
            delivery = Delivery(frozenset(member_ids(tx, conversation_id)), frame, origin)
            return (target, receipt_seq), [delivery]

        return await commit(self._store, self._publisher, work)

    async def mute(
        self, caller_id: str, conversation_id: str, until: datetime | None
    ) -> JsonObject:
        """Mutes the conversation for the caller alone until `until` (None: until they
        unmute); a new mute replaces the old. Returns `muted` and `mutedUntil`. The
        caller's devices hear `conversation.muted`; nobody else learns of it."""
        return await self._set_mute(caller_id, conversation_id, until, clear=False)

    async def unmute(self, caller_id: str, conversation_id: str) -> JsonObject:
        """Ends the caller's mute (nothing changes if there was none)."""
        return await self._set_mute(caller_id, conversation_id, None, clear=True)

    async def _set_mute(
        self, caller_id: str, conversation_id: str, until: datetime | None, *, clear: bool
    ) -> JsonObject:
        def work(tx: Transaction) -> Result:
            now = self._clock.now()
            ends = None if clear else rules.mute_until(until, now)
            membership_of(tx, conversation_id, caller_id)
            # Written and told even when it looks unchanged: what this transaction read may
            # be stale (another device's change committing meanwhile), and the last write
            # to commit, told last, is what every device must end up with.
            if not tx.members.set_mute(conversation_id, caller_id, ends):
                raise NotFound("Conversation not found.")  # removed meanwhile
            frame = events.muted(conversation_id, ends, now)
            return mute_view(ends, now), [Delivery(frozenset({caller_id}), frame)]

        return await self._commit(work)

    async def _introduce(self, conversation: JsonObject, newcomer: str | None = None) -> None:
        """New contacts learn at once which of each other are online (presence is
        otherwise told only when someone connects or leaves). With a `newcomer`, only
        they are new: they hear about the others, the others hear about them."""
        if self._presence is None:
            return
        members = conversation["members"]
        assert isinstance(members, list)
        member_ids = [str(m["id"]) for m in members]
        online = sorted(await self._presence.online(member_ids))
        everyone = frozenset(member_ids)
        # Not between users who blocked one another (a group does not undo a block).
        hidden = await self._store.read(lambda tx: {u: tx.blocks.involving(u) for u in online})
        deliveries = [
            Delivery(
                (
                    everyone - {user_id}
                    if newcomer is None or user_id == newcomer
                    else frozenset({newcomer})
                )
                - hidden[user_id],
                {"type": EventType.PRESENCE.value, "userId": user_id, "online": True},
            )
            for user_id in online
        ]
        await self._publisher.publish([d for d in deliveries if d.recipients])

    def _announce(self, tx: Transaction, conversation: Conversation, creator_id: str) -> Result:
        """`conversation.created`, the new conversation's first entry (`CREATED`)."""
        shared = snapshot(tx, conversation, None)
        event_seq, delivery = record(
            tx,
            conversation.id,
            member_ids(tx, conversation.id),
            {"type": EventType.CONVERSATION_CREATED.value, "conversation": shared},
            conversation.created_at,
            actor_id=creator_id,
        )
        assert event_seq == CREATED
        frame_view = delivery.frame["conversation"]
        assert isinstance(frame_view, dict)
        return frame_view, [delivery]

    async def _commit(self, work: Callable[[Transaction], tuple[R, list[Delivery]]]) -> R:
        return await commit(self._store, self._publisher, work)


def _locked_membership_of(
    tx: Transaction, conversation_id: str, user_id: str
) -> tuple[Conversation, Membership]:
    """`membership_of` through the conversation's lock: both current, and no other
    locking writer of this conversation commits until this transaction ends."""
    conversation = tx.conversations.lock(conversation_id)
    membership = tx.members.get(conversation_id, user_id) if conversation else None
    if conversation is None or membership is None:
        raise NotFound("Conversation not found.")
    return conversation, membership


def _require_group(conversation: Conversation) -> None:
    if conversation.kind != ConversationKind.GROUP:
        raise Forbidden("Direct conversations have a fixed pair of members and no title.")


def _require_owner(
    membership: Membership, why: str = "Only the group's owner may do that."
) -> None:
    if membership.role != Role.OWNER:
        raise Forbidden(why)


def _encode_position(conversation: Conversation) -> str:
    raw = f"{conversation.updated_at.isoformat()}|{conversation.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_position(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, conversation_id = raw.split("|", 1)
        # Aware and representable in UTC: positions are compared as UTC instants, and
        # a date at the edge of the calendar cannot be moved to UTC (OverflowError).
        position = datetime.fromisoformat(moment)
        if position.tzinfo is None:
            raise ValueError("naive")
        return position.astimezone(UTC), conversation_id
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError) as error:
        raise ValidationFailed("cursor is not valid.") from error
