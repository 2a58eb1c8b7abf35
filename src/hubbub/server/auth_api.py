"""/api/auth: sign-up, confirmation, sign-in, token rotation, WebSocket tickets,
password reset."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from hubbub.domain.views import user_view
from hubbub.server import schemas
from hubbub.server.deps import DEVICE_COOKIE, CallerDep, ClientIpDep, DeviceDep, PlatformDep
from hubbub.server.openapi import ERRORS
from hubbub.server.responses import json_response
from hubbub.services.devices import DEVICE_TOKEN_LIFETIME

router = APIRouter(prefix="/api/auth", tags=["auth"], responses=ERRORS)


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
    request: Request,
    body: schemas.SignInRequest,
    platform: PlatformDep,
    ip: ClientIpDep,
    device: DeviceDep,
) -> Response:
    tokens, user = await platform.auth.sign_in(body.username, body.password, ip, device)
    response = json_response(
        {
            "accessToken": tokens.access_token,
            "refreshToken": tokens.refresh_token,
            "expiresIn": tokens.expires_in,
            "user": user_view(user, with_email=True),
        }
    )
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
async def refresh(body: schemas.RefreshRequest, platform: PlatformDep) -> Response:
    tokens = await platform.auth.refresh(body.refresh_token)
    return json_response(
        {
            "accessToken": tokens.access_token,
            "refreshToken": tokens.refresh_token,
            "expiresIn": tokens.expires_in,
        }
    )


@router.post("/signout", status_code=204)
async def sign_out(
    platform: PlatformDep, caller: CallerDep, body: schemas.SignOutRequest | None = None
) -> Response:
    request = body or schemas.SignOutRequest()
    await platform.auth.sign_out(caller, request.refresh_token, request.everywhere)
    return Response(status_code=204)


@router.post("/ws-ticket", response_model=schemas.TicketResponse)
async def ws_ticket(platform: PlatformDep, caller: CallerDep) -> Response:
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
    await platform.auth.reset_password(body.username, body.code, body.new_password, ip)
    return Response(status_code=204)
