"""The CredentialRepository port's contract (local password identity), run against every
store adapter: what one promises, all keep."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hubbub.domain.errors import Conflict
from hubbub.ports import Credential, RefreshToken, Store, Transaction
from tests.postgres import store_of

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgres", "dynamodb"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    made = store_of(request.param, request, tmp_path)
    yield made
    await made.close()


def credential(user_id: str, username: str, email: str | None = None) -> Credential:
    return Credential(
        user_id=user_id,
        username=username,
        email=email or f"{username}@x.io",
        password_hash=f"hash of {user_id}",
        confirmed=False,
        confirmation_code_hash="code",
        code_expires_at=T0 + timedelta(hours=1),
    )


def token(token_hash: str, user_id: str, family_id: str) -> RefreshToken:
    return RefreshToken(token_hash, user_id, family_id, T0 + timedelta(days=30))


async def test_put_then_get_by_id_username_or_email(store: Store) -> None:
    ana = credential("u1", "ana")
    await store.write(lambda tx: tx.credentials.put(ana))
    assert await store.read(lambda tx: tx.credentials.get("u1")) == ana
    assert await store.read(lambda tx: tx.credentials.by_login("ana")) == ana
    assert await store.read(lambda tx: tx.credentials.by_login("ANA@x.io")) == ana
    assert await store.read(lambda tx: tx.credentials.by_login("bob")) is None
    assert await store.read(lambda tx: tx.credentials.get("u2")) is None


async def test_put_of_the_same_user_updates_it(store: Store) -> None:
    ana = credential("u1", "ana")
    await store.write(lambda tx: tx.credentials.put(ana))
    confirmed = replace(ana, confirmed=True, confirmation_code_hash=None, code_expires_at=None)
    await store.write(lambda tx: tx.credentials.put(confirmed))
    assert await store.read(lambda tx: tx.credentials.get("u1")) == confirmed
    assert await store.read(lambda tx: tx.credentials.by_login("ana")) == confirmed


@pytest.mark.parametrize(
    "second",
    [credential("u2", "ana", "other@x.io"), credential("u2", "other", "ana@x.io")],
    ids=["same username", "same email"],
)
async def test_a_second_account_with_a_taken_name_is_refused_and_changes_nothing(
    store: Store, second: Credential
) -> None:
    ana = credential("u1", "ana")
    await store.write(lambda tx: tx.credentials.put(ana))

    def register_second(tx: Transaction) -> None:
        tx.credentials.add_refresh(token("t2", "u2", "f2"))
        tx.credentials.put(second)

    with pytest.raises(Conflict):
        await store.write(register_second)
    assert await store.read(lambda tx: tx.credentials.get("u1")) == ana
    assert await store.read(lambda tx: tx.credentials.by_login("ana")) == ana
    assert await store.read(lambda tx: tx.credentials.by_login("ana@x.io")) == ana
    assert await store.read(lambda tx: tx.credentials.get("u2")) is None
    assert await store.read(lambda tx: tx.credentials.get_refresh("t2")) is None


async def test_refresh_tokens_are_revoked_by_family_or_by_user(store: Store) -> None:
    def issue(tx: Transaction) -> None:
        tx.credentials.add_refresh(token("a1", "u1", "fa"))
        tx.credentials.add_refresh(token("a2", "u1", "fa"))
        tx.credentials.add_refresh(token("b1", "u1", "fb"))
        tx.credentials.add_refresh(token("c1", "u2", "fc"))

    await store.write(issue)
    used = replace(token("a1", "u1", "fa"), used_at=T0 + timedelta(minutes=5))
    await store.write(lambda tx: tx.credentials.claim_refresh("a1", T0 + timedelta(minutes=5)))
    assert await store.read(lambda tx: tx.credentials.get_refresh("a1")) == used
    await store.write(lambda tx: tx.credentials.revoke_family("fa"))
    alive = ["a1", "a2", "b1", "c1"]
    found = await store.read(lambda tx: [tx.credentials.get_refresh(h) for h in alive])
    assert [t.token_hash if t else None for t in found] == [None, None, "b1", "c1"]
    await store.write(lambda tx: tx.credentials.revoke_user("u1"))
    found = await store.read(lambda tx: [tx.credentials.get_refresh(h) for h in alive])
    assert [t.token_hash if t else None for t in found] == [None, None, None, "c1"]


async def test_a_deleted_credential_frees_its_username_and_email(store: Store) -> None:
    await store.write(lambda tx: tx.credentials.put(credential("u1", "ann")))
    await store.write(lambda tx: tx.credentials.delete("u1"))
    assert await store.read(lambda tx: tx.credentials.get("u1")) is None
    assert await store.read(lambda tx: tx.credentials.by_login("ann")) is None
    assert await store.read(lambda tx: tx.credentials.by_login("ann@x.io")) is None

    await store.write(lambda tx: tx.credentials.put(credential("u2", "ann")))
    found = await store.read(lambda tx: tx.credentials.by_login("ANN@x.io"))
    assert found is not None and found.user_id == "u2"
    await store.write(lambda tx: tx.credentials.delete("nobody"))  # a no-op


async def test_a_delete_rolls_back_with_its_transaction(store: Store) -> None:
    await store.write(lambda tx: tx.credentials.put(credential("u1", "bob")))

    def fails(tx: Transaction) -> None:
        tx.credentials.delete("u1")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await store.write(fails)
    found = await store.read(lambda tx: tx.credentials.by_login("bob"))
    assert found is not None and found.user_id == "u1"
