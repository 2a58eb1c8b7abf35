"""Display names cannot hide, reorder or pile up, at sign-up and on profile updates;
names stored before the rule keep working."""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import time

import boto3
import httpx
import psycopg
import pytest

from tests.support import Api, ServerProcess

ATTACKS = {
    "right-to-left override": "Alice\u202egnp.exe",
    "right-to-left isolate": "\u2067Alice\u2069",
    "zero-width space": "Al\u200bice",
    "zero-width joiner": "Al\u200dice",
    "byte order mark": "\ufeffAlice",
    "NUL": "Alice\x00",
    "escape sequence": "Alice\x1b[2J",
    "64 combining marks": "A" + "\u0301" * 64,
    "hangul filler": "\u3164",
}
_serial = itertools.count()


def _name() -> str:
    return f"nm{os.getpid()}x{next(_serial)}{time.time_ns() % 100000}"


def _is_validation_error(reply: httpx.Response) -> None:
    assert reply.status_code == 422, reply.text
    error = reply.json()["error"]
    assert error["code"] == "validation_error"
    assert "Display name" in error["message"]


@pytest.mark.parametrize("display", ATTACKS.values(), ids=ATTACKS.keys())
async def test_sign_up_refuses_names_that_hide_or_reorder(api: Api, display: str) -> None:
    username = _name()
    reply = await api.call(
        "POST",
        "/auth/signup",
        json={
            "username": username,
            "email": f"{username}@example.test",
            "password": "correct horse battery",
            "displayName": display,
        },
    )
    _is_validation_error(reply)
    # Nothing was created: the same username signs up with a proper name.
    fine = await api.sign_up(username, display="Alice")
    assert fine.username == username


@pytest.mark.parametrize("display", ATTACKS.values(), ids=ATTACKS.keys())
async def test_profile_updates_refuse_names_that_hide_or_reorder(api: Api, display: str) -> None:
    account = await api.sign_up(_name(), display="Alice")
    reply = await api.call("PATCH", "/users/me", account, json={"displayName": display})
    _is_validation_error(reply)
    me = (await api.call("GET", "/users/me", account)).json()["user"]
    assert me["displayName"] == "Alice"


async def test_names_are_normalised_and_real_scripts_and_emoji_kept(api: Api) -> None:
    account = await api.sign_up(_name(), display="x")
    for raw, stored in [
        ("  Jose\u0301   Nun\u0303ez ", "José Nuñez"),
        ("محمد 🇵🇹", "محمد 🇵🇹"),
        ("👩\u200d💻 अनुष्का", "👩\u200d💻 अनुष्का"),
    ]:
        reply = await api.call("PATCH", "/users/me", account, json={"displayName": raw})
        assert reply.status_code == 200, reply.text
        assert reply.json()["user"]["displayName"] == stored


async def test_a_name_stored_before_the_rule_still_reads(
    api: Api, local_server: ServerProcess
) -> None:
    account = await api.sign_up(_name(), display="Old Name")
    other = await api.sign_up(_name(), display="Other")
    group = await api.group(account, "old names", other)
    old = "Old\u202e\x00" + "\u0301" * 64
    database_url = local_server.env.get("HUBBUB_DATABASE_URL")
    if database_url:  # PostgreSQL's text holds no NUL: the rest of what the rule refuses
        old = old.replace("\x00", "")
        with psycopg.connect(database_url) as pg:
            pg.execute(
                b"UPDATE users SET display_name = %s, display_name_lower = %s WHERE id = %s",
                (old, old.lower(), account.id),
            )
    elif local_server.env.get("HUBBUB_STORE") == "dynamodb":
        _store_name_in_dynamodb(local_server.env, account.id, old)
    else:
        with sqlite3.connect(local_server.data_dir / "hubbub.db", timeout=30) as db:
            db.execute(
                "UPDATE users SET display_name = ?, display_name_lower = ? WHERE id = ?",
                (old, old.lower(), account.id),
            )
    public = await api.call("GET", f"/users/{account.id}", other)
    assert public.status_code == 200 and public.json()["user"]["displayName"] == old
    members = await api.call("GET", f"/conversations/{group}/members", other)
    assert members.status_code == 200
    assert old in {m["displayName"] for m in members.json()["members"]}
    # ...and its owner can replace it with a valid one.
    fixed = await api.call("PATCH", "/users/me", account, json={"displayName": "New Name"})
    assert fixed.status_code == 200 and fixed.json()["user"]["displayName"] == "New Name"


def _store_name_in_dynamodb(env: dict[str, str], user_id: str, name: str) -> None:
    """Writes the name into the user's item as an older release could have."""
    client = boto3.client(
        "dynamodb",
        endpoint_url=env["AWS_ENDPOINT_URL_DYNAMODB"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    table = env["HUBBUB_DYNAMODB_TABLE_PREFIX"] + "users"
    key = {"pk": {"S": user_id}, "sk": {"S": "user"}}
    item = client.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    data = json.loads(item["d"]["S"])
    data["display_name"] = name
    item["d"] = {"S": json.dumps(data)}
    client.put_item(TableName=table, Item=item)


async def test_two_people_may_share_a_name_and_are_told_apart_by_username(api: Api) -> None:
    first = await api.sign_up(_name(), display="Sam Lee")
    second = await api.sign_up(_name(), display="Sam Lee")
    group = await api.group(first, "two sams", second)
    members = (await api.call("GET", f"/conversations/{group}/members", first)).json()["members"]
    sams = [m for m in members if m["displayName"] == "Sam Lee"]
    assert {m["username"] for m in sams} == {first.username, second.username}
