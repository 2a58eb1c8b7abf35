"""In-memory adapters: real implementations of the ports, used by unit tests and by
single-process deployments for state that need not survive a restart (tickets,
rate limits, presence).

The store keeps an undo log per transaction, so a transaction that raises leaves
no trace, exactly like the SQLite adapter.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from hubbub.adapters.local_hub import DONE
from hubbub.domain import search
from hubbub.domain.errors import Conflict, NotFound
from hubbub.domain.models import (
    Attachment,
    Block,
    Conversation,
    LogEntry,
    Membership,
    Message,
    Reaction,
    ReadMarker,
    Role,
    SyncHead,
    User,
)
from hubbub.ports import (
    WRITE_ATTEMPTS,
    CodePurpose,
    Credential,
    LostRace,
    RefreshToken,
    Session,
    UploadTarget,
)

T = TypeVar("T")
_MISSING: Any = object()


class _State:
    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.usernames: dict[str, str] = {}
        self.emails: dict[str, str] = {}
        self.conversations: dict[str, Conversation] = {}
        self.direct_keys: dict[str, str] = {}
        self.members: dict[str, dict[str, Membership]] = defaultdict(dict)
        self.user_conversations: dict[str, dict[str, None]] = defaultdict(dict)
        self.messages: dict[str, dict[int, Message]] = defaultdict(dict)
        self.message_ids: dict[str, Message] = {}
        self.client_ids: dict[tuple[str, str], str] = {}
        # message id -> {(user id, emoji): reaction}
        self.reactions: dict[str, dict[tuple[str, str], Reaction]] = defaultdict(dict)
        self.logs: dict[str, list[LogEntry]] = defaultdict(list)
        self.receipt_heads: dict[str, int] = {}
        self.receipt_stamps: dict[str, dict[str, int]] = defaultdict(dict)
        self.snapshots: dict[str, dict[str, tuple[str, datetime]]] = defaultdict(dict)
        self.departures: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self.credentials: dict[str, Credential] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.ended_sessions: dict[str, datetime] = {}
        self.attachments: dict[str, Attachment] = {}
        self.blocks: dict[tuple[str, str], Block] = {}


class _Journal:
    """Records how to undo each change made during one transaction."""

    def __init__(self) -> None:
        self.undo: list[Callable[[], None]] = []

    def put(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        old = table.get(key, _MISSING)
        table[key] = value
        self.undo.append(lambda: self._restore(table, key, old))

    def pop(self, table: dict[Any, Any], key: Any) -> None:
        old = table.pop(key, _MISSING)
        self.undo.append(lambda: self._restore(table, key, old))

    def append(self, items: list[Any], value: Any) -> None:
        items.append(value)
        self.undo.append(items.pop)

    @staticmethod
    def _restore(table: dict[Any, Any], key: Any, old: Any) -> None:
        if old is _MISSING:
            table.pop(key, None)
        else:
            table[key] = old

    def rollback(self) -> None:
        for step in reversed(self.undo):
            step()


class _Users:
    def __init__(self, state: _State, journal: _Journal) -> None:
        self._s, self._j = state, journal

    def get(self, user_id: str) -> User | None:
        return self._s.users.get(user_id)

    def get_many(self, user_ids: Sequence[str]) -> dict[str, User]:
        return {uid: self._s.users[uid] for uid in user_ids if uid in self._s.users}

    def by_username(self, username: str) -> User | None:
        user_id = self._s.usernames.get(username.lower())
        return self._s.users.get(user_id) if user_id else None

    def by_email(self, email: str) -> User | None:
        user_id = self._s.emails.get(email.lower())
        return self._s.users.get(user_id) if user_id else None

    def insert(self, user: User) -> None:
        if user.username in self._s.usernames or user.email in self._s.emails:
            raise Conflict("That username or email is already registered.")
        self._j.put(self._s.users, user.id, user)
        self._j.put(self._s.usernames, user.username, user.id)
        self._j.put(self._s.emails, user.email, user.id)

    def update(self, user: User) -> None:
        held = self._s.users.get(user.id)
        last_seen = held.last_seen_at if held else None
        self._j.put(self._s.users, user.id, replace(user, last_seen_at=last_seen))

    def set_last_seen(self, user_id: str, at: datetime) -> None:
        held = self._s.users.get(user_id)
        if held and (held.last_seen_at is None or held.last_seen_at < at):
            self._j.put(self._s.users, user_id, replace(held, last_seen_at=at))

    def delete(self, user_id: str) -> None:
        user = self._s.users.get(user_id)
        if user:
            self._j.pop(self._s.users, user_id)
            self._j.pop(self._s.usernames, user.username)
            self._j.pop(self._s.emails, user.email)

    def search(self, prefix: str, *, exclude_id: str, limit: int) -> list[User]:
        terms = search.words(prefix)
        found = [
            u
            for u in self._s.users.values()
            if u.id != exclude_id
            and u.confirmed
            and (u.username.startswith(prefix) or (terms and search.matches(terms, u.display_name)))
        ]
        return sorted(found, key=lambda u: u.username)[:limit]


class _Conversations:
    def __init__(self, state: _State, journal: _Journal) -> None:
        self._s, self._j = state, journal

    def get(self, conversation_id: str) -> Conversation | None:
        return self._s.conversations.get(conversation_id)

    def get_many(self, conversation_ids: Sequence[str]) -> dict[str, Conversation]:
        found = {c: self._s.conversations.get(c) for c in conversation_ids}
        return {c: conversation for c, conversation in found.items() if conversation}

    def by_direct_key(self, key: str) -> Conversation | None:
        conversation_id = self._s.direct_keys.get(key)
        return self._s.conversations.get(conversation_id) if conversation_id else None

    def lock(self, conversation_id: str) -> Conversation | None:
        # One transaction at a time: the row read is the current one.
        return self._s.conversations.get(conversation_id)

    def insert(self, conversation: Conversation) -> None:
        key = conversation.direct_key
        if key is not None:
            if key in self._s.direct_keys:
                raise LostRace("That direct conversation already exists.")
            self._j.put(self._s.direct_keys, key, conversation.id)
        self._j.put(self._s.conversations, conversation.id, conversation)

    def next_seq(self, conversation_id: str, at: datetime) -> int | None:
        current = self._s.conversations.get(conversation_id)
        if current is None:
            return None
        seq = current.last_seq + 1
        updated_at = max(current.updated_at, at)
        self._j.put(
            self._s.conversations,
            conversation_id,
            replace(current, last_seq=seq, updated_at=updated_at),
        )
        return seq

    def set_title(self, conversation_id: str, title: str, at: datetime) -> Conversation | None:
        current = self._s.conversations.get(conversation_id)
        if current is None:
            return None
        renamed = replace(current, title=title, updated_at=max(current.updated_at, at))
        self._j.put(self._s.conversations, conversation_id, renamed)
        return renamed

    def touch(self, conversation_id: str, at: datetime) -> None:
        current = self._s.conversations.get(conversation_id)
        if current is not None and at > current.updated_at:
            self._j.put(self._s.conversations, conversation_id, replace(current, updated_at=at))

    def delete(self, conversation_id: str) -> None:
        conversation = self._s.conversations.get(conversation_id)
        if conversation is None:
            return
        if conversation.direct_key:
            self._j.pop(self._s.direct_keys, conversation.direct_key)
        for user_id in list(self._s.members.get(conversation_id, {})):
            self._j.pop(self._s.user_conversations[user_id], conversation_id)
        self._j.pop(self._s.members, conversation_id)
        for message in self._s.messages.get(conversation_id, {}).values():
            self._j.pop(self._s.message_ids, message.id)
            self._j.pop(self._s.client_ids, (message.sender_id, message.client_message_id))
            self._j.pop(self._s.reactions, message.id)
        self._j.pop(self._s.messages, conversation_id)
        self._j.pop(self._s.logs, conversation_id)
        self._j.pop(self._s.receipt_heads, conversation_id)
        self._j.pop(self._s.receipt_stamps, conversation_id)
        for attachment in list(self._s.attachments.values()):
            if attachment.conversation_id == conversation_id:
                self._j.pop(self._s.attachments, attachment.id)
        self._j.pop(self._s.conversations, conversation_id)

    def for_user(
        self, user_id: str, *, limit: int, after: tuple[datetime, str] | None
    ) -> list[Conversation]:
        mine = [self._s.conversations[c] for c in self._s.user_conversations.get(user_id, {})]
        ordered = sorted(mine, key=lambda c: (c.updated_at, c.id), reverse=True)
        if after is not None:
            ordered = [c for c in ordered if (c.updated_at, c.id) < after]
        return ordered[:limit]


class _Members:
    def __init__(self, state: _State, journal: _Journal) -> None:
        self._s, self._j = state, journal

    def get(self, conversation_id: str, user_id: str) -> Membership | None:
        return self._s.members.get(conversation_id, {}).get(user_id)

    def of_conversation(self, conversation_id: str) -> list[Membership]:
        return list(self._s.members.get(conversation_id, {}).values())

    def of_conversations(self, conversation_ids: Sequence[str]) -> dict[str, list[Membership]]:
        found = {c: self.of_conversation(c) for c in dict.fromkeys(conversation_ids)}
        return {c: members for c, members in found.items() if members}

    def ids_of(self, conversation_id: str) -> list[str]:
        return list(self._s.members.get(conversation_id, {}))

    def put(self, membership: Membership) -> None:
        if membership.user_id in self._s.members.get(membership.conversation_id, {}):
            raise LostRace("Already a member.")
        self._j.put(self._s.members[membership.conversation_id], membership.user_id, membership)
        self._j.put(
            self._s.user_conversations[membership.user_id], membership.conversation_id, None
        )

    def set_role(self, conversation_id: str, user_id: str, role: Role) -> bool:
        current = self._s.members.get(conversation_id, {}).get(user_id)
        if current is None:
            return False
        self._j.put(self._s.members[conversation_id], user_id, replace(current, role=role))
        return True

    def advance_read(self, conversation_id: str, user_id: str, seq: int) -> bool | None:
        current = self._s.members.get(conversation_id, {}).get(user_id)
        if current is None:
            return None
        if seq <= current.read_seq:
            return False
        self._j.put(self._s.members[conversation_id], user_id, replace(current, read_seq=seq))
        return True

    def set_mute(self, conversation_id: str, user_id: str, until: datetime | None) -> bool:
        current = self._s.members.get(conversation_id, {}).get(user_id)
        if current is None:
            return False
        self._j.put(self._s.members[conversation_id], user_id, replace(current, muted_until=until))
        return True

    def remove(self, conversation_id: str, user_id: str) -> None:
        if user_id in self._s.members.get(conversation_id, {}):
            self._j.pop(self._s.members[conversation_id], user_id)
            self._j.pop(self._s.user_conversations[user_id], conversation_id)
            self._j.pop(self._s.receipt_stamps[conversation_id], user_id)

    def share_conversation(self, user_id: str, other_id: str) -> bool:
        return any(
            other_id in self._s.members.get(conversation_id, {})
            for conversation_id in self._s.user_conversations.get(user_id, {})
        )

    def contacts_of(self, user_id: str) -> set[str]:
        contacts: set[str] = set()
        for conversation_id in self._s.user_conversations.get(user_id, {}):
            contacts.update(self._s.members.get(conversation_id, {}))
        contacts.discard(user_id)
        return contacts


class _Messages:
    def __init__(self, state: _State, journal: _Journal) -> None:
        self._s, self._j = state, journal

    def get(self, conversation_id: str, message_id: str) -> Message | None:
        message = self._s.message_ids.get(message_id)
        return message if message and message.conversation_id == conversation_id else None

    def by_seq(self, conversation_id: str, seq: int) -> Message | None:
        return self._s.messages.get(conversation_id, {}).get(seq)

    def by_seqs(self, positions: Sequence[tuple[str, int]]) -> list[Message]:
        found = (self.by_seq(c, s) for c, s in dict.fromkeys(positions))
        return [m for m in found if m is not None]

    def get_many(self, keys: Sequence[tuple[str, str]]) -> list[Message]:
        found = (self.get(c, m) for c, m in dict.fromkeys(keys))
        return [m for m in found if m is not None]

    def by_client_id(self, sender_id: str, client_message_id: str) -> Message | None:
        message_id = self._s.client_ids.get((sender_id, client_message_id))
        return self._s.message_ids.get(message_id) if message_id else None

    def insert(self, message: Message) -> None:
        client_key = (message.sender_id, message.client_message_id)
        thread = self._s.messages[message.conversation_id]
        if client_key in self._s.client_ids or message.seq in thread:
            raise LostRace("Duplicate message.")
        self._j.put(thread, message.seq, message)
        self._j.put(self._s.message_ids, message.id, message)
        self._j.put(self._s.client_ids, client_key, message.id)

    def edit(self, conversation_id: str, message_id: str, body: str, at: datetime) -> bool:
        current = self.get(conversation_id, message_id)
        if current is None or current.deleted:
            return False
        self._put(replace(current, body=body, edited_at=at))
        return True

    def mark_deleted(self, conversation_id: str, message_id: str, at: datetime) -> bool:
        current = self.get(conversation_id, message_id)
        if current is None or current.deleted:
            return False
        self._put(current.deleted_at(at))
        return True

    def _put(self, message: Message) -> None:
        self._j.put(self._s.messages[message.conversation_id], message.seq, message)
        self._j.put(self._s.message_ids, message.id, message)

    def page(
        self, conversation_id: str, *, before: int | None, after: int | None, limit: int
    ) -> list[Message]:
        thread = self._s.messages.get(conversation_id, {})
        seqs = sorted(thread)
        if after is not None:
            return [thread[s] for s in seqs if s > after][:limit]
        below = [s for s in seqs if before is None or s < before]
        return [thread[s] for s in below[-limit:]]

    def search(
        self,
        user_id: str,
        terms: Sequence[str],
        *,
        conversation_id: str | None,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Message]:
        wanted = list(terms)
        found = [
            message
            for cid in self._s.user_conversations.get(user_id, {})
            if conversation_id is None or cid == conversation_id
            for message in self._s.messages.get(cid, {}).values()
            if not message.deleted
            and (before is None or (message.created_at, message.id) < before)
            and search.matches(wanted, message.body)
        ]
        found.sort(key=lambda m: (m.created_at, m.id), reverse=True)
        return found[:limit]


class _Attachments:
    def __init__(self, state: _State, journal: _Journal) -> None:
        self._s, self._j = state, journal

    def insert(self, attachment: Attachment) -> None:
        if attachment.id in self._s.attachments:
            raise LostRace("Duplicate attachment.")
        self._j.put(self._s.attachments, attachment.id, attachment)

    def get(self, conversation_id: str, attachment_id: str) -> Attachment | None:
        found = self._s.attachments.get(attachment_id)
        return found if found and found.conversation_id == conversation_id else None

    def attach(
        self, conversation_id: str, uploader_id: str, attachment_ids: Sequence[str], message_id: str
    ) -> list[Attachment]:
        done: list[Attachment] = []
        for attachment_id in dict.fromkeys(attachment_ids):
            found = self.get(conversation_id, attachment_id)
            if found and found.uploader_id == uploader_id and found.message_id is None:
                sent = replace(found, message_id=message_id)
                self._j.put(self._s.attachments, attachment_id, sent)
                done.append(sent)
        return done

    def detach(self, conversation_id: str, message_id: str) -> list[Attachment]:
        gone = [
            a
            for a in self._s.attachments.values()
            if a.conversation_id == conversation_id and a.message_id == message_id
        ]
        for attachment in gone:
            self._j.pop(self._s.attachments, attachment.id)
        return gone

    def of_conversation(self, conversation_id: str) -> list[Attachment]:
        return [a for a in self._s.attachments.values() if a.conversation_id == conversation_id]

    def unsent_before(self, moment: datetime, limit: int) -> list[Attachment]:
        old = [a for a in self._s.attachments.values() if a.message_id is None]
        old = [a for a in old if a.created_at < moment]
        return sorted(old, key=lambda a: (a.created_at, a.id))[:limit]

    def delete(self, conversation_id: str, attachment_id: str) -> bool:
        found = self.get(conversation_id, attachment_id)
        if found is None or found.message_id is not None:
            return False
        self._j.pop(self._s.attachments, attachment_id)
        return True


class _Reactions:
    def __init__(self, state: _State, journal: _Journal) -> None:
        self._s, self._j = state, journal

    def add(self, reaction: Reaction) -> bool | None:
        message = self._s.message_ids.get(reaction.message_id)
        if message is None or message.conversation_id != reaction.conversation_id:
            return None
        if message.deleted:
            return None
        mine = self._s.reactions[reaction.message_id]
        key = (reaction.user_id, reaction.emoji)
        if key in mine:
            return False
        self._j.put(mine, key, reaction)
        return True

    def remove(self, conversation_id: str, message_id: str, user_id: str, emoji: str) -> bool:
        mine = self._s.reactions.get(message_id, {})
        found = mine.get((user_id, emoji))
        if found is None or found.conversation_id != conversation_id:
            return False
        self._j.pop(mine, (user_id, emoji))
        return True

    def of_messages(self, conversation_id: str, message_ids: Sequence[str]) -> list[Reaction]:
        found = [
            r
            for message_id in dict.fromkeys(message_ids)
            for r in self._s.reactions.get(message_id, {}).values()
            if r.conversation_id == conversation_id
        ]
        return sorted(found, key=lambda r: (r.created_at, r.user_id))

    def of_keys(self, keys: Sequence[tuple[str, str]]) -> list[Reaction]:
        found = [r for c, m in dict.fromkeys(keys) for r in self.of_messages(c, [m])]
        return sorted(found, key=lambda r: (r.created_at, r.user_id))

    def clear(self, conversation_id: str, message_id: str) -> None:
        message = self._s.message_ids.get(message_id)
        if message is not None and message.conversation_id == conversation_id:
            self._j.pop(self._s.reactions, message_id)


class _Log:
    def __init__(self, state: _State, journal: _Journal) -> None:
        self._s, self._j = state, journal

    def append(self, entry: LogEntry) -> int | None:
        current = self._s.conversations.get(entry.conversation_id)
        if current is None:
            return None
        seq = current.last_event_seq + 1
        self._j.put(self._s.conversations, current.id, replace(current, last_event_seq=seq))
        self._j.append(self._s.logs[current.id], replace(entry, event_seq=seq))
        return seq

    def append_message(self, entry: LogEntry, at: datetime) -> tuple[int, int] | None:
        current = self._s.conversations.get(entry.conversation_id)
        if current is None:
            return None
        seq, event_seq = current.last_seq + 1, current.last_event_seq + 1
        moved = replace(
            current,
            last_seq=seq,
            last_event_seq=event_seq,
            updated_at=max(current.updated_at, at),
        )
        self._j.put(self._s.conversations, current.id, moved)
        self._j.append(self._s.logs[current.id], replace(entry, event_seq=event_seq))
        return seq, event_seq

    def after(self, conversation_id: str, event_seq: int, limit: int) -> list[LogEntry]:
        entries = self._s.logs.get(conversation_id, [])
        return entries[event_seq : event_seq + limit]  # entry k sits at index k - 1

    def last_removal(self, conversation_id: str, user_id: str) -> LogEntry | None:
        for entry in reversed(self._s.logs.get(conversation_id, [])):
            if entry.type == "member.removed" and entry.subject_id == user_id:
                return entry
        return None

    def record_receipt(self, conversation_id: str, user_id: str) -> int:
        seq = self._s.receipt_heads.get(conversation_id, 0) + 1
        self._j.put(self._s.receipt_heads, conversation_id, seq)
        self._j.put(self._s.receipt_stamps[conversation_id], user_id, seq)
        return seq

    def read_markers_after(
        self, conversation_id: str, receipt_seq: int, limit: int
    ) -> list[ReadMarker]:
        members = self._s.members.get(conversation_id, {})
        stamps = self._s.receipt_stamps.get(conversation_id, {})
        moved = [
            ReadMarker(user_id, members[user_id].read_seq, stamp)
            for user_id, stamp in stamps.items()
            if stamp > receipt_seq and user_id in members
        ]
        return sorted(moved, key=lambda m: m.receipt_seq)[:limit]


class _Sync:
    def __init__(self, state: _State, journal: _Journal) -> None:
        self._s, self._j = state, journal

    def heads(self, user_id: str) -> list[SyncHead]:
        heads = []
        for conversation_id in self._s.user_conversations.get(user_id, {}):
            membership = self._s.members[conversation_id][user_id]
            heads.append(
                SyncHead(
                    conversation_id,
                    membership.joined_event_seq,
                    self._s.conversations[conversation_id].last_event_seq,
                    self._s.receipt_heads.get(conversation_id, 0),
                    membership.muted_until,
                )
            )
        return heads

    def record_departure(self, user_id: str, conversation_id: str) -> int:
        mine = self._s.departures[user_id]
        seq = len(mine) + 1
        self._j.append(mine, (seq, conversation_id))
        return seq

    def departures_after(self, user_id: str, seq: int, limit: int) -> list[tuple[int, str]]:
        return self._s.departures.get(user_id, [])[seq : seq + limit]

    def departure_head(self, user_id: str) -> int:
        return len(self._s.departures.get(user_id, []))

    def save_snapshot(
        self, user_id: str, snapshot_id: str, positions: str, at: datetime, *, keep: int
    ) -> None:
        mine = self._s.snapshots[user_id]
        self._j.put(mine, snapshot_id, (positions, at))
        for stale, _ in sorted(mine.items(), key=lambda item: item[1][1])[
            : max(len(mine) - keep, 0)
        ]:
            self._j.pop(mine, stale)

    def load_snapshot(self, user_id: str, snapshot_id: str) -> str | None:
        found = self._s.snapshots.get(user_id, {}).get(snapshot_id)
        return found[0] if found else None


class _Credentials:
    def __init__(self, state: _State, journal: _Journal) -> None:
        self._s, self._j = state, journal

    def get(self, user_id: str) -> Credential | None:
        return self._s.credentials.get(user_id)

    def by_login(self, login: str) -> Credential | None:
        needle = login.lower()
        return next(
            (c for c in self._s.credentials.values() if needle in (c.username, c.email)), None
        )

    def put(self, credential: Credential) -> None:
        taken = {credential.username, credential.email}
        for other in self._s.credentials.values():
            if other.user_id != credential.user_id and taken & {other.username, other.email}:
                raise Conflict("That username or email is already registered.")
        self._j.put(self._s.credentials, credential.user_id, credential)

    def delete(self, user_id: str) -> None:
        self._j.pop(self._s.credentials, user_id)

    def replace_code(
        self, user_id: str, code_hash: str, expires_at: datetime, *, confirmed: bool
    ) -> bool:
        found = self._s.credentials.get(user_id)
        if found is None or found.confirmed != confirmed:
            return False
        changed = replace(found, confirmation_code_hash=code_hash, code_expires_at=expires_at)
        self._j.put(self._s.credentials, user_id, changed)
        return True

    def confirm(self, user_id: str, code_hash: str) -> bool:
        found = self._s.credentials.get(user_id)
        if found is None or found.confirmed or found.confirmation_code_hash != code_hash:
            return False
        changed = replace(found, confirmed=True, confirmation_code_hash=None)
        self._j.put(self._s.credentials, user_id, changed)
        return True

    def set_password(self, user_id: str, password_hash: str, *, code_hash: str) -> bool:
        found = self._s.credentials.get(user_id)
        if found is None or not found.confirmed or found.confirmation_code_hash != code_hash:
            return False
        changed = replace(
            found, password_hash=password_hash, confirmation_code_hash=None, code_expires_at=None
        )
        self._j.put(self._s.credentials, user_id, changed)
        return True

    def delete_unconfirmed(self, user_id: str) -> bool:
        found = self._s.credentials.get(user_id)
        if found is None or found.confirmed:
            return False
        self._j.pop(self._s.credentials, user_id)
        return True

    def get_refresh(self, token_hash: str) -> RefreshToken | None:
        return self._s.refresh_tokens.get(token_hash)

    def add_refresh(self, token: RefreshToken, *, after: str | None = None) -> bool:
        tokens = self._s.refresh_tokens
        if token.token_hash in tokens or (after is not None and after not in tokens):
            return False
        self._j.put(tokens, token.token_hash, replace(token, used_at=None))
        return True

    def claim_refresh(self, token_hash: str, now: datetime) -> bool:
        token = self._s.refresh_tokens.get(token_hash)
        if token is None or token.used_at is not None:
            return False
        self._j.put(self._s.refresh_tokens, token_hash, replace(token, used_at=now))
        return True

    def revoke_family(self, family_id: str) -> None:
        for key, token in list(self._s.refresh_tokens.items()):
            if token.family_id == family_id:
                self._j.pop(self._s.refresh_tokens, key)

    def revoke_user(self, user_id: str) -> None:
        for key, token in list(self._s.refresh_tokens.items()):
            if token.user_id == user_id:
                self._j.pop(self._s.refresh_tokens, key)

    def families_of(self, user_id: str) -> set[str]:
        return {t.family_id for t in self._s.refresh_tokens.values() if t.user_id == user_id}


class _EndedSessions:
    def __init__(self, state: _State, journal: _Journal) -> None:
        self._s, self._j = state, journal

    def end(self, session_id: str, until: datetime) -> None:
        known = self._s.ended_sessions.get(session_id)
        self._j.put(self._s.ended_sessions, session_id, max(until, known or until))

    def live(self, now: datetime) -> dict[str, datetime]:
        return {k: v for k, v in self._s.ended_sessions.items() if v > now}

    def forget_before(self, now: datetime) -> None:
        for key, until in list(self._s.ended_sessions.items()):
            if until <= now:
                self._j.pop(self._s.ended_sessions, key)


class _Blocks:
    def __init__(self, state: _State, journal: _Journal) -> None:
        self._s, self._j = state, journal

    def add(self, block: Block) -> bool:
        key = (block.blocker_id, block.blocked_id)
        if key in self._s.blocks:
            return False
        self._j.put(self._s.blocks, key, block)
        return True

    def remove(self, blocker_id: str, blocked_id: str) -> bool:
        if (blocker_id, blocked_id) not in self._s.blocks:
            return False
        self._j.pop(self._s.blocks, (blocker_id, blocked_id))
        return True

    def of_blocker(self, blocker_id: str) -> list[Block]:
        mine = [b for b in self._s.blocks.values() if b.blocker_id == blocker_id]
        mine.sort(key=lambda b: b.blocked_id)
        mine.sort(key=lambda b: b.created_at, reverse=True)
        return mine

    def between(self, user_a: str, user_b: str) -> set[str]:
        pairs = ((user_a, user_b), (user_b, user_a))
        return {blocker for blocker, blocked in pairs if (blocker, blocked) in self._s.blocks}

    def involving(self, user_id: str) -> set[str]:
        found: set[str] = set()
        for blocker, blocked in self._s.blocks:
            if blocker == user_id:
                found.add(blocked)
            elif blocked == user_id:
                found.add(blocker)
        return found


class MemoryTransaction:
    def __init__(self, state: _State, journal: _Journal) -> None:
        self.users = _Users(state, journal)
        self.conversations = _Conversations(state, journal)
        self.members = _Members(state, journal)
        self.messages = _Messages(state, journal)
        self.attachments = _Attachments(state, journal)
        self.reactions = _Reactions(state, journal)
        self.log = _Log(state, journal)
        self.sync = _Sync(state, journal)
        self.credentials = _Credentials(state, journal)
        self.sessions = _EndedSessions(state, journal)
        self.blocks = _Blocks(state, journal)


class MemoryStore:
    """A `Store` in a dict; transactions are serialised by running to completion
    without awaiting, so no lock is needed inside one event loop."""

    commits_in_call_order = True

    def __init__(self) -> None:
        self._state = _State()

    async def read(self, work: Callable[[MemoryTransaction], T], *, quick: bool = False) -> T:
        return work(MemoryTransaction(self._state, _Journal()))

    async def write(
        self, work: Callable[[MemoryTransaction], T], on_commit: Callable[[T], None] | None = None
    ) -> T:
        result = _run(work, self._state)
        if on_commit is not None:
            on_commit(result)
        return result

    async def close(self) -> None:
        return None


def _run(work: Callable[[MemoryTransaction], T], state: _State) -> T:
    """Runs `work` to completion, undoing it if it raises; after a lost race it runs
    again (the store contract), up to `WRITE_ATTEMPTS` times."""
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        journal = _Journal()
        try:
            return work(MemoryTransaction(state, journal))
        except LostRace as lost:
            journal.rollback()
            if attempt == WRITE_ATTEMPTS:
                raise Conflict(lost.message) from lost
        except BaseException:
            journal.rollback()
            raise
    raise AssertionError("unreachable")


class MemoryAttachments:
    """`AttachmentStore` in a dict, for the memory store: nothing outlives the process."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        self._blobs[key] = bytes(data)

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        data = self._blobs.get(key)
        if data is None:
            raise NotFound("Attachment not found.")
        for start in range(0, max(len(data), 1), 256 * 1024):
            yield data[start : start + 256 * 1024]

    async def delete(self, key: str) -> None:
        self._blobs.pop(key, None)

    async def url(
        self, key: str, *, file_name: str, content_type: str, inline: bool, ttl_seconds: int
    ) -> str | None:
        return None

    async def upload_target(
        self, key: str, *, max_bytes: int, ttl_seconds: int
    ) -> UploadTarget | None:
        return None

    async def expire_uploads(self, before: datetime) -> int:
        return 0  # nothing outlives the process anyway


