"""Request-scoped dependencies: the platform and the authenticated caller.

All `async def`: FastAPI runs a plain `def` dependency in a worker thread, a thread hop
per dependency per request for work that takes microseconds.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hubbub.bootstrap import Platform
from hubbub.domain.errors import Unauthorized
from hubbub.ports import Session

_bearer = HTTPBearer(auto_error=False, description="Access token from /api/auth/signin.")


async def platform(request: Request) -> Platform:
    found: Platform = request.app.state.platform
    return found


async def caller_session(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Session:
    """The session of a valid bearer token whose session has not ended (sign-out)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send Authorization: Bearer <accessToken>.")
    found: Platform = request.app.state.platform
    return await found.auth.authenticate(credentials.credentials)


async def caller_id(session: Annotated[Session, Depends(caller_session)]) -> str:
    return session.user_id


async def writer_id(request: Request, caller: Annotated[str, Depends(caller_id)]) -> str:
    """The caller of a REST write, counted against their write budget (429 past it)."""
    found: Platform = request.app.state.platform
    await found.writes.write(caller)
    return caller


DEVICE_COOKIE = "hubbub_device"


async def device_token(request: Request) -> str | None:
    """The device token a browser got at an earlier sign-in (services/devices.py)."""
    return request.cookies.get(DEVICE_COOKIE)


async def client_ip(request: Request) -> str:
    """The peer's address, or the client a trusted proxy names (see server/proxies.py)."""
    return request.client.host if request.client else "unknown"


PlatformDep = Annotated[Platform, Depends(platform)]
CallerDep = Annotated[str, Depends(caller_id)]
WriterDep = Annotated[str, Depends(writer_id)]
DeviceDep = Annotated[str | None, Depends(device_token)]
SessionDep = Annotated[Session, Depends(caller_session)]
ClientIpDep = Annotated[str, Depends(client_ip)]
