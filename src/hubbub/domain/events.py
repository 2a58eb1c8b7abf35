"""Event types a client can receive, and which of them are kept for /api/sync.

Durable events change stored state: they are written to each recipient's stream in
the same transaction as the change, and published only after it commits. Ephemeral
events (typing, presence) are published and never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hubbub.domain.views import JsonObject


class EventType(StrEnum):
    MESSAGE_CREATED = "message.created"
    MESSAGE_UPDATED = "message.updated"
    MESSAGE_DELETED = "message.deleted"
    READ = "read"
    CONVERSATION_CREATED = "conversation.created"
    CONVERSATION_UPDATED = "conversation.updated"
    CONVERSATION_DELETED = "conversation.deleted"
    MEMBER_ADDED = "member.added"
    MEMBER_REMOVED = "member.removed"
    TYPING = "typing"
    PRESENCE = "presence"


@dataclass(frozen=True, slots=True)
class Origin:
    """The connection (and its request) that asked for a change: it is answered with
    an ack in the event's place, in the same order as the events around it."""

    connection_id: str
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for a set of users.

    `frame` is the complete client frame (with `cursor` for durable events); the
    publisher encodes it once and sends it to every open connection of every
    recipient; the `origin` connection gets an ack built from the frame instead.
    """

    recipients: frozenset[str]
    frame: JsonObject
    origin: Origin | None = None
