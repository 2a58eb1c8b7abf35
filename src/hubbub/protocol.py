"""The WebSocket protocol, Sans-I/O: frames in, commands out; events in, frames out.

Pure functions used by every transport (the ASGI endpoint, and API Gateway's Lambda
handlers), so the protocol is defined and tested once. See docs/websocket.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from hubbub.domain.attachments import MAX_ATTACHMENTS_PER_MESSAGE
from hubbub.domain.errors import DomainError, PayloadTooLarge, ValidationFailed
from hubbub.domain.views import JsonObject

MAX_FRAME_BYTES = 16 * 1024
MAX_REQUEST_ID_CHARS = 64
MAX_ID_CHARS = 64

CLOSE_BAD_TICKET = 4401
# After the handshake: the session was signed out (or revoked); sign in again.
CLOSE_SESSION_ENDED = 4401
CLOSE_ORIGIN_REFUSED = 4403
CLOSE_TOO_SLOW = 4008
CLOSE_TOO_MANY_CONNECTIONS = 4429
# The handshake needs a service that is down (Redis, scaled out): reconnect later.
CLOSE_TRY_AGAIN = 1013


@dataclass(frozen=True, slots=True)
class SendMessage:
    conversation_id: str
    client_message_id: str
    body: str
    attachment_ids: tuple[str, ...] = ()
    reply_to_id: str | None = None


@dataclass(frozen=True, slots=True)
class EditMessage:
    conversation_id: str
    message_id: str
    body: str


@dataclass(frozen=True, slots=True)
class DeleteMessage:
    conversation_id: str
    message_id: str


@dataclass(frozen=True, slots=True)
class Typing:
    conversation_id: str
    is_typing: bool


@dataclass(frozen=True, slots=True)
class MarkRead:
    conversation_id: str
    seq: int


@dataclass(frozen=True, slots=True)
class Ping:
    pass


Command = SendMessage | EditMessage | DeleteMessage | Typing | MarkRead | Ping


class FrameRejected(Exception):
    """A client frame that cannot be executed; answered with an error frame."""

    def __init__(self, request_id: str | None, error: DomainError) -> None:
        super().__init__(error.message)
        self.request_id = request_id
        self.error = error


def parse(data: str | bytes) -> tuple[str | None, Command]:
    """Decodes and validates one client frame into (requestId, command)."""
    if isinstance(data, bytes):
        raise FrameRejected(None, ValidationFailed("Frames must be JSON text, not binary."))
    if len(data) > MAX_FRAME_BYTES // 4 and len(data.encode()) > MAX_FRAME_BYTES:
        raise FrameRejected(
            None, PayloadTooLarge(f"Frames are limited to {MAX_FRAME_BYTES} bytes.")
        )
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise FrameRejected(None, ValidationFailed("Frame is not valid JSON.")) from None
    if not isinstance(raw, dict):
        raise FrameRejected(None, ValidationFailed("Frame must be a JSON object."))
    request_id = raw.get("requestId")
    if request_id is not None and (
        not isinstance(request_id, str) or len(request_id) > MAX_REQUEST_ID_CHARS
    ):
        raise FrameRejected(None, ValidationFailed("requestId must be a string of ≤ 64 chars."))
    try:
        return request_id, _command(raw)
    except DomainError as error:
        raise FrameRejected(request_id, error) from None


def request_id_of(data: str | bytes) -> str | None:
    """The requestId of a frame that will not be run (e.g. throttled), so the client
    can still match the error to its request; None if the frame has no valid one."""
    if isinstance(data, bytes) or len(data.encode()) > MAX_FRAME_BYTES:
        return None
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    request_id = raw.get("requestId") if isinstance(raw, dict) else None
    if isinstance(request_id, str) and len(request_id) <= MAX_REQUEST_ID_CHARS:
        return request_id
    return None


def _command(raw: dict[str, Any]) -> Command:
    action = raw.get("action")
    if action == "sendMessage":
        reply_to = _id(raw, "replyToId") if raw.get("replyToId") is not None else None
        return SendMessage(
            _id(raw, "conversationId"),
            _id(raw, "clientMessageId"),
            _text(raw),
            _ids(raw, "attachmentIds"),
            reply_to,
        )
    if action == "editMessage":
        return EditMessage(_id(raw, "conversationId"), _id(raw, "messageId"), _text(raw))
    if action == "deleteMessage":
        return DeleteMessage(_id(raw, "conversationId"), _id(raw, "messageId"))
    if action == "typing":
        is_typing = raw.get("isTyping", True)
        if not isinstance(is_typing, bool):
            raise ValidationFailed("isTyping must be true or false.")
        return Typing(_id(raw, "conversationId"), is_typing)
    if action == "markRead":
        seq = raw.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**53:
            raise ValidationFailed("seq must be a non-negative integer.")
        return MarkRead(_id(raw, "conversationId"), seq)
    if action == "ping":
        return Ping()
    raise ValidationFailed(f"Unknown action: {str(action)[:40]!r}.")


def _id(raw: dict[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID_CHARS:
        raise ValidationFailed(f"{name} must be a string of 1-{MAX_ID_CHARS} characters.")
    return value


def _ids(raw: dict[str, Any], name: str) -> tuple[str, ...]:
    """An optional list of ids (at most the attachments a message may carry)."""
    value = raw.get(name, [])
    if not isinstance(value, list) or len(value) > MAX_ATTACHMENTS_PER_MESSAGE:
        raise ValidationFailed(
            f"{name} must be a list of at most {MAX_ATTACHMENTS_PER_MESSAGE} ids."
        )
    for item in value:
        if not isinstance(item, str) or not 1 <= len(item) <= MAX_ID_CHARS:
            raise ValidationFailed(f"{name} must hold strings of 1-{MAX_ID_CHARS} characters.")
    return tuple(value)


def _text(raw: dict[str, Any]) -> str:
    value = raw.get("body")
    if not isinstance(value, str):
        raise ValidationFailed("body must be a string.")
    return value


def encode(frame: JsonObject) -> str:
    return orjson.dumps(frame).decode()


def error_frame(request_id: str | None, error: DomainError) -> JsonObject:
    return {
        "type": "error",
        "requestId": request_id,
        "error": {"code": error.code, "message": error.message},
    }


def pong(request_id: str | None) -> JsonObject:
    return {"type": "pong", "requestId": request_id}


def ack(request_id: str | None, **fields: object) -> JsonObject:
    """The ack of a request that changed nothing (a retried send, a read marker that
    was already there): no event, so no cursor."""
    return {"type": "ack", "requestId": request_id, **fields, "cursor": None}


def ack_for_event(event: JsonObject, request_id: str | None) -> JsonObject:
    """The ack the requesting connection receives in place of a durable event, with
    the event's id and position."""
    fields: dict[str, object] = {}
    if "message" in event:
        fields["message"] = event["message"]
    if event.get("type") == "read":
        fields["readSeq"] = event["seq"]
    for position in ("conversationId", "eventSeq", "receiptSeq"):
        if position in event:
            fields[position] = event[position]
    return {"type": "ack", "requestId": request_id, **fields, "cursor": event.get("cursor")}