class MemoryTicketStore:
    """Single-use tickets for one process; a restart forgets them (they live ≤ 60 s).

    Tickets sit in a dict and in a queue in issue order (which, with the one lifetime
    the service uses, is expiry order): each call drops the expired ones from the front,
    so issuing and consuming are O(1) amortised, and past `max_tickets` the oldest go."""

    def __init__(
        self, monotonic: Callable[[], float] = time.monotonic, max_tickets: int = 100_000
    ) -> None:
        self._tickets: dict[str, tuple[Session, float]] = {}
        self._issued: deque[tuple[float, str]] = deque()
        self._monotonic = monotonic
        self._max = max_tickets

    def __len__(self) -> int:
        return len(self._tickets)

    async def issue(self, session: Session, ttl_seconds: int) -> str:
        now = self._monotonic()
        self._drop_expired(now)
        ticket = secrets.token_urlsafe(32)
        self._tickets[ticket] = (session, now + ttl_seconds)
        self._issued.append((now + ttl_seconds, ticket))
        while len(self._issued) > self._max:
            self._tickets.pop(self._issued.popleft()[1], None)
        return ticket

    async def consume(self, ticket: str) -> Session | None:
        now = self._monotonic()
        self._drop_expired(now)
        entry = self._tickets.pop(ticket, None)
        if entry is None or entry[1] <= now:
            return None
        return entry[0]

    def _drop_expired(self, now: float) -> None:
        while self._issued and self._issued[0][0] <= now:
            self._tickets.pop(self._issued.popleft()[1], None)


