"""The one place where errors become HTTP responses: `{"error": {"code", "message"}}`,
with `details` when the domain error carries any (e.g. `{"field": "password"}`)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from hubbub.adapters import prometheus
from hubbub.domain.errors import (
    Conflict,
    CursorExpired,
    DomainError,
    Forbidden,
    NotConfirmed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    SearchUnavailable,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from hubbub.server.responses import json_response

log = logging.getLogger("hubbub")

STATUS: dict[type[DomainError], int] = {
    ValidationFailed: 422,
    Unauthorized: 401,
    NotConfirmed: 403,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    CursorExpired: 410,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    RateLimited: 429,
    Unavailable: 503,
    SearchUnavailable: 501,
}

HTTP_CODES = {
    400: "validation_error",  # a body that cannot be read at all (e.g. not UTF-8)
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "cursor_expired",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def error_response(status: int, code: str, message: str, **extra: object) -> Response:
    prometheus.ERRORS.labels(code=code, transport="http").inc()
    body: dict[str, object] = {"code": code, "message": message, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return json_response({"error": body}, status=status, headers=headers)


def status_of(error: DomainError) -> int:
    """The status of the nearest mapped class, so a subclass (e.g. the store's
    `LostRace`, a `Conflict`) answers like its parent instead of falling through to 500."""
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def domain_error_response(error: DomainError) -> Response:
    status = status_of(error)
    extra = {"details": error.details} if error.details else {}
    response = error_response(status, error.code, error.message, **extra)
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_: Request, error: DomainError) -> Response:
        return domain_error_response(error)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> Response:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or "body", "problem": e["msg"]}
            for e in error.errors()
        ]
        first = problems[0] if problems else {"field": "body", "problem": "invalid"}
        message = f"{first['field']}: {first['problem']}"
        return error_response(422, "validation_error", message, fields=problems)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> Response:
        code = HTTP_CODES.get(error.status_code, "http_error")
        return error_response(error.status_code, code, str(error.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "Something went wrong on our side.")
