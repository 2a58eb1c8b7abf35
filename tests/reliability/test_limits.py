"""Rate limits that cannot be dodged or turned against their owners, on every endpoint
that costs the server, and query values that never become a 500 (issue 8, findings 3-6).

Each test starts its own `hubbub serve` with small limits; clients are real HTTP clients
over loopback, and forwarded addresses are plain `X-Forwarded-For` headers.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import httpx

from tests.reliability.helpers import own_server
from tests.support import Account, Api

FORWARDED = "X-Forwarded-For"


def _from(address: str) -> dict[str, str]:
    return {FORWARDED: address}


async def _sign_in(api: Api, login: str, password: str, via: str | None = None) -> httpx.Response:
    return await api.call(
        "POST",
        "/auth/signin",
        json={"username": login, "password": password},
        headers=_from(via) if via else None,
    )


def _assert_limited(reply: httpx.Response) -> None:
    assert reply.status_code == 429, reply.text
    assert reply.json()["error"]["code"] == "rate_limited"
    assert int(reply.headers["Retry-After"]) >= 1


# Finding 3: forwarding headers are trusted only from HUBBUB_TRUSTED_PROXIES.


async def test_forged_forwarded_for_from_loopback_does_not_escape_the_per_ip_limits(
    tmp_path: Path,
) -> None:
    """The finding: 60 sign-ins with made-up addresses got no 429 (limit 50), and 25
    sign-ups passed a limit of 20. With no trusted proxy configured, the header is noise."""
    with own_server(tmp_path, HUBBUB_SIGN_IN_PER_IP="50", HUBBUB_SIGN_UP_PER_IP="20") as server:
        api = Api(server.base_url)
        try:
            statuses = []
            for i in range(60):
                reply = await _sign_in(api, f"nobody{i}", "wrong password", f"10.9.{i}.1")
                statuses.append(reply.status_code)
            assert statuses == [401] * 50 + [429] * 10, statuses
            _assert_limited(reply)
            signups = []
            for i in range(25):
                reply = await api.call(
                    "POST",
                    "/auth/signup",
                    headers=_from(f"10.8.{i}.1"),
                    json={
                        "username": f"forger{i}",
                        "email": f"forger{i}@example.test",
                        "password": "long enough 1",
                        "displayName": "Forger",
                    },
                )
                signups.append(reply.status_code)
            assert signups == [201] * 20 + [429] * 5, signups
        finally:
            await api.close()


async def test_a_trusted_proxy_gives_each_forwarded_client_its_own_limit(tmp_path: Path) -> None:
    with own_server(
        tmp_path, HUBBUB_TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8", HUBBUB_SIGN_IN_PER_IP="5"
    ) as server:
        api = Api(server.base_url)
        try:
            first = [
                (await _sign_in(api, f"ghost{i}", "wrong password", "203.0.113.7")).status_code
                for i in range(6)
            ]
            assert first == [401] * 5 + [429]
            # Another client behind the same proxy has its own budget.
            other = await _sign_in(api, "ghost-x", "wrong password", "203.0.113.8")
            assert other.status_code == 401
            # The client cannot pick its key by prepending addresses: the right-most
            # address not in the trusted list is the one the proxy saw.
            spoofed = await _sign_in(api, "ghost-y", "wrong password", "198.51.100.1, 203.0.113.7")
            _assert_limited(spoofed)
            # Trusted hops (here an inner proxy in 10/8) are skipped.
            chained = await _sign_in(api, "ghost-z", "wrong password", "203.0.113.7, 10.1.2.3")
            _assert_limited(chained)
            fresh = await _sign_in(api, "ghost-w", "wrong password", "203.0.113.9, 10.1.2.3")
            assert fresh.status_code == 401
        finally:
            await api.close()


# Finding 4: wrong passwords from elsewhere do not lock the owner out.


async def test_an_attacker_cannot_lock_the_owner_out_nor_guess_past_the_limit(
    tmp_path: Path,
) -> None:
    with own_server(tmp_path, HUBBUB_TRUSTED_PROXIES="127.0.0.1") as server:
        api, evil = Api(server.base_url), Api(server.base_url)
        try:
            owner = await api.sign_up()
            attacker = "198.51.100.66"
            guesses = [
                (await _sign_in(evil, owner.username, f"guess {i:04}", attacker)).status_code
                for i in range(30)
            ]
            assert guesses == [401] * 10 + [429] * 20, guesses
            # The owner, from their own address and on a new device, is not locked out.
            elsewhere = Api(server.base_url)
            mine = await _sign_in(elsewhere, owner.username, owner.password, "192.0.2.10")
            await elsewhere.close()
            assert mine.status_code == 200, mine.text
            # The attacker stays limited, even when the guess is right.
            _assert_limited(await _sign_in(evil, owner.username, owner.password, attacker))
            _assert_limited(await _sign_in(evil, owner.username.upper(), "guess", attacker))
        finally:
            await api.close()
            await evil.close()


async def test_guesses_from_many_sources_are_capped_per_account(tmp_path: Path) -> None:
    """A distributed attacker gets HUBBUB_SIGN_IN_PER_ACCOUNT_TOTAL guesses per window
    across all its addresses, not the per-source limit times the number of addresses."""
    with own_server(
        tmp_path,
        HUBBUB_TRUSTED_PROXIES="127.0.0.1",
        HUBBUB_SIGN_IN_PER_ACCOUNT="4",
        HUBBUB_SIGN_IN_PER_ACCOUNT_TOTAL="12",
    ) as server:
        api = Api(server.base_url)
        try:
            owner = await api.sign_up()  # one attempt of the 12, from 127.0.0.1
            api.http.cookies.clear()  # the attacker is not the owner's browser
            statuses = [
                (await _sign_in(api, owner.username, f"guess {i}", f"198.51.{i % 8}.1")).status_code
                for i in range(40)
            ]
            assert statuses.count(401) == 11, statuses
            assert set(statuses) == {401, 429}
        finally:
            await api.close()


async def test_the_owners_usual_browser_is_not_slowed_by_a_distributed_attack(
    tmp_path: Path,
) -> None:
    """Sign-in gives the browser a device cookie; with it, a later sign-in to the same
    account skips the budget that many attacking addresses share. Nothing else does."""
    with own_server(
        tmp_path,
        HUBBUB_TRUSTED_PROXIES="127.0.0.1",
        HUBBUB_SIGN_IN_PER_ACCOUNT="3",
        HUBBUB_SIGN_IN_PER_ACCOUNT_TOTAL="6",
    ) as server:
        browser, evil, other = (Api(server.base_url) for _ in range(3))
        try:
            owner = await browser.sign_up()
            cookie = browser.http.cookies.get("hubbub_device")
            assert cookie and owner.id in cookie
            for i in range(24):
                await _sign_in(evil, owner.username, f"guess {i}", f"198.51.{i % 8}.1")
            # The budget is spent: a new device, even with the right password, waits...
            _assert_limited(await _sign_in(other, owner.username, owner.password, "192.0.2.7"))
            # ...as does one that forges or borrows a device cookie...
            forged = cookie.rsplit(".", 1)[0] + ".AAAA"
            other.http.cookies.set("hubbub_device", forged, path="/api/auth/signin")
            _assert_limited(await _sign_in(other, owner.username, owner.password, "192.0.2.7"))
            stranger = await browser.sign_up()  # the browser now holds a stranger's cookie
            theirs = browser.http.cookies.get("hubbub_device")
            assert theirs and stranger.id in theirs
            other.http.cookies.set("hubbub_device", theirs, path="/api/auth/signin")
            _assert_limited(await _sign_in(other, owner.username, owner.password, "192.0.2.7"))
            # ...but the owner's usual browser signs in, from wherever it is.
            browser.http.cookies.set("hubbub_device", cookie, path="/api/auth/signin")
            mine = await _sign_in(browser, owner.username, owner.password, "192.0.2.99")
            assert mine.status_code == 200, mine.text
        finally:
            for client in (browser, evil, other):
                await client.close()


# Finding 5: every endpoint that costs the server is limited.


async def test_confirm_and_resend_code_are_limited_per_ip(tmp_path: Path) -> None:
    with own_server(tmp_path, HUBBUB_CONFIRMATION="console", HUBBUB_CODES_PER_IP="4") as server:
        api = Api(server.base_url)
        try:
            confirms = []
            for i in range(6):
                reply = await api.call(
                    "POST", "/auth/confirm", json={"username": f"name{i}", "code": "123456"}
                )
                confirms.append(reply.status_code)
            assert confirms[4:] == [429, 429] and 429 not in confirms[:4], confirms
            _assert_limited(reply)
            resends = []
            for i in range(6):
                reply = await api.call("POST", "/auth/resend-code", json={"username": f"name{i}"})
                resends.append(reply.status_code)
            assert resends == [202] * 4 + [429] * 2, resends
            _assert_limited(reply)
        finally:
            await api.close()


async def test_password_reset_requests_are_limited_per_ip(tmp_path: Path) -> None:
    """Each name has its own per-account budget, so only the per-source one can stop a
    client that walks through many accounts."""
    with own_server(tmp_path, HUBBUB_CONFIRMATION="console", HUBBUB_CODES_PER_IP="4") as server:
        api = Api(server.base_url)
        try:
            asked = []
            for i in range(6):
                reply = await api.call(
                    "POST", "/auth/forgot-password", json={"username": f"name{i}"}
                )
                asked.append(reply.status_code)
            assert asked == [202] * 4 + [429] * 2, asked
            _assert_limited(reply)
            resets = []
            for i in range(6):
                body = {"username": f"name{i}", "code": "123456", "newPassword": "long enough"}
                reply = await api.call("POST", "/auth/reset-password", json=body)
                resets.append(reply.status_code)
            assert resets == [422] * 4 + [429] * 2, resets
            _assert_limited(reply)
        finally:
            await api.close()


async def test_websocket_tickets_are_limited_per_user(tmp_path: Path) -> None:
    with own_server(tmp_path, HUBBUB_TICKETS_PER_MINUTE="3") as server:
        api = Api(server.base_url)
        try:
            ana, bob = await api.sign_up(), await api.sign_up()
            minted = [
                (await api.call("POST", "/auth/ws-ticket", ana)).status_code for _ in range(5)
            ]
            assert minted == [200] * 3 + [429] * 2
            _assert_limited(await api.call("POST", "/auth/ws-ticket", ana))
            assert (await api.call("POST", "/auth/ws-ticket", bob)).status_code == 200
        finally:
            await api.close()


async def test_rest_writes_are_limited_per_user(tmp_path: Path) -> None:
    with own_server(tmp_path, HUBBUB_WRITES_PER_SECOND="1", HUBBUB_WRITE_BURST="3") as server:
        api = Api(server.base_url)
        try:
            ana, bob = await api.sign_up(), await api.sign_up()
            room = await api.direct(ana, bob)  # one of ana's writes
            path = f"/conversations/{room}/messages"
            sends = await _burst(
                api,
                ana,
                "POST",
                path,
                [{"clientMessageId": f"m{i}", "body": "hi"} for i in range(20)],
            )
            assert 429 in sends and 201 in sends, sends
            groups = await _burst(
                api, ana, "POST", "/conversations", [{"title": "g", "memberIds": []}] * 20
            )
            assert 429 in groups, groups
            renames = await _burst(api, ana, "PATCH", "/users/me", [{"displayName": "Ana"}] * 20)
            assert 429 in renames, renames
            reads = await _burst(api, ana, "POST", f"/conversations/{room}/read", [{"seq": 1}] * 20)
            assert 429 in reads, reads
            # Nothing refused was stored; reads and other users are unaffected.
            history = await api.history_all(ana, room)
            assert history is not None and len(history) == sends.count(201)
            listed = await api.call("GET", "/conversations", ana, params={"limit": 100})
            assert len(listed.json()["conversations"]) == 1 + groups.count(201)
            sent = await api.call("POST", path, bob, json={"clientMessageId": "b1", "body": "yo"})
            assert sent.status_code == 201
        finally:
            await api.close()


async def test_a_person_chatting_fast_never_meets_the_default_write_limit(
    tmp_path: Path,
) -> None:
    # "" means unset: the server's own defaults, not the test suite's raised ones.
    with own_server(tmp_path, HUBBUB_WRITES_PER_SECOND="", HUBBUB_WRITE_BURST="") as server:
        api = Api(server.base_url)
        try:
            ana, bob = await api.sign_up(), await api.sign_up()
            room = await api.direct(ana, bob)
            for i in range(58):
                await api.send(ana, room, f"quick {i}", f"q{i}")
            await api.call("POST", f"/conversations/{room}/read", bob, json={"seq": 58})
        finally:
            await api.close()


# Finding 6: cursors and query values are validated into 422, never a 500.


def _position(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


EDGE_QUERIES: list[tuple[str, dict[str, str]]] = [
    ("/sync", {"since": "s2." + "a" * 64}),
    ("/sync", {"since": "s2." + "!" * 26}),
    ("/sync", {"since": "-1"}),
    ("/sync", {"since": "1e3"}),
    ("/sync", {"since": " 1"}),
    ("/sync", {"since": "١٢"}),
    ("/sync", {"since": ""}),
    ("/sync", {"since": "1", "limit": "0"}),
    ("/sync", {"since": "1", "limit": "501"}),
    ("/sync", {"since": "1", "limit": "9" * 5000}),
    ("/conversations", {"cursor": _position("9999-12-31T23:59:59.999999-01:00|x")}),
    ("/conversations", {"cursor": _position("0001-01-01T00:00:00+01:00|x")}),
    ("/conversations", {"cursor": _position("2026-01-01T00:00:00|x")}),
    ("/conversations", {"cursor": _position("2026-01-01T00:00:00+00:00")}),
    ("/conversations", {"cursor": _position("not a date|x")}),
    ("/conversations", {"cursor": "!!!"}),
    ("/conversations", {"cursor": ""}),
    ("/conversations", {"limit": "0"}),
    ("/conversations", {"limit": "101"}),
    ("/conversations", {"limit": "-1"}),
    ("/conversations/{room}/messages", {"before": "0"}),
    ("/conversations/{room}/messages", {"before": str(2**53)}),
    ("/conversations/{room}/messages", {"after": "-1"}),
    ("/conversations/{room}/messages", {"after": "99999999999999999999999"}),
    ("/conversations/{room}/messages", {"limit": "201"}),
    ("/conversations/{room}/messages", {"limit": "1.5"}),
    ("/users/search", {"q": "a", "limit": "51"}),
    ("/users/search", {"q": "a", "limit": "0"}),
    ("/users/search", {"q": ""}),
]


async def test_every_cursor_and_query_value_at_the_edge_is_a_422(tmp_path: Path) -> None:
    with own_server(tmp_path) as server:
        api = Api(server.base_url)
        try:
            ana, bob = await api.sign_up(), await api.sign_up()
            room = await api.direct(ana, bob)
            await api.send(ana, room, "hello", "edge-1")
            failures = []
            for path, params in EDGE_QUERIES:
                reply = await api.call("GET", path.format(room=room), ana, params=params)
                code = _error_code(reply)
                if (reply.status_code, code) != (422, "validation_error"):
                    failures.append((path, params, reply.status_code, code))
            assert failures == []
            # The largest valid values still work.
            assert (await _get(api, ana, "/sync", since="0")).status_code == 200
            latest = _position("9999-12-31T23:59:59.999999+00:00|~")
            listed = await _get(api, ana, "/conversations", cursor=latest)
            assert listed.status_code == 200 and len(listed.json()["conversations"]) == 1
            health = await api.http.get("/healthz")
            assert health.status_code == 200
        finally:
            await api.close()


async def _burst(
    api: Api, account: Account, method: str, path: str, bodies: list[dict[str, Any]]
) -> list[int]:
    """Sends the requests concurrently: 20 against a burst of 3 refilling at 1/s leave
    some refused unless the server takes over 17 s to answer them."""
    replies = await asyncio.gather(*[api.call(method, path, account, json=b) for b in bodies])
    for reply in replies:
        if reply.status_code == 429:
            _assert_limited(reply)
    return [r.status_code for r in replies]


async def _get(api: Api, account: Account, path: str, **params: str) -> httpx.Response:
    return await api.call("GET", path, account, params=params)


def _error_code(reply: httpx.Response) -> str | None:
    try:
        code: str = reply.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code