class MemoryRateLimiter:
    """Token buckets per key for one process, in GCRA form: each key keeps one number,
    the moment its bucket will be full again. Keys live in a dict kept in least recently
    used order: each hit forgets up to two keys at the front whose bucket is full
    again, and past `max_keys` the least recently used one, so a hit is O(1) and memory
    stays bounded however many names and addresses come by."""

    def __init__(
        self, monotonic: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self._full_at: OrderedDict[str, float] = OrderedDict()
        self._monotonic = monotonic
        self._max = max_keys

    def __len__(self) -> int:
        return len(self._full_at)

    async def hit(self, key: str, limit: int, window_seconds: float) -> int | None:
        now = self._monotonic()
        self._forget_full(now)
        interval = window_seconds / limit
        full_at = max(self._full_at.get(key, now), now)
        wait = full_at + interval - window_seconds - now
        if wait > _EPSILON:
            self._full_at.move_to_end(key)  # in use: a flood of new keys must not evict it
            return max(1, math.ceil(wait - _EPSILON))
        self._full_at[key] = full_at + interval
        self._full_at.move_to_end(key)
        if len(self._full_at) > self._max:
            self._full_at.popitem(last=False)
        return None

    def _forget_full(self, now: float) -> None:
        for _ in range(2):
            oldest = next(iter(self._full_at.items()), None)
            if oldest is None or oldest[1] > now:
                return
            del self._full_at[oldest[0]]


# Float slack, so that (say) the 7th of 7 attempts per 300 s is never refused by rounding.
_EPSILON = 1e-6


class MemoryPresence:
    """Who is connected to this one process. Nothing outlives the process, so leases
    never run out: `renew` and `expired` have nothing to do."""

    def __init__(self) -> None:
        self._claimed: dict[str, set[str]] = defaultdict(set)
        self._live: dict[str, set[str]] = defaultdict(set)

    async def claim(self, user_id: str, connection_id: str, limit: int) -> bool:
        # No await between the count and the claim: concurrent handshakes cannot all pass.
        mine = self._claimed[user_id]
        if connection_id not in mine and len(mine) >= limit:
            if not mine:
                del self._claimed[user_id]
            return False
        mine.add(connection_id)
        return True

    async def connected(self, user_id: str, connection_id: str) -> bool:
        self._claimed[user_id].add(connection_id)
        live = self._live[user_id]
        live.add(connection_id)
        return len(live) == 1

    async def disconnected(self, user_id: str, connection_id: str) -> bool:
        claimed = self._claimed.get(user_id)
        if claimed is not None:
            claimed.discard(connection_id)
            if not claimed:
                del self._claimed[user_id]
        live = self._live.get(user_id)
        if not live or connection_id not in live:
            return False
        live.discard(connection_id)
        if not live:
            del self._live[user_id]
            return True
        return False

    async def online(self, user_ids: Sequence[str]) -> set[str]:
        return {u for u in user_ids if self._live.get(u)}

    async def renew(self, connections: Collection[tuple[str, str]]) -> None:
        return None

    async def expired(self) -> list[str]:
        return []


class RecordingPublisher:
    """An `EventPublisher` that keeps what it was given: the fan-out for unit tests
    and for processes with no live connections (CLI, batch jobs)."""

    def __init__(self) -> None:
        self.deliveries: list[Any] = []

    def publish(self, deliveries: Sequence[Any]) -> Awaitable[None]:
        self.deliveries.extend(deliveries)
        return DONE


class ConsoleCodeSender:
    """Prints confirmation and password reset codes: the development stand-in for a
    mail sender."""

    async def send(
        self, email: str, username: str, code: str, *, purpose: CodePurpose = "confirmation"
    ) -> None:
        what = "password reset" if purpose == "password_reset" else "confirmation"
        # Flushed: on a pipe or file stdout is block-buffered and the code would wait.
        line = f"[hubbub] {what} code for {username} <{email}>: {code}"
        await asyncio.to_thread(print, line, flush=True)
