"""Password reset by a code sent through the console code sender: no enumeration,
single use, limited attempts, and a reset ends every signed-in session."""

from __future__ import annotations

import asyncio
import itertools
import os

from tests.api.console import codes, next_code
from tests.support import Account, Api, ServerProcess, open_socket

_serial = itertools.count()


async def _confirmed(api: Api, server: ServerProcess, password: str = "old password") -> str:
    name = f"pr{os.getpid()}x{next(_serial)}"
    reply = await api.call(
        "POST",
        "/auth/signup",
        json={
            "username": name,
            "email": f"{name}@example.test",
            "password": password,
            "displayName": "Reset Me",
        },
    )
    assert reply.status_code == 201, reply.text
    code = next_code(server, "confirmation", name)
    confirmed = await api.call("POST", "/auth/confirm", json={"username": name, "code": code})
    assert confirmed.status_code == 200, confirmed.text
    return name


def _other_than(code: str) -> str:
    return "000000" if code != "000000" else "111111"


async def test_a_reset_sets_the_new_password_and_signs_out_every_session(
    client: Api, console: ServerProcess
) -> None:
    name = await _confirmed(client, console)
    sessions: list[Account] = [
        await client.sign_in(name, "old password"),
        await client.sign_in(f"{name}@example.test", "old password"),
    ]

    async with open_socket(client, sessions[0]) as live:
        asked = await client.call(
            "POST", "/auth/forgot-password", json={"username": f"{name}@example.test"}
        )
        assert asked.status_code == 202 and asked.content == b""
        code = next_code(console, "password reset", name)
        reset = await client.call(
            "POST",
            "/auth/reset-password",
            json={"username": name, "code": code, "newPassword": "new password"},
        )
        assert reset.status_code == 204, reset.text
        # A socket of an ended session is closed at once, as at sign-out.
        await asyncio.wait_for(live.connection.wait_closed(), 10)
        assert live.connection.close_code == 4401

    for session in sessions:
        refreshed = await client.call(
            "POST", "/auth/refresh", json={"refreshToken": session.refresh_token}
        )
        assert refreshed.status_code == 401
        # The access tokens of those sessions end at once too, not when they expire.
        assert (await client.call("GET", "/users/me", session)).status_code == 401
    old = await client.call(
        "POST", "/auth/signin", json={"username": name, "password": "old password"}
    )
    assert old.status_code == 401
    await client.sign_in(name, "new password")

    again = await client.call(
        "POST",
        "/auth/reset-password",
        json={"username": name, "code": code, "newPassword": "third password"},
    )
    assert again.status_code == 422 and again.json()["error"]["code"] == "validation_error"
    await client.sign_in(name, "new password")


async def test_unknown_accounts_are_answered_like_known_ones(
    client: Api, console: ServerProcess
) -> None:
    name = await _confirmed(client, console)
    nobody = f"nobody{name}"
    known = await client.call("POST", "/auth/forgot-password", json={"username": name})
    unknown = await client.call("POST", "/auth/forgot-password", json={"username": nobody})
    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    assert known.status_code == 202
    code = next_code(console, "password reset", name)
    assert codes(console, "password reset", nobody) == []

    replies = [
        await client.call(
            "POST",
            "/auth/reset-password",
            json={"username": username, "code": _other_than(code), "newPassword": "new password"},
        )
        for username in (name, nobody)
    ]
    assert replies[0].status_code == replies[1].status_code == 422
    assert replies[0].json() == replies[1].json()


async def test_reset_attempts_are_limited_per_account(client: Api, console: ServerProcess) -> None:
    name = await _confirmed(client, console)
    await client.call("POST", "/auth/forgot-password", json={"username": name})
    code = next_code(console, "password reset", name)
    for login in (name, name.upper(), f"{name}@example.test", f" {name}", name):
        wrong = await client.call(
            "POST",
            "/auth/reset-password",
            json={"username": login, "code": _other_than(code), "newPassword": "new password"},
        )
        assert wrong.status_code == 422
    limited = await client.call(
        "POST",
        "/auth/reset-password",
        json={"username": name, "code": code, "newPassword": "new password"},
    )
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    await client.sign_in(name, "old password")


async def test_bad_reset_requests_are_validation_errors(
    client: Api, console: ServerProcess
) -> None:
    name = await _confirmed(client, console)
    await client.call("POST", "/auth/forgot-password", json={"username": name})
    code = next_code(console, "password reset", name)
    for body in [
        {},
        {"username": name},
        {"username": name, "code": code},
        {"username": name, "code": code, "newPassword": "short"},
        {"username": "", "code": code, "newPassword": "new password"},
    ]:
        reply = await client.call("POST", "/auth/reset-password", json=body)
        assert reply.status_code == 422, (body, reply.text)
        assert reply.json()["error"]["code"] == "validation_error"
    for body in [{}, {"username": ""}, {"email": name}]:
        reply = await client.call("POST", "/auth/forgot-password", json=body)
        assert reply.status_code == 422, (body, reply.text)
    # The rejected new password did not spend the code.
    done = await client.call(
        "POST",
        "/auth/reset-password",
        json={"username": name, "code": code, "newPassword": "long new password"},
    )
    assert done.status_code == 204
