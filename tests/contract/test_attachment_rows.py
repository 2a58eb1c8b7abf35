"""The `AttachmentRepository` contract on every store (memory, SQLite, PostgreSQL), and
messages keeping what was sent with them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from hubbub.domain.models import Attachment
from hubbub.ports import Store, Transaction
from tests.contract.test_store import T0, message, seed
from tests.postgres import store_of


@pytest.fixture(params=["memory", "sqlite", "postgres", "dynamodb"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    made = store_of(request.param, request, tmp_path)
    yield made
    await made.close()


def attachment(
    n: int, conversation_id: str = "c1", uploader: str = "u1", **kw: object
) -> Attachment:
    made = Attachment(
        id=f"a{n}",
        conversation_id=conversation_id,
        uploader_id=uploader,
        file_name=f"file {n}.png",
        content_type="image/png",
        size=100 * n,
        created_at=T0 + timedelta(hours=n),
        width=640,
        height=480,
        has_thumbnail=True,
    )
    return replace(made, **kw)  # type: ignore[arg-type]


async def test_an_upload_is_attached_once_by_its_uploader_in_its_conversation(
    store: Store,
) -> None:
    await seed(store)

    def upload(tx: Transaction) -> None:
        tx.attachments.insert(attachment(1))
        tx.attachments.insert(attachment(2))
        tx.attachments.insert(attachment(3, uploader="u2"))
        tx.attachments.insert(attachment(4, conversation_id="c2"))

    await store.write(upload)
    assert await store.read(lambda tx: tx.attachments.get("c1", "a1")) == attachment(1)
    assert await store.read(lambda tx: tx.attachments.get("c2", "a1")) is None  # not through c2

    # Only u1's unsent uploads in c1 are taken; the rest are left as they were.
    taken = await store.write(
        lambda tx: tx.attachments.attach("c1", "u1", ["a1", "a3", "a4", "a1", "zz"], "m1")
    )
    assert [a.id for a in taken] == ["a1"] and taken[0].message_id == "m1"
    again = await store.write(lambda tx: tx.attachments.attach("c1", "u1", ["a1", "a2"], "m2"))
    assert [a.id for a in again] == ["a2"]
    assert (await store.read(lambda tx: tx.attachments.get("c1", "a1"))).message_id == "m1"  # type: ignore[union-attr]
    assert (await store.read(lambda tx: tx.attachments.get("c1", "a3"))).message_id is None  # type: ignore[union-attr]


async def test_a_message_keeps_its_attachments_until_it_is_deleted(store: Store) -> None:
    await seed(store)
    sent = (attachment(1, message_id="c1-m1"), attachment(2, message_id="c1-m1"))

    def send(tx: Transaction) -> None:
        for item in sent:
            tx.attachments.insert(replace(item, message_id=None))
        tx.attachments.attach("c1", "u1", ["a1", "a2"], "c1-m1")
        tx.messages.insert(replace(message("c1", 1), attachments=sent))

    await store.write(send)
    kept = await store.read(lambda tx: tx.messages.get("c1", "c1-m1"))
    assert kept is not None and kept.attachments == sent
    page = await store.read(lambda tx: tx.messages.page("c1", before=None, after=None, limit=5))
    assert page[0].attachments == sent

    def delete(tx: Transaction) -> list[Attachment]:
        assert tx.messages.mark_deleted("c1", "c1-m1", T0)
        return tx.attachments.detach("c1", "c1-m1")

    detached = await store.write(delete)
    assert sorted(a.id for a in detached) == ["a1", "a2"]
    gone = await store.read(lambda tx: tx.messages.get("c1", "c1-m1"))
    assert gone is not None and gone.deleted and gone.attachments == ()
    assert await store.read(lambda tx: tx.attachments.get("c1", "a1")) is None


async def test_unsent_uploads_are_found_by_age_and_deleted_only_while_unsent(
    store: Store,
) -> None:
    await seed(store)

    def upload(tx: Transaction) -> None:
        for n in (1, 2, 3, 4):
            tx.attachments.insert(attachment(n))
        tx.attachments.attach("c1", "u1", ["a2"], "m1")

    await store.write(upload)
    cutoff = T0 + timedelta(hours=3, minutes=30)
    stale = await store.read(lambda tx: tx.attachments.unsent_before(cutoff, 10))
    assert [a.id for a in stale] == ["a1", "a3"]  # a2 was sent, a4 is newer
    assert [a.id for a in await store.read(lambda tx: tx.attachments.unsent_before(cutoff, 1))] == [
        "a1"
    ]
    assert await store.write(lambda tx: tx.attachments.delete("c1", "a1"))
    assert not await store.write(lambda tx: tx.attachments.delete("c1", "a2"))  # sent: kept
    assert await store.read(lambda tx: tx.attachments.get("c1", "a1")) is None
    assert await store.read(lambda tx: tx.attachments.get("c1", "a2")) is not None


async def test_deleting_a_conversation_deletes_its_attachment_rows(store: Store) -> None:
    await seed(store)

    def upload(tx: Transaction) -> None:
        tx.attachments.insert(attachment(1))
        tx.attachments.insert(attachment(2, message_id="m1"))
        tx.attachments.insert(attachment(3, conversation_id="c2"))

    await store.write(upload)
    listed = await store.read(lambda tx: tx.attachments.of_conversation("c1"))
    assert sorted(a.id for a in listed) == ["a1", "a2"]
    await store.write(lambda tx: tx.conversations.delete("c1"))
    assert await store.read(lambda tx: tx.attachments.of_conversation("c1")) == []
    assert await store.read(lambda tx: tx.attachments.get("c1", "a1")) is None
