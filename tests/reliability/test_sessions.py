"""Sessions end when the user says so: signing out (of one session or everywhere) stops
that session's access tokens and tickets at once and closes its sockets; two tabs
refreshing at once stay signed in; a refresh token reused later still ends the session.
Real server, real HTTP and WebSocket clients."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets

from hubbub.bootstrap import build
from hubbub.config import Settings
from hubbub.server.app import create_app
from tests.reliability.helpers import mint_token, own_server
from tests.support import Account, Api, Socket, open_socket

COOKIE = {"X-Hubbub-Refresh": "cookie"}


async def _status(api: Api, account: Account, method: str, path: str) -> int:
    return (await api.call(method, path, account)).status_code


async def _closed_with(socket_: Socket) -> int | None:
    """Waits (generously) until the server closes the socket; its close code."""
    await asyncio.wait_for(socket_.connection.wait_closed(), 10)
    return socket_.connection.close_code


async def _alive(socket_: Socket) -> bool:
    reply = await socket_.request("ping")
    return reply.get("type") == "pong"


async def _second_session(api: Api, account: Account) -> Account:
    return await api.sign_in(account.username, account.password)


async def test_signing_out_ends_that_sessions_tokens_and_sockets_at_once(api: Api) -> None:
    laptop = await api.sign_up()
    phone = await _second_session(api, laptop)
    async with open_socket(api, laptop) as laptop_socket, open_socket(api, phone) as phone_socket:
        spare_ticket = await api.ticket(laptop)
        reply = await api.call("POST", "/auth/signout", laptop)
        assert reply.status_code == 204

        # The signed-out session: no more reads, no more tickets, its socket closed.
        assert await _status(api, laptop, "GET", "/users/me") == 401
        assert await _status(api, laptop, "POST", "/auth/ws-ticket") == 401
        assert await _closed_with(laptop_socket) == 4401
        # A ticket minted before the sign-out does not open a socket after it.
        async with websockets.connect(f"{api.ws_url}?ticket={spare_ticket}") as late:
            with pytest.raises(websockets.ConnectionClosed) as refused:
                await asyncio.wait_for(late.recv(), 10)
        assert refused.value.rcvd is not None and refused.value.rcvd.code == 4401
        refresh = await api.call(
            "POST", "/auth/refresh", json={"refreshToken": laptop.refresh_token}
        )
        assert refresh.status_code == 401

        # The same user's other session is untouched.
        assert await _status(api, phone, "GET", "/users/me") == 200
        assert await _alive(phone_socket)
        assert await _status(api, phone, "POST", "/auth/ws-ticket") == 200


async def test_signing_out_everywhere_ends_every_session_of_the_user(api: Api) -> None:
    laptop = await api.sign_up()
    phone = await _second_session(api, laptop)
    bystander = await api.sign_up()
    async with (
        open_socket(api, laptop) as laptop_socket,
        open_socket(api, phone) as phone_socket,
        open_socket(api, bystander) as bystander_socket,
    ):
        reply = await api.call("POST", "/auth/signout", phone, json={"everywhere": True})
        assert reply.status_code == 204
        for session, socket_ in ((laptop, laptop_socket), (phone, phone_socket)):
            assert await _status(api, session, "GET", "/users/me") == 401
            assert await _status(api, session, "POST", "/auth/ws-ticket") == 401
            assert await _closed_with(socket_) == 4401
            refresh = await api.call(
                "POST", "/auth/refresh", json={"refreshToken": session.refresh_token}
            )
            assert refresh.status_code == 401
        # Another user is not affected, and the user can sign in again.
        assert await _alive(bystander_socket)
        again = await _second_session(api, laptop)
        assert await _status(api, again, "GET", "/users/me") == 200


async def test_a_sign_out_survives_a_restart(tmp_path: Path) -> None:
    with own_server(tmp_path / "data") as server:
        api = Api(server.base_url)
        try:
            account = await api.sign_up()
            assert (await api.call("POST", "/auth/signout", account)).status_code == 204
            assert await _status(api, account, "GET", "/users/me") == 401
            server.restart(signal.SIGKILL)
            assert await _status(api, account, "GET", "/users/me") == 401
            assert await _status(api, account, "POST", "/auth/ws-ticket") == 401
        finally:
            await api.close()


async def test_an_access_token_without_a_session_is_refused(api: Api) -> None:
    """Every token names its session; one that does not could never be signed out."""
    account = await api.sign_up()
    sessionless = mint_token(account.id, drop=("sid",))
    reply = await api.call("GET", "/users/me", headers={"Authorization": f"Bearer {sessionless}"})
    assert reply.status_code == 401


async def test_two_tabs_refreshing_one_token_at_once_both_stay_signed_in(api: Api) -> None:
    account = await api.sign_up()
    replies = await asyncio.gather(
        *[
            api.call("POST", "/auth/refresh", json={"refreshToken": account.refresh_token})
            for _ in range(2)
        ]
    )
    assert [r.status_code for r in replies] == [200, 200]
    first, second = (r.json() for r in replies)
    # Both tabs hold the same successor, so neither later looks like a thief.
    assert first["refreshToken"] == second["refreshToken"] != account.refresh_token
    for tokens in (first, second):
        headers = {"Authorization": f"Bearer {tokens['accessToken']}"}
        assert (await api.call("GET", "/users/me", headers=headers)).status_code == 200
    onward = await api.call("POST", "/auth/refresh", json={"refreshToken": first["refreshToken"]})
    assert onward.status_code == 200


async def test_a_refresh_token_reused_after_the_grace_ends_the_whole_session(
    tmp_path: Path,
) -> None:
    """With no grace at all, any second use of a rotated token is theft: the session's
    refresh tokens, access tokens and sockets all end."""
    with own_server(tmp_path / "data", HUBBUB_REFRESH_GRACE_SECONDS="0") as server:
        api = Api(server.base_url)
        try:
            stolen = await api.sign_up()
            rotated = await api.call(
                "POST", "/auth/refresh", json={"refreshToken": stolen.refresh_token}
            )
            assert rotated.status_code == 200
            owner = Account(
                stolen.id,
                stolen.username,
                stolen.password,
                rotated.json()["accessToken"],
                rotated.json()["refreshToken"],
            )
            async with open_socket(api, owner) as owner_socket:
                replay = await api.call(
                    "POST", "/auth/refresh", json={"refreshToken": stolen.refresh_token}
                )
                assert replay.status_code == 401
                assert await _closed_with(owner_socket) == 4401
            assert await _status(api, owner, "GET", "/users/me") == 401
            chained = await api.call(
                "POST", "/auth/refresh", json={"refreshToken": owner.refresh_token}
            )
            assert chained.status_code == 401
        finally:
            await api.close()


async def test_the_refresh_cookie_is_httponly_strict_and_scoped(api: Api) -> None:
    account = await api.sign_up()
    browser = httpx.AsyncClient(base_url=api.base_url)  # a cookie jar of its own
    try:
        body = {"username": account.username, "password": account.password}
        reply = await browser.post("/api/auth/signin", json=body, headers=COOKIE)
        assert reply.status_code == 200
        assert "refreshToken" not in reply.json()  # never readable by page scripts
        assert reply.headers["cache-control"] == "no-store"
        flags = _cookie_flags(reply)
        assert flags["httponly"] and flags["samesite"] == "strict"
        assert flags["path"] == "/api/auth"
        assert not flags["secure"]  # plain http here; see the https case below
        assert int(str(flags["max-age"])) > 86400
        first = browser.cookies["hubbub_refresh"]

        # The cookie alone is not enough: without the header (a cross-site form can make
        # a browser send a cookie, never a custom header) the refresh is refused.
        bare = await browser.post("/api/auth/refresh")
        assert bare.status_code == 401
        rotated = await browser.post("/api/auth/refresh", headers=COOKIE)
        assert rotated.status_code == 200 and "refreshToken" not in rotated.json()
        second = browser.cookies["hubbub_refresh"]
        assert second != first

        bearer = {"Authorization": f"Bearer {rotated.json()['accessToken']}", **COOKIE}
        out = await browser.post("/api/auth/signout", headers=bearer)
        assert out.status_code == 204
        assert _cookie_flags(out)["max-age"] == "0"
        assert "hubbub_refresh" not in browser.cookies
        browser.cookies.set("hubbub_refresh", second, path="/api/auth")
        again = await browser.post("/api/auth/refresh", headers=COOKIE)
        assert again.status_code == 401
    finally:
        await browser.aclose()


async def test_the_refresh_cookie_is_secure_over_https(tmp_path: Path) -> None:
    async with _https_client(tmp_path) as client:
        body = {
            "username": "secure",
            "email": "secure@example.test",
            "password": "long enough password",
            "displayName": "S",
        }
        assert (await client.post("/api/auth/signup", json=body)).status_code == 201
        login = {"username": "secure", "password": "long enough password"}
        reply = await client.post("/api/auth/signin", json=login, headers=COOKIE)
        assert reply.status_code == 200
        assert _cookie_flags(reply)["secure"]


def _cookie_flags(reply: httpx.Response) -> dict[str, str | bool]:
    """The attributes of the refresh cookie set by `reply` (sign-in sets others too)."""
    headers = [h for h in reply.headers.get_list("set-cookie") if h.startswith("hubbub_refresh=")]
    assert len(headers) == 1, reply.headers.get_list("set-cookie")
    _, *attributes = [part.strip() for part in headers[0].split(";")]
    flags: dict[str, str | bool] = {"secure": False, "httponly": False}
    for attribute in attributes:
        key, _, value = attribute.partition("=")
        flags[key.lower()] = value.lower() if value else True
    return flags


@contextlib.asynccontextmanager
async def _https_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app in process, reached as https:// (as behind a TLS-terminating proxy)."""
    settings = Settings(
        store="memory", data_dir=tmp_path, password_hash_memory_kib=1024, static_dir=tmp_path
    )
    platform = build(settings)
    transport = httpx.ASGITransport(app=create_app(platform))
    async with httpx.AsyncClient(transport=transport, base_url="https://hubbub.test") as client:
        yield client
    await platform.close()
