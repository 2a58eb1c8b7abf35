"""What a WebSocket frame does, for any transport: the ASGI endpoint here and API
Gateway's Lambda handlers run every client frame through `handle`."""

from __future__ import annotations

import logging

from hubbub import protocol
from hubbub.bootstrap import Platform
from hubbub.domain.errors import DomainError
from hubbub.domain.events import Origin
from hubbub.domain.views import JsonObject

log = logging.getLogger("hubbub.ws")


async def handle(
    platform: Platform, user_id: str, connection_id: str, data: str | bytes
) -> JsonObject | None:
    """Runs one client frame; returns the direct reply, or None when there is none or
    the ack travels with the published events (so it keeps its place among them)."""
    request_id: str | None = None
    try:
        request_id, command = protocol.parse(data)
        return await _execute(platform, user_id, Origin(connection_id, request_id), command)
    except protocol.FrameRejected as rejected:
        return protocol.error_frame(rejected.request_id, rejected.error)
    except DomainError as error:
        return protocol.error_frame(request_id, error)
    except Exception:
        log.exception("unhandled error for a WebSocket frame")
        failure = DomainError("Something went wrong on our side.")
        return protocol.error_frame(request_id, failure)


async def _execute(
    platform: Platform, user_id: str, origin: Origin, command: protocol.Command
) -> JsonObject | None:
    request_id = origin.request_id
    match command:
        case protocol.SendMessage(
            conversation_id, client_message_id, body, attachment_ids, reply_to_id
        ):
            change = await platform.messages.send(
                user_id,
                conversation_id,
                client_message_id,
                body,
                origin,
                attachment_ids,
                reply_to_id,
            )
        case protocol.EditMessage(conversation_id, message_id, body):
            change = await platform.messages.edit(
                user_id, conversation_id, message_id, body, origin
            )
        case protocol.DeleteMessage(conversation_id, message_id):
            change = await platform.messages.delete(user_id, conversation_id, message_id, origin)
        case protocol.MarkRead(conversation_id, seq):
            read_seq, receipt_seq = await platform.conversations.mark_read(
                user_id, conversation_id, seq, origin
            )
            return protocol.ack(request_id, readSeq=read_seq) if receipt_seq is None else None
        case protocol.Typing(conversation_id, is_typing):
            await platform.realtime.typing(user_id, conversation_id, is_typing)
            return None
        case protocol.Ping():
            return protocol.pong(request_id)
    if change.event_seq is None:
        return protocol.ack(request_id, message=change.message)
    return None
