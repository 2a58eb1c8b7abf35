"""Attachment rules that need a clock: signed links expire, unsent uploads are
deleted after a day (sent ones never), and a message's deletion takes its files."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from hubbub.domain.errors import NotFound, UnsupportedMediaType
from tests.unit.conftest import World
from tests.unit.test_conversations import add_users


async def read(world: World, download: object) -> bytes:
    chunks = download.chunks  # type: ignore[attr-defined]
    return b"".join([chunk async for chunk in chunks])


async def test_a_signed_link_works_until_it_expires(world: World) -> None:
    await add_users(world, "ana", "bob")
    chat, _ = await world.conversations.open_direct("ana", "bob")
    service = world.platform.attachments
    upload = await service.upload("ana", str(chat["id"]), "notes.txt", b"meeting at noon")
    await world.messages.send("ana", str(chat["id"]), "m1", "", attachment_ids=[str(upload["id"])])
    links = await service.link("bob", str(chat["id"]), str(upload["id"]))
    url = urlsplit(str(links["url"]))
    _, _, conversation_id, attachment_id, variant = url.path.strip("/").split("/")
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    expires, signature = int(query["expires"]), query["signature"]
    assert links["thumbnailUrl"] is None  # not an image

    fetched = await service.download_signed(
        conversation_id, attachment_id, variant, expires, signature
    )
    assert await read(world, fetched) == b"meeting at noon"
    for forged in ("", signature[:-1], "é" * len(signature)):  # any text, even non-ASCII
        with pytest.raises(NotFound):
            await service.download_signed(conversation_id, attachment_id, variant, expires, forged)
    world.clock.advance(61)
    with pytest.raises(NotFound):
        await service.download_signed(conversation_id, attachment_id, variant, expires, signature)


async def test_unsent_uploads_go_after_a_day_and_sent_ones_stay(world: World) -> None:
    await add_users(world, "ana", "bob")
    chat, _ = await world.conversations.open_direct("ana", "bob")
    cid = str(chat["id"])
    service = world.platform.attachments
    abandoned = await service.upload("ana", cid, "draft.txt", b"never sent")
    kept = await service.upload("ana", cid, "sent.txt", b"sent")
    await world.messages.send("ana", cid, "m1", "here", attachment_ids=[str(kept["id"])])
    world.clock.advance(23 * 3600)
    assert await service.clean_up() == 0  # not a day old yet
    world.clock.advance(2 * 3600)
    assert await service.clean_up() == 1
    with pytest.raises(NotFound):
        await service.download("ana", cid, str(abandoned["id"]), thumbnail=False)
    still = await service.download("bob", cid, str(kept["id"]), thumbnail=False)
    assert await read(world, still) == b"sent"
    with pytest.raises(NotFound):  # too late to send it now
        await world.messages.send("ana", cid, "m2", "", attachment_ids=[str(abandoned["id"])])


async def test_deleting_a_message_deletes_its_files_bytes_and_all(world: World) -> None:
    await add_users(world, "ana", "bob")
    chat, _ = await world.conversations.open_direct("ana", "bob")
    cid = str(chat["id"])
    service = world.platform.attachments
    upload = await service.upload("ana", cid, "oops.txt", b"wrong chat")
    change = await world.messages.send("ana", cid, "m1", "", attachment_ids=[str(upload["id"])])
    await world.messages.delete("ana", cid, str(change.message["id"]))
    blobs = service._blobs  # the bytes themselves must be gone
    with pytest.raises(NotFound):
        async for _ in blobs.stream(f"{cid}/{upload['id']}"):
            pass


async def test_a_deleted_group_takes_its_files_bytes_and_all(world: World) -> None:
    await add_users(world, "ana", "bob")
    group = await world.conversations.create_group("ana", "Trip", ["bob"])
    gid = str(group["id"])
    service = world.platform.attachments
    sent = await service.upload("ana", gid, "plan.txt", b"the plan")
    await world.messages.send("ana", gid, "m1", "", attachment_ids=[str(sent["id"])])
    unsent = await service.upload("bob", gid, "draft.txt", b"a draft")
    await world.conversations.delete("ana", gid)
    for attachment in (sent, unsent):
        with pytest.raises(NotFound):
            async for _ in service._blobs.stream(f"{gid}/{attachment['id']}"):
                pass


async def test_an_upload_whose_completion_failed_midway_can_be_completed_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store failing while an upload completes keeps the bytes sent: the client's
    retry completes it, once. Refused bytes go: there is nothing to retry."""
    await add_users(world, "ana", "bob")
    chat, _ = await world.conversations.open_direct("ana", "bob")
    cid = str(chat["id"])
    service = world.platform.attachments

    async def sent(name: str, data: bytes) -> str:
        target = await service.start_upload("ana", cid, name, len(data))
        query = {k: v[0] for k, v in parse_qs(urlsplit(str(target["url"])).query).items()}
        upload_id = str(target["id"])
        await service.receive_upload(upload_id, int(query["expires"]), query["signature"], data)
        return upload_id

    upload_id = await sent("plan.txt", b"the plan")
    write = world.store.write

    async def failing(*args: object, **kwargs: object) -> object:
        monkeypatch.setattr(world.store, "write", write)  # only this once
        raise ConnectionError("the store went away")

    monkeypatch.setattr(world.store, "write", failing)
    with pytest.raises(ConnectionError):
        await service.complete_upload("ana", cid, upload_id, "plan.txt")
    view, created = await service.complete_upload("ana", cid, upload_id, "plan.txt")
    assert created and view["size"] == len(b"the plan")
    assert await service.complete_upload("ana", cid, upload_id, "plan.txt") == (view, False)

    refused = await sent("notes.txt", b"binary\x00")
    with pytest.raises(UnsupportedMediaType):
        await service.complete_upload("ana", cid, refused, "notes.txt")
    with pytest.raises(NotFound):  # the bytes went with the refusal
        await service.complete_upload("ana", cid, refused, "notes.txt")
