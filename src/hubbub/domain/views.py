"""The public JSON shapes of domain objects (camelCase, ISO-8601 UTC times).

Every transport and the event log use these, so a message looks the same in a REST
response, a WebSocket event and a /api/sync entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from hubbub.domain.models import Conversation, Membership, Message, Reaction, User
from hubbub.domain.rules import REACTION_EMOJI

# How much of a quoted message's body a reply shows (code points; the web app cuts the
# same when it updates a quote from the original's message.updated).
REPLY_EXCERPT_CHARS = 200

JsonObject = dict[str, object]


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with millisecond precision and a `Z` suffix."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def user_view(user: User, *, with_email: bool = False) -> JsonObject:
    view: JsonObject = {
        "id": user.id,
        "username": user.username,
        "displayName": user.display_name,
        "createdAt": iso(user.created_at),
    }
    if with_email:
        view["email"] = user.email
    return view


def message_view(
    message: Message, quoted: Message | None = None, reactions: Iterable[Reaction] = ()
) -> JsonObject:
    """A message with the message it replies to (`quoted`, as it is now) and its
    reactions. A deleted message shows neither, nor any text."""
    return {
        "id": message.id,
        "conversationId": message.conversation_id,
        "seq": message.seq,
        "senderId": message.sender_id,
        "body": "" if message.deleted else message.body,
        "clientMessageId": message.client_message_id,
        "createdAt": iso(message.created_at),
        "editedAt": iso(message.edited_at) if message.edited_at else None,
        "deleted": message.deleted,
        "replyTo": None if message.deleted else reply_view(message.reply_to_id, quoted),
        "reactions": [] if message.deleted else reactions_view(reactions),
    }


def reply_view(reply_to_id: str | None, quoted: Message | None) -> JsonObject | None:
    """The quote of a reply: the original's sender and the start of its body as it is
    now; `deleted` (and no text) once the original is deleted or gone."""
    if reply_to_id is None:
        return None
    gone = quoted is None or quoted.deleted
    return {
        "id": reply_to_id,
        "senderId": quoted.sender_id if quoted else None,
        "excerpt": "" if gone or quoted is None else quoted.body[:REPLY_EXCERPT_CHARS],
        "deleted": gone,
    }


def reactions_view(reactions: Iterable[Reaction]) -> list[JsonObject]:
    """Reactions per emoji, in the order of the fixed set, each with its count and who
    reacted (in the order given: the stores give them oldest first)."""
    by_emoji: dict[str, list[str]] = {}
    for reaction in reactions:
        by_emoji.setdefault(reaction.emoji, []).append(reaction.user_id)
    return [
        {"emoji": emoji, "count": len(by_emoji[emoji]), "userIds": by_emoji[emoji]}
        for emoji in REACTION_EMOJI
        if emoji in by_emoji
    ]


def conversation_view(
    conversation: Conversation,
    members: Iterable[tuple[Membership, User]],
    last_message: JsonObject | None,
    viewer: Membership | None,
) -> JsonObject:
    """A conversation as `viewer` sees it; without a viewer (events) the per-user
    fields are derived by the client from `memberReadSeqs`."""
    pairs = list(members)
    read_seqs: Mapping[str, int] = {m.user_id: m.read_seq for m, _ in pairs}
    read_seq = viewer.read_seq if viewer else 0
    return {
        "id": conversation.id,
        "kind": conversation.kind.value,
        "title": conversation.title,
        "members": [user_view(user) for _, user in pairs],
        "ownerId": next((m.user_id for m, _ in pairs if m.role == "owner"), None),
        "createdBy": conversation.created_by,
        "createdAt": iso(conversation.created_at),
        "updatedAt": iso(conversation.updated_at),
        "lastMessage": last_message,
        "lastSeq": conversation.last_seq,
        "lastEventSeq": conversation.last_event_seq,
        "unreadCount": max(conversation.last_seq - read_seq, 0) if viewer else 0,
        "readSeq": read_seq,
        "memberReadSeqs": dict(read_seqs),
    }


def as_seen_by(shared: JsonObject, viewer_id: str) -> JsonObject:
    """The shared view of a conversation (as sent in events) with the viewer's own
    `readSeq` and `unreadCount` filled in from `memberReadSeqs`."""
    reads = shared["memberReadSeqs"]
    last_seq = shared["lastSeq"]
    assert isinstance(reads, dict) and isinstance(last_seq, int)
    read_seq = int(reads.get(viewer_id, 0))
    return {**shared, "readSeq": read_seq, "unreadCount": max(last_seq - read_seq, 0)}
