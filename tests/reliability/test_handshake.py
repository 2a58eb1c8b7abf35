"""WebSocket handshake (ASVS 4.4): the Origin allowlist, single-use short-lived tickets,
and no access token accepted in a URL, on REST or on the socket."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import websockets

from hubbub.adapters.memory import MemoryTicketStore
from tests.reliability.helpers import own_server
from tests.support import Api, open_socket


async def _close_code(url: str, **kwargs: object) -> int | None:
    """Connects and returns the close code the server sends before any hello, or None
    when it says hello."""
    async with websockets.connect(url, **kwargs) as connection:  # type: ignore[arg-type]
        try:
            frame = await asyncio.wait_for(connection.recv(), 5)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        assert '"hello"' in str(frame)
        return None


async def test_origin_allowlist(tmp_path: Path) -> None:
    allowed = "https://chat.example.org,http://localhost:5173"
    with own_server(tmp_path, HUBBUB_ALLOWED_ORIGINS=allowed) as server:
        api = Api(server.base_url)
        try:
            account = await api.sign_up()
            host = server.base_url.split("//", 1)[1]
            for origin, expected in [
                ("https://chat.example.org", None),
                ("https://chat.example.org/", None),
                ("http://localhost:5173", None),
                (f"http://{host}", None),  # the server's own web app
                ("https://evil.example", 4403),
                ("https://chat.example.org.evil.example", 4403),
                ("http://chat.example.org", 4403),  # scheme matters
                ("https://chat.example.org:444", 4403),  # port matters
                ("http://localhost:5174", 4403),
                ("null", 4403),  # sandboxed iframes, file:// pages
                ("", 4403),
            ]:
                url = f"{api.ws_url}?ticket={await api.ticket(account)}"
                code = await _close_code(url, origin=origin)
                assert code == expected, (origin, code)
            # Clients that send no Origin at all (not browsers) are allowed.
            assert await _close_code(f"{api.ws_url}?ticket={await api.ticket(account)}") is None
        finally:
            await api.close()


async def test_a_ticket_raced_by_many_connections_opens_exactly_one(api: Api) -> None:
    account = await api.sign_up()
    ticket = await api.ticket(account)
    codes = await asyncio.gather(*[_close_code(f"{api.ws_url}?ticket={ticket}") for _ in range(12)])
    assert codes.count(None) == 1
    assert codes.count(4401) == 11


async def test_tickets_are_short_lived_and_belong_to_one_user(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    reply = await api.call("POST", "/auth/ws-ticket", ana)
    assert reply.status_code == 200
    assert 0 < reply.json()["expiresIn"] <= 60
    async with websockets.connect(f"{api.ws_url}?ticket={reply.json()['ticket']}") as socket_:
        hello = await socket_.recv()
        assert f'"userId":"{ana.id}"' in str(hello)
        assert bob.id not in str(hello)
    # Expiry itself, on the ticket store the local server uses, with a fake clock.
    now = [1000.0]
    store = MemoryTicketStore(monotonic=lambda: now[0])
    fresh = await store.issue("ana", 30)
    stale = await store.issue("ana", 30)
    now[0] += 29.9
    assert await store.consume(fresh) == "ana"
    now[0] += 0.2
    assert await store.consume(stale) is None


@pytest.mark.parametrize(
    "query",
    [
        "token={token}",
        "access_token={token}",
        "accessToken={token}",
        "authorization=Bearer%20{token}",
        "ticket={token}",
    ],
)
async def test_access_tokens_are_never_accepted_in_a_websocket_url(api: Api, query: str) -> None:
    account = await api.sign_up()
    url = f"{api.ws_url}?{query.format(token=account.access_token)}"
    assert await _close_code(url) == 4401


async def test_access_tokens_are_not_accepted_in_websocket_headers_either(api: Api) -> None:
    account = await api.sign_up()
    header = {"Authorization": f"Bearer {account.access_token}"}
    assert await _close_code(api.ws_url, additional_headers=header) == 4401
    cookie = {"Cookie": f"accessToken={account.access_token}"}
    assert await _close_code(api.ws_url, additional_headers=cookie) == 4401


async def test_rest_accepts_tokens_only_in_the_authorization_header(api: Api) -> None:
    account = await api.sign_up()
    token = account.access_token
    for params, headers in [
        ({"access_token": token}, {}),
        ({"token": token}, {}),
        ({}, {"Cookie": f"accessToken={token}"}),
        ({}, {"X-Access-Token": token}),
        ({}, {"Authorization": token}),  # no scheme
        ({}, {"Authorization": f"Token {token}"}),
    ]:
        reply = await api.http.get("/api/users/me", params=params, headers=headers)
        assert reply.status_code == 401, (params, headers)
    ticket = await api.ticket(account)
    as_bearer = await api.http.get("/api/users/me", headers={"Authorization": f"Bearer {ticket}"})
    assert as_bearer.status_code == 401
    # A ticket refused as a bearer token was not spent by the attempt.
    assert await _close_code(f"{api.ws_url}?ticket={ticket}") is None


async def test_a_refused_origin_does_not_spend_the_ticket(tmp_path: Path) -> None:
    with own_server(tmp_path, HUBBUB_ALLOWED_ORIGINS="https://chat.example.org") as server:
        api = Api(server.base_url)
        try:
            account = await api.sign_up()
            ticket = await api.ticket(account)
            url = f"{api.ws_url}?ticket={ticket}"
            assert await _close_code(url, origin="https://evil.example") == 4403
            assert await _close_code(url, origin="https://chat.example.org") is None
            assert await _close_code(url, origin="https://chat.example.org") == 4401
            assert (await api.http.get("/healthz")).json()["status"] == "ok"
        finally:
            await api.close()


async def test_hello_lists_only_contacts_online(api: Api) -> None:
    ana, bob, stranger = await api.sign_up(), await api.sign_up(), await api.sign_up()
    await api.direct(ana, bob)
    async with open_socket(api, stranger), open_socket(api, bob), open_socket(api, ana) as ana_ws:
        assert ana_ws.of_type("hello")[0]["online"] == [bob.id]
