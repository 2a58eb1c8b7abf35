"""What sign-up and password reset refuse, and how they say it: weak passwords get a 422
that says what to do and names the field; a taken username or email gets a 409 that
says which."""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest

from tests.api.console import next_code
from tests.support import Api, ServerProcess

_serial = itertools.count()


def _name() -> str:
    return f"signup{os.getpid()}x{next(_serial)}"


def _body(name: str, password: str, **more: str) -> dict[str, Any]:
    return {
        "username": name,
        "email": f"{name}@example.test",
        "password": password,
        "displayName": "Sign Up",
        **more,
    }


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("password", "This password is too common"),
        ("PassWord1", "This password is too common"),
        ("  iloveyou  ", "This password is too common"),
        (" " * 8, "Choose a longer password"),
        ("\t" * 12, "Choose a longer password"),
        ("  short  ", "Choose a longer password"),
        ("🙂🙃🙂🙃", "Choose a longer password"),  # 8 UTF-16 units, 4 characters
        ("abcdefgh", "This password is too easy to guess"),
        ("x" * 257, "Choose a shorter password"),
    ],
)
async def test_sign_up_refuses_weak_passwords_saying_what_to_do(
    api: Api, password: str, says: str
) -> None:
    name = _name()
    reply = await api.call("POST", "/auth/signup", json=_body(name, password))
    assert reply.status_code == 422, reply.text
    error = reply.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"].startswith(says), error
    assert error["details"] == {"field": "password"}
    # Nothing was created: the same name signs up with a good password.
    good = await api.call("POST", "/auth/signup", json=_body(name, "a few unrelated words"))
    assert good.status_code == 201, good.text


async def test_sign_up_refuses_the_username_or_email_as_password(api: Api) -> None:
    for own in ("{name}", "{name}@example.test", "{NAME}"):
        name = _name()
        password = own.format(name=name, NAME=name.upper())
        reply = await api.call("POST", "/auth/signup", json=_body(name, password))
        assert reply.status_code == 422, reply.text
        assert "not your username or email" in reply.json()["error"]["message"]


async def test_long_unicode_and_spaced_passwords_are_welcome(api: Api) -> None:
    for password in (
        "ünïcödé wörds",
        "xy" * 128,
        "   padded but long enough   ",
        "密码是一个长句子",
    ):
        name = _name()
        reply = await api.call("POST", "/auth/signup", json=_body(name, password))
        assert reply.status_code == 201, (password, reply.text)
        # Stored exactly as typed: surrounding spaces are part of it.
        assert (await api.sign_in(name, password)).username == name


async def test_a_taken_username_or_email_is_named(api: Api) -> None:
    taken = await api.sign_up()
    cases = [
        ({"username": taken.username.upper(), "email": f"o{_name()}@example.test"}, "username"),
        ({"username": _name(), "email": f"{taken.username}@example.test"}, "email"),
        ({"username": taken.username, "email": f"{taken.username}@example.test"}, "username"),
    ]
    for fields, field in cases:
        body = {"password": "a few unrelated words", "displayName": "X", **fields}
        reply = await api.call("POST", "/auth/signup", json=body)
        assert reply.status_code == 409, reply.text
        error = reply.json()["error"]
        assert error["code"] == "conflict"
        assert error["details"] == {"field": field}
        assert ("username is taken" if field == "username" else "email address is already") in (
            error["message"]
        )


async def test_invalid_fields_are_named(api: Api) -> None:
    for fields, field in [
        ({"username": "ab"}, "username"),
        ({"email": "nope"}, "email"),
        ({"displayName": "\u202e"}, "displayName"),
    ]:
        body = {**_body(_name(), "a few unrelated words"), **fields}
        reply = await api.call("POST", "/auth/signup", json=body)
        assert reply.status_code == 422, reply.text
        assert reply.json()["error"]["details"] == {"field": field}, reply.text


async def test_reset_refuses_a_common_password(client: Api, console: ServerProcess) -> None:
    name = _name()
    signed_up = await client.call("POST", "/auth/signup", json=_body(name, "old pass phrase"))
    assert signed_up.status_code == 201, signed_up.text
    code = next_code(console, "confirmation", name)
    confirmed = await client.call("POST", "/auth/confirm", json={"username": name, "code": code})
    assert confirmed.status_code == 200, confirmed.text
    asked = await client.call("POST", "/auth/forgot-password", json={"username": name})
    assert asked.status_code == 202
    code = next_code(console, "password reset", name)

    for weak, says in [
        ("Password123", "This password is too common"),
        (" " * 8, "Choose a longer password"),
        (name, "Choose a password that is not your username"),
    ]:
        reply = await client.call(
            "POST",
            "/auth/reset-password",
            json={"username": name, "code": code, "newPassword": weak},
        )
        assert reply.status_code == 422, reply.text
        error = reply.json()["error"]
        assert error["message"].startswith(says), error
        assert error["details"] == {"field": "newPassword"}

    # The refusals did not spend the code.
    reply = await client.call(
        "POST",
        "/auth/reset-password",
        json={"username": name, "code": code, "newPassword": "new pass phrase"},
    )
    assert reply.status_code == 204, reply.text
    assert (await client.sign_in(name, "new pass phrase")).username == name
