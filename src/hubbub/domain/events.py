"""Event types a client can receive, and which of them are kept for /api/sync.

Durable events change stored state: each is an entry in its conversation's log (a
reference, never a copy of text) written in the same transaction as the change, and
published only after it commits, carrying its position: `conversationId` with
`eventSeq` (or `receiptSeq` for `read`). Its `cursor` is the event's stable id, the
same live and replayed, for dropping duplicates. Ephemeral events (typing, presence,
user.updated) are published and never stored.

A change to a conversation is told as what changed (a new title, who joined with their
profile and role, who left and who owns it now), so its cost grows with the members
who hear it, not with the size of the conversation times its members. Only someone who
has nothing yet (a new conversation, a newcomer) is sent the whole conversation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from hubbub.domain.models import Membership, User
from hubbub.domain.views import JsonObject, iso, mute_view, user_view


class EventType(StrEnum):
    MESSAGE_CREATED = "message.created"
    MESSAGE_UPDATED = "message.updated"
    MESSAGE_DELETED = "message.deleted"
    READ = "read"
    CONVERSATION_CREATED = "conversation.created"
    CONVERSATION_UPDATED = "conversation.updated"
    CONVERSATION_DELETED = "conversation.deleted"
    CONVERSATION_MUTED = "conversation.muted"
    MEMBER_ADDED = "member.added"
    MEMBER_REMOVED = "member.removed"
    REACTION_ADDED = "reaction.added"
    REACTION_REMOVED = "reaction.removed"
    TYPING = "typing"
    PRESENCE = "presence"
    USER_UPDATED = "user.updated"


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


def event_cursor(conversation_id: str, event_seq: int) -> str:
    """The id of the conversation log's entry at `event_seq`."""
    return f"{conversation_id}:e{event_seq}"


def receipt_cursor(conversation_id: str, receipt_seq: int) -> str:
    return f"{conversation_id}:r{receipt_seq}"


def at_position(payload: JsonObject, conversation_id: str, event_seq: int) -> JsonObject:
    """The frame of a log entry: its payload with its position and id. A whole
    conversation inside it is shown as of that position."""
    frame: JsonObject = {
        **payload,
        "conversationId": conversation_id,
        "eventSeq": event_seq,
        "cursor": event_cursor(conversation_id, event_seq),
    }
    conversation = payload.get("conversation")
    if isinstance(conversation, dict):
        frame["conversation"] = {**conversation, "lastEventSeq": event_seq}
    return frame


def read_receipt(conversation_id: str, user_id: str, seq: int, receipt_seq: int) -> JsonObject:
    return {
        "type": EventType.READ.value,
        "conversationId": conversation_id,
        "userId": user_id,
        "seq": seq,
        "receiptSeq": receipt_seq,
        "cursor": receipt_cursor(conversation_id, receipt_seq),
    }


def muted(conversation_id: str, muted_until: datetime | None, now: datetime) -> JsonObject:
    """`conversation.muted`: the user's own mute changed (set, changed or cleared), for
    their other devices only. Ephemeral: a device that misses it finds the mutes in its
    next `hello` (and in the conversation views it loads)."""
    return {
        "type": EventType.CONVERSATION_MUTED.value,
        "conversationId": conversation_id,
        **mute_view(muted_until, now),
    }


def renamed(conversation_id: str, by: str, title: str, at: datetime) -> JsonObject:
    """`conversation.updated`: `changes` holds the conversation fields that changed,
    with their new values, for the client to merge into its copy."""
    return {
        "type": EventType.CONVERSATION_UPDATED.value,
        "conversationId": conversation_id,
        "userId": by,
        "changes": {"title": title, "updatedAt": iso(at)},
    }


def block_changed(conversation_id: str, by: str, state: JsonObject) -> JsonObject:
    """`conversation.updated` of a direct chat after one of its pair blocked or
    unblocked the other: `changes` holds the recipient's own `blocked` and `canSend`,
    as they are now (each member of the pair gets their own)."""
    return {
        "type": EventType.CONVERSATION_UPDATED.value,
        "conversationId": conversation_id,
        "userId": by,
        "changes": state,
    }


# The `detail` of the log entry of a block or an unblock (a rename's names the title).
BLOCK_FIELDS = ["blocked", "canSend"]


def member_added(joined: Membership, user: User, at: datetime, by: str | None = None) -> JsonObject:
    """`member.added` as the members who were there see it: the newcomer's public
    profile, role and read marker, and who added them (`actorId`, for the timeline's
    notice). The newcomer's own copy adds `conversation`."""
    return {
        "type": EventType.MEMBER_ADDED.value,
        "conversationId": joined.conversation_id,
        "userId": joined.user_id,
        "actorId": by,
        "member": user_view(user, as_contact=True),
        "role": joined.role.value,
        "readSeq": joined.read_seq,
        "updatedAt": iso(at),
    }


def member_removed(
    conversation_id: str,
    user_id: str,
    owner_id: str | None,
    at: datetime,
    by: str | None = None,
) -> JsonObject:
    """`member.removed`, with the owner after the removal (it moves when the owner
    leaves; None when nobody is left and the group is gone) and who removed them
    (`actorId`: themself when they left)."""
    return {
        "type": EventType.MEMBER_REMOVED.value,
        "conversationId": conversation_id,
        "userId": user_id,
        "actorId": by,
        "ownerId": owner_id,
        "updatedAt": iso(at),
    }


def user_updated(user: User, *, as_contact: bool = True) -> JsonObject:
    """`user.updated`: a user's public profile changed (their display name); sent live to
    their contacts and their own connections, never stored in a conversation log (it
    belongs to no conversation). A client that was away learns the new profile from
    what it loads again on reconnecting (every conversation view carries its members'
    current profiles). Not `as_contact`: without "last seen" (for a blocked pair)."""
    view = user_view(user, as_contact=as_contact)
    return {"type": EventType.USER_UPDATED.value, "user": view}


def presence(user_id: str, *, online: bool, last_seen_at: datetime | None = None) -> JsonObject:
    """`presence`: the user's first connection opened, or their last one closed; the
    offline one says when (`lastSeenAt`), for their contacts' "last seen"."""
    frame: JsonObject = {"type": EventType.PRESENCE.value, "userId": user_id, "online": online}
    if not online:
        frame["lastSeenAt"] = iso(last_seen_at) if last_seen_at else None
    return frame


def reaction_changed(
    added: bool,
    conversation_id: str,
    message_id: str,
    user_id: str,
    emoji: str,
    reactions: list[JsonObject],
) -> JsonObject:
    """`reaction.added` / `reaction.removed`: who toggled which emoji on which message,
    with the message's `reactions` as they are after it (or, replayed, as they are now),
    so a client sets them rather than counting, and a duplicate or a missed event
    cannot put its counts wrong."""
    kind = EventType.REACTION_ADDED if added else EventType.REACTION_REMOVED
    return {
        "type": kind.value,
        "conversationId": conversation_id,
        "messageId": message_id,
        "userId": user_id,
        "emoji": emoji,
        "reactions": reactions,
    }
