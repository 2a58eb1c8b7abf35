"""/api/auth: sign-up, confirmation, sign-in, token rotation, WebSocket tickets,
password reset.

Where the refresh token travels is the client's choice, per request. API clients send
and receive it in JSON bodies. A browser sends `X-Hubbub-Refresh: cookie` and gets it
only as an HttpOnly, SameSite=Strict cookie scoped to /api/auth, which page scripts
cannot read; the cookie is read only from requests carrying that header, a custom
header a cross-site page cannot send without a CORS preflight (which we never grant).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Cookie, Header, Request
from starlette.responses import Response

from hubbub.domain.errors import Unauthorized, ValidationFailed
from hubbub.domain.views import JsonObject, user_view
from hubbub.ports import TokenSet
from hubbub.server import schemas
from hubbub.server.deps import DEVICE_COOKIE, ClientIpDep, DeviceDep, PlatformDep, SessionDep
from hubbub.server.openapi import ERRORS
from hubbub.server.responses import json_response
from hubbub.services.devices import DEVICE_TOKEN_LIFETIME

router = APIRouter(prefix="/api/auth", tags=["auth"], responses=ERRORS)

REFRESH_COOKIE = "hubbub_refresh"
COOKIE_PATH = "/api/auth"
CookieMode = Annotated[
    Literal["cookie"] | None,
    Header(
        alias="X-Hubbub-Refresh",
        description="`cookie`: keep the refresh token in an HttpOnly cookie, not in JSON.",
    ),
]
RefreshCookie = Annotated[str | None, Cookie(alias=REFRESH_COOKIE, include_in_schema=False)]


@router.post("/signup", status_code=201, response_model=schemas.SignUpResponse)
async def sign_up(body: schemas.SignUpRequest, platform: PlatformDep, ip: ClientIpDep) -> Response:
    user, confirmation_required = await platform.auth.sign_up(
        body.username, body.email, body.password, body.display_name, ip
    )
    return json_response(
        {"user": user_view(user, with_email=True), "confirmationRequired": confirmation_required},
        status=201,
    )


@router.post("/confirm", response_model=schemas.MeResponse)
async def confirm(body: schemas.ConfirmRequest, platform: PlatformDep, ip: ClientIpDep) -> Response:
    user = await platform.auth.confirm(body.username, body.code, ip)
    return json_response({"user": user_view(user, with_email=True)})


@router.post("/resend-code", status_code=202, response_class=Response)
async def resend_code(
    body: schemas.ResendCodeRequest, platform: PlatformDep, ip: ClientIpDep
) -> Response:
    await platform.auth.resend_code(body.username, ip)
    return Response(status_code=202)


@router.post("/signin", response_model=schemas.SignInResponse)
async def sign_in(
    body: schemas.SignInRequest,
    request: Request,
    platform: PlatformDep,
    ip: ClientIpDep,
    device: DeviceDep,
    mode: CookieMode = None,
) -> Response:
    tokens, user = await platform.auth.sign_in(body.username, body.password, ip, device)
    response = _tokens(request, platform, tokens, mode, {"user": user_view(user, with_email=True)})
    remembered = platform.auth.remember_device(user.id)
    if remembered is not None:
        response.set_cookie(
            DEVICE_COOKIE,
            remembered,
            max_age=int(DEVICE_TOKEN_LIFETIME.total_seconds()),
            path=request.url.path,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
    return response


@router.post("/refresh", response_model=schemas.TokensResponse)
async def refresh(
    request: Request,
    platform: PlatformDep,
    body: schemas.RefreshRequest | None = None,
    mode: CookieMode = None,
    cookie: RefreshCookie = None,
) -> Response:
    """Rotates the refresh token from the body or, with `X-Hubbub-Refresh: cookie`, from
    the cookie; with that header the new one goes only into the cookie. Two refreshes
    of one token within a few seconds (two tabs) both succeed with the same new token;
    a later reuse ends the session."""
    presented = body.refresh_token if body else None
    if presented is None and mode == "cookie":
        presented = cookie
    if not presented:
        raise Unauthorized("Send {refreshToken}, or the cookie with X-Hubbub-Refresh: cookie.")
    tokens = await platform.auth.refresh(presented)
    return _tokens(request, platform, tokens, mode, {})


@router.post("/signout", status_code=204)
async def sign_out(
    platform: PlatformDep,
    caller: SessionDep,
    body: schemas.SignOutRequest | None = None,
    mode: CookieMode = None,
    cookie: RefreshCookie = None,
) -> Response:
    """Ends the caller's session (and the one `refreshToken` belongs to), or with
    `everywhere` every session of the caller: their access tokens stop working at
    once and their WebSocket connections are closed with 4401."""
    request = body or schemas.SignOutRequest()
    presented = request.refresh_token or (cookie if mode == "cookie" else None)
    await platform.auth.sign_out(caller, presented, request.everywhere)
    response = Response(status_code=204)
    if mode == "cookie":
        response.delete_cookie(REFRESH_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
    return response


@router.post(
    "/ws-ticket",
    response_model=schemas.TicketResponse,
    responses={
        503: {
            "model": schemas.ErrorResponse,
            "description": "Scaled out, Redis does not answer (`unavailable`): no ticket can"
            " be issued that every process would honour; try again later.",
        }
    },
)
async def ws_ticket(platform: PlatformDep, caller: SessionDep) -> Response:
    ticket, ttl = await platform.auth.issue_ticket(caller)
    return json_response({"ticket": ticket, "expiresIn": ttl})


@router.post(
    "/forgot-password",
    status_code=202,
    response_class=Response,
    summary="Send a password reset code",
    description="Sends a reset code (valid 1 hour, single use) to the email of a confirmed "
    "account named by username or email. Answers 202 whether or not the account exists.",
)
async def forgot_password(
    body: schemas.ForgotPasswordRequest, platform: PlatformDep, ip: ClientIpDep
) -> Response:
    await platform.auth.forgot_password(body.username, ip)
    return Response(status_code=202)


@router.post(
    "/reset-password",
    status_code=204,
    response_class=Response,
    summary="Set a new password with a reset code",
    description="Spends the code, sets the new password and signs the account out on every "
    "device. A wrong, spent or expired code, or an unknown account, is the same 422.",
)
async def reset_password(
    body: schemas.ResetPasswordRequest, platform: PlatformDep, ip: ClientIpDep
) -> Response:
    try:
        await platform.auth.reset_password(body.username, body.code, body.new_password, ip)
    except ValidationFailed as refused:
        if refused.details.get("field") == "password":  # the rule's name for it
            refused.details["field"] = "newPassword"
        raise
    return Response(status_code=204)


def _tokens(
    request: Request,
    platform: PlatformDep,
    tokens: TokenSet,
    mode: Literal["cookie"] | None,
    extra: JsonObject,
) -> Response:
    """The token response: the refresh token in the body, or only in the cookie."""
    body: JsonObject = {"accessToken": tokens.access_token, "expiresIn": tokens.expires_in}
    if mode != "cookie":
        body["refreshToken"] = tokens.refresh_token
    response = json_response({**body, **extra}, headers={"Cache-Control": "no-store"})
    if mode == "cookie":
        response.set_cookie(
            REFRESH_COOKIE,
            tokens.refresh_token,
            max_age=platform.settings.refresh_token_days * 86400,
            path=COOKIE_PATH,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
    return response
