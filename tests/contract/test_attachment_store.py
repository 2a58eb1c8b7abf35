"""The `AttachmentStore` contract, run against each adapter: files under a directory,
and an S3-compatible bucket (moto's S3 server, spoken to over HTTP like a real one)."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from hubbub.adapters.attachments_disk import DiskAttachments
from hubbub.domain.errors import NotFound
from hubbub.ports import AttachmentStore

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

BUCKET = "hubbub-test"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 on a port of its own, with test credentials in the environment."""
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(params=["disk", "s3"])
async def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AttachmentStore]:
    if request.param == "disk":
        yield DiskAttachments(tmp_path / "data" / "attachments")
        return
    from hubbub.adapters.attachments_s3 import S3Attachments

    endpoint: str = request.getfixturevalue("s3_endpoint")
    bucket = f"{BUCKET}-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    yield S3Attachments(bucket, endpoint_url=endpoint, region="us-east-1")


async def read(blobs: AttachmentStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in blobs.stream(key)])


async def test_bytes_put_under_a_key_come_back_whole(blobs: AttachmentStore) -> None:
    big = os.urandom(700_000)  # more than one chunk
    await blobs.put("c1/a1", big, "application/pdf")
    await blobs.put("c1/a1.thumb", b"thumb", "image/webp")
    assert await read(blobs, "c1/a1") == big
    assert await read(blobs, "c1/a1.thumb") == b"thumb"
    await blobs.put("c1/a1", b"replaced", "application/pdf")
    assert await read(blobs, "c1/a1") == b"replaced"


async def test_missing_and_deleted_keys_are_not_found(blobs: AttachmentStore) -> None:
    with pytest.raises(NotFound):
        await read(blobs, "c1/never")
    await blobs.put("c1/a2", b"soon gone", "text/plain")
    await blobs.delete("c1/a2")
    await blobs.delete("c1/a2")  # twice: nothing happens
    with pytest.raises(NotFound):
        await read(blobs, "c1/a2")


async def test_direct_urls_serve_the_bytes_with_their_type_and_disposition(
    blobs: AttachmentStore,
) -> None:
    await blobs.put("c1/a3", b"%PDF-1.4 hello", "application/pdf")
    url = await blobs.url(
        "c1/a3",
        file_name="rapport été.pdf",
        content_type="application/pdf",
        inline=False,
        ttl_seconds=60,
    )
    if isinstance(blobs, DiskAttachments):
        assert url is None  # the app signs and serves its own
        return
    assert url is not None and "X-Amz-Expires=60" in url
    async with httpx.AsyncClient() as client:
        reply = await client.get(url)
        assert reply.status_code == 200 and reply.content == b"%PDF-1.4 hello"
        assert reply.headers["content-type"] == "application/pdf"
        disposition = reply.headers["content-disposition"]
        assert (
            disposition.startswith("attachment;") and "rapport%20%C3%A9t%C3%A9.pdf" in disposition
        )
        # The signature covers the key: another key with the same query is refused.
        forged = await client.get(url.replace("/c1/a3?", "/c1/a4?"))
        assert forged.status_code == 403


async def test_disk_files_are_owner_only(tmp_path: Path) -> None:
    root = tmp_path / "data" / "attachments"
    blobs = DiskAttachments(root)
    await blobs.put("c1/a1", b"private", "text/plain")
    for path in (root, root / "c1"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "c1" / "a1").stat().st_mode) == 0o600
    assert [p.name for p in (root / "c1").iterdir()] == ["a1"]  # no temporary left


async def test_disk_keys_cannot_leave_the_directory(tmp_path: Path) -> None:
    blobs = DiskAttachments(tmp_path / "attachments")
    for key in ("../escape", "c1/../../x", "/etc/passwd", "c1/a1/deeper"):
        with pytest.raises(ValueError):
            await blobs.put(key, b"x", "text/plain")
