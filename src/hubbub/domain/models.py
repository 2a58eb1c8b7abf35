"""Entities of the chat domain.

Frozen dataclasses: a change is a new value written through a store transaction,
so nothing is half-updated in memory when a transaction rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class User:
    """`last_seen_at`: when the user's last connection closed (None: never, or not since
    this was recorded); shown to their contacts only. `avatar_id`: the random id of
    their profile picture (None: none), served at /api/avatars/<id>."""

    id: str
    username: str
    email: str
    display_name: str
    created_at: datetime
    confirmed: bool = True
    last_seen_at: datetime | None = None
    avatar_id: str | None = None


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


# `Membership.muted_until` of a mute with no end: a moment no clock reaches, so "is it
# muted now?" is one comparison for every mute, and every store keeps it as a plain time.
MUTED_FOREVER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Membership:
    """A user's place in a conversation; `read_seq` only moves forward.
    `joined_event_seq` is the log position of the event that brought them in.
    `muted_until` is the member's own mute (None: not muted; `MUTED_FOREVER`: until
    they unmute): theirs alone, never shown to the other members."""

    conversation_id: str
    user_id: str
    role: Role
    joined_at: datetime
    read_seq: int = 0
    joined_event_seq: int = 0
    muted_until: datetime | None = None

    def muted_at(self, now: datetime) -> bool:
        """Whether the mute still holds at `now` (a lapsed one counts as none)."""
        return self.muted_until is not None and self.muted_until > now


@dataclass(frozen=True, slots=True)
class Attachment:
    """An uploaded file or image in a conversation. It is unsent (`message_id` None)
    until its uploader sends a message with it, once; its bytes (and a thumbnail for
    images) live in the `AttachmentStore` under `storage_key`."""

    id: str
    conversation_id: str
    uploader_id: str
    file_name: str
    content_type: str
    size: int
    created_at: datetime
    width: int | None = None
    height: int | None = None
    has_thumbnail: bool = False
    message_id: str | None = None

    @property
    def storage_key(self) -> str:
        return f"{self.conversation_id}/{self.id}"

    @property
    def thumbnail_key(self) -> str:
        return f"{self.conversation_id}/{self.id}.thumb"

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


@dataclass(frozen=True, slots=True)
class Message:
    """`attachments` is what was sent with it (metadata only), kept on the message
    itself so every view of it (history, events, replays) carries them."""

    id: str
    conversation_id: str
    seq: int
    sender_id: str
    body: str
    client_message_id: str
    created_at: datetime
    edited_at: datetime | None = None
    deleted: bool = False
    attachments: tuple[Attachment, ...] = ()
    # The message this one quotes (same conversation); its text is never copied here,
    # so the quote shows the original as it is now: edited, or deleted.
    reply_to_id: str | None = None

    def deleted_at(self, at: datetime) -> Message:
        """What is left of it once deleted at `at`: no body, no attachments."""
        return replace(self, body="", deleted=True, edited_at=at, attachments=())


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
    muted_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Block:
    """`blocker_id` blocked `blocked_id` at `created_at`: kept per blocker, one row per
    pair and direction, so each side's block is lifted only by that side."""

    blocker_id: str
    blocked_id: str
    created_at: datetime


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


def direct_pair(key: str) -> tuple[str, str]:
    """The two users of a direct conversation's key (`direct_key` undone)."""
    first, _, second = key.partition(":")
    return first, second
