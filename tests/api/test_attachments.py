"""Attachments (issue 13): upload, then send with a message; only the conversation's
members download them; sizes and types are checked by the bytes, not the name."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import httpx
from PIL import Image, PngImagePlugin

from tests.support import Account, Api, open_socket

LIMIT = 25 * 1024 * 1024  # HUBBUB_ATTACHMENT_MAX_BYTES's default


def png(width: int = 640, height: int = 480, color: str = "teal") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


async def upload(
    api: Api, account: Account, conversation: str, name: str, data: bytes
) -> httpx.Response:
    """Uploads as the web app does: start, send the bytes where the server says (its own
    signed URL, or an S3 bucket's presigned form), complete. The first refusal, or the
    completion's answer."""
    base = f"/conversations/{conversation}/attachments/uploads"
    started = await api.call("POST", base, account, json={"fileName": name, "size": len(data)})
    if started.status_code != 201:
        return started
    target = started.json()["upload"]
    sent = await send_bytes(api, target, data)
    if sent.status_code not in {200, 201, 204}:
        return sent
    return await api.call("POST", f"{base}/{target['id']}", account, json={"fileName": name})


async def send_bytes(api: Api, target: dict[str, Any], data: Any) -> httpx.Response:
    """Step two, with no access token: the URL is signed."""
    async with httpx.AsyncClient(base_url=api.base_url, timeout=api.http.timeout) as anonymous:
        if target["method"] == "PUT":
            headers = {"content-type": "application/octet-stream"}
            return await anonymous.put(target["url"], content=data, headers=headers)
        assert target["method"] == "POST", target
        return await anonymous.post(target["url"], data=target["fields"], files={"file": data})


async def upload_in_one_request(
    api: Api, account: Account, conversation: str, name: str, data: bytes, **kwargs: Any
) -> httpx.Response:
    return await api.call(
        "POST",
        f"/conversations/{conversation}/attachments",
        account,
        params={"fileName": name},
        content=data,
        headers={"content-type": "application/octet-stream"},
        **kwargs,
    )


async def uploaded(api: Api, account: Account, conversation: str, name: str, data: bytes) -> str:
    reply = await upload(api, account, conversation, name, data)
    assert reply.status_code == 201, reply.text
    attachment_id: str = reply.json()["attachment"]["id"]
    return attachment_id


async def send(
    api: Api, account: Account, conversation: str, cmid: str, ids: list[str], body: str = ""
) -> httpx.Response:
    return await api.call(
        "POST",
        f"/conversations/{conversation}/messages",
        account,
        json={"clientMessageId": cmid, "body": body, "attachmentIds": ids},
    )


async def test_an_image_and_a_file_sent_together_reach_the_other_member(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    chat = await api.direct(ana, bob)
    image = png(1280, 640)
    reply = await upload(api, ana, chat, "C:\\Users\\ana\\beach.png", image)
    assert reply.status_code == 201, reply.text
    photo = reply.json()["attachment"]
    assert photo["fileName"] == "beach.png"  # a browser's full path is not kept
    assert (photo["contentType"], photo["size"]) == ("image/png", len(image))
    assert (photo["width"], photo["height"], photo["hasThumbnail"]) == (1280, 640, True)
    report = await uploaded(api, ana, chat, "Q3 report.pdf", PDF)

    sent = await send(api, ana, chat, "with-files", [photo["id"], report])
    assert sent.status_code == 201, sent.text
    message = sent.json()["message"]
    assert message["body"] == ""
    assert [a["id"] for a in message["attachments"]] == [photo["id"], report]
    assert message["attachments"][1]["contentType"] == "application/pdf"

    history = (await api.call("GET", f"/conversations/{chat}/messages", bob)).json()["messages"]
    assert [a["fileName"] for a in history[-1]["attachments"]] == ["beach.png", "Q3 report.pdf"]

    base = f"/conversations/{chat}/attachments"
    full = await api.call("GET", f"{base}/{photo['id']}", bob)
    assert full.status_code == 200 and full.content == image
    assert full.headers["content-type"] == "image/png"
    assert full.headers["content-disposition"].startswith("inline")
    assert full.headers["x-content-type-options"] == "nosniff"
    thumb = await api.call("GET", f"{base}/{photo['id']}/thumbnail", bob)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(thumb.content)).size == (320, 160)  # fits in 320 px

    document = await api.call("GET", f"{base}/{report}", bob)
    assert document.status_code == 200 and document.content == PDF
    assert document.headers["content-disposition"].startswith("attachment;")
    assert "Q3%20report.pdf" in document.headers["content-disposition"]
    assert (await api.call("GET", f"{base}/{report}/thumbnail", bob)).status_code == 404


def photo_taken_at_home(orientation: int) -> bytes:
    """A camera JPEG: EXIF with the camera's make, a GPS position and an orientation,
    plus an XMP packet and a comment."""
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x0112] = orientation
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}  # GPS IFD
    out = io.BytesIO()
    Image.new("RGB", (400, 300), "orange").save(
        out, format="JPEG", exif=exif, comment=b"our flat", xmp=b"<x:xmpmeta>home</x:xmpmeta>"
    )
    return out.getvalue()


