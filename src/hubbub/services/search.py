"""Message search: full text over the conversations the caller is in now."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from hubbub.domain import rules, search
from hubbub.domain.errors import NotFound, ValidationFailed
from hubbub.domain.models import Message
from hubbub.domain.views import JsonObject, user_view
from hubbub.ports import Store, Transaction
from hubbub.services.access import shown

DEFAULT_LIMIT = 20
MAX_LIMIT = 50


class SearchService:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def messages(
        self,
        caller_id: str,
        query: str,
        conversation_id: str | None,
        cursor: str | None,
        limit: int | None,
    ) -> tuple[list[JsonObject], str | None]:
        """Matches newest first, each with its conversation, sender and a snippet, and
        the cursor of the next page (None at the end).

        Only conversations the caller is a member of at the time of the search count:
        one they left or were removed from shows nothing, not even what they saw while
        in it (as /api/sync replays nothing of it), and naming it in `conversationId`
        is a 404 like every other request about it."""
        terms = search.terms(query)
        count = rules.page_limit(limit, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
        after = _decode(cursor) if cursor is not None else None
        if "\x00" in query:
            return [], None  # no message holds U+0000 (the words around it must not match)

        def work(tx: Transaction) -> tuple[list[JsonObject], str | None]:
            if conversation_id is not None and (
                tx.conversations.get(conversation_id) is None
                or tx.members.get(conversation_id, caller_id) is None
            ):
                raise NotFound("Conversation not found.")
            found = tx.messages.search(
                caller_id, terms, conversation_id=conversation_id, before=after, limit=count + 1
            )
            page = found[:count]
            conversations = {
                cid: tx.conversations.get(cid)
                for cid in dict.fromkeys(m.conversation_id for m in page)
            }
            senders = tx.users.get_many(list({m.sender_id for m in page}))
            results: list[JsonObject] = []
            for message in page:
                conversation = conversations[message.conversation_id]
                if conversation is None:  # deleted since the match was read: skip it
                    continue
                sender = senders.get(message.sender_id)
                results.append(
                    {
                        "conversation": {
                            "id": conversation.id,
                            "kind": conversation.kind.value,
                            "title": conversation.title,
                        },
                        "message": shown(tx, message),
                        "sender": user_view(sender) if sender else None,
                        "snippet": [
                            {"text": s.text, "match": s.match}
                            for s in search.snippet(message.body, terms)
                        ],
                    }
                )
            more = len(found) > count
            return results, _encode(page[-1]) if more and page else None

        return await self._store.read(work)


def _encode(message: Message) -> str:
    raw = f"{message.created_at.astimezone(UTC).isoformat()}|{message.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, message_id = raw.split("|", 1)
        position = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        if position.tzinfo is None:
            raise ValueError("naive")
        return position.astimezone(UTC), message_id
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError) as error:
        raise ValidationFailed("cursor is not valid.", details={"field": "cursor"}) from error
