"""Domain errors, each with the stable code the public API reports.

Entry points map these to HTTP statuses and WebSocket error frames in one place
(`hubbub.server.errors` and `hubbub.protocol`); nothing else chooses a status.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a client may see; `code` is stable API surface."""

    code = "internal_error"

    def __init__(self, message: str, *, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ValidationFailed(DomainError):
    code = "validation_error"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Blocked(Forbidden):
    """A direct chat where one of the pair blocked the other: nobody may start it or
    send in it until the block is lifted (docs/openapi.json says what each side sees)."""

    code = "blocked"


class Conflict(DomainError):
    code = "conflict"


class CursorExpired(DomainError):
    """A sync cursor the server no longer knows (expired, or from an older release):
    the client reloads what it shows and starts again from a fresh cursor."""

    code = "cursor_expired"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    """An upload whose type is not on the allow-list, or whose bytes are not what its
    name says (an image Pillow cannot decode)."""

    code = "unsupported_media_type"


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retryAfter": retry_after})
        self.retry_after = retry_after


class Unavailable(DomainError):
    """A service the request needs (Redis, in a scaled-out deployment) cannot be
    reached; nothing was changed, and the same request may be tried again later."""

    code = "unavailable"


class SearchUnavailable(DomainError):
    """Full-text message search is not offered by the configured store (DynamoDB has
    no text index); the rest of the API works."""

    code = "search_unavailable"


class NotConfirmed(DomainError):
    """Sign-in of an account whose confirmation code was never entered."""

    code = "user_not_confirmed"
