"""`AttachmentStore` in an S3-compatible bucket (AWS S3, MinIO, Ceph...), with boto3.

Downloads and uploads skip the app: `url` presigns a GET that is valid for a minute and
makes the bucket answer with the attachment's content type and disposition;
`upload_target` presigns a browser's form POST, which S3 refuses beyond the size it
names (a presigned PUT cannot bound the size). boto3 is synchronous; each call runs in
a worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from hubbub.domain.attachments import content_disposition
from hubbub.domain.errors import NotFound
from hubbub.ports import UploadTarget

CHUNK = 256 * 1024


class S3Attachments:
    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        prefix: str = "attachments/",
        client: Any = None,
    ) -> None:
        self._bucket = bucket
        self._prefix = prefix
        self._client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            config=Config(
                signature_version="s3v4",  # for presigning
                # Path-style works with every S3-compatible server; AWS's own URLs name
                # the bucket in the host (<bucket>.s3.<region>.amazonaws.com), which the
                # deployed page's CSP allows.
                s3={"addressing_style": "path" if endpoint_url else "virtual"},
            ),
        )

    @property
    def origin(self) -> str:
        """Where presigned URLs point (scheme, host and port), for the page's CSP."""
        sample = self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": self._key("x")}, ExpiresIn=60
        )
        parts = urlsplit(str(sample))
        return f"{parts.scheme}://{parts.netloc}"

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(
            self._client.put_object,
            Bucket=self._bucket,
            Key=self._key(key),
            Body=data,
            ContentType=content_type,
        )

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        try:
            found = await asyncio.to_thread(
                self._client.get_object, Bucket=self._bucket, Key=self._key(key)
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise NotFound("Attachment not found.") from None
            raise
        body = found["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK):
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._client.delete_object, Bucket=self._bucket, Key=self._key(key))

    async def url(
        self, key: str, *, file_name: str, content_type: str, inline: bool, ttl_seconds: int
    ) -> str | None:
        url: str = await asyncio.to_thread(
            self._client.generate_presigned_url,
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": self._key(key),
                "ResponseContentType": content_type,
                "ResponseContentDisposition": content_disposition(file_name, inline=inline),
            },
            ExpiresIn=ttl_seconds,
        )
        return url

    async def upload_target(
        self, key: str, *, max_bytes: int, ttl_seconds: int
    ) -> UploadTarget | None:
        form: dict[str, Any] = await asyncio.to_thread(
            self._client.generate_presigned_post,
            Bucket=self._bucket,
            Key=self._key(key),
            Conditions=[["content-length-range", 1, max_bytes]],
            ExpiresIn=ttl_seconds,
        )
        return UploadTarget(url=str(form["url"]), fields=dict(form["fields"]))

    async def expire_uploads(self, before: datetime) -> int:
        return 0  # the bucket's lifecycle rule expires attachments/uploads/ after a day
