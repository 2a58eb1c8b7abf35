"""The `AttachmentStore` contract, run against each adapter: files under a directory,
and an S3-compatible bucket (moto's S3 server, spoken to over HTTP like a real one)."""

from __future__ import annotations

import base64
import json
import os
import stat
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
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
        # moto checks a presigned URL's signature only where the key does not exist (it
        # serves an existing key whatever the signature; S3 would not), and so refuses
        # another key with this one's signature; which is all of S3's checks it shows.
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


async def test_an_upload_target_takes_a_form_post_and_its_policy_bounds_the_size(
    blobs: AttachmentStore,
) -> None:
    target = await blobs.upload_target("uploads/u1", max_bytes=1000, ttl_seconds=60)
    if isinstance(blobs, DiskAttachments):
        assert target is None  # the app signs a URL of its own and takes the bytes there
        return
    assert target is not None
    async with httpx.AsyncClient() as client:
        fields, file = target.fields, {"file": ("x.pdf", b"%PDF-1.4 sent by the browser")}
        sent = await client.post(target.url, data=fields, files=file)
        assert sent.status_code in {200, 201, 204}, sent.text
    assert await read(blobs, "uploads/u1") == b"%PDF-1.4 sent by the browser"
    # moto stores any form POST without checking its policy (real S3 checks it), so what
    # S3 is asked to enforce is read from the signed policy itself: this key only, at
    # most `max_bytes`, for a minute.
    policy = json.loads(base64.b64decode(target.fields["policy"]))
    assert ["content-length-range", 1, 1000] in policy["conditions"]
    assert {"key": "attachments/uploads/u1"} in policy["conditions"]
    assert target.fields["key"] == "attachments/uploads/u1"
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert 0 < (expires - datetime.now(UTC)).total_seconds() <= 60


async def test_on_aws_links_and_uploads_name_the_bucket_in_the_host_the_page_allows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On AWS (no endpoint URL) presigned URLs are virtual-hosted, so the deployed page's
    CSP (infra/shared/resources/web.yml: https://*.s3.<region>.amazonaws.com in img-src
    and connect-src) lets the page show and upload them. Signing needs no network."""
    from hubbub.adapters.attachments_s3 import S3Attachments

    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    blobs = S3Attachments("hubbub-prod-attachments", region="eu-west-1")
    host = "https://hubbub-prod-attachments.s3.eu-west-1.amazonaws.com"
    link = await blobs.url(
        "c1/a1", file_name="a.png", content_type="image/png", inline=True, ttl_seconds=60
    )
    target = await blobs.upload_target("uploads/u1", max_bytes=10, ttl_seconds=60)
    assert link is not None and link.startswith(host + "/attachments/c1/a1?")
    assert target is not None and target.url.rstrip("/") == host
    assert blobs.origin == host
    web = (Path(__file__).parents[2] / "infra/shared/resources/web.yml").read_text()
    allowed = "https://*.s3.${AWS::Region}.${AWS::URLSuffix}"
    policy = next(line for line in web.splitlines() if "ContentSecurityPolicy: !Sub" in line)
    for directive in ("img-src", "connect-src"):
        assert allowed in policy.split(directive, 1)[1].split(";", 1)[0], directive


async def test_uploads_never_completed_expire_and_nothing_else_does(
    blobs: AttachmentStore,
) -> None:
    await blobs.put("uploads/old", b"sent, never completed", "application/octet-stream")
    await blobs.put("c1/a1", b"an attachment", "application/pdf")
    assert await blobs.expire_uploads(datetime.now(UTC) - timedelta(hours=1)) == 0
    assert await read(blobs, "uploads/old") == b"sent, never completed"
    expired = await blobs.expire_uploads(datetime.now(UTC) + timedelta(seconds=5))
    assert await read(blobs, "c1/a1") == b"an attachment"
    if isinstance(blobs, DiskAttachments):
        assert expired == 1
        with pytest.raises(NotFound):
            await read(blobs, "uploads/old")
    else:  # S3: the bucket's lifecycle rule (infra/shared/resources/messaging.yml) does it
        assert expired == 0
        messaging = (Path(__file__).parents[2] / "infra/shared/resources/messaging.yml").read_text()
        assert "Prefix: attachments/uploads/\n            ExpirationInDays: 1" in messaging
