"""Entities of the chat domain.

Frozen dataclasses: a change is a new value written through a store transaction,
so nothing is half-updated in memory when a transaction rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    """A direct chat or a group; `last_seq` is the seq of its newest message (0 if none)."""

    id: str
    kind: ConversationKind
    title: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    last_seq: int = 0
    direct_key: str | None = None


@dataclass(frozen=True, slots=True)
class Membership:
    """A user's place in a conversation; `read_seq` only moves forward."""

    conversation_id: str
    user_id: str
    role: Role
    joined_at: datetime
    read_seq: int = 0


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


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One entry of a user's event stream; `cursor` grows strictly in commit order."""

    cursor: int
    type: str
    payload: dict[str, object]


def direct_key(user_a: str, user_b: str) -> str:
    """The same pair of users always maps to the same key, in either order."""
    first, second = sorted((user_a, user_b))
    return f"{first}:{second}"