async def test_what_others_download_says_nothing_of_where_a_photo_was_taken(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    chat = await api.direct(ana, bob)
    taken = photo_taken_at_home(orientation=6)  # held sideways: shown 300 x 400
    attachment = (await upload(api, ana, chat, "home.jpg", taken)).json()["attachment"]
    assert (attachment["width"], attachment["height"]) == (300, 400)
    assert (await send(api, ana, chat, "photo", [attachment["id"]])).status_code == 201

    base = f"/conversations/{chat}/attachments/{attachment['id']}"
    served = (await api.call("GET", base, bob)).content
    assert attachment["size"] == len(served) and served != taken
    for secret in (b"SpyCam", b"our flat", b"xmpmeta", b"GPS"):
        assert secret not in served, secret
    image = Image.open(io.BytesIO(served))
    assert image.format == "JPEG" and image.size == (400, 300)
    assert dict(image.getexif()) == {0x0112: 6}, "only the orientation is left, to show it upright"
    assert image.getpixel((200, 150)) == Image.open(io.BytesIO(taken)).getpixel((200, 150))

    # A PNG with text chunks loses them; one with nothing to hide is stored as it came.
    notes = PngImagePlugin.PngInfo()
    notes.add_text("Location", "51.5N 0.12W")
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(out, format="PNG", pnginfo=notes)
    labelled = await uploaded(api, ana, chat, "map.png", out.getvalue())
    plain = png(64, 48)
    untouched = await uploaded(api, ana, chat, "plain.png", plain)
    assert (await send(api, ana, chat, "pngs", [labelled, untouched])).status_code == 201
    base = f"/conversations/{chat}/attachments"
    cleaned = (await api.call("GET", f"{base}/{labelled}", bob)).content
    assert b"Location" not in cleaned and Image.open(io.BytesIO(cleaned)).size == (64, 48)
    assert (await api.call("GET", f"{base}/{untouched}", bob)).content == plain


async def test_the_message_event_carries_the_attachments_over_the_websocket(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    chat = await api.direct(ana, bob)
    photo = await uploaded(api, ana, chat, "cat.jpg", _jpeg())
    async with open_socket(api, ana) as ana_socket, open_socket(api, bob) as bob_socket:
        ack = await ana_socket.request(
            "sendMessage",
            conversationId=chat,
            clientMessageId="ws-photo",
            body="look",
            attachmentIds=[photo],
        )
        assert ack["type"] == "ack", ack
        assert [a["id"] for a in ack["message"]["attachments"]] == [photo]
        event = await bob_socket.wait_for(type="message.created")
        seen = event["message"]["attachments"]
        assert [(a["fileName"], a["contentType"]) for a in seen] == [("cat.jpg", "image/jpeg")]
        refused = await ana_socket.request(
            "sendMessage",
            conversationId=chat,
            clientMessageId="ws-again",
            body="",
            attachmentIds=[photo],
        )
        assert refused["error"]["code"] == "conflict", refused


async def test_too_large_and_disallowed_uploads_are_refused_with_stable_codes(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    chat = await api.direct(ana, bob)
    too_big = b"%PDF-" + b"0" * LIMIT
    declared = await upload(api, ana, chat, "huge.pdf", too_big)  # refused before it is sent
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "payload_too_large"

    for name, data in [
        ("setup.exe", b"MZ\x90\x00"),
        ("page.html", b"<script>alert(1)</script>"),
        ("drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
        ("fake.png", b"<html>not an image</html>"),  # the name lies: decoded, refused
        ("fake.pdf", b"MZ\x90\x00 not a pdf"),
        ("notes.txt", b"binary\x00\x01\x02"),
    ]:
        reply = await upload(api, ana, chat, name, data)
        assert reply.status_code == 415, (name, reply.text)
        assert reply.json()["error"]["code"] == "unsupported_media_type", name

    bomb = await upload(api, ana, chat, "bomb.png", png_claiming(30_000, 30_000))
    assert bomb.status_code == 413, bomb.text
    assert bomb.json()["error"]["code"] == "payload_too_large"
    empty = await upload(api, ana, chat, "empty.txt", b"")
    assert empty.status_code == 422

    ids = [await uploaded(api, ana, chat, f"n{i}.txt", b"hello") for i in range(11)]
    eleven = await send(api, ana, chat, "eleven", ids)
    assert eleven.status_code == 422 and eleven.json()["error"]["code"] == "validation_error"
    # Nothing was lost: the first ten can still be sent.
    assert (await send(api, ana, chat, "ten", ids[:10])).status_code == 201
    history = (await api.call("GET", f"/conversations/{chat}/messages", bob)).json()["messages"]
    assert len(history) == 1 and len(history[0]["attachments"]) == 10


async def test_sending_more_than_the_limit_never_makes_an_attachment(api: Api) -> None:
    """A client that declares a small file and sends a huge one: refused where the bytes
    go (the server's URL; S3 by the signed policy), or at the latest when completed."""
    ana, bob = await api.sign_up(), await api.sign_up()
    chat = await api.direct(ana, bob)
    base = f"/conversations/{chat}/attachments/uploads"
    started = await api.call("POST", base, ana, json={"fileName": "big.txt", "size": 10})
    assert started.status_code == 201, started.text
    target = started.json()["upload"]
    sent = await send_bytes(api, target, b"a" * (LIMIT + 1))
    done = await api.call("POST", f"{base}/{target['id']}", ana, json={"fileName": "big.txt"})
    if sent.status_code in {200, 201, 204}:  # an S3 that does not check policies (moto)
        assert done.status_code == 413, done.text
        assert done.json()["error"]["code"] == "payload_too_large"
    else:
        assert sent.status_code in {400, 413}, sent.text
        if target["method"] == "PUT":  # this server's own answer
            assert sent.json()["error"]["code"] == "payload_too_large"
        assert done.status_code == 404, done.text  # nothing was kept
    # Refused for good: completing again does not make it either.
    again = await api.call("POST", f"{base}/{target['id']}", ana, json={"fileName": "big.txt"})
    assert again.status_code == 404


async def test_an_upload_is_completed_once_by_its_uploader_only(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    chat = await api.direct(ana, bob)
    base = f"/conversations/{chat}/attachments/uploads"
    started = await api.call("POST", base, ana, json={"fileName": "plan.pdf", "size": len(PDF)})
    target = started.json()["upload"]
    complete = f"{base}/{target['id']}"
    early = await api.call("POST", complete, ana, json={"fileName": "plan.pdf"})
    assert early.status_code == 404, early.text  # nothing sent yet
    assert (await send_bytes(api, target, PDF)).status_code in {200, 201, 204}
    stolen = await api.call("POST", complete, bob, json={"fileName": "mine.pdf"})
    assert stolen.status_code == 404 and stolen.json()["error"]["code"] == "not_found"
    forged = await api.call("POST", f"{complete[:-3]}AAA", ana, json={"fileName": "plan.pdf"})
    assert forged.status_code == 404

    first = await api.call("POST", complete, ana, json={"fileName": "plan.pdf"})
    assert first.status_code == 201, first.text
    retry = await api.call("POST", complete, ana, json={"fileName": "plan.pdf"})
    assert retry.status_code == 200 and retry.json() == first.json()  # a lost answer, again
    attachment = first.json()["attachment"]
    assert (attachment["fileName"], attachment["size"]) == ("plan.pdf", len(PDF))
    assert (await send(api, ana, chat, "plan", [attachment["id"]])).status_code == 201
    got = await api.call("GET", f"/conversations/{chat}/attachments/{attachment['id']}", bob)
    assert got.status_code == 200 and got.content == PDF


async def test_upload_urls_take_bytes_only_as_signed(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    chat = await api.direct(ana, bob)
    base = f"/conversations/{chat}/attachments/uploads"
    started = await api.call("POST", base, ana, json={"fileName": "a.txt", "size": 5})
    target = started.json()["upload"]
    if target["method"] == "POST":  # S3 checks its own signatures (tests/contract)
        assert target["url"].startswith("http") and target["fields"]
        return
    assert target["fields"] == {}
    forged = {**target, "url": target["url"].replace("signature=", "signature=x")}
    refused = await send_bytes(api, forged, b"hello")
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    later = {**target, "url": target["url"].replace("expires=", "expires=9")}
    assert (await send_bytes(api, later, b"hello")).status_code == 404
    done = await api.call("POST", f"{base}/{target['id']}", ana, json={"fileName": "a.txt"})
    assert done.status_code == 404  # nothing was taken


async def test_a_file_can_also_be_uploaded_in_one_request(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    chat = await api.direct(ana, bob)
    reply = await upload_in_one_request(api, ana, chat, "C:\\docs\\one.pdf", PDF)
    assert reply.status_code == 201, reply.text
    attachment = reply.json()["attachment"]
    assert (attachment["fileName"], attachment["size"]) == ("one.pdf", len(PDF))
    assert (await send(api, ana, chat, "one", [attachment["id"]])).status_code == 201
    refused = await upload_in_one_request(api, ana, chat, "setup.exe", b"MZ\x90\x00")
    assert refused.json()["error"]["code"] == "unsupported_media_type"


async def test_one_request_uploads_over_the_limit_are_refused_with_413(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    chat = await api.direct(ana, bob)
    too_big = b"%PDF-" + b"0" * LIMIT
    declared = await upload_in_one_request(api, ana, chat, "huge.pdf", too_big)
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "payload_too_large"

    async def chunks() -> Any:  # no Content-Length: counted as it arrives
        for _ in range(26):
            yield b"\x00" * (1024 * 1024)

    streamed = await upload_in_one_request(api, ana, chat, "huge.txt", chunks())  # type: ignore[arg-type]
    assert streamed.status_code == 413
    assert streamed.json()["error"]["code"] == "payload_too_large"  # through nginx too


async def test_outsiders_and_removed_members_get_404_for_everything(api: Api) -> None:
    owner, member, outsider = [await api.sign_up() for _ in range(3)]
    group = await api.group(owner, "Files", member)
    photo = await uploaded(api, owner, group, "team.png", png(64, 64))
    assert (await send(api, owner, group, "team", [photo])).status_code == 201
    base = f"/conversations/{group}/attachments"
    paths = [f"{base}/{photo}", f"{base}/{photo}/thumbnail", f"{base}/{photo}/link"]
    for path in paths:
        assert (await api.call("GET", path, member)).status_code == 200, path

    async def refused(account: Account) -> None:
        for path in paths:
            reply = await api.call("GET", path, account)
            assert reply.status_code == 404, (path, reply.text)
            assert reply.json()["error"]["code"] == "not_found"
        attempt = await upload(api, account, group, "mine.txt", b"let me in")
        assert attempt.status_code == 404

    await refused(outsider)
    removal = await api.call("DELETE", f"/conversations/{group}/members/{member.id}", owner)
    assert removal.status_code == 204
    await refused(member)


async def test_an_upload_is_sent_once_by_its_uploader_in_its_conversation(api: Api) -> None:
    ana, bob, cy = [await api.sign_up() for _ in range(3)]
    chat = await api.direct(ana, bob)
    other = await api.direct(ana, cy)
    mine = await uploaded(api, ana, chat, "plan.txt", "plän ✓".encode())

    # Before it is sent it is Ana's alone.
    base = f"/conversations/{chat}/attachments/{mine}"
    assert (await api.call("GET", base, ana)).status_code == 200
    assert (await api.call("GET", base, bob)).status_code == 404
    # Bob cannot send it, nor can Ana send it in another conversation.
    stolen = await send(api, bob, chat, "steal", [mine])
    assert stolen.status_code == 404 and stolen.json()["error"]["code"] == "not_found"
    moved = await send(api, ana, other, "move", [mine])
    assert moved.status_code == 404
    unknown = await send(api, ana, chat, "unknown", ["01JUNKNOWNATTACHMENT0000000"])
    assert unknown.status_code == 404

    assert (await send(api, ana, chat, "first", [mine], "the plan")).status_code == 201
    again = await send(api, ana, chat, "second", [mine])
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    # A retry of the first send is the first message, not a second use.
    retry = await send(api, ana, chat, "first", [mine], "the plan")
    assert retry.status_code == 200
    history = (await api.call("GET", f"/conversations/{chat}/messages", bob)).json()["messages"]
    assert [m["body"] for m in history] == ["the plan"]
    download = await api.call("GET", base, bob)
    assert download.status_code == 200 and download.content.decode() == "plän ✓"
    assert download.headers["content-type"] == "text/plain; charset=utf-8"
    # Without attachments a body is still required.
    assert (await send(api, ana, chat, "nothing", [])).status_code == 422


async def test_links_serve_the_bytes_without_a_token_and_only_as_signed(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    chat = await api.direct(ana, bob)
    image = png(400, 300)
    photo = await uploaded(api, ana, chat, "view.png", image)
    assert (await send(api, ana, chat, "view", [photo])).status_code == 201
    reply = await api.call("GET", f"/conversations/{chat}/attachments/{photo}/link", bob)
    assert reply.status_code == 200, reply.text
    links = reply.json()
    anonymous = httpx.AsyncClient(base_url=api.base_url)
    try:
        full = await anonymous.get(links["url"])
        assert full.status_code == 200 and full.content == image
        thumb = await anonymous.get(links["thumbnailUrl"])
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
        if not links["url"].startswith("/"):
            # A bucket's presigned links: S3 checks their signatures, which moto does
            # not (it serves an existing key whatever the signature), so what is ours
            # to show is that they are signed, for a minute.
            for url in (links["url"], links["thumbnailUrl"]):
                assert "X-Amz-Signature=" in url and "X-Amz-Expires=60" in url, url
            return
        # The thumbnail's address with the file's signature; the file's, signed wrongly.
        tampered = links["thumbnailUrl"].split("?")[0] + "?" + links["url"].split("?", 1)[1]
        assert_link_refused(api, await anonymous.get(tampered))
        forged = links["url"][:-4] + ("AAAA" if not links["url"].endswith("AAAA") else "BBBB")
        assert_link_refused(api, await anonymous.get(forged))
    finally:
        await anonymous.aclose()


async def test_deleting_the_message_deletes_its_attachments(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    chat = await api.direct(ana, bob)
    photo = await uploaded(api, ana, chat, "oops.png", png(50, 50))
    message = (await send(api, ana, chat, "oops", [photo])).json()["message"]
    link = (await api.call("GET", f"/conversations/{chat}/attachments/{photo}/link", bob)).json()
    deleted = await api.call("DELETE", f"/conversations/{chat}/messages/{message['id']}", ana)
    assert deleted.status_code == 204
    history = (await api.call("GET", f"/conversations/{chat}/messages", bob)).json()["messages"]
    assert history[-1]["deleted"] and history[-1]["attachments"] == []
    base = f"/conversations/{chat}/attachments/{photo}"
    for path in (base, f"{base}/thumbnail", f"{base}/link"):
        assert (await api.call("GET", path, bob)).status_code == 404
    anonymous = httpx.AsyncClient(base_url=api.base_url)
    try:
        assert_link_refused(api, await anonymous.get(link["url"]))
    finally:
        await anonymous.aclose()


def assert_link_refused(api: Api, reply: httpx.Response) -> None:
    """A link that is altered, or whose file is gone, serves nothing: this server
    answers 404 `not_found`; an S3 bucket's presigned link, 403 or 404 (S3 answers 403
    for a bad signature, and for a missing key to whoever may not list the bucket)."""
    if str(reply.url).startswith(api.base_url):
        assert reply.status_code == 404, reply.text
        assert reply.json()["error"]["code"] == "not_found"
    else:
        assert reply.status_code in {403, 404}, reply.text


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (100, 80), "orange").save(out, format="JPEG")
    return out.getvalue()
