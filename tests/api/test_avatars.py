"""Profile pictures (issue 13): set, replace and remove through the attachment store;
contacts see the change live (`user.updated`), and the picture is served without a
token at an unguessable URL that changes with every new picture."""

from __future__ import annotations

import io
import random
from typing import Any

import httpx
from PIL import Image

from tests.api.test_attachments import png, png_claiming
from tests.support import Account, Api, open_socket

LIMIT = 5 * 1024 * 1024


def jpeg_with_exif(width: int, height: int) -> bytes:
    """A photo carrying EXIF metadata (a camera make and a GPS block)."""
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}  # GPS IFD
    out = io.BytesIO()
    Image.new("RGB", (width, height), "orange").save(out, format="JPEG", exif=exif)
    return out.getvalue()


async def put_avatar(api: Api, account: Account, data: bytes, **kwargs: Any) -> httpx.Response:
    return await api.call(
        "PUT",
        "/users/me/avatar",
        account,
        content=data,
        headers={"content-type": "application/octet-stream"},
        **kwargs,
    )


async def fetch(api: Api, url: str) -> httpx.Response:
    """The picture as an <img> gets it: no token."""
    assert url.startswith("/api/avatars/")
    return await api.http.get(url)


async def test_a_picture_is_squared_stored_and_reaches_contacts_live(api: Api) -> None:
    ana, bob, carol = await api.sign_up(), await api.sign_up(), await api.sign_up()
    await api.direct(ana, bob)
    me = await api.call("GET", "/users/me", ana)
    assert me.json()["user"]["avatarUrl"] is None
    async with open_socket(api, bob) as bob_socket, open_socket(api, carol) as carol_socket:
        reply = await put_avatar(api, ana, jpeg_with_exif(900, 600))
        assert reply.status_code == 200, reply.text
        url = reply.json()["user"]["avatarUrl"]
        seen = await bob_socket.wait_for(type="user.updated")
        assert seen["user"]["id"] == ana.id and seen["user"]["avatarUrl"] == url
        await carol_socket.settle()
        assert not carol_socket.of_type("user.updated")
    # 128 random bits in the URL.
    assert len(url.rsplit("/", 1)[1]) == 32
    # Bob, loading later, sees it too.
    profile = await api.call("GET", f"/users/{ana.id}", bob)
    assert profile.json()["user"]["avatarUrl"] == url
    served = await fetch(api, url)
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/webp"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "immutable" in served.headers["cache-control"]
    with Image.open(io.BytesIO(served.content)) as image:
        assert image.format == "WEBP" and image.size == (256, 256)
        assert not image.getexif() and "exif" not in image.info


async def test_replacing_and_removing_retire_the_old_url(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    await api.group(ana, "Crew", bob)
    first = (await put_avatar(api, ana, png(300, 300, "red"))).json()["user"]["avatarUrl"]
    async with open_socket(api, bob) as bob_socket:
        reply = await put_avatar(api, ana, png(200, 500, "blue"))
        assert reply.status_code == 200, reply.text
        second = reply.json()["user"]["avatarUrl"]
        assert second != first
        seen = await bob_socket.wait_for(type="user.updated")
        assert seen["user"]["avatarUrl"] == second
    assert (await fetch(api, first)).status_code == 404
    assert (await fetch(api, second)).status_code == 200
    async with open_socket(api, bob) as bob_socket:
        removed = await api.call("DELETE", "/users/me/avatar", ana)
        assert removed.status_code == 200, removed.text
        assert removed.json()["user"]["avatarUrl"] is None
        seen = await bob_socket.wait_for(type="user.updated")
        assert seen["user"]["avatarUrl"] is None
    assert (await fetch(api, second)).status_code == 404
    # Removing again changes nothing and is not an error.
    again = await api.call("DELETE", "/users/me/avatar", ana)
    assert again.status_code == 200 and again.json()["user"]["avatarUrl"] is None


async def test_bad_pictures_are_refused_and_change_nothing(api: Api) -> None:
    ana = await api.sign_up()
    kept = (await put_avatar(api, ana, png(64, 64))).json()["user"]["avatarUrl"]
    cases = [
        (b"%PDF-1.4\n%%EOF\n", 415, "unsupported_media_type"),
        (png(10, 10)[:40], 415, "unsupported_media_type"),  # cut short
        (b"", 422, "validation_error"),
        (png_claiming(50_000, 50_000), 413, "payload_too_large"),  # a decompression bomb
        (b"\x89PNG" + b"\x00" * LIMIT, 413, "payload_too_large"),
    ]
    for data, status, code in cases:
        reply = await put_avatar(api, ana, data)
        assert reply.status_code == status, (status, reply.text)
        assert reply.json()["error"]["code"] == code
    me = await api.call("GET", "/users/me", ana)
    assert me.json()["user"]["avatarUrl"] == kept
    assert (await fetch(api, kept)).status_code == 200


async def test_an_upload_near_the_limit_passes_the_server_wide_body_limit(api: Api) -> None:
    ana = await api.sign_up()
    # Noise does not compress: a PNG of a few MiB, over HUBBUB_MAX_BODY_BYTES (64 KiB).
    noisy = io.BytesIO()
    pixels = random.Random(13).randbytes(1000 * 800 * 3)
    Image.frombytes("RGB", (1000, 800), pixels).save(noisy, format="PNG")
    data = noisy.getvalue()
    assert 64 * 1024 < len(data) <= LIMIT
    reply = await put_avatar(api, ana, data)
    assert reply.status_code == 200, reply.text


async def test_unknown_and_malformed_ids_are_404(api: Api) -> None:
    for avatar_id in ["0" * 32, "nope", "A" * 32, "0" * 31 + "g", "0" * 33]:
        reply = await api.http.get(f"/api/avatars/{avatar_id}")
        assert reply.status_code == 404, avatar_id
        assert reply.json()["error"]["code"] == "not_found"
