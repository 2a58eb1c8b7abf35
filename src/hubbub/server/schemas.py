"""Request and response shapes of the REST API; the OpenAPI document is generated
from these. Responses are built by `hubbub.domain.views` and match these models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Api(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# Requests


class SignUpRequest(Api):
    username: str = Field(min_length=1, max_length=64)
    email: str = Field(min_length=3, max_length=254)
    # Longer than the rule's limit, so the rule's own message says what to do.
    password: str = Field(min_length=1, max_length=1024)
    display_name: str = Field(min_length=1, max_length=200)


class ConfirmRequest(Api):
    username: str = Field(min_length=1, max_length=254)
    code: str = Field(min_length=1, max_length=16)


class ResendCodeRequest(Api):
    username: str = Field(min_length=1, max_length=254)


class SignInRequest(Api):
    username: str = Field(min_length=1, max_length=254, description="Username or email.")
    password: str = Field(min_length=1, max_length=256)


# Room for Cognito's refresh tokens (encrypted JWTs of about 1.8 KB), not only ours.
REFRESH_TOKEN_MAX = 4096


class RefreshRequest(Api):
    refresh_token: str | None = Field(
        default=None,
        min_length=1,
        max_length=REFRESH_TOKEN_MAX,
        description="Required unless the request carries `X-Hubbub-Refresh: cookie` and the"
        " refresh cookie.",
    )


class SignOutRequest(Api):
    refresh_token: str | None = Field(default=None, max_length=REFRESH_TOKEN_MAX)
    everywhere: bool = False


class ForgotPasswordRequest(Api):
    username: str = Field(min_length=1, max_length=254, description="Username or email.")


class ResetPasswordRequest(Api):
    username: str = Field(min_length=1, max_length=254, description="Username or email.")
    code: str = Field(min_length=1, max_length=16, description="The code sent by forgot-password.")
    new_password: str = Field(min_length=1, max_length=1024)


class UpdateMeRequest(Api):
    display_name: str = Field(min_length=1, max_length=200)


class DirectRequest(Api):
    user_id: str = Field(min_length=1, max_length=64)


class GroupRequest(Api):
    title: str = Field(min_length=1, max_length=200)
    member_ids: list[str] = Field(max_length=256)


class RenameRequest(Api):
    title: str = Field(min_length=1, max_length=200)


class AddMemberRequest(Api):
    user_id: str = Field(min_length=1, max_length=64)


class ReadRequest(Api):
    seq: int = Field(ge=0, lt=2**53)


class MuteRequest(Api):
    until: datetime | None = Field(
        default=None,
        description="When the mute ends: an ISO-8601 time with an offset, in the future."
        " Null or absent: until unmuted.",
    )


class SendRequest(Api):
    client_message_id: str = Field(min_length=1, max_length=64)
    body: str = Field(max_length=64000, description="May be empty when attachmentIds has some.")
    attachment_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list,
        max_length=10,
        description="Uploads (POST .../attachments) of the sender's in this conversation,"
        " not sent yet: each is sent once.",
    )
    reply_to_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The message this one replies to: one of the same conversation that is"
        " not deleted (else 422 `validation_error` or 409 `conflict`, with"
        " `details.field` = `replyToId`).",
    )


class UploadStartRequest(Api):
    file_name: str = Field(min_length=1, max_length=1000)
    size: int = Field(ge=0, le=2**53, description="The file's bytes, as the client has it.")


class UploadCompleteRequest(Api):
    file_name: str = Field(min_length=1, max_length=1000)


class EditRequest(Api):
    body: str = Field(max_length=64000)


# Responses


class ErrorBody(Api):
    code: str = Field(description="Stable snake_case code, e.g. validation_error.")
    message: str
    details: dict[str, Any] | None = Field(
        default=None,
        description="More about the error, when there is more: `field` names the request"
        " field it is about (e.g. `username`, `email`, `password`, `newPassword`:"
        " a 409 at sign-up says which of username and email is taken); `retryAfter`"
        " (seconds) on `rate_limited`.",
    )


class ErrorResponse(Api):
    error: ErrorBody


class Profile(Api):
    id: str
    username: str
    display_name: str
    created_at: str
    avatar_url: str | None = Field(
        description=(
            "The profile picture, a 256x256 WebP served without a token at"
            " /api/avatars/{id} (unguessable id; a new picture gets a new URL); null: none."
        ),
    )


class User(Profile):
    last_seen_at: str | None = Field(
        default=None,
        description=(
            "When the user's last connection closed (null: not seen going offline yet)."
            " Present only for the user's contacts (anyone who shares a conversation with"
            " them); absent for everyone else."
        ),
    )


class Me(Profile):
    email: str


class Attachment(Api):
    id: str
    conversation_id: str
    uploader_id: str
    file_name: str
    content_type: str = Field(description="By the file's bytes: image/png, application/pdf...")
    size: int = Field(description="Bytes.")
    width: int | None = Field(description="Pixels, for images.")
    height: int | None
    has_thumbnail: bool
    created_at: str


class AttachmentResponse(Api):
    attachment: Attachment


class UploadTarget(Api):
    id: str = Field(description="Completes the upload: POST .../attachments/uploads/{id}.")
    url: str = Field(
        description="Where to send the bytes, without the access token: a path of this"
        " server's (`method` PUT, the raw file as the body) or an S3 bucket (`method` POST,"
        " multipart/form-data with `fields` in order and the file last, named `file`)."
    )
    method: Literal["PUT", "POST"]
    fields: dict[str, str]
    expires_at: str = Field(description="When the URL stops taking bytes.")


class UploadResponse(Api):
    upload: UploadTarget


class AttachmentLinks(Api):
    url: str = Field(description="The file, for an <img src> or a download link.")
    thumbnail_url: str | None
    expires_at: str = Field(description="When the URLs stop working (about a minute).")


class ReplyTo(Api):
    id: str
    sender_id: str | None
    excerpt: str = Field(
        description="The start (200 characters) of the quoted message's body as it is now;"
        " empty once it is deleted."
    )
    deleted: bool


class ReactionCount(Api):
    emoji: Literal["👍", "❤️", "😂", "😮", "😢", "🙏"]
    count: int
    user_ids: list[str] = Field(description="Who reacted, oldest first.")


class Message(Api):
    id: str
    conversation_id: str
    seq: int
    sender_id: str
    body: str
    client_message_id: str
    created_at: str
    edited_at: str | None
    deleted: bool
    attachments: list[Attachment] = Field(
        default_factory=list,
        description="Files sent with it, metadata only (none once it is deleted). Always"
        " sent by this server; optional for clients of servers before attachments.",
    )
    reply_to: ReplyTo | None = Field(
        description="The message this one replies to, as it is now (null if it is no reply,"
        " and on a deleted message)."
    )
    reactions: list[ReactionCount] = Field(
        description="Reactions per emoji, in the order of the fixed set (empty on a deleted"
        " message)."
    )


class Conversation(Api):
    id: str
    kind: Literal["direct", "group"]
    title: str
    members: list[User]
    owner_id: str | None
    created_by: str
    created_at: str
    updated_at: str
    last_message: Message | None
    last_seq: int
    last_event_seq: int = Field(
        description="The newest position in the conversation's event log (`eventSeq`) this"
        " view includes."
    )
    unread_count: int
    read_seq: int
    member_read_seqs: dict[str, int]
    muted: bool = Field(
        description="Whether the caller has muted it (their own setting; nobody else sees"
        " it). Always false in whole views sent by events: they reach new members only."
    )
    muted_until: str | None = Field(
        description="When the caller's mute ends; null while muted means until unmuted."
    )
    blocked: bool = Field(
        description="Direct chats: whether the caller blocked the other member (the app shows"
        " 'You blocked them' with Unblock instead of the composer). Always false in groups."
    )
    can_send: bool = Field(
        description="Whether messages can be sent here now: false in a direct chat where either"
        " member blocked the other (sends get 403 `blocked`). Always true in groups."
    )


class SignUpResponse(Api):
    user: Me
    confirmation_required: bool


class MeResponse(Api):
    user: Me


class UserResponse(Api):
    user: User


class UsersResponse(Api):
    users: list[User]


class BlockResponse(Api):
    user: User = Field(description="The user the caller has blocked.")
    blocked: Literal[True] = True


class BlockedUser(Api):
    user: User
    blocked_at: str


class BlockedUsersResponse(Api):
    blocked: list[BlockedUser] = Field(
        description="Everyone the caller blocked, most recently blocked first."
    )


class TokensResponse(Api):
    access_token: str
    refresh_token: str | None = Field(
        default=None,
        description="The new refresh token; absent when the request carried"
        " `X-Hubbub-Refresh: cookie` (it is then only in the HttpOnly cookie).",
    )
    expires_in: int


class SignInResponse(TokensResponse):
    user: Me


class TicketResponse(Api):
    ticket: str
    expires_in: int


class ConversationResponse(Api):
    conversation: Conversation


class ConversationsResponse(Api):
    conversations: list[Conversation]
    next_cursor: str | None


class MembersResponse(Api):
    members: list[User]


class ReadResponse(Api):
    read_seq: int


class MuteResponse(Api):
    muted: bool
    muted_until: str | None = Field(description="Null while muted: until unmuted.")


class MessageResponse(Api):
    message: Message


class MessagesResponse(Api):
    messages: list[Message]
    has_more: bool


class SnippetSegment(Api):
    text: str
    match: bool = Field(description="Whether this text is (the beginning of) a matched word.")


class SearchConversation(Api):
    id: str
    kind: Literal["direct", "group"]
    title: str = Field(description="Empty for direct conversations: show the other member.")


class MessageSearchResult(Api):
    conversation: SearchConversation
    message: Message
    sender: User | None
    snippet: list[SnippetSegment] = Field(
        description="The body around the first match, in order; '…' where it was cut."
    )


class MessageSearchResponse(Api):
    results: list[MessageSearchResult]
    next_cursor: str | None


class SyncResponse(Api):
    events: list[dict[str, object]] = Field(
        description="Durable event frames, as on the WebSocket: each has `conversationId`,"
        " its position (`eventSeq`, or `receiptSeq` for `read`) and `cursor`, its id."
    )
    cursor: str = Field(description="The resume cursor for the next call.")
    has_more: bool


class EventsResponse(Api):
    events: list[dict[str, object]] = Field(
        description="The conversation's durable event frames after `after`, by `eventSeq`."
    )
    has_more: bool
    last_event_seq: int = Field(description="The conversation's newest `eventSeq`.")


class Health(Api):
    status: Literal["ok"]


class Readiness(Api):
    status: Literal["ready", "unready"]
    checks: dict[str, Literal["ok", "down"]] = Field(
        description="Each dependency this process needs: `store`, and `redis` when"
        " HUBBUB_REDIS_URL is set."
    )
