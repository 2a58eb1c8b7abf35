"""The credential repository's contract on every adapter: deleting a credential frees
its username and email, and rolls back with its transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hubbub.adapters.memory import MemoryStore
from hubbub.adapters.sqlite import SqliteStore
from hubbub.ports import Credential, Store, Transaction


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    made: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "t.db")
    yield made
    await made.close()


def _credential(user_id: str, name: str) -> Credential:
    return Credential(
        user_id=user_id,
        username=name,
        email=f"{name}@x.io",
        password_hash=f"hash-{user_id}",
        confirmed=False,
    )


async def test_a_deleted_credential_frees_its_username_and_email(store: Store) -> None:
    await store.write(lambda tx: tx.credentials.put(_credential("u1", "ann")))
    await store.write(lambda tx: tx.credentials.delete("u1"))
    assert await store.read(lambda tx: tx.credentials.get("u1")) is None
    assert await store.read(lambda tx: tx.credentials.by_login("ann")) is None
    assert await store.read(lambda tx: tx.credentials.by_login("ann@x.io")) is None

    await store.write(lambda tx: tx.credentials.put(_credential("u2", "ann")))
    found = await store.read(lambda tx: tx.credentials.by_login("ANN@x.io"))
    assert found is not None and found.user_id == "u2"
    await store.write(lambda tx: tx.credentials.delete("nobody"))  # a no-op


async def test_a_delete_rolls_back_with_its_transaction(store: Store) -> None:
    await store.write(lambda tx: tx.credentials.put(_credential("u1", "bob")))

    def fails(tx: Transaction) -> None:
        tx.credentials.delete("u1")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await store.write(fails)
    found = await store.read(lambda tx: tx.credentials.by_login("bob"))
    assert found is not None and found.user_id == "u1"
