"""The public JSON shapes of domain objects (camelCase, ISO-8601 UTC times).

Every transport and the event log use these, so a message looks the same in a REST
response, a WebSocket event and a /api/sync entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from hubbub.domain.models import (
    MUTED_FOREVER,
    Attachment,
    Conversation,
    Membership,
    Message,
    Reaction,
    User,
)
from hubbub.domain.rules import REACTION_EMOJI

# How much of a quoted message's body a reply shows (code points; the web app cuts the
# same when it updates a quote from the original's message.updated).
REPLY_EXCERPT_CHARS = 200

JsonObject = dict[str, object]


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with millisecond precision and a `Z` suffix."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def user_view(user: User, *, with_email: bool = False, as_contact: bool = False) -> JsonObject:
    """The public profile; `as_contact` for a viewer who shares a conversation with the
    user (or is the user), who alone may see when they were last online: anyone else
    gets no `lastSeenAt` key at all."""
    view: JsonObject = {
        "id": user.id,
        "username": user.username,
        "displayName": user.display_name,
        "createdAt": iso(user.created_at),
        # Served without a token (an <img> sends none); the id is random, 128 bits.
        "avatarUrl": f"/api/avatars/{user.avatar_id}" if user.avatar_id else None,
    }
    if with_email:
        view["email"] = user.email
    if as_contact:
        view["lastSeenAt"] = iso(user.last_seen_at) if user.last_seen_at else None
    return view


def attachment_view(attachment: Attachment) -> JsonObject:
    """What a member sees of an attachment: metadata only; the bytes are fetched from
    /api/conversations/{conversationId}/attachments/{id} (or a link it hands out)."""
    return {
        "id": attachment.id,
        "conversationId": attachment.conversation_id,
        "uploaderId": attachment.uploader_id,
        "fileName": attachment.file_name,
        "contentType": attachment.content_type,
        "size": attachment.size,
        "width": attachment.width,
        "height": attachment.height,
        "hasThumbnail": attachment.has_thumbnail,
        "createdAt": iso(attachment.created_at),
    }


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
        "attachments": [] if message.deleted else [attachment_view(a) for a in message.attachments],
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
    if not by_emoji:
        return []
    return [
        {"emoji": emoji, "count": len(by_emoji[emoji]), "userIds": by_emoji[emoji]}
        for emoji in REACTION_EMOJI
        if emoji in by_emoji
    ]


def mute_view(muted_until: datetime | None, now: datetime | None) -> JsonObject:
    """`muted` and `mutedUntil` (null while muted: until unmuted). A mute that has
    lapsed by `now` shows as none; without `now` the stored mute is shown as it is."""
    if muted_until is None or (now is not None and muted_until <= now):
        return {"muted": False, "mutedUntil": None}
    return {"muted": True, "mutedUntil": None if muted_until >= MUTED_FOREVER else iso(muted_until)}


def conversation_view(
    conversation: Conversation,
    members: Iterable[tuple[Membership, User]],
    last_message: JsonObject | None,
    viewer: Membership | None,
    now: datetime | None = None,
) -> JsonObject:
    """A conversation as `viewer` sees it (their mute as of `now`); without a viewer
    (events) the per-user fields are derived by the client from `memberReadSeqs`, and
    the mute is none: a whole view is only ever sent to members who have just joined."""
    pairs = list(members)
    read_seqs: Mapping[str, int] = {m.user_id: m.read_seq for m, _ in pairs}
    read_seq = viewer.read_seq if viewer else 0
    return {
        "id": conversation.id,
        "kind": conversation.kind.value,
        "title": conversation.title,
        # Only members see a conversation, and members are each other's contacts.
        "members": [user_view(user, as_contact=True) for _, user in pairs],
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
        **mute_view(viewer.muted_until if viewer else None, now),
    }


def as_seen_by(shared: JsonObject, viewer_id: str) -> JsonObject:
    """The shared view of a conversation (as sent in events) with the viewer's own
    `readSeq` and `unreadCount` filled in from `memberReadSeqs`."""
    reads = shared["memberReadSeqs"]
    last_seq = shared["lastSeq"]
    assert isinstance(reads, dict) and isinstance(last_seq, int)
    read_seq = int(reads.get(viewer_id, 0))
    return {**shared, "readSeq": read_seq, "unreadCount": max(last_seq - read_seq, 0)}
