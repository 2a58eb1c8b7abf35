"""Entities of the chat domain.

Frozen dataclasses: a change is a new value written through a store transaction,
so nothing is half-updated in memory when a transaction rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    email: str
    display_name: str
    created_at: datetime
    confirmed: bool = True


class ConversationKind(StrEnum):
    DIRECT = "direct"
    GROUP = "group"


class Role(StrEnum):
    OWNER = "owner"
    MEMBER = "member"


@dataclass(frozen=True, slots=True)
class Conversation:
    """A direct chat or a group; `last_seq` is the seq of its newest message (0 if none)
    and `last_event_seq` the position of its newest entry in the conversation log."""

    id: str
    kind: ConversationKind
    title: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    last_seq: int = 0
    direct_key: str | None = None
    last_event_seq: int = 0


@dataclass(frozen=True, slots=True)
class Membership:
    """A user's place in a conversation; `read_seq` only moves forward.
    `joined_event_seq` is the log position of the event that brought them in."""

    conversation_id: str
    user_id: str
    role: Role
    joined_at: datetime
    read_seq: int = 0
    joined_event_seq: int = 0


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    conversation_id: str
    seq: int
    sender_id: str
    body: str
    client_message_id: str
    created_at: datetime
    edited_at: datetime | None = None
    deleted: bool = False
    # The message this one quotes (same conversation); its text is never copied here,
    # so the quote shows the original as it is now: edited, or deleted.
    reply_to_id: str | None = None


@dataclass(frozen=True, slots=True)
class Reaction:
    """One user's emoji on one message; (message, user, emoji) is unique."""

    conversation_id: str
    message_id: str
    user_id: str
    emoji: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry of a conversation's log, at `event_seq` (1, 2, 3, ... with no gaps).

    It names what changed and refers to it; it never copies text: a message event
    names the message (`message_id`), a member event the member (`subject_id`), and
    `detail` holds only small facts (a role, the owner after a removal, which fields a
    rename changed). Replays show the message or the title as it is now, so deleted
    or edited-away text lives nowhere but the row it was removed from.
    """

    conversation_id: str
    type: str
    at: datetime
    event_seq: int = 0  # assigned by the log when the entry is appended
    actor_id: str | None = None
    subject_id: str | None = None
    message_id: str | None = None
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SyncHead:
    """One of a user's conversations as a catch-up sees it: where the user joined,
    and how far its conversation log and its read receipts have come."""

    conversation_id: str
    joined_event_seq: int
    last_event_seq: int
    last_receipt_seq: int


@dataclass(frozen=True, slots=True)
class ReadMarker:
    """A member's read marker and the receipt position of its last move."""

    user_id: str
    read_seq: int
    receipt_seq: int


def direct_key(user_a: str, user_b: str) -> str:
    """The same pair of users always maps to the same key, in either order."""
    first, second = sorted((user_a, user_b))
    return f"{first}:{second}"
