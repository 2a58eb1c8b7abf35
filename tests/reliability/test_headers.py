"""Security headers on every response a browser may get from the server: the API's,
the web app's, the API docs and errors (4xx from a real server, a 500 in process)."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import httpx
import pytest

from hubbub.bootstrap import build
from hubbub.config import Settings
from hubbub.server.app import create_app
from tests.support import Api

COMMON = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


def _assert_protected(reply: httpx.Response) -> str:
    for name, value in COMMON.items():
        assert reply.headers.get(name) == value, (reply.request.url, name, reply.headers)
    assert "camera=()" in reply.headers["permissions-policy"]
    policy = reply.headers["content-security-policy"]
    directives = {
        name: value for name, _, value in (d.strip().partition(" ") for d in policy.split(";"))
    }
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'" and directives["base-uri"] == "'none'"
    assert "strict-transport-security" not in reply.headers  # plain http
    return policy


async def test_every_kind_of_response_carries_the_headers(api: Api) -> None:
    account = await api.sign_up()
    replies = [
        await api.http.get("/healthz"),
        await api.call("GET", "/users/me", account),
        await api.call("GET", "/users/me"),  # 401
        await api.http.get("/api/no-such-thing"),  # 404
        await api.call("POST", "/auth/signin", json={"username": ""}),  # 422
        await api.http.post("/api/auth/signup", content=b"x" * 70_000),  # 413
        await api.http.get("/api/openapi.json"),
        await api.http.get("/"),
        await api.http.get("/conversations/anything"),  # the app's client-side routes
        await api.http.get("/favicon.svg"),
        await api.http.get("/ws"),  # a plain GET of the socket path
    ]
    for reply in replies:
        policy = _assert_protected(reply)
        # The app's policy: scripts, styles and connections from this origin only.
        assert "script-src 'self';" in policy + ";" and "'unsafe-inline'" not in policy
        assert "'unsafe-eval'" not in policy


async def test_the_web_app_has_no_inline_script_for_the_policy_to_block(api: Api) -> None:
    page = (await api.http.get("/")).text
    if '<div id="root">' not in page:
        pytest.skip("the web app is not built (make web)")
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page) is None
    assert "<style" not in page and "style=" not in page


async def test_the_api_docs_allow_their_own_inline_script_by_hash_only(api: Api) -> None:
    reply = await api.http.get("/api/docs")
    assert reply.status_code == 200
    policy = _assert_protected(reply)
    inline = re.findall(r"<script>(.*?)</script>", reply.text, re.DOTALL)
    assert inline, "Swagger UI starts from an inline script"
    for body in inline:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src


async def test_a_500_and_an_https_response_carry_them_too(tmp_path: Path) -> None:
    settings = Settings(
        store="memory", data_dir=tmp_path, password_hash_memory_kib=1024, static_dir=tmp_path
    )
    platform = build(settings)
    app = create_app(platform)

    async def boom() -> None:
        raise RuntimeError("a bug")

    app.api.add_api_route("/api/boom", boom)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://hubbub.test") as client:
        broken = await client.get("/api/boom")
        assert broken.status_code == 500
        for name, value in COMMON.items():
            assert broken.headers.get(name) == value
        assert "frame-ancestors 'none'" in broken.headers["content-security-policy"]
        assert broken.headers["strict-transport-security"].startswith("max-age=")
    await platform.close()


async def test_images_and_uploads_may_use_the_attachment_bucket_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With attachments in an S3-compatible bucket, the page shows its presigned images
    and sends uploads to it: img-src and connect-src name the bucket's origin, and
    nothing else loosens."""
    pytest.importorskip("boto3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = Settings(
        store="memory",
        data_dir=tmp_path,
        password_hash_memory_kib=1024,
        static_dir=tmp_path,
        s3_bucket="files",
        s3_endpoint_url="https://objects.example.test:9000/",
        s3_region="eu-west-1",
    )
    platform = build(settings)
    transport = httpx.ASGITransport(app=create_app(platform))
    async with httpx.AsyncClient(transport=transport, base_url="http://hubbub.test") as client:
        policy = _assert_protected(await client.get("/healthz"))
    directives = {d.strip().split(" ")[0]: d.strip() for d in policy.split(";")}
    assert directives["img-src"] == "img-src 'self' data: blob: https://objects.example.test:9000"
    assert directives["connect-src"] == "connect-src 'self' https://objects.example.test:9000"
    assert directives["script-src"] == "script-src 'self'"
    await platform.close()


async def test_downloaded_files_can_never_run_as_a_page_of_this_origin(api: Api) -> None:
    """A file a member sent is served with its own policy: sandboxed, no scripts, and
    never sniffed into something else."""
    ana, bob = await api.sign_up(), await api.sign_up()
    chat = await api.direct(ana, bob)
    upload = await api.call(
        "POST",
        f"/conversations/{chat}/attachments",
        ana,
        params={"fileName": "notes.txt"},
        content=b"<script>alert(1)</script>",
    )
    assert upload.status_code == 201, upload.text
    attachment = upload.json()["attachment"]["id"]
    reply = await api.call("GET", f"/conversations/{chat}/attachments/{attachment}", ana)
    assert reply.status_code == 200
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["content-type"] == "text/plain; charset=utf-8"
    assert reply.headers["content-disposition"].startswith("attachment;")
    policy = reply.headers["content-security-policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy
    assert "script-src" not in policy
