"""Sign-up, sign-in, token rotation, sign-out and WebSocket tickets."""

from __future__ import annotations

import pytest
import websockets

from tests.support import Api, assert_refused


async def test_sign_up_validates_and_refuses_taken_names(api: Api) -> None:
    taken = await api.sign_up()
    for body, code in [
        (
            {"username": "x", "email": "a@b.io", "password": "long enough", "displayName": "X"},
            "validation_error",
        ),
        (
            {
                "username": "validname",
                "email": "nope",
                "password": "long enough",
                "displayName": "X",
            },
            "validation_error",
        ),
        (
            {"username": "validname", "email": "a@b.io", "password": "short", "displayName": "X"},
            "validation_error",
        ),
        (
            {"username": "validname", "email": "a@b.io", "password": "long enough"},
            "validation_error",
        ),
        (
            {
                "username": taken.username.upper(),
                "email": "other@b.io",
                "password": "long enough",
                "displayName": "X",
            },
            "conflict",
        ),
        (
            {
                "username": "freshname1",
                "email": f"{taken.username}@example.test",
                "password": "long enough",
                "displayName": "X",
            },
            "conflict",
        ),
    ]:
        reply = await api.call("POST", "/auth/signup", json=body)
        expected = 409 if code == "conflict" else 422
        assert reply.status_code == expected, (body, reply.text)
        assert reply.json()["error"]["code"] == code
    not_json = await api.call(
        "POST", "/auth/signup", content=b"{", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422
    assert not_json.json()["error"]["code"] == "validation_error"


async def test_sign_up_without_mail_is_confirmed_and_can_sign_in_by_email(api: Api) -> None:
    reply = await api.call(
        "POST",
        "/auth/signup",
        json={
            "username": "Carla_1",
            "email": "Carla_1@Example.test",
            "password": "pass word 1",
            "displayName": "  Carla   Diaz ",
        },
    )
    assert reply.status_code == 201
    body = reply.json()
    assert body["confirmationRequired"] is False
    assert body["user"]["username"] == "carla_1"
    assert body["user"]["displayName"] == "Carla Diaz"
    account = await api.sign_in("carla_1@example.test", "pass word 1")
    me = await api.call("GET", "/users/me", account)
    assert me.json()["user"]["email"] == "carla_1@example.test"


async def test_sign_in_failures_do_not_reveal_whether_the_user_exists(api: Api) -> None:
    account = await api.sign_up()
    wrong_password = await api.call(
        "POST", "/auth/signin", json={"username": account.username, "password": "wrong wrong"}
    )
    no_such_user = await api.call(
        "POST", "/auth/signin", json={"username": "nobody-here", "password": "wrong wrong"}
    )
    assert wrong_password.status_code == no_such_user.status_code == 401
    assert wrong_password.json() == no_such_user.json()


async def test_brute_force_sign_in_is_rate_limited_per_account(api: Api) -> None:
    account = await api.sign_up()
    statuses = []
    for _ in range(12):
        reply = await api.call(
            "POST", "/auth/signin", json={"username": account.username, "password": "guess 1234"}
        )
        statuses.append(reply.status_code)
    # The helper's own sign-in was the first of the ten attempts allowed per window.
    assert statuses[:9] == [401] * 9
    assert statuses[9:] == [429, 429, 429]
    assert reply.json()["error"]["code"] == "rate_limited"
    assert int(reply.headers["Retry-After"]) >= 1


async def test_refresh_rotates_and_reuse_revokes_the_session(api: Api) -> None:
    account = await api.sign_up()
    first = await api.call("POST", "/auth/refresh", json={"refreshToken": account.refresh_token})
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refreshToken"] != account.refresh_token
    me = await api.call(
        "GET", "/users/me", headers={"Authorization": f"Bearer {rotated['accessToken']}"}
    )
    assert me.status_code == 200

    # Presented again at once (two tabs refreshing together) it gets the same successor.
    again = await api.call("POST", "/auth/refresh", json={"refreshToken": account.refresh_token})
    assert again.status_code == 200
    assert again.json()["refreshToken"] == rotated["refreshToken"]
    onward = await api.call("POST", "/auth/refresh", json={"refreshToken": rotated["refreshToken"]})
    assert onward.status_code == 200

    # Once its successor has moved on, reuse of a spent token is treated as theft: the
    # whole chain is revoked (reuse after the grace: tests/reliability/test_sessions.py).
    replay = await api.call("POST", "/auth/refresh", json={"refreshToken": account.refresh_token})
    assert replay.status_code == 401
    chained = await api.call(
        "POST", "/auth/refresh", json={"refreshToken": onward.json()["refreshToken"]}
    )
    assert chained.status_code == 401


async def test_sign_out_and_sign_out_everywhere(api: Api) -> None:
    account = await api.sign_up()
    laptop = await api.sign_in(account.username, account.password)
    phone = await api.sign_in(account.username, account.password)

    out = await api.call(
        "POST", "/auth/signout", laptop, json={"refreshToken": laptop.refresh_token}
    )
    assert out.status_code == 204
    dead = await api.call("POST", "/auth/refresh", json={"refreshToken": laptop.refresh_token})
    assert dead.status_code == 401
    alive = await api.call("POST", "/auth/refresh", json={"refreshToken": phone.refresh_token})
    assert alive.status_code == 200

    everywhere = await api.call("POST", "/auth/signout", account, json={"everywhere": True})
    assert everywhere.status_code == 204
    for token in (alive.json()["refreshToken"], account.refresh_token):
        reply = await api.call("POST", "/auth/refresh", json={"refreshToken": token})
        assert reply.status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer not-a-jwt",
        "Basic dXNlcjpwYXNz",
        # alg "none", subject forged
        "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4IiwiZXhwIjo5OTk5OTk5OTk5fQ.",
    ],
)
async def test_protected_routes_need_a_valid_bearer_token(api: Api, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    for method, path in [
        ("GET", "/users/me"),
        ("GET", "/conversations"),
        ("GET", "/sync"),
        ("POST", "/auth/ws-ticket"),
    ]:
        reply = await api.call(method, path, headers=headers)
        assert reply.status_code == 401, (method, path)
        assert reply.json()["error"]["code"] == "unauthorized"


async def test_websocket_tickets_are_single_use(api: Api) -> None:
    account = await api.sign_up()
    ticket = await api.ticket(account)
    async with websockets.connect(f"{api.ws_url}?ticket={ticket}") as first:
        hello = await first.recv()
        assert '"hello"' in str(hello)
    for url in (
        f"{api.ws_url}?ticket={ticket}",
        f"{api.ws_url}?ticket=forged",
        api.ws_url,
        f"{api.ws_url}?token={account.access_token}",
    ):
        await assert_refused(api, url, 4401)
