"""Console confirmation mode: an unconfirmed sign-up holds its username and email for a
day, not forever, and `confirm` does not tell an unknown user from a pending one."""

from __future__ import annotations

import itertools
import os
from datetime import timedelta
from typing import Any

from tests.api.console import age_sign_up, codes, next_code
from tests.support import Api, ServerProcess

_serial = itertools.count()


def _name() -> str:
    return f"uc{os.getpid()}x{next(_serial)}"


async def _sign_up(
    api: Api, username: str, email: str, password: str
) -> tuple[int, dict[str, Any]]:
    reply = await api.call(
        "POST",
        "/auth/signup",
        json={"username": username, "email": email, "password": password, "displayName": "U"},
    )
    return reply.status_code, reply.json()


async def test_an_unconfirmed_sign_up_gives_way_to_the_owner_after_a_day(
    client: Api, console: ServerProcess
) -> None:
    name = _name()
    email = f"{name}@example.test"
    status, body = await _sign_up(client, name, email, "squatter password")
    assert status == 201 and body["confirmationRequired"] is True
    squatter_code = next_code(console, "confirmation", name)

    # Within the day the name and the email stay held...
    assert (await _sign_up(client, name, f"other{email}", "owner password"))[0] == 409
    assert (await _sign_up(client, f"{name}b", email, "owner password"))[0] == 409

    # ...and a day later the owner's sign-up replaces the stale one.
    age_sign_up(console, name, timedelta(hours=24, seconds=1))
    status, body = await _sign_up(client, name, email, "owner password")
    assert status == 201, body
    owner_code = next_code(console, "confirmation", name, seen=1)

    stale = await client.call(
        "POST", "/auth/confirm", json={"username": name, "code": squatter_code}
    )
    if squatter_code != owner_code:
        assert stale.status_code == 422
    confirmed = await client.call(
        "POST", "/auth/confirm", json={"username": name, "code": owner_code}
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["user"]["id"] == body["user"]["id"]
    owner = await client.sign_in(email, "owner password")
    assert owner.id == body["user"]["id"]
    squatter = await client.call(
        "POST", "/auth/signin", json={"username": name, "password": "squatter password"}
    )
    assert squatter.status_code == 401


async def test_a_confirmed_account_is_never_given_away(client: Api, console: ServerProcess) -> None:
    name = _name()
    assert (await _sign_up(client, name, f"{name}@example.test", "owner password"))[0] == 201
    code = next_code(console, "confirmation", name)
    confirmed = await client.call("POST", "/auth/confirm", json={"username": name, "code": code})
    assert confirmed.status_code == 200
    age_sign_up(console, name, timedelta(days=30))
    assert (await _sign_up(client, name, f"x{name}@example.test", "other password"))[0] == 409
    await client.sign_in(name, "owner password")


async def test_confirm_answers_an_unknown_user_exactly_like_a_pending_one(
    client: Api, console: ServerProcess
) -> None:
    pending, done = _name(), _name()
    for name in (pending, done):
        assert (await _sign_up(client, name, f"{name}@example.test", "some password"))[0] == 201
    done_code = next_code(console, "confirmation", done)
    assert (
        await client.call("POST", "/auth/confirm", json={"username": done, "code": done_code})
    ).status_code == 200
    pending_code = next_code(console, "confirmation", pending)
    wrong = "000000" if pending_code != "000000" else "111111"

    replies = [
        await client.call("POST", "/auth/confirm", json={"username": username, "code": wrong})
        for username in (pending, f"nobody{pending}", done)
    ]
    assert {r.status_code for r in replies} == {422}
    assert replies[0].json() == replies[1].json() == replies[2].json()
    assert replies[0].json()["error"]["code"] == "validation_error"
    assert codes(console, "confirmation", f"nobody{pending}") == []
